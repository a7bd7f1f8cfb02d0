/* SPDX-License-Identifier: LGPL-2.1-only */
/* fetch.c: the scan's second phase (scan.c), what each listed backend
 * names now. Its physical-device, all in one batch; for those whose
 * physical-device is absent or unparsable, physical-device-path (in the
 * same batch when both fit one window), and a stat of it; for tapdisk
 * and QEMU backends, which open params themselves, params. Only a
 * backend that names a device of ours costs more: its mode, its domain's
 * vm. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"

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
static void stat_path(const struct xhp_share *c, struct xhp_scan_be *b)
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
		b->names = XHP_NAMES_BLK;
		b->maj = xhp_id_major(st.st_rdev);
		b->min = xhp_id_minor(st.st_rdev);
	} else if (S_ISREG(st.st_mode)) {
		b->names = XHP_NAMES_FILE;
		b->maj = xhp_id_major(st.st_dev);
		b->min = xhp_id_minor(st.st_dev);
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
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

/* Is B's NODE one to read now: B is not ours and names nothing yet, and
 * for params, it is of a kind that opens params itself (vbd3, qdisk)? */
static int to_read(const struct xhp_scan *s, const struct xhp_scan_be *b,
		   const char *node)
{
	if (strcmp(node, "physical-device-path") == 0 && b->pdp_read)
		return 0;
	return !b->self && b->names == XHP_NAMES_NONE &&
	       (strcmp(node, "params") != 0 || s->dom[b->dom].byparams);
}

/* How many backends read NODE now. */
static size_t count(const struct xhp_scan *s, const char *node)
{
	size_t i, n = 0;

	for (i = 0; i < s->nbe; i++)
		n += to_read(s, &s->be[i], node) != 0;
	return n;
}

/* Read NODE (physical-device, or with PATH physical-device-path or
 * params) of every backend that does not name a device yet, in one
 * batch; with PATHS, their physical-device-path in it too. */
static void read_nodes(struct xhp_share *c, struct xhp_scan *s,
		       const char *node, int path, int paths)
{
	struct xhp_scan_be *b;
	size_t i, j = 0;

	for (i = 0; i < s->nbe; i++) {
		if (!to_read(s, &s->be[i], node))
			continue;
		xhp_batch_put(&s->b, XS_READ, 0, s->be[i].path, node, NULL);
		if (paths)
			xhp_batch_put(&s->b, XS_READ, 0, s->be[i].path,
				      "physical-device-path", NULL);
	}
	if (s->b.n == 0)
		return;
	xhp_batch_send(c->q, &s->b);
	for (i = 0; i < s->nbe; i++) {
		b = &s->be[i];
		if (!to_read(s, b, node))
			continue;
		if (path) {
			/* params replaces a physical-device-path that named
			 * no disk (tapdisk's socket). */
			free(b->pdp);
			b->pdp = take(&s->b.r[j++], &b->pdpl);
		} else {
			b->pd = take(&s->b.r[j++], &b->pdl);
		}
		if (paths) {
			b->pdp = take(&s->b.r[j++], &b->pdpl);
			b->pdp_read = 1;
		}
	}
	xhp_batch_clear(&s->b);
}

/* A vbd3 or qdisk params, FORMAT:PATH (libxl's), cut to PATH in place. A
 * value without a format (no ':' before the first '/') is a path. */
static void params_path(struct xhp_scan_be *b)
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

/* For a backend that uses a device of ours: its mode when we are a
 * reader, and when the modes conflict the vm of its domain and ours
 * (same_vm). */
static void fetch_user(struct xhp_share *c, struct xhp_scan *s,
		       struct xhp_scan_be *b)
{
	struct xhp_scan_dom *d = &s->dom[b->dom];
	char p[XHP_XS_PATHMAX], *m;
	unsigned int len;

	if (c->mode == 'r') {
		xhp_xspath_fmt(p, XHP_SYS, "%s/%s", b->path, "mode");
		m = xhp_xs_read(c->q, p, &len);
		b->mode = m == NULL ? 0 : xhp_parse_mode(m, len);
		free(m);
	}
	if (!xhp_share_conflicts(c, b) || d->vm_read)
		return;
	xhp_share_ours(c);
	d->vm_read = 1;
	d->vm = xhp_share_dom_vm(c->q, d->id, 0);
	if (d->vm != NULL)
		d->tvm = xhp_share_dom_vm(c->q, d->id, 1);
}

void xhp_fetch_names(struct xhp_share *c, struct xhp_scan *s)
{
	struct xhp_scan_be *b;
	size_t i;

	/* The paths go with the physical-devices when both fit one window
	 * of requests, where they cost no round trip of their own (the
	 * concurrent adds of a boot, whose backends have neither yet);
	 * beyond, only for those whose physical-device names nothing. */
	read_nodes(c, s, "physical-device", 0,
		   2 * count(s, "physical-device") <= XHP_XS_WINDOW);
	for (i = 0; i < s->nbe; i++) {
		b = &s->be[i];
		if (b->pd != NULL && xhp_parse_physdev(b->pd, b->pdl, c->fmt,
						       &b->maj, &b->min) == 0)
			b->names = XHP_NAMES_BLK;
	}
	read_nodes(c, s, "physical-device-path", 1, 0);
	for (i = 0; i < s->nbe; i++)
		if (s->be[i].names == XHP_NAMES_NONE && s->be[i].pdp != NULL)
			stat_path(c, &s->be[i]);
	/* tapdisk and QEMU open params themselves: for those whose nodes
	 * named no disk, the file or device in params. */
	read_nodes(c, s, "params", 1, 0);
	for (i = 0; i < s->nbe; i++) {
		b = &s->be[i];
		if (!s->dom[b->dom].byparams || b->names != XHP_NAMES_NONE ||
		    b->pdp == NULL)
			continue;
		params_path(b);
		stat_path(c, b);
	}
	for (i = 0; i < s->nbe; i++)
		if (xhp_share_uses(c, &s->be[i]))
			fetch_user(c, s, &s->be[i]);
}
