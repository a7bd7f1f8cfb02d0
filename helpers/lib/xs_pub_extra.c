#include <errno.h>

#include "xhp.h"

void xhp_pub_extra(struct xhp_pub *j, char *arg, const char *usage)
{
	if (xhp_parse_extra(arg) == -1) {
		if (errno == ENOMEM)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
		xhp_usage(usage);
	}
	j->extra[j->nextra++] = arg;
}
