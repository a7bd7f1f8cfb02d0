/* SPDX-License-Identifier: LGPL-2.1-only */
/* share.c: the sharing check (docs/xs-stat-path.md): is a device of our
 * identity set mounted in dom0, or given to another guest in a mode that
 * conflicts with ours? The verdict names the user, for the script's
 * message.
 *
 * The guest half runs under the hotplug lock, in three phases over one
 * table of backends: list the tree BASE/TYPE/DOM/DEV (one batch per
 * level, xs.c), fetch what each backend names (one batch of reads, then a
 * stat of the paths that need one), and decide (pure: the identity set,
 * the reader/writer rule, the same-VM rule). Only a backend that names a
 * device of ours costs more: its mode, its domain's vm. */
#include <errno.h>
#include <limits.h>
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

	xhp_xs_pathf(p, XHP_SYS, "/local/domain/%s/%s", dom, node);
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
	xhp_xs_pathf(p, XHP_SYS, "%s/%s", c->self, "frontend-id");
	fid = xhp_xs_read(c->q, p, NULL);
	if (fid != NULL && xhp_parse_ulong(fid, 10, XHP_DOMID_MAX, &id) == 0) {
		c->ourvm = xhp_share_dom_vm(c->q, fid, 0);
		c->ourtvm = xhp_share_dom_vm(c->q, fid, 1);
	}
	free(fid);
}

/* ---- the guest scan: list, fetch, decide ---- */

/* One backend BASE/TYPE/DOM/DEV, and what the scan learns about it. */
struct backend {
	char *path;
	size_t dom;             /* its domain directory: scan.dom[dom] */
	int self;               /* our own backend: not compared */
	char *pd, *pdp;         /* physical-device, physical-device-path:
	                         * NULL when absent */
	unsigned int pdl, pdpl;
	int names;              /* what it names now: NAMES_* */
	unsigned long maj, min; /* that device (for a file, its filesystem's:
	                         * the verdict names it) */
	dev_t dev;              /* NAMES_FILE: the file */
	ino_t ino;
	int mode;               /* its mode canonicalised, 0 when absent; read
	                         * only when we are a reader and it names a
	                         * device of ours */
	int use;                /* uses(): 0 not asked yet, 1 no, 2 yes */
};
enum { NAMES_NONE, NAMES_BLK, NAMES_FILE };

/* One domain directory BASE/TYPE/DOM. */
struct domain {
	char *path;
	const char *id;         /* DOM, in PATH */
	int byparams;           /* TYPE is vbd3 (tapdisk) or qdisk (QEMU):
	                         * the backend opens params itself, and its
	                         * physical-device-path is no disk */
	int vm_read;            /* VM and TVM fetched */
	char *vm, *tvm;         /* its vm and its target's: NULL when absent */
};

/* The scan in progress; static, so that what it holds stays reachable
 * when a helper dies in it and a leak checker does not count it. */
static struct {
	struct domain *dom;
	size_t ndom, adom;
	struct backend *be;
	size_t nbe, abe;
	struct xhp_xs_req *r;   /* the batch; each payload is malloc'd */
	size_t nr, ar;
} scan;

/* Room in the array P of *ROOM elements of SIZE bytes for element N. */
static void *room(void *p, size_t *room, size_t n, size_t size)
{
	if (n < *room)
		return p;
	*room = *room ? 2 * *room : 64;
	p = realloc(p, *room * size);
	if (p == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	return p;
}

/* Queue a request of TYPE (XS_DIRECTORY, XS_READ) on DIR/NODE (NODE NULL:
 * DIR itself). */
static void put(unsigned int type, const char *dir, const char *node)
{
	struct xhp_xs_req *r;

	scan.r = room(scan.r, &scan.ar, scan.nr, sizeof(*scan.r));
	r = &scan.r[scan.nr++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->data = xhp_xs_msg(XHP_SYS, dir, node, NULL, &r->len);
}

/* Send the queued requests; their replies are in scan.r. */
static void send(struct xhp_share *c)
{
	xhp_xs_batch(c->q, scan.r, scan.nr);
}

/* Free the batch and the replies not taken from it. */
static void drop(void)
{
	size_t i;

	for (i = 0; i < scan.nr; i++) {
		free((char *)scan.r[i].data);
		free(scan.r[i].val);
	}
	scan.nr = 0;
}

/* The value of the read R, taken from it (*LEN its length); NULL when the
 * node does not exist. Dies 111 on any other error. */
static char *take(struct xhp_xs_req *r, unsigned int *len)
{
	char *v = r->val;

	if (r->err != 0 && r->err != ENOENT) {
		errno = r->err;
		xhp_die_sys(XHP_SYS, "unable to read %s", r->data);
	}
	r->val = NULL;
	*len = r->vlen;
	return v;
}

/* The names in the listing R of DIR, *N of them: one malloc'd block. */
static char **names(struct xhp_share *c, const char *dir,
		    const struct xhp_xs_req *r, unsigned int *n)
{
	char **v;

	*n = 0;
	/* A listing over 4096 bytes does not fit one reply: libxenstore
	 * fetches it in parts (XS_DIRECTORY_PART). */
	if (r->err == E2BIG) {
		if (c->h == NULL)
			c->h = xs_open(0);
		if (c->h == NULL)
			xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
		v = xs_directory(c->h, XBT_NULL, dir, n);
		if (v == NULL && errno != ENOENT)
			xhp_die_sys(XHP_SYS, "unable to list %s", dir);
		return v;
	}
	/* A directory gone meanwhile has nothing in it. */
	if (r->err != 0 && r->err != ENOENT) {
		errno = r->err;
		xhp_die_sys(XHP_SYS, "unable to list %s", dir);
	}
	return r->val == NULL ? NULL : xhp_xs_split(r->val, r->vlen, n);
}

static void add_dom(char *path, const char *type)
{
	struct domain *d;

	scan.dom = room(scan.dom, &scan.adom, scan.ndom, sizeof(*scan.dom));
	d = &scan.dom[scan.ndom++];
	memset(d, 0, sizeof(*d));
	d->path = path;
	d->id = strrchr(path, '/') + 1;
	d->byparams = strcmp(type, "vbd3") == 0 || strcmp(type, "qdisk") == 0;
}

static void add_be(char *path, size_t dom, int self)
{
	struct backend *b;

	scan.be = room(scan.be, &scan.abe, scan.nbe, sizeof(*scan.be));
	b = &scan.be[scan.nbe++];
	memset(b, 0, sizeof(*b));
	b->path = path;
	b->dom = dom;
	b->self = self;
}

/* Is the domain directory DIR the one of our own backend? Compared
 * normalised: our backend may be named relative or absolute. */
static int our_dom(const struct xhp_share *c, const char *dir)
{
	const char *slash = strrchr(c->selfn, '/');
	char n[XHP_XS_PATHMAX];
	size_t len;

	if (slash == NULL)
		return 0;
	xhp_xs_normalise(n, dir);
	len = strlen(n);
	return len == (size_t)(slash - c->selfn) &&
	       memcmp(n, c->selfn, len) == 0;
}

/* List the tree BASE/TYPE/DOM/DEV (TYPES comma-separated): the types'
 * listings in one batch, then the domains' in another. */
static void list(struct xhp_share *c, const char *base, const char *types)
{
	char *copy, *t, *save = NULL, **v;
	const char *self = strrchr(c->selfn, '/');
	unsigned int k, n;
	size_t i;
	int ours;

	copy = strdup(types);
	if (copy == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (t = strtok_r(copy, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save))
		put(XS_DIRECTORY, base, t);
	free(copy);
	send(c);
	for (i = 0; i < scan.nr; i++) {
		v = names(c, scan.r[i].data, &scan.r[i], &n);
		/* The listing's path ends in its TYPE. */
		t = strrchr(scan.r[i].data, '/');
		t = t != NULL ? t + 1 : (char *)scan.r[i].data;
		for (k = 0; k < n; k++)
			if (v[k][0] != '\0')
				add_dom(xhp_xs_msg(XHP_SYS, scan.r[i].data,
						   v[k], NULL, NULL), t);
		free(v);
	}
	drop();

	for (i = 0; i < scan.ndom; i++)
		put(XS_DIRECTORY, scan.dom[i].path, NULL);
	send(c);
	for (i = 0; i < scan.ndom; i++) {
		v = names(c, scan.dom[i].path, &scan.r[i], &n);
		ours = our_dom(c, scan.dom[i].path);
		for (k = 0; k < n; k++)
			if (v[k][0] != '\0')
				add_be(xhp_xs_msg(XHP_SYS, scan.dom[i].path,
						  v[k], NULL, NULL), i,
				       ours && strcmp(v[k], self + 1) == 0);
		free(v);
	}
	drop();
}

/* stat PATH as a backend that opens it itself does: FreeBSD's blkback
 * looks a relative name up from / (its working directory) and, when that
 * names nothing it can open, under /dev (DEVDIR). Upstream's FreeBSD
 * script publishes params as the user gave it. */
static int stat_opened(const char *devdir, const char *path, struct stat *st)
{
	char p[PATH_MAX];

	if (path[0] == '/')
		return stat(path, st);
	if ((size_t)snprintf(p, sizeof(p), "/%s", path) < sizeof(p) &&
	    stat(p, st) == 0 && (S_ISREG(st->st_mode) ||
				 S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
		return 0;
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", devdir, path) >=
	    sizeof(p)) {
		errno = ENOENT;
		return -1;
	}
	return stat(p, st);
}

/* What B's physical-device-path names now: the path is the truth for a
 * path-only writer, or before libxl converted it, and an unparsable
 * physical-device may still have a path that says what the backend is
 * about to open. */
static void stat_path(const struct xhp_share *c, struct backend *b)
{
	struct stat st;

	/* A value with a NUL is no path any kernel backend could open. */
	if (b->pdpl == 0 || memchr(b->pdp, '\0', b->pdpl) != NULL)
		return;
	if ((c->devdir != NULL ? stat_opened(c->devdir, b->pdp, &st) :
	     stat(b->pdp, &st)) == -1) {
		/* Gone: nothing to share any more. */
		if (errno != ENOENT && errno != ENOTDIR)
			xhp_die_sys(XHP_SYS, "unable to stat %s", b->pdp);
		return;
	}
	if (S_ISBLK(st.st_mode) ||
	    (c->devdir != NULL && S_ISCHR(st.st_mode))) {
		b->names = NAMES_BLK;
		b->maj = xhp_id_major(st.st_rdev);
		b->min = xhp_id_minor(st.st_rdev);
	} else if (S_ISREG(st.st_mode)) {
		b->names = NAMES_FILE;
		b->maj = xhp_id_major(st.st_dev);
		b->min = xhp_id_minor(st.st_dev);
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
}

/* Where the sectors of what B names live, into O (freed by the caller). */
static void stack_of(const struct backend *b, struct xhp_idset *o)
{
	memset(o, 0, sizeof(*o));
	if (b->names == NAMES_BLK)
		xhp_stack_blk(o, b->maj, b->min);
	else
		xhp_stack_file(o, b->dev, b->ino, 0, XHP_EXT_ALL);
}

/* Does B name a device of our identity set, or one whose sectors meet
 * ours anywhere in the block-device stack (a partition of our disk, the
 * disk of our partition, a holder above or a slave below)? */
static int uses(const struct xhp_share *c, struct backend *b)
{
	struct xhp_idset o;

	if (b->self || b->names == NAMES_NONE)
		return 0;
	if (b->use == 0) {
		if (b->names == NAMES_BLK ?
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

/* How our target relates to what B names, in words; NULL when it is the
 * same device or file. */
static char *relation(const struct xhp_share *c, const struct backend *b)
{
	if (b->names == NAMES_BLK)
		return xhp_share_relation(c, b->maj, b->min);
	if (xhp_id_has_file(&c->ids, b->dev, b->ino))
		return NULL;
	return say("is stacked on the image", b->pdp != NULL ? b->pdp :
		   "of another backend", b->maj, b->min);
}

/* Do our mode and B's conflict? A reader conflicts only with writers. */
static int conflicts(const struct xhp_share *c, const struct backend *b)
{
	return c->mode == 'w' || b->mode == 'w';
}

/* Is B's NODE one to read now: B is not ours and names nothing yet, and
 * for params, it is of a kind that opens params itself (vbd3, qdisk)? */
static int to_read(const struct backend *b, const char *node)
{
	return !b->self && b->names == NAMES_NONE &&
	       (strcmp(node, "params") != 0 || scan.dom[b->dom].byparams);
}

/* Read NODE (physical-device, or with PATH physical-device-path or
 * params) of every backend that does not name a device yet, in one
 * batch. */
static void read_nodes(struct xhp_share *c, const char *node, int path)
{
	struct backend *b;
	size_t i, j = 0;

	for (i = 0; i < scan.nbe; i++)
		if (to_read(&scan.be[i], node))
			put(XS_READ, scan.be[i].path, node);
	if (scan.nr == 0)
		return;
	send(c);
	for (i = 0; i < scan.nbe; i++) {
		b = &scan.be[i];
		if (!to_read(b, node))
			continue;
		if (path) {
			/* params replaces a physical-device-path that named
			 * no disk (tapdisk's socket). */
			free(b->pdp);
			b->pdp = take(&scan.r[j++], &b->pdpl);
		}
		else
			b->pd = take(&scan.r[j++], &b->pdl);
	}
	drop();
}

/* A vbd3 or qdisk params, FORMAT:PATH (libxl's), cut to PATH in place. A
 * value without a format (no ':' before the first '/') is a path. */
static void params_path(struct backend *b)
{
	char *colon;
	size_t cut;

	if (b->pdp == NULL)
		return;
	colon = memchr(b->pdp, ':', b->pdpl);
	if (colon == NULL || memchr(b->pdp, '/', (size_t)(colon - b->pdp)))
		return;
	cut = (size_t)(colon - b->pdp) + 1;
	memmove(b->pdp, b->pdp + cut, b->pdpl - cut + 1);
	b->pdpl -= (unsigned int)cut;
}

/* What each backend names: its physical-device, in one batch; for those
 * whose physical-device is absent or unparsable, physical-device-path in
 * another, and a stat of it. Then, for the few that name a device of
 * ours: their mode, and for those that conflict, the vm of their domain
 * and ours (same_vm). */
static void fetch(struct xhp_share *c)
{
	struct backend *b;
	struct domain *d;
	char p[XHP_XS_PATHMAX], *m;
	unsigned int len;
	size_t i;

	read_nodes(c, "physical-device", 0);
	for (i = 0; i < scan.nbe; i++) {
		b = &scan.be[i];
		if (b->pd != NULL && xhp_parse_physdev(b->pd, b->pdl, c->fmt,
						       &b->maj, &b->min) == 0)
			b->names = NAMES_BLK;
	}
	read_nodes(c, "physical-device-path", 1);
	for (i = 0; i < scan.nbe; i++)
		if (scan.be[i].pdp != NULL)
			stat_path(c, &scan.be[i]);
	/* tapdisk and QEMU open params themselves: for those whose nodes
	 * named no disk, the file or device in params. */
	read_nodes(c, "params", 1);
	for (i = 0; i < scan.nbe; i++) {
		b = &scan.be[i];
		if (!scan.dom[b->dom].byparams || b->names != NAMES_NONE ||
		    b->pdp == NULL)
			continue;
		params_path(b);
		stat_path(c, b);
	}

	for (i = 0; i < scan.nbe; i++) {
		b = &scan.be[i];
		if (!uses(c, b))
			continue;
		if (c->mode == 'r') {
			xhp_xs_pathf(p, XHP_SYS, "%s/%s", b->path, "mode");
			m = xhp_xs_read(c->q, p, &len);
			b->mode = m == NULL ? 0 : xhp_parse_mode(m, len);
			free(m);
		}
		d = &scan.dom[b->dom];
		if (!conflicts(c, b) || d->vm_read)
			continue;
		xhp_share_ours(c);
		d->vm_read = 1;
		d->vm = xhp_share_dom_vm(c->q, d->id, 0);
		if (d->vm != NULL)
			d->tvm = xhp_share_dom_vm(c->q, d->id, 1);
	}
}

static int eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && *a != '\0' && strcmp(a, b) == 0;
}

/* Upstream's same_vm: is domain D the same VM as our frontend, directly or
 * through a stubdomain's target? */
static int same_vm(const struct xhp_share *c, const struct domain *d)
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

/* The first backend, in listing order, that uses a device of ours in a
 * conflicting mode and is not the same VM; NULL when there is none. */
static const struct backend *decide(const struct xhp_share *c)
{
	struct backend *b;
	size_t i;

	for (i = 0; i < scan.nbe; i++) {
		b = &scan.be[i];
		if (uses(c, b) && conflicts(c, b) &&
		    !same_vm(c, &scan.dom[b->dom]))
			return b;
	}
	return NULL;
}

static void scan_free(void)
{
	size_t i;

	drop();
	for (i = 0; i < scan.nbe; i++) {
		free(scan.be[i].path);
		free(scan.be[i].pd);
		free(scan.be[i].pdp);
	}
	for (i = 0; i < scan.ndom; i++) {
		free(scan.dom[i].path);
		free(scan.dom[i].vm);
		free(scan.dom[i].tvm);
	}
	free(scan.be);
	free(scan.dom);
	free(scan.r);
	memset(&scan, 0, sizeof(scan));
}

int xhp_share_guests(struct xhp_share *c, const char *base,
		     const char *types)
{
	const struct backend *b;
	int busy = 0;

	list(c, base, types);
	fetch(c);
	b = decide(c);
	if (b != NULL) {
		busy = xhp_share_busy(c, "guest", b->maj, b->min, b->path);
		c->rel = relation(c, b);
	}
	scan_free();
	return busy;
}
