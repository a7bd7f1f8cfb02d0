/* SPDX-License-Identifier: LGPL-2.1-only */
/* xspath.c: the paths and payloads of xenstore requests, and the names in
 * a directory reply: built with memcpy and bounded by XHP_XS_PATHMAX, as
 * xenstored bounds them. Pure: no connection (xs.c sends them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

void xhp_xspath_fmt(char *buf, int code, const char *fmt, const char *a,
		    const char *b)
{
	int n = snprintf(buf, XHP_XS_PATHMAX, fmt, a, b);

	if (n < 0 || n >= XHP_XS_PATHMAX) {
		errno = ENAMETOOLONG;
		xhp_die_sys(code, "unable to build path %s/%s", a, b);
	}
}

char *xhp_xspath_msg(int code, const char *dir, const char *node,
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

/* Our backend may be named relative to our home or absolutely, by libxl
 * or by a user running the script by hand: compare one form. */
void xhp_xspath_normalise(char *dst, const char *src)
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

char **xhp_xspath_split(char *val, unsigned int len, unsigned int *num)
{
	unsigned int i, n = 0;
	char **v;

	/* Names are NUL-terminated; the reader put one more NUL after the
	 * reply, so the last name ends even when the reply does not. Empty
	 * names (an empty directory sent as a lone NUL) are none. */
	v = calloc((size_t)len / 2 + 2, sizeof(*v));
	if (v == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (i = 0; i < len; i += (unsigned int)strlen(val + i) + 1)
		if (val[i] != '\0')
			v[n++] = val + i;
	*num = n;
	return v;
}
