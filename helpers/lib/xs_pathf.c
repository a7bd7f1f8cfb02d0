#include <errno.h>
#include <stdio.h>

#include "xhp.h"

void xhp_pathf(char *buf, int code, const char *fmt, const char *a,
	       const char *b)
{
	int n = snprintf(buf, XHP_XS_PATHMAX, fmt, a, b);

	if (n < 0 || n >= XHP_XS_PATHMAX) {
		errno = ENAMETOOLONG;
		xhp_die_sys(code, "unable to build path %s/%s", a, b);
	}
}
