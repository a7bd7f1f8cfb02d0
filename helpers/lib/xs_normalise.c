#include <string.h>

#include "xhp.h"

/* Our backend may be named relative to our home or absolutely, by libxl
 * or by a user running the script by hand: compare one form. */
void xhp_xs_normalise(char *dst, const char *src)
{
	const char *p = src;
	char *d = dst;

	if (strncmp(p, "/local/domain/", 14) == 0) {
		p += 14;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	while (*p != '\0' && d < dst + XHP_XS_PATHMAX - 1) {
		if (*p == '/' && (d == dst || d[-1] == '/')) {
			p++;
			continue;
		}
		*d++ = *p++;
	}
	if (d > dst && d[-1] == '/')
		d--;
	*d = '\0';
}
