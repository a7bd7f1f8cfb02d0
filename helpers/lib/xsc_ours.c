#include <stdlib.h>

#include "xhp.h"

/* vm of domain DOM (a decimal domid as text); NULL when absent. */
static char *dom_vm(struct xhp_xsp *q, const char *dom)
{
	char p[XHP_XS_PATHMAX];

	xhp_pathf(p, XHP_SYS, "/local/domain/%s/%s", dom, "vm");
	return xhp_xsp_read(q, p, NULL);
}

char *xhp_share_dom_vm(struct xhp_xsp *q, const char *dom, int target)
{
	char p[XHP_XS_PATHMAX], *t, *vm = NULL;
	unsigned long id;

	if (!target)
		return dom_vm(q, dom);
	xhp_pathf(p, XHP_SYS, "/local/domain/%s/%s", dom, "target");
	t = xhp_xsp_read(q, p, NULL);
	if (t != NULL && xhp_parse_ulong(t, 10, 0x7fefUL, &id) == 0)
		vm = dom_vm(q, t);
	free(t);
	return vm;
}

void xhp_share_ours(struct xhp_share *c)
{
	char p[XHP_XS_PATHMAX], *fid;
	unsigned long id;

	if (c->ours_read)
		return;
	c->ours_read = 1;
	xhp_pathf(p, XHP_SYS, "%s/%s", c->self, "frontend-id");
	fid = xhp_xsp_read(c->q, p, NULL);
	if (fid != NULL && xhp_parse_ulong(fid, 10, 0x7fefUL, &id) == 0) {
		c->ourvm = xhp_share_dom_vm(c->q, fid, 0);
		c->ourtvm = xhp_share_dom_vm(c->q, fid, 1);
	}
	free(fid);
}
