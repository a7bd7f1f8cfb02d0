/* pub.c: the publishing transaction of xs-majmin and xs-publish
 * (docs/xs-majmin.md), on the pipelined connection: the start; the
 * backend's listing with the writes that do not depend on it; the rest;
 * the commit. Four round trips whatever is written, and never a commit
 * sent before every write of the transaction has succeeded: xenstored
 * would commit the writes that did, and leave the publication half done.
 * xs-publish makes all but the commit before it takes the lock for a block
 * device (xhp_pub_open), so that under the lock the publication is one
 * round trip (two for a file, whose loop device is attached under it). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"

void xhp_pub_extra(struct xhp_pub *j, char *arg, const char *usage)
{
	if (xhp_parse_extra(arg) == -1) {
		if (errno == ENOMEM)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
		xhp_usage(usage);
	}
	j->extra[j->nextra++] = arg;
}

/* The requests of one step and the payloads they own. */
struct batch {
	struct xhp_xs_req *r;
	char **own;
	size_t n;
};

static void put(struct batch *b, unsigned int type, unsigned int tx,
		const char *data, size_t len, char *own)
{
	memset(&b->r[b->n], 0, sizeof(b->r[b->n]));
	b->r[b->n].type = type;
	b->r[b->n].tx = tx;
	b->r[b->n].data = data;
	b->r[b->n].len = len;
	b->own[b->n++] = own;
}

/* BACKEND/NODE (NODE NULL: BACKEND itself) read or listed (TYPE), or
 * written with VAL, in TX. */
static void put_node(struct batch *b, const struct xhp_pub *j,
		     unsigned int type, unsigned int tx, const char *node,
		     const char *val)
{
	size_t len;
	char *m = xhp_xs_msg(XHP_USAGE, j->backend, node, val, &len);

	put(b, type, tx, m, len, m);
}

/* Send B's requests and take their replies. */
static void exchange(struct xhp_pub *j, struct batch *b)
{
	xhp_xs_batch(j->q, b->r, b->n);
}

/* Die unless requests FIRST.. to LAST (excluded) of B succeeded. */
static void check(const struct xhp_pub *j, const struct batch *b,
		  size_t first, size_t last)
{
	size_t i;

	for (i = first; i < last; i++)
		if (b->r[i].err != 0) {
			errno = b->r[i].err;
			xhp_die_sys(XHP_SYS, "unable to write in %s",
				    j->backend);
		}
}

static void clear(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->own[i]);
		free(b->r[i].val);
	}
	b->n = 0;
}

/* Queue the end of TX, commit (COMMIT 1) or abort, after what B holds;
 * send it all. The end's reply: 0, or its errno. */
static int end(struct xhp_pub *j, struct batch *b, unsigned int tx,
	       int commit)
{
	put(b, XS_TRANSACTION_END, tx, commit ? "T" : "F", 2, NULL);
	exchange(j, b);
	return b->r[b->n - 1].err;
}

/* Abort TX, then die: the backend is gone (ERR ENOENT) or unreadable. */
static void gone(struct xhp_pub *j, struct batch *b, unsigned int tx, int err,
		 const char *node) __attribute__((noreturn));
static void gone(struct xhp_pub *j, struct batch *b, unsigned int tx, int err,
		 const char *node)
{
	clear(b);
	(void)end(j, b, tx, 0);
	errno = err;
	if (err != ENOENT)
		xhp_die_sys(XHP_SYS, "unable to read %s%s%s", j->backend,
			    node ? "/" : "", node ? node : "");
	if (node != NULL)
		xhp_die(XHP_NO, "no %s in %s", node, j->backend);
	xhp_die(XHP_NO, "backend gone: %s", j->backend);
}

/* Is NAME among the names of the directory reply R? */
static int listed(const struct xhp_xs_req *r, const char *name)
{
	unsigned int i;

	for (i = 0; i < r->vlen; i += (unsigned int)strlen(r->val + i) + 1)
		if (strcmp(r->val + i, name) == 0)
			return 1;
	return 0;
}

/* From the backend's listing R: *HAS_PD, and whether, with ONCE, another
 * add of this backend published it already (nothing to write). */
static int published(const struct xhp_pub *j, const struct xhp_xs_req *r,
		     int *has_pd)
{
	*has_pd = listed(r, "physical-device");
	return j->once && (*has_pd || listed(r, "physical-device-path"));
}

/* Start a transaction; its id. */
static unsigned int start(struct xhp_pub *j, struct batch *b)
{
	unsigned long id;

	put(b, XS_TRANSACTION_START, 0, "", 1, NULL);
	exchange(j, b);
	if (b->r[0].err != 0 || xhp_parse_ulong(b->r[0].val, 10,
						 0xffffffffUL, &id) == -1) {
		errno = b->r[0].err ? b->r[0].err : EPROTO;
		xhp_die_sys(XHP_SYS, "unable to start a transaction");
	}
	clear(b);
	return (unsigned int)id;
}

/* Queue in TX the writes of physical-device-path (with PDP, when known)
 * and of the extras FROM to TO (excluded). */
static void put_writes(struct xhp_pub *j, struct batch *b, unsigned int tx,
		       int pdp, int from, int to)
{
	int i;

	if (pdp && j->devpath != NULL)
		put_node(b, j, XS_WRITE, tx, "physical-device-path",
			 j->devpath);
	for (i = from; i < to; i++) {
		char *eq = strchr(j->extra[i], '=');

		*eq = '\0';
		put_node(b, j, XS_WRITE, tx, j->extra[i], eq + 1);
		*eq = '=';
	}
}

/* In TX: list the backend, and write physical-device-path (when known)
 * and the first N extras. */
static void early(struct xhp_pub *j, struct batch *b, unsigned int tx, int n)
{
	put_node(b, j, XS_DIRECTORY, tx, NULL, NULL);
	put_writes(j, b, tx, 1, 0, n);
}

/* Queue the writes not made early in TX (physical-device-path unless
 * PDP_SENT, the extras from FROM on), for the commit. */
static void late(struct xhp_pub *j, struct batch *b, unsigned int tx,
		 int pdp_sent, int from)
{
	put_writes(j, b, tx, !pdp_sent, from, j->nextra);
}

/* Queue physical-device MM (unless there is one, HAS_PD: blkback acts on
 * the first value it sees and never again, so an existing one, right or
 * wrong, is not ours to change) after the writes B holds; send them, and
 * once they have all succeeded, commit TX. 0 committed, -1 EAGAIN; dies
 * otherwise. */
static int finish(struct xhp_pub *j, struct batch *b, unsigned int tx,
		  const char *mm, int has_pd)
{
	int err;

	if (mm != NULL && !has_pd)
		put_node(b, j, XS_WRITE, tx, "physical-device", mm);
	if (b->n > 0) {
		exchange(j, b);
		check(j, b, 0, b->n);
		clear(b);
	}
	err = end(j, b, tx, 1);
	clear(b);
	if (err == 0)
		return 0;
	if (err != EAGAIN) {
		errno = err;
		xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s",
			    j->backend);
	}
	return -1;
}

/* One attempt. Returns 0 when committed (or when there was nothing to
 * write), -1 on EAGAIN (retry). */
static int attempt(struct xhp_pub *j, struct batch *b)
{
	char dm[XHP_MAJMIN_MAX];
	const char *mm = j->mm;
	unsigned int tx = start(j, b);
	int has_pd, done;

	/* One listing says both whether the backend still exists and whether
	 * it has a physical-device. A remove may have deleted the directory
	 * while we stat'ed or attached: writing now would recreate it with no
	 * one to clean up. The writes that do not depend on it go along;
	 * an abort discards them. */
	early(j, b, tx, j->devpath != NULL ? j->nextra : 0);
	if (j->devpath == NULL)
		put_node(b, j, XS_READ, tx, "physical-device-path", NULL);
	exchange(j, b);
	if (b->r[0].err != 0)
		gone(j, b, tx, b->r[0].err, NULL);
	done = published(j, &b->r[0], &has_pd);
	if (done || (j->devpath == NULL && has_pd)) {
		/* Another add of this backend got here first; or, converting,
		 * there is nothing to do, and no need for the path to still
		 * exist (an image may be gone while in use). */
		clear(b);
		(void)end(j, b, tx, 0);
		clear(b);
		j->already = done;
		return 0;
	}
	if (j->devpath != NULL) {
		check(j, b, 1, b->n);
	} else {
		struct xhp_xs_req *p = &b->r[1];

		if (p->err != 0)
			gone(j, b, tx, p->err, "physical-device-path");
		if (p->vlen == 0 || memchr(p->val, '\0', p->vlen) != NULL)
			xhp_die(XHP_NO, "value of %s/physical-device-path is "
				"not a path", j->backend);
		xhp_id_stat_blk(p->val, j->fmt, dm);
		mm = dm;
	}
	clear(b);
	late(j, b, tx, 1, j->devpath != NULL ? j->nextra : 0);
	return finish(j, b, tx, mm, has_pd);
}

/* static: what it holds stays reachable when we die in it, and a leak
 * checker does not count it. */
static struct batch b;

/* Room for the requests of one step of J: at most the listing,
 * physical-device-path, every extra (up to ROOM of them), physical-device
 * and the end. */
static void batch_room(int room)
{
	if (b.r != NULL)
		return;
	b.r = calloc((size_t)room + 4, sizeof(*b.r));
	b.own = calloc((size_t)room + 4, sizeof(*b.own));
	b.n = 0;
	if (b.r == NULL || b.own == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
}

void xhp_pub_open(struct xhp_pub *j, int room)
{
	int done;

	batch_room(room);
	j->tx = start(j, &b);
	early(j, &b, j->tx, j->nextra);
	exchange(j, &b);
	j->early = j->nextra;
	j->devpath_early = j->devpath != NULL;
	if (b.r[0].err == 0) {
		done = published(j, &b.r[0], &j->has_pd);
		if (!done) {
			check(j, &b, 1, b.n);
			clear(&b);
			/* A block device's physical-device is known already:
			 * under the lock, only the commit is left. */
			if (j->mm != NULL && !j->has_pd) {
				put_node(&b, j, XS_WRITE, j->tx,
					 "physical-device", j->mm);
				exchange(j, &b);
				check(j, &b, 0, b.n);
				clear(&b);
				j->pd_early = 1;
			}
			return;
		}
	}
	/* Gone, or published already: the commit finds out again, under
	 * the lock, and says so. */
	clear(&b);
	(void)end(j, &b, j->tx, 0);
	clear(&b);
	j->tx = 0;
}

int xhp_pub_commit(struct xhp_pub *j)
{
	struct timespec ts;
	int i, r = -1;

	batch_room(j->nextra);
	j->tries = 0;
	if (j->tx != 0) {
		/* Opened before the lock: the rest and the commit only. */
		late(j, &b, j->tx, j->devpath_early, j->early);
		r = finish(j, &b, j->tx, j->mm, j->has_pd || j->pd_early);
		j->tx = 0;
		j->tries = 1;
	}
	/* EAGAIN means another writer touched what we read: retrying is
	 * right, but bounded, inside libxl's 40 s: at most ~0.2 s. */
	for (i = j->tries; r != 0 && i < XHP_PUB_TRIES; i++) {
		if (i > 0) {
			ts.tv_sec = 0;
			ts.tv_nsec = (long)i * 1000000L;
			/* An early wake-up (EINTR) only shortens it. */
			(void)nanosleep(&ts, NULL);
		}
		j->tries = i + 1;
		r = attempt(j, &b);
	}
	if (r != 0) {
		errno = EAGAIN;
		xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s "
			    "after %d tries", j->backend, XHP_PUB_TRIES);
	}
	free(b.r);
	free(b.own);
	b.r = NULL;
	b.own = NULL;
	return 0;
}
