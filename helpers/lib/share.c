/* SPDX-License-Identifier: LGPL-2.1-only */
/* share.c: the sharing check's verdict and rules (docs/xs-stat-path.md):
 * is a device of our identity set mounted in dom0 (dom0.c), or given to
 * another guest in a mode that conflicts with ours (scan.c)? The verdict
 * names the user, and how it relates to our target, for the script's
 * message. The rules the scan decides by are here: the identity set and
 * its stack, the reader/writer rule, the same-VM rule. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"

int xhp_share_busy(struct xhp_share *c, const char *who, unsigned long maj,
		   unsigned long min, const char *where)
{
	char mm[XHP_MAJMIN_MAX];
	int n;

	/* A number NetBSD's encoding cannot hold (only possible when checking
	 * a Linux host with -o netbsd) is given in hex rather than lost from
	 * a conflict report. */
	if (xhp_id_fmt(mm, maj, min, c->fmt) == -1)
		xhp_id_fmt(mm, maj, min, XHP_FMT_LINUX);
	n = snprintf(NULL, 0, "%s %s %s", who, mm, where);
	if (n < 0 || (c->verdict = malloc((size_t)n + 1)) == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	snprintf(c->verdict, (size_t)n + 1, "%s %s %s", who, mm, where);
	return 1;
}

void xhp_share_exit(const struct xhp_share *c)
{
	puts(c->verdict);
	xhp_close_stdout();
	exit(XHP_NO);
}

int xhp_share_vm_same(const char *ours, const char *theirs)
{
	size_t lo = strlen(ours), lt = strlen(theirs);

	/* An empty vm names nothing; it must not make two domains equal. */
	if (lt == 0 || lo == 0)
		return 0;
	if (strcmp(ours, theirs) == 0)
		return 1;
	/* Upstream drops a "-1" suffix from our own vm before comparing: a
	 * domain being restored or migrated locally carried the old vm path
	 * plus "-1" while the old domain still held the disk. */
	return lo == lt + 2 && strcmp(ours + lt, "-1") == 0 &&
	       strncmp(ours, theirs, lt) == 0;
}

/* NODE of domain DOM (a decimal domid as text); NULL when absent, and
 * when we may not read it: a driver domain is refused (EACCES) other
 * domains' vm and target, and upstream's xenstore_read_default takes its
 * default on any failure. Dies 111 on other errors. */
static char *dom_node(struct xhp_xs *q, const char *dom, const char *node)
{
	struct xhp_xs_req r;
	char p[XHP_XS_PATHMAX];

	xhp_xspath_fmt(p, XHP_SYS, "/local/domain/%s/%s", dom, node);
	memset(&r, 0, sizeof(r));
	r.type = XS_READ;
	r.data = p;
	r.len = strlen(p) + 1;
	xhp_xs_batch(q, &r, 1);
	if (r.err != 0 && r.err != ENOENT && r.err != EACCES) {
		errno = r.err;
		xhp_die_sys(XHP_SYS, "unable to read %s", p);
	}
	return r.val;
}

char *xhp_share_dom_vm(struct xhp_xs *q, const char *dom, int target)
{
	char *t, *vm = NULL;
	unsigned long id;

	if (!target)
		return dom_node(q, dom, "vm");
	t = dom_node(q, dom, "target");
	if (t != NULL && xhp_parse_ulong(t, 10, XHP_DOMID_MAX, &id) == 0)
		vm = dom_node(q, t, "vm");
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
	xhp_xspath_fmt(p, XHP_SYS, "%s/%s", c->self, "frontend-id");
	fid = xhp_xs_read(c->q, p, NULL);
	if (fid != NULL && xhp_parse_ulong(fid, 10, XHP_DOMID_MAX, &id) == 0) {
		c->ourvm = xhp_share_dom_vm(c->q, fid, 0);
		c->ourtvm = xhp_share_dom_vm(c->q, fid, 1);
	}
	free(fid);
}

/* ---- the rules the scan decides by (scan.c) ---- */

/* Where the sectors of what B names live, into O (freed by the caller). */
static void stack_of(const struct xhp_scan_be *b, struct xhp_idset *o)
{
	memset(o, 0, sizeof(*o));
	if (b->names == XHP_NAMES_BLK)
		xhp_stack_blk(o, b->maj, b->min);
	else
		xhp_stack_file(o, b->dev, b->ino, 0, XHP_EXT_ALL);
}

int xhp_share_uses(const struct xhp_share *c, struct xhp_scan_be *b)
{
	struct xhp_idset o;

	if (b->self || b->names == XHP_NAMES_NONE)
		return 0;
	if (b->use == 0) {
		if (b->names == XHP_NAMES_BLK ?
			    xhp_id_has_blk(&c->ids, b->maj, b->min) :
			    xhp_id_has_file(&c->ids, b->dev, b->ino)) {
			b->use = 2;
		} else {
			stack_of(b, &o);
			b->use = xhp_stack_overlap(&c->ids, &o) != NULL ? 2 : 1;
			xhp_id_free(&o);
		}
	}
	return b->use == 2;
}

int xhp_share_conflicts(const struct xhp_share *c,
			const struct xhp_scan_be *b)
{
	return c->mode == 'w' || b->mode == 'w';
}

static int eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && *a != '\0' && strcmp(a, b) == 0;
}

int xhp_share_same_vm(const struct xhp_share *c,
		      const struct xhp_scan_dom *d)
{
	const char *ours = c->ourvm;

	/* No vm: the other domain is being destroyed (its /local/domain
	 * entry goes before its backends). Upstream lets such a leftover
	 * share; we keep that. */
	if (d->vm == NULL)
		return 1;
	return (ours != NULL && xhp_share_vm_same(ours, d->vm)) ||
	       eq(c->ourtvm, d->vm) ||
	       (ours != NULL && d->tvm != NULL &&
		xhp_share_vm_same(ours, d->tvm)) ||
	       eq(c->ourtvm, d->tvm);
}

static char *say(const char *how, const char *name, unsigned long maj,
		 unsigned long min)
{
	char *r;
	int n;

	n = snprintf(NULL, 0, "%s %s (device %lx:%lx)", how, name, maj, min);
	if (n < 0 || (r = malloc((size_t)n + 1)) == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	snprintf(r, (size_t)n + 1, "%s %s (device %lx:%lx)", how, name, maj,
		 min);
	return r;
}

char *xhp_share_relation(const struct xhp_share *c, unsigned long maj,
			 unsigned long min)
{
	const struct xhp_via *v;
	struct xhp_idset o;
	const char *how;
	char name[300];

	if (xhp_id_has_blk(&c->ids, maj, min))
		return NULL;
	xhp_stack_name(maj, min, name, sizeof(name));
	memset(&o, 0, sizeof(o));
	xhp_stack_blk(&o, maj, min);
	if ((v = xhp_stack_via(&c->ids, maj, min)) != NULL)
		/* It is below us. */
		how = v->depth == 1 && v->kind == XHP_VIA_DISK ?
			      "is a partition of" : "is stacked on";
	else if (c->ids.isfile)
		/* An image: whatever reaches its sectors is over it. */
		how = "lies under";
	else if (c->ids.nblk > 0 &&
		 (v = xhp_stack_via(&o, c->ids.blk[0].maj,
				    c->ids.blk[0].min)) != NULL)
		/* We are below it. */
		how = v->depth == 1 && v->kind == XHP_VIA_DISK ?
			      "is the whole disk of the partition" :
		      v->depth == 1 && v->kind == XHP_VIA_SLAVE ?
			      "is held by" : "lies under";
	else
		how = "overlaps";
	xhp_id_free(&o);
	return say(how, name, maj, min);
}

char *xhp_share_relation_be(const struct xhp_share *c,
			    const struct xhp_scan_be *b)
{
	if (b->names == XHP_NAMES_BLK)
		return xhp_share_relation(c, b->maj, b->min);
	if (xhp_id_has_file(&c->ids, b->dev, b->ino))
		return NULL;
	return say("is stacked on the image", b->pdp != NULL ? b->pdp :
		   "of another backend", b->maj, b->min);
}
