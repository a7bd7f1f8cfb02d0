#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

char *xhp_xs_msg(int code, const char *dir, const char *node,
		 const char *val, size_t *len)
{
	size_t d = strlen(dir), n = node ? strlen(node) + 1 : 0;
	size_t v = val ? strlen(val) + 1 : 0;
	char *m;

	/* memcpy, not snprintf: a scan builds thousands of these. */
	if (d + n >= XHP_XS_PATHMAX) {
		errno = ENAMETOOLONG;
		xhp_die_sys(code, "unable to build path %s/%s", dir,
			    node ? node : "");
	}
	m = malloc(d + n + v + 1);
	if (m == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	memcpy(m, dir, d);
	if (node != NULL) {
		m[d] = '/';
		memcpy(m + d + 1, node, n - 1);
	}
	m[d + n] = '\0';
	if (val != NULL)
		memcpy(m + d + n + 1, val, v);
	if (len != NULL)
		*len = d + n + 1 + (v ? v - 1 : 0);
	return m;
}
