/* SPDX-License-Identifier: LGPL-2.1-only */
/* scan.c: the guest half of the sharing check, under the hotplug lock:
 * one table of backends BASE/TYPE/DOM/DEV, filled in three phases. List
 * the tree (one batch per level), fetch what each backend names (fetch.c)
 * and decide with share.c's rules: the identity set and its stack, the
 * reader/writer rule, the same-VM rule. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"

/* The scan in progress; static, so that what it holds stays reachable
 * when a helper dies in it and a leak checker does not count it. */
static struct xhp_scan scan;

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
	return r->val == NULL ? NULL : xhp_xspath_split(r->val, r->vlen, n);
}

static void add_dom(char *path, const char *type)
{
	struct xhp_scan_dom *d;

	scan.dom = xhp_grow(scan.dom, scan.ndom, &scan.adom, sizeof(*scan.dom));
	d = &scan.dom[scan.ndom++];
	memset(d, 0, sizeof(*d));
	d->path = path;
	d->id = strrchr(path, '/') + 1;
	d->byparams = strcmp(type, "vbd3") == 0 || strcmp(type, "qdisk") == 0;
}

static void add_be(char *path, size_t dom, int self)
{
	struct xhp_scan_be *b;

	scan.be = xhp_grow(scan.be, scan.nbe, &scan.abe, sizeof(*scan.be));
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
	xhp_xspath_normalise(n, dir);
	len = strlen(n);
	return len == (size_t)(slash - c->selfn) &&
	       memcmp(n, c->selfn, len) == 0;
}

/* List the tree BASE/TYPE/DOM/DEV (TYPES comma-separated): the types'
 * listings in one batch, then the domains' in another. */
static void list(struct xhp_share *c, const char *base, const char *types)
{
	struct xhp_batch *q = &scan.b;
	char *copy, *t, *save = NULL, **v;
	const char *self = strrchr(c->selfn, '/'), *dir;
	unsigned int k, n, tx = 0;
	size_t i, ntypes;
	int ours;

	copy = strdup(types);
	if (copy == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (t = strtok_r(copy, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save))
		xhp_batch_put(q, XS_DIRECTORY, 0, base, t, NULL);
	free(copy);
	ntypes = q->n;
	/* With C->pub, the publication's transaction starts here, and its
	 * first step goes with the domains' listings: two round trips less
	 * under the lock. TX 0 when the start failed; the publication then
	 * starts its own and reports the error. */
	if (c->pub != NULL)
		xhp_batch_put(q, XS_TRANSACTION_START, 0, "", NULL, NULL);
	xhp_batch_send(c->q, q);
	if (c->pub != NULL)
		tx = xhp_batch_txid(&q->r[ntypes]);
	for (i = 0; i < ntypes; i++) {
		dir = q->r[i].data;
		v = names(c, dir, &q->r[i], &n);
		/* The listing's path ends in its TYPE. */
		t = strrchr(dir, '/');
		for (k = 0; k < n; k++)
			if (v[k][0] != '\0')
				add_dom(xhp_xspath_msg(XHP_SYS, dir, v[k], NULL,
						       NULL),
					t != NULL ? t + 1 : dir);
		free(v);
	}
	xhp_batch_clear(q);

	for (i = 0; i < scan.ndom; i++)
		xhp_batch_put(q, XS_DIRECTORY, 0, scan.dom[i].path, NULL,
			      NULL);
	if (tx != 0)
		xhp_pub_ride(c->pub, q, tx);
	xhp_batch_send(c->q, q);
	if (tx != 0)
		xhp_pub_rode(c->pub, q);
	for (i = 0; i < scan.ndom; i++) {
		v = names(c, scan.dom[i].path, &q->r[i], &n);
		ours = our_dom(c, scan.dom[i].path);
		for (k = 0; k < n; k++)
			if (v[k][0] != '\0')
				add_be(xhp_xspath_msg(XHP_SYS, scan.dom[i].path,
						      v[k], NULL, NULL), i,
				       ours && strcmp(v[k], self + 1) == 0);
		free(v);
	}
	xhp_batch_clear(q);
}

/* The first backend, in listing order, that uses a device of ours in a
 * conflicting mode and is not the same VM; NULL when there is none. */
static struct xhp_scan_be *decide(const struct xhp_share *c)
{
	struct xhp_scan_be *b;
	size_t i;

	for (i = 0; i < scan.nbe; i++) {
		b = &scan.be[i];
		if (xhp_share_uses(c, b) && xhp_share_conflicts(c, b) &&
		    !xhp_share_same_vm(c, &scan.dom[b->dom]))
			return b;
	}
	return NULL;
}

static void scan_free(void)
{
	size_t i;

	xhp_batch_free(&scan.b);
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
	memset(&scan, 0, sizeof(scan));
}

int xhp_scan_guests(struct xhp_share *c, const char *base,
		    const char *types)
{
	const struct xhp_scan_be *b;
	int busy = 0;

	list(c, base, types);
	xhp_fetch_names(c, &scan);
	b = decide(c);
	if (b != NULL) {
		busy = xhp_share_busy(c, "guest", b->maj, b->min, b->path);
		c->rel = xhp_share_relation_be(c, b);
	}
	scan_free();
	return busy;
}
