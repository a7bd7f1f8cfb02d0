#include "xhp.h"

int xhp_value_ok(const char *v, size_t len)
{
	const unsigned char *p = (const unsigned char *)v;
	const unsigned char *end = p + len;
	unsigned long cp;
	int n;

	while (p < end) {
		if (*p < 0x80) {
			/* C0 controls (NUL and newline included) and DEL. */
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else {
			/* Stray continuation, overlong lead C0/C1, F5-FF. */
			return 0;
		}
		if (end - p <= n)
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF, and
		 * the C1 controls U+0080..U+009F. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		p += n + 1;
	}
	return 1;
}
