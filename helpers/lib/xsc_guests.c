/* The guest half of the sharing check: every other backend's device
 * against our identity set (docs/xs-stat-path.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xenstore.h>

#include "xhp.h"

static int eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && *a != '\0' && strcmp(a, b) == 0;
}

/* Upstream's same_vm: is the frontend domain DOM of another backend the
 * same VM as ours, directly or through a stubdomain's target? Read only
 * for a backend that would otherwise conflict. */
static int same_vm(struct xhp_share *c, const char *dom)
{
	char *vm, *tvm;
	int same;

	xhp_share_ours(c);
	vm = xhp_share_dom_vm(c->h, dom, 0);
	/* No vm: the other domain is being destroyed (its /local/domain
	 * entry goes before its backends). Upstream lets such a leftover
	 * share; we keep that. */
	if (vm == NULL)
		return 1;
	tvm = xhp_share_dom_vm(c->h, dom, 1);
	same = (c->ourvm != NULL && xhp_vm_same(c->ourvm, vm)) ||
	       eq(c->ourtvm, vm) ||
	       (c->ourvm != NULL && tvm != NULL && xhp_vm_same(c->ourvm, tvm)) ||
	       eq(c->ourtvm, tvm);
	free(vm);
	free(tvm);
	return same;
}

/* Is the backend at BP using something in our identity set? On a match,
 * *MAJ, *MIN tell which device. */
static int backend_uses(struct xhp_share *c, const char *bp,
			unsigned long *maj, unsigned long *min)
{
	char p[XHP_XS_PATHMAX], *v;
	unsigned int len;
	struct stat st;
	int r;

	xhp_pathf(p, XHP_SYS, "%s/%s", bp, "physical-device");
	v = xhp_xs_read(c->h, p, &len);
	if (v != NULL) {
		r = xhp_parse_physdev(v, len, c->fmt, maj, min);
		free(v);
		if (r == 0)
			return xhp_idset_has_blk(&c->ids, *maj, *min);
		/* Unparsable: blkback will not use it either; the path may
		 * still tell what the backend is about to open. */
	}
	/* Path-only writer, or libxl not yet converted: the path names the
	 * device, and its identity now is what matters. */
	xhp_pathf(p, XHP_SYS, "%s/%s", bp, "physical-device-path");
	v = xhp_xs_read(c->h, p, &len);
	if (v == NULL)
		return 0;
	/* A value with a NUL is no path any kernel backend could open. */
	if (len == 0 || memchr(v, '\0', len) != NULL) {
		free(v);
		return 0;
	}
	if (stat(v, &st) == -1) {
		/* Gone: nothing to share any more. */
		if (errno != ENOENT && errno != ENOTDIR)
			xhp_die_sys(XHP_SYS, "unable to stat %s", v);
		free(v);
		return 0;
	}
	free(v);
	if (S_ISBLK(st.st_mode)) {
		*maj = xhp_dev_major(st.st_rdev);
		*min = xhp_dev_minor(st.st_rdev);
		return xhp_idset_has_blk(&c->ids, *maj, *min);
	}
	if (S_ISREG(st.st_mode)) {
		*maj = xhp_dev_major(st.st_dev);
		*min = xhp_dev_minor(st.st_dev);
		return xhp_idset_has_file(&c->ids, st.st_dev, st.st_ino);
	}
	return 0;
}

static int conflicts(struct xhp_share *c, const char *bp)
{
	char p[XHP_XS_PATHMAX], *m;
	unsigned int len;
	int cm;

	if (c->mode == 'w')
		return 1;
	/* A reader conflicts only with writers. */
	xhp_pathf(p, XHP_SYS, "%s/%s", bp, "mode");
	m = xhp_xs_read(c->h, p, &len);
	if (m == NULL)
		return 0;
	cm = xhp_canon_mode(m, len);
	free(m);
	return cm == 'w';
}

/* The backends of one domain directory DP (domain DOM). 0 or 1 (busy). */
static int scan_dom(struct xhp_share *c, const char *dp, const char *dom)
{
	char bp[XHP_XS_PATHMAX], bn[XHP_XS_PATHMAX];
	unsigned long maj, min;
	unsigned int nv, j;
	char **devs;
	int same = -1, busy = 0;

	devs = xs_directory(c->h, XBT_NULL, dp, &nv);
	if (devs == NULL) {
		if (errno == ENOENT)
			return 0;
		xhp_die_sys(XHP_SYS, "unable to list %s", dp);
	}
	for (j = 0; j < nv && !busy; j++) {
		xhp_pathf(bp, XHP_SYS, "%s/%s", dp, devs[j]);
		xhp_xs_normalise(bn, bp);
		if (strcmp(bn, c->selfn) == 0)
			continue;
		if (!backend_uses(c, bp, &maj, &min) || !conflicts(c, bp))
			continue;
		if (same == -1)
			same = same_vm(c, dom);
		if (!same)
			busy = xhp_share_busy(c, "guest", maj, min, bp);
	}
	free(devs);
	return busy;
}

int xhp_share_guests(struct xhp_share *c, const char *base,
		     const char *types)
{
	char tp[XHP_XS_PATHMAX], dp[XHP_XS_PATHMAX], *list, *type, *save = NULL;
	char **doms;
	unsigned int nd, i;
	int busy = 0;

	list = strdup(types);
	if (list == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (type = strtok_r(list, ",", &save); type != NULL && !busy;
	     type = strtok_r(NULL, ",", &save)) {
		xhp_pathf(tp, XHP_SYS, "%s/%s", base, type);
		doms = xs_directory(c->h, XBT_NULL, tp, &nd);
		if (doms == NULL) {
			if (errno == ENOENT)
				continue;
			xhp_die_sys(XHP_SYS, "unable to list %s", tp);
		}
		for (i = 0; i < nd && !busy; i++) {
			xhp_pathf(dp, XHP_SYS, "%s/%s", tp, doms[i]);
			busy = scan_dom(c, dp, doms[i]);
		}
		free(doms);
	}
	free(list);
	return busy;
}
