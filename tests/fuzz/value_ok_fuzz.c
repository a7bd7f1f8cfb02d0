/* libFuzzer target: xhp_parse_value against a table-driven reference built
 * from the Unicode well-formed byte sequence table (Unicode 15, table
 * 3-7), minus control characters (C0, DEL, C1). */
#include <stdint.h>
#include <stdlib.h>

#include "xhp.h"

struct row {
	uint8_t lo0, hi0, lo1, hi1;
	int len;
};

/* lead byte range, second byte range, sequence length; the third and
 * fourth bytes are always 80..BF. */
static const struct row rows[] = {
	{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
	{ 0xe0, 0xe0, 0xa0, 0xbf, 3 },
	{ 0xe1, 0xec, 0x80, 0xbf, 3 },
	{ 0xed, 0xed, 0x80, 0x9f, 3 },
	{ 0xee, 0xef, 0x80, 0xbf, 3 },
	{ 0xf0, 0xf0, 0x90, 0xbf, 4 },
	{ 0xf1, 0xf3, 0x80, 0xbf, 4 },
	{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
};

static int ref(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const struct row *r = NULL;

		if (s[i] >= 0x20 && s[i] < 0x7f) {
			i++;
			continue;
		}
		for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
			if (s[i] >= rows[k].lo0 && s[i] <= rows[k].hi0)
				r = &rows[k];
		if (r == NULL || i + (size_t)r->len > n)
			return 0;
		if (s[i + 1] < r->lo1 || s[i + 1] > r->hi1)
			return 0;
		for (int k = 2; k < r->len; k++)
			if (s[i + (size_t)k] < 0x80 || s[i + (size_t)k] > 0xbf)
				return 0;
		/* C1 controls U+0080..U+009F are C2 80..C2 9F */
		if (s[i] == 0xc2 && s[i + 1] <= 0x9f)
			return 0;
		i += (size_t)r->len;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (xhp_parse_value((const char *)data, size) != ref(data, size))
		abort();
	return 0;
}
