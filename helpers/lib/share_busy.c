#include <stdio.h>
#include <stdlib.h>

#include "xhp.h"

int xhp_share_busy(struct xhp_share *c, const char *who, unsigned long maj,
		   unsigned long min, const char *where)
{
	char mm[XHP_MAJMIN_MAX];
	int n;

	/* A number NetBSD's encoding cannot hold (only possible when checking
	 * a Linux host with -o netbsd) is given in hex rather than lost from
	 * a conflict report. */
	if (xhp_fmt_majmin(mm, maj, min, c->fmt) == -1)
		xhp_fmt_majmin(mm, maj, min, XHP_FMT_LINUX);
	n = snprintf(NULL, 0, "%s %s %s", who, mm, where);
	if (n < 0 || (c->verdict = malloc((size_t)n + 1)) == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	snprintf(c->verdict, (size_t)n + 1, "%s %s %s", who, mm, where);
	return 1;
}
