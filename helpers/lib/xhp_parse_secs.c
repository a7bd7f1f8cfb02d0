#include <string.h>

#include "xhp.h"

int xhp_parse_secs(const char *s, unsigned long *ms)
{
	char whole[16], frac[4] = "000";
	const char *dot = strchr(s, '.');
	size_t wl = dot ? (size_t)(dot - s) : strlen(s);
	unsigned long w, f;

	if (wl == 0 || wl >= sizeof(whole))
		return -1;
	memcpy(whole, s, wl);
	whole[wl] = '\0';
	if (xhp_parse_ulong(whole, 10, 1000000UL, &w) == -1)
		return -1;
	if (dot != NULL) {
		size_t fl = strlen(dot + 1);

		if (fl == 0 || fl > 3)
			return -1;
		memcpy(frac, dot + 1, fl);
		if (xhp_parse_ulong(frac, 10, 999UL, &f) == -1)
			return -1;
	} else {
		f = 0;
	}
	*ms = w * 1000 + f;
	return 0;
}
