#include <errno.h>
#include <xenstore.h>

#include "xhp.h"

char *xhp_xs_read(struct xs_handle *h, const char *node, unsigned int *len)
{
	unsigned int n;
	char *v = xs_read(h, XBT_NULL, node, len ? len : &n);

	if (v == NULL && errno != ENOENT)
		xhp_die_sys(XHP_SYS, "unable to read %s", node);
	return v;
}
