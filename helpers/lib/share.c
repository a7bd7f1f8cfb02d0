/* share.c: the sharing check (docs/xs-stat-path.md): is a device of our
 * identity set mounted in dom0, or given to another guest in a mode that
 * conflicts with ours? The verdict names the user, for the script's
 * message.
 *
 * The guest half scans every backend BASE/TYPE/DOM/DEV: two levels of
 * listings, then one read of physical-device per backend, each step's
 * requests in flight together (xs.c). xs-publish lists the tree before it
 * takes the lock (xhp_share_prepare); under the lock, the listings and the
 * reads of the backends they named then go out in one batch, and only
 * what changed in between (a new domain, a domain whose backends changed)
 * costs more. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xenstore.h>
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

int xhp_share_mounts(struct xhp_share *c, const char *file)
{
	struct xhp_mount m;
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	int busy = 0;
	FILE *f;

	f = fopen(file, "r");
	if (f == NULL)
		xhp_die_sys(XHP_SYS, "unable to open %s", file);
	errno = 0;
	while (!busy && getline(&line, &cap, f) != -1) {
		if (xhp_parse_mountinfo(line, &m) == -1)
			continue;
		/* Major 0 is an anonymous device (btrfs, for one): the source
		 * names the real block device. */
		if (m.maj == 0) {
			if (m.source[0] != '/' || stat(m.source, &st) == -1 ||
			    !S_ISBLK(st.st_mode))
				continue;
			m.maj = xhp_id_major(st.st_rdev);
			m.min = xhp_id_minor(st.st_rdev);
		}
		if (!xhp_id_has_blk(&c->ids, m.maj, m.min))
			continue;
		if (c->mode == 'r' && !m.sb_rw)
			continue;
		busy = xhp_share_busy(c, "local", m.maj, m.min, m.mnt);
	}
	if (!busy && ferror(f))
		xhp_die_sys(XHP_SYS, "unable to read %s", file);
	free(line);
	if (fclose(f) == EOF)
		xhp_die_sys(XHP_SYS, "unable to close %s", file);
	return busy;
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

/* vm of domain DOM (a decimal domid as text); NULL when absent. */
static char *dom_vm(struct xhp_xs *q, const char *dom)
{
	char p[XHP_XS_PATHMAX];

	xhp_xs_pathf(p, XHP_SYS, "/local/domain/%s/%s", dom, "vm");
	return xhp_xs_read(q, p, NULL);
}

char *xhp_share_dom_vm(struct xhp_xs *q, const char *dom, int target)
{
	char p[XHP_XS_PATHMAX], *t, *vm = NULL;
	unsigned long id;

	if (!target)
		return dom_vm(q, dom);
	xhp_xs_pathf(p, XHP_SYS, "/local/domain/%s/%s", dom, "target");
	t = xhp_xs_read(q, p, NULL);
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
	xhp_xs_pathf(p, XHP_SYS, "%s/%s", c->self, "frontend-id");
	fid = xhp_xs_read(c->q, p, NULL);
	if (fid != NULL && xhp_parse_ulong(fid, 10, 0x7fefUL, &id) == 0) {
		c->ourvm = xhp_share_dom_vm(c->q, fid, 0);
		c->ourtvm = xhp_share_dom_vm(c->q, fid, 1);
	}
	free(fid);
}

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
	same = (c->ourvm != NULL && xhp_share_vm_same(c->ourvm, vm)) ||
	       eq(c->ourtvm, vm) ||
	       (c->ourvm != NULL && tvm != NULL && xhp_share_vm_same(c->ourvm, tvm)) ||
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
		*maj = xhp_id_major(st.st_rdev);
		*min = xhp_id_minor(st.st_rdev);
		return xhp_id_has_blk(&c->ids, *maj, *min);
	}
	if (S_ISREG(st.st_mode)) {
		*maj = xhp_id_major(st.st_dev);
		*min = xhp_id_minor(st.st_dev);
		return xhp_id_has_file(&c->ids, st.st_dev, st.st_ino);
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
	xhp_xs_pathf(p, XHP_SYS, "%s/%s", bp, "mode");
	m = xhp_xs_read(c->q, p, &len);
	if (m == NULL)
		return 0;
	cm = xhp_parse_mode(m, len);
	free(m);
	return cm == 'w';
}

/* A growing vector of malloc'd strings. */
struct vec {
	char **v;
	size_t n, room;
};

static void *grow(void *p, size_t n, size_t size)
{
	p = realloc(p, (n ? n : 1) * size);
	if (p == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	return p;
}

/* Append the malloc'd string S. */
static void vec_push(struct vec *a, char *s)
{
	if (a->n == a->room) {
		a->room = a->room ? 2 * a->room : 64;
		a->v = grow(a->v, a->room, sizeof(*a->v));
	}
	a->v[a->n++] = s;
}

/* Append the path X/Y. */
static void vec_add(struct vec *a, const char *x, const char *y)
{
	vec_push(a, xhp_xs_msg(XHP_SYS, x, y, NULL, NULL));
}

/* OUT->v[OUT->n - 1] is in directory PARENT: note it in *PARENTS (*ROOM
 * its room). */
static void set_parent(const struct vec *out, size_t **parents, size_t *room,
		       size_t parent)
{
	if (out->n > *room) {
		*room = out->room;
		*parents = grow(*parents, *room, sizeof(**parents));
	}
	(*parents)[out->n - 1] = parent;
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

/* Requests R[0..N): list (TYPE XS_DIRECTORY) or read the N paths P. */
static void req(struct xhp_xs_req *r, unsigned int type, char **p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].type = type;
		r[i].data = p[i];
		r[i].len = strlen(p[i]) + 1;
	}
}

static struct xhp_xs_req *reqs(size_t n)
{
	struct xhp_xs_req *r = calloc(n + 1, sizeof(*r));

	if (r == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	return r;
}

static void reqs_free(struct xhp_xs_req *r, size_t n)
{
	size_t i;

	for (i = 0; i < n && r != NULL; i++)
		free(r[i].val);
	free(r);
}

/* Was the listing R the same as P, and whole (not fetched in parts)? */
static int same(const struct xhp_xs_req *p, const struct xhp_xs_req *r)
{
	return p->err == r->err && p->err != E2BIG && p->vlen == r->vlen &&
	       (p->vlen == 0 || memcmp(p->val, r->val, p->vlen) == 0);
}

/* Every child of the directory DIR, whose listing is R, as "DIR/NAME" in
 * OUT, with PARENT in *PARENTS (when not NULL; *ROOM its room). */
static void expand(struct xhp_share *c, const char *dir,
		   const struct xhp_xs_req *r, struct vec *out,
		   size_t **parents, size_t *room, size_t parent)
{
	char **names = NULL;
	unsigned int k, nv = 0;
	int lib = 0;

	/* A list over 4096 bytes does not fit one reply: libxenstore
	 * fetches it in parts (XS_DIRECTORY_PART). */
	if (r->err == E2BIG) {
		if (c->h == NULL)
			c->h = xs_open(0);
		if (c->h == NULL)
			xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
		names = xs_directory(c->h, XBT_NULL, dir, &nv);
		if (names == NULL && errno != ENOENT)
			xhp_die_sys(XHP_SYS, "unable to list %s", dir);
		lib = 1;
	} else if (r->err != 0 && r->err != ENOENT) {
		errno = r->err;
		xhp_die_sys(XHP_SYS, "unable to list %s", dir);
	} else if (r->val != NULL) {
		names = xhp_xs_split(r->val, r->vlen, &nv);
	}
	/* A directory gone meanwhile has nothing in it. */
	for (k = 0; k < nv; k++) {
		if (lib && names[k][0] == '\0')
			continue;
		vec_add(out, dir, names[k]);
		if (parents != NULL)
			set_parent(out, parents, room, parent);
	}
	free(names);
}

/* The tree as listed: the type directories, the domain directories and
 * the backends, with the listings that named them. */
struct xhp_scan {
	struct vec tdirs, ddirs, bes;
	struct xhp_xs_req *tr, *dr;  /* the listings of tdirs, ddirs */
	size_t *dom;                /* bes.v[i] is in ddirs.v[dom[i]] */
	size_t *first;              /* ddirs.v[k]'s backends: from first[k]
	                             * to first[k + 1] */
};

static void scan_free(struct xhp_scan *s)
{
	reqs_free(s->tr, s->tdirs.n);
	reqs_free(s->dr, s->ddirs.n);
	vec_free(&s->tdirs);
	vec_free(&s->ddirs);
	vec_free(&s->bes);
	free(s->dom);
	free(s->first);
	memset(s, 0, sizeof(*s));
}

/* S->ddirs and S->bes from the listings S->tr and S->dr as they are. */
static void expand_all(struct xhp_share *c, struct xhp_scan *s, int level)
{
	size_t i, room = 0;

	if (level == 0) {
		for (i = 0; i < s->tdirs.n; i++)
			expand(c, s->tdirs.v[i], &s->tr[i], &s->ddirs, NULL,
			       NULL, 0);
		return;
	}
	s->first = grow(NULL, s->ddirs.n + 1, sizeof(*s->first));
	for (i = 0; i < s->ddirs.n; i++) {
		s->first[i] = s->bes.n;
		expand(c, s->ddirs.v[i], &s->dr[i], &s->bes, &s->dom, &room,
		       i);
	}
	s->first[s->ddirs.n] = s->bes.n;
}

/* List the tree from BASE/TYPES into S: two round trips. */
static void list_tree(struct xhp_share *c, struct xhp_scan *s,
		      const char *base, const char *types)
{
	char *list, *type, *save = NULL;

	memset(s, 0, sizeof(*s));
	list = strdup(types);
	if (list == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (type = strtok_r(list, ",", &save); type != NULL;
	     type = strtok_r(NULL, ",", &save))
		vec_add(&s->tdirs, base, type);
	free(list);
	s->tr = reqs(s->tdirs.n);
	req(s->tr, XS_DIRECTORY, s->tdirs.v, s->tdirs.n);
	xhp_xs_batch(c->q, s->tr, s->tdirs.n);
	expand_all(c, s, 0);
	s->dr = reqs(s->ddirs.n);
	req(s->dr, XS_DIRECTORY, s->ddirs.v, s->ddirs.n);
	xhp_xs_batch(c->q, s->dr, s->ddirs.n);
	expand_all(c, s, 1);
}

static struct xhp_scan prepared;

void xhp_share_prepare(struct xhp_share *c, const char *base,
		       const char *types)
{
	list_tree(c, &prepared, base, types);
	c->prepared = 1;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* The index of the prepared domain directory named D, or (size_t)-1.
 * BY: prepared.ddirs.v's entries sorted by name (pointers into it). */
static size_t find_dom(char ***by, const char *d)
{
	char *const *key = (char *const *)&d;
	char ***hit;

	hit = bsearch(&key, by, prepared.ddirs.n, sizeof(*by), cmp_path);
	return hit == NULL ? (size_t)-1 : (size_t)(*hit - prepared.ddirs.v);
}

/* Under the lock, from the prepared listing: the tree as it is now in
 * NOW, and the physical-device of each of its backends in PD and PDL
 * (malloc'd arrays, NOW->bes.n long). One batch re-lists what was listed
 * and reads what it named; then whatever changed is listed and read. */
static void rescan(struct xhp_share *c, struct xhp_scan *now, char ***pd,
		   unsigned int **pdl)
{
	struct xhp_scan *p = &prepared;
	size_t nt = p->tdirs.n, nd = p->ddirs.n, nb = p->bes.n, i, k, b;
	size_t *from, nl = 0, nr = 0, *at, room = 0;
	char *hit;
	struct xhp_xs_req *r = reqs(nt + nd + nb), *lr;
	struct vec pdp = { NULL, 0, 0 }, lp = { NULL, 0, 0 };
	char ***by;

	/* The batch: the two levels of listings, and the backends'
	 * physical-device. */
	for (i = 0; i < nb; i++)
		vec_add(&pdp, p->bes.v[i], "physical-device");
	req(r, XS_DIRECTORY, p->tdirs.v, nt);
	req(r + nt, XS_DIRECTORY, p->ddirs.v, nd);
	req(r + nt + nd, XS_READ, pdp.v, nb);
	xhp_xs_batch(c->q, r, nt + nd + nb);

	/* The domains now, and where each was in the prepared listing. */
	memset(now, 0, sizeof(*now));
	for (i = 0; i < nt; i++)
		vec_add(&now->tdirs, p->tdirs.v[i], NULL);
	now->tr = reqs(nt);
	for (i = 0; i < nt; i++) {
		now->tr[i] = r[i];
		r[i].val = NULL;
	}
	expand_all(c, now, 0);
	from = grow(NULL, now->ddirs.n + 1, sizeof(*from));
	for (i = 0; i < nt && same(&p->tr[i], &now->tr[i]); i++)
		;
	if (i == nt && now->ddirs.n == nd) {
		for (k = 0; k < nd; k++)
			from[k] = k;
	} else {
		by = grow(NULL, nd + 1, sizeof(*by));
		for (k = 0; k < nd; k++)
			by[k] = &p->ddirs.v[k];
		qsort(by, nd, sizeof(*by), cmp_path);
		for (k = 0; k < now->ddirs.n; k++)
			from[k] = find_dom(by, now->ddirs.v[k]);
		free(by);
	}

	/* Each domain's listing: from the batch, or (a new domain) listed
	 * now. */
	now->dr = reqs(now->ddirs.n);
	for (k = 0; k < now->ddirs.n; k++) {
		if (from[k] == (size_t)-1) {
			vec_add(&lp, now->ddirs.v[k], NULL);
			continue;
		}
		now->dr[k] = r[nt + from[k]];
		r[nt + from[k]].val = NULL;
		r[nt + from[k]].err = 0;
	}
	if (lp.n > 0) {
		lr = reqs(lp.n);
		req(lr, XS_DIRECTORY, lp.v, lp.n);
		xhp_xs_batch(c->q, lr, lp.n);
		for (k = 0; k < now->ddirs.n; k++)
			if (from[k] == (size_t)-1)
				now->dr[k] = lr[nl++];
		free(lr);
	}
	vec_free(&lp);

	/* Each domain's backends: when its listing is what it was, those
	 * listed before (moved over), else its listing's. */
	hit = grow(NULL, now->ddirs.n + 1, sizeof(*hit));
	now->first = grow(NULL, now->ddirs.n + 1, sizeof(*now->first));
	for (k = 0; k < now->ddirs.n; k++) {
		size_t pk = from[k], o;

		hit[k] = pk != (size_t)-1 && same(&p->dr[pk], &now->dr[k]);
		now->first[k] = now->bes.n;
		if (!hit[k]) {
			expand(c, now->ddirs.v[k], &now->dr[k], &now->bes,
			       &now->dom, &room, k);
			continue;
		}
		for (o = p->first[pk]; o < p->first[pk + 1]; o++) {
			vec_push(&now->bes, p->bes.v[o]);
			p->bes.v[o] = NULL;
			set_parent(&now->bes, &now->dom, &room, k);
		}
	}
	now->first[now->ddirs.n] = now->bes.n;

	/* Each backend's physical-device: from the batch when its domain
	 * lists the same backends as before, else read now. */
	*pd = grow(NULL, now->bes.n + 1, sizeof(**pd));
	*pdl = grow(NULL, now->bes.n + 1, sizeof(**pdl));
	at = grow(NULL, now->bes.n + 1, sizeof(*at));
	vec_free(&pdp);
	for (k = 0; k < now->ddirs.n; k++) {
		size_t pk = from[k];

		for (b = now->first[k]; b < now->first[k + 1]; b++) {
			size_t o = hit[k] ? p->first[pk] + (b - now->first[k]) : 0;

			if (hit[k]) {
				struct xhp_xs_req *x = &r[nt + nd + o];

				if (x->err != 0 && x->err != ENOENT) {
					errno = x->err;
					xhp_die_sys(XHP_SYS, "unable to read "
						    "%s/physical-device",
						    now->bes.v[b]);
				}
				(*pd)[b] = x->val;
				(*pdl)[b] = x->vlen;
				x->val = NULL;
				continue;
			}
			at[nr++] = b;
			vec_add(&pdp, now->bes.v[b], "physical-device");
		}
	}
	if (nr > 0) {
		char **v = grow(NULL, nr, sizeof(*v));
		unsigned int *l = grow(NULL, nr, sizeof(*l));

		xhp_xs_many(c->q, 0, pdp.v, nr, v, l);
		for (i = 0; i < nr; i++) {
			(*pd)[at[i]] = v[i];
			(*pdl)[at[i]] = l[i];
		}
		free(v);
		free(l);
	}
	vec_free(&pdp);
	free(at);
	free(hit);
	free(from);
	reqs_free(r, nt + nd + nb);
}

/* Then each backend in turn, as listed: is it using our device in a
 * conflicting mode? PD, PDL: the backends' physical-device (freed). */
static int check(struct xhp_share *c, struct xhp_scan *s, char **pd,
		 unsigned int *pdl)
{
	char bn[XHP_XS_PATHMAX], **pp, **nval, *ours;
	const char *self;
	struct vec need = { NULL, 0, 0 };
	unsigned int *ppl, *nlen;
	unsigned long maj, min;
	size_t i, k, *at, lastdom = (size_t)-1;
	signed char *mine;
	int busy = 0, same_dom = -1, uses;

	pp = calloc(s->bes.n + 1, sizeof(*pp));
	ppl = calloc(s->bes.n + 1, sizeof(*ppl));
	at = calloc(s->bes.n + 1, sizeof(*at));
	nval = calloc(s->bes.n + 1, sizeof(*nval));
	nlen = calloc(s->bes.n + 1, sizeof(*nlen));
	mine = calloc(s->bes.n + 1, sizeof(*mine));
	if (pp == NULL || ppl == NULL || at == NULL || nval == NULL ||
	    nlen == NULL || mine == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	/* mine[]: 1 a device of ours, 0 another or our own backend, -1 look
	 * at the path. Path-only writers, or libxl not yet converted: the
	 * path names the device, and its identity now is what matters. An
	 * unparsable physical-device may still have a path that tells what
	 * the backend is about to open. The paths of those backends, read
	 * together, go to pp[] (their ppl[] as lengths) at the backend's
	 * index. */
	/* Our own backend is skipped: found by its domain's directory,
	 * normalised once per domain, and its name. */
	self = strrchr(c->selfn, '/');
	ours = calloc(s->ddirs.n + 1, 1);
	if (ours == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (k = 0; k < s->ddirs.n && self != NULL; k++) {
		xhp_xs_normalise(bn, s->ddirs.v[k]);
		ours[k] = strlen(bn) == (size_t)(self - c->selfn) &&
			  memcmp(bn, c->selfn, strlen(bn)) == 0;
	}
	for (i = 0; i < s->bes.n; i++) {
		if (ours[s->dom[i]] && strcmp(s->bes.v[i] +
		    strlen(s->ddirs.v[s->dom[i]]), self) == 0)
			continue;
		if (pd[i] != NULL && xhp_parse_physdev(pd[i], pdl[i], c->fmt,
						       &maj, &min) == 0) {
			mine[i] = (signed char)xhp_id_has_blk(&c->ids, maj,
								 min);
			continue;
		}
		mine[i] = -1;
		at[need.n] = i;
		vec_add(&need, s->bes.v[i], "physical-device-path");
	}
	xhp_xs_many(c->q, 0, need.v, need.n, nval, nlen);
	for (k = 0; k < need.n; k++) {
		pp[at[k]] = nval[k];
		ppl[at[k]] = nlen[k];
	}
	vec_free(&need);

	for (i = 0; i < s->bes.n && !busy; i++) {
		if (mine[i] == 1)
			uses = xhp_parse_physdev(pd[i], pdl[i], c->fmt, &maj,
						 &min) == 0;
		else
			uses = mine[i] == -1 && pp[i] != NULL &&
			       path_uses(c, pp[i], ppl[i], &maj, &min);
		if (!uses || !conflicts(c, s->bes.v[i]))
			continue;
		if (s->dom[i] != lastdom) {
			lastdom = s->dom[i];
			same_dom = same_vm(c, strrchr(s->ddirs.v[lastdom], '/') +
					   1);
		}
		if (!same_dom)
			busy = xhp_share_busy(c, "guest", maj, min,
					      s->bes.v[i]);
	}
	for (i = 0; i < s->bes.n; i++) {
		free(pd[i]);
		free(pp[i]);
	}
	free(pd);
	free(pdl);
	free(pp);
	free(ppl);
	free(at);
	free(nval);
	free(nlen);
	free(mine);
	free(ours);
	return busy;
}

int xhp_share_guests(struct xhp_share *c, const char *base,
		     const char *types)
{
	struct xhp_scan now;
	char **pd;
	unsigned int *pdl;
	size_t i;
	int busy;

	if (c->prepared) {
		rescan(c, &now, &pd, &pdl);
		scan_free(&prepared);
		c->prepared = 0;
	} else {
		struct vec p = { NULL, 0, 0 };

		list_tree(c, &now, base, types);
		for (i = 0; i < now.bes.n; i++)
			vec_add(&p, now.bes.v[i], "physical-device");
		pd = grow(NULL, now.bes.n + 1, sizeof(*pd));
		pdl = grow(NULL, now.bes.n + 1, sizeof(*pdl));
		xhp_xs_many(c->q, 0, p.v, p.n, pd, pdl);
		vec_free(&p);
	}
	busy = check(c, &now, pd, pdl);
	scan_free(&now);
	return busy;
}
