#include <stdio.h>
#include <stdlib.h>

#include "xhp.h"

void xhp_share_exit(const struct xhp_share *c)
{
	puts(c->verdict);
	xhp_close_stdout();
	exit(XHP_NO);
}
