/* The guest half of the sharing check: every other backend's device
 * against our identity set (docs/xs-stat-path.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

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
	vm = xhp_share_dom_vm(c->q, dom, 0);
	/* No vm: the other domain is being destroyed (its /local/domain
	 * entry goes before its backends). Upstream lets such a leftover
	 * share; we keep that. */
	if (vm == NULL)
		return 1;
	tvm = xhp_share_dom_vm(c->q, dom, 1);
	same = (c->ourvm != NULL && xhp_vm_same(c->ourvm, vm)) ||
	       eq(c->ourtvm, vm) ||
	       (c->ourvm != NULL && tvm != NULL && xhp_vm_same(c->ourvm, tvm)) ||
	       eq(c->ourtvm, tvm);
	free(vm);
	free(tvm);
	return same;
}

/* What a backend's path names now: 1 with *MAJ, *MIN when it is in our
 * identity set. V is the physical-device-path value (LEN bytes). */
static int path_uses(struct xhp_share *c, const char *v, unsigned int len,
		     unsigned long *maj, unsigned long *min)
{
	struct stat st;

	/* A value with a NUL is no path any kernel backend could open. */
	if (len == 0 || memchr(v, '\0', len) != NULL)
		return 0;
	if (stat(v, &st) == -1) {
		/* Gone: nothing to share any more. */
		if (errno != ENOENT && errno != ENOTDIR)
			xhp_die_sys(XHP_SYS, "unable to stat %s", v);
		return 0;
	}
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
	m = xhp_xsp_read(c->q, p, &len);
	if (m == NULL)
		return 0;
	cm = xhp_canon_mode(m, len);
	free(m);
	return cm == 'w';
}

/* A growing vector of malloc'd strings. */
struct vec {
	char **v;
	size_t n, room;
};

/* Append the path X/Y. */
static void vec_add(struct vec *a, const char *x, const char *y)
{
	if (a->n == a->room) {
		size_t room = a->room ? 2 * a->room : 64;
		char **v = realloc(a->v, room * sizeof(*v));

		if (v == NULL)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
		a->v = v;
		a->room = room;
	}
	a->v[a->n++] = xhp_xs_msg(XHP_SYS, x, y, NULL, NULL);
}

static void vec_free(struct vec *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->room = 0;
}

/* Values of the N nodes NODE of backends BP, read in flight together. */
static void read_all(struct xhp_xsp *q, char **bp, size_t n,
		     const char *node, char **val, unsigned int *len)
{
	struct vec p = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < n; i++)
		vec_add(&p, bp[i], node);
	xhp_xsp_many(q, 0, p.v, p.n, val, len);
	vec_free(&p);
}

/* Every child NAME of each of the N directories DIRS as "DIR/NAME" in
 * OUT; with PARENT, OUT->v[k]'s directory index in PARENT[k]. */
static void list_all(struct xhp_share *c, struct xhp_xsp *q, char **dirs,
		     size_t n, struct vec *out, size_t **parent)
{
	struct xhp_xsreq *r = calloc(n + 1, sizeof(*r));
	unsigned int k, nv;
	size_t i, room = 0;

	if (r == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (i = 0; i < n; i++) {
		r[i].type = XS_DIRECTORY;
		r[i].data = dirs[i];
		r[i].len = strlen(dirs[i]) + 1;
	}
	xhp_xsp_batch(q, r, n);
	if (parent != NULL)
		*parent = NULL;
	for (i = 0; i < n; i++) {
		char **names;
		int lib = 0;

		/* A list over 4096 bytes does not fit one reply: libxenstore
		 * fetches it in parts (XS_DIRECTORY_PART). */
		if (r[i].err == E2BIG) {
			if (c->h == NULL)
				c->h = xs_open(0);
			if (c->h == NULL)
				xhp_die_sys(XHP_SYS, "unable to connect to "
					    "xenstore");
			names = xs_directory(c->h, XBT_NULL, dirs[i], &nv);
			if (names == NULL && errno != ENOENT)
				xhp_die_sys(XHP_SYS, "unable to list %s",
					    dirs[i]);
			lib = 1;
		} else if (r[i].err != 0 && r[i].err != ENOENT) {
			errno = r[i].err;
			xhp_die_sys(XHP_SYS, "unable to list %s", dirs[i]);
		} else if (r[i].val != NULL) {
			names = xhp_xsp_split(r[i].val, r[i].vlen, &nv);
		} else {
			names = NULL;
		}
		/* A directory gone meanwhile has nothing in it. */
		if (names == NULL)
			continue;
		for (k = 0; k < nv; k++) {
			if (lib && names[k][0] == '\0')
				continue;
			vec_add(out, dirs[i], names[k]);
			if (parent == NULL)
				continue;
			if (out->n > room) {
				size_t *p;

				room = out->room;
				p = realloc(*parent, room * sizeof(*p));
				if (p == NULL)
					xhp_die_sys(XHP_SYS,
						    "unable to allocate memory");
				*parent = p;
			}
			(*parent)[out->n - 1] = i;
		}
		free(names);
		free(r[i].val);
	}
	free(r);
}

int xhp_share_guests(struct xhp_share *c, const char *base,
		     const char *types)
{
	char bn[XHP_XS_PATHMAX], *list, *type, *save = NULL, **pd, **pp;
	char **nval;
	struct vec tdirs = { NULL, 0, 0 }, ddirs = { NULL, 0, 0 };
	struct vec bes = { NULL, 0, 0 }, need = { NULL, 0, 0 };
	unsigned int *pdl, *ppl, *nlen;
	unsigned long maj, min;
	size_t *dom = NULL, *at, i, j, k, lastdom = (size_t)-1;
	struct xhp_xsp *q = c->q;
	signed char *mine;
	int busy = 0, same = -1, uses;

	/* Every backend BASE/TYPE/DOM/DEV but ours, listed and read with
	 * the requests of each step in flight together. */
	list = strdup(types);
	if (list == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (type = strtok_r(list, ",", &save); type != NULL;
	     type = strtok_r(NULL, ",", &save))
		vec_add(&tdirs, base, type);
	free(list);
	list_all(c, q, tdirs.v, tdirs.n, &ddirs, NULL);
	list_all(c, q, ddirs.v, ddirs.n, &bes, &dom);
	/* Skip our own backend, keeping the order. */
	for (i = 0, j = 0; i < bes.n; i++) {
		xhp_xs_normalise(bn, bes.v[i]);
		if (strcmp(bn, c->selfn) == 0) {
			free(bes.v[i]);
			continue;
		}
		bes.v[j] = bes.v[i];
		dom[j++] = dom[i];
	}
	bes.n = j;
	pd = calloc(bes.n + 1, sizeof(*pd));
	pp = calloc(bes.n + 1, sizeof(*pp));
	pdl = calloc(bes.n + 1, sizeof(*pdl));
	ppl = calloc(bes.n + 1, sizeof(*ppl));
	at = calloc(bes.n + 1, sizeof(*at));
	nval = calloc(bes.n + 1, sizeof(*nval));
	nlen = calloc(bes.n + 1, sizeof(*nlen));
	mine = calloc(bes.n + 1, sizeof(*mine));
	if (pd == NULL || pp == NULL || pdl == NULL || ppl == NULL ||
	    at == NULL || nval == NULL || nlen == NULL || mine == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	read_all(q, bes.v, bes.n, "physical-device", pd, pdl);
	/* Path-only writers, or libxl not yet converted: the path names the
	 * device, and its identity now is what matters. An unparsable
	 * physical-device may still have a path that tells what the backend
	 * is about to open. The paths of those backends, read together, go
	 * to pp[] (their ppl[] as lengths) at the backend's index. mine[]:
	 * 1 a device of ours, 0 another, -1 look at the path. */
	for (i = 0; i < bes.n; i++) {
		if (pd[i] != NULL && xhp_parse_physdev(pd[i], pdl[i], c->fmt,
						       &maj, &min) == 0) {
			mine[i] = (signed char)xhp_idset_has_blk(&c->ids, maj,
								 min);
			continue;
		}
		mine[i] = -1;
		at[need.n] = i;
		vec_add(&need, bes.v[i], "physical-device-path");
	}
	xhp_xsp_many(q, 0, need.v, need.n, nval, nlen);
	for (k = 0; k < need.n; k++) {
		pp[at[k]] = nval[k];
		ppl[at[k]] = nlen[k];
	}
	vec_free(&need);

	/* Then each backend in turn, as listed. */
	for (i = 0; i < bes.n && !busy; i++) {
		if (mine[i] == 1)
			uses = xhp_parse_physdev(pd[i], pdl[i], c->fmt, &maj,
						 &min) == 0;
		else
			uses = mine[i] == -1 && pp[i] != NULL &&
			       path_uses(c, pp[i], ppl[i], &maj, &min);
		if (!uses || !conflicts(c, bes.v[i]))
			continue;
		if (dom[i] != lastdom) {
			lastdom = dom[i];
			same = same_vm(c, strrchr(ddirs.v[dom[i]], '/') + 1);
		}
		if (!same)
			busy = xhp_share_busy(c, "guest", maj, min, bes.v[i]);
	}
	for (i = 0; i < bes.n; i++) {
		free(pd[i]);
		free(pp[i]);
	}
	free(pd);
	free(pp);
	free(pdl);
	free(ppl);
	free(at);
	free(nval);
	free(nlen);
	free(mine);
	free(dom);
	vec_free(&bes);
	vec_free(&ddirs);
	vec_free(&tdirs);
	return busy;
}
