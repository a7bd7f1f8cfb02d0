/* SPDX-License-Identifier: LGPL-2.1-only */
/* pub.c: the transactions that write a backend's outcome, on the
 * pipelined connection: the publication (xs-publish, xs-majmin) and the
 * failure (hotplug-status and hotplug-error).
 *
 * Each is three round trips: the start; the backend's listing and reads
 * together with the writes, which an abort discards; the commit (four for
 * the toolstack conversion, whose writes depend on what it reads). After
 * a scan (xhp_share.pub), the start and that first step go out with the
 * scan's batches, and the commit is the one round trip left. The
 * commit is never sent before every write of the transaction has
 * succeeded: xenstored would commit the writes that did, and leave the
 * publication half done. And neither writes into a backend directory
 * that is gone: a write would recreate it, with no one to remove it. */
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

int xhp_pub_waiting(const char *online, const char *state)
{
	/* libxl tears a device down by writing online=0 and state=5
	 * together; it runs the add only once the backend is in state 2. */
	return (online == NULL || strcmp(online, "1") == 0) &&
	       state != NULL && strcmp(state, "2") == 0;
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

/* Of the reply R: its value, if it is there. */
static const char *value(const struct xhp_xs_req *r)
{
	return r->err == 0 ? r->val : NULL;
}

/* The first write of B that failed: die. */
static void check_writes(const struct xhp_pub *j, const struct xhp_batch *b,
			 size_t first)
{
	size_t i;

	for (i = first; i < b->n; i++)
		if (b->r[i].err != 0) {
			errno = b->r[i].err;
			xhp_die_sys(XHP_SYS, "unable to write in %s",
				    j->backend);
		}
}

/* Queue physical-device-path, the extras and physical-device (unless
 * HAS_PD: blkback acts on the first value it sees and never again, so an
 * existing one, right or wrong, is not ours to change). */
static void put_writes(struct xhp_pub *j, struct xhp_batch *b, unsigned int tx,
		       const char *mm, int has_pd)
{
	int i;

	if (j->devpath != NULL)
		xhp_batch_put(b, XS_WRITE, tx, j->backend,
			      "physical-device-path", j->devpath);
	for (i = 0; i < j->nextra; i++) {
		char *eq = strchr(j->extra[i], '=');

		*eq = '\0';
		xhp_batch_put(b, XS_WRITE, tx, j->backend, j->extra[i], eq + 1);
		*eq = '=';
	}
	if (mm != NULL && !has_pd)
		xhp_batch_put(b, XS_WRITE, tx, j->backend, "physical-device",
			      mm);
}

/* Abort TX and die with CODE: the backend is gone or going. */
static void refuse(struct xhp_pub *j, struct xhp_batch *b, unsigned int tx,
		   const char *fmt, const char *what)
	__attribute__((noreturn));
static void refuse(struct xhp_pub *j, struct xhp_batch *b, unsigned int tx,
		   const char *fmt, const char *what)
{
	(void)xhp_batch_end(j->q, b, tx, 0);
	xhp_die(XHP_GONE, fmt, j->backend, what);
}

/* The toolstack conversion (no DEVPATH): physical-device from the
 * backend's physical-device-path, read in the transaction. */
static void convert(struct xhp_pub *j, struct xhp_batch *b, unsigned int tx,
		    const struct xhp_xs_req *p, char *mm)
{
	if (p->err == ENOENT) {
		(void)xhp_batch_end(j->q, b, tx, 0);
		xhp_die(XHP_NO, "no physical-device-path in %s", j->backend);
	}
	if (p->err != 0) {
		errno = p->err;
		xhp_die_sys(XHP_SYS, "unable to read %s/physical-device-path",
			    j->backend);
	}
	if (p->vlen == 0 || memchr(p->val, '\0', p->vlen) != NULL)
		xhp_die(XHP_NO, "value of %s/physical-device-path is not a "
			"path", j->backend);
	xhp_id_stat_blk(p->val, j->fmt, mm);
}

/* The replies of an attempt's first step, in its batch: the listing,
 * online, state, and for the conversion physical-device-path; with a
 * publication once, the writes from R_PP on, when they went ahead. */
enum { R_LS, R_ON, R_ST, R_PP };

/* Queue the first step of an attempt in TX on B. The listing says whether
 * the backend exists and what it has; the reads put online and state in
 * the transaction, so that libxl's tear-down written after them makes the
 * commit fail. A publication once (xs-publish) writes the same whatever
 * the reads say, or nothing at all: with AHEAD its writes go with them,
 * and an abort discards them when the reads say no. */
static void first_step(struct xhp_pub *j, struct xhp_batch *b, unsigned int tx,
		       int ahead)
{
	xhp_batch_put(b, XS_DIRECTORY, tx, j->backend, NULL, NULL);
	xhp_batch_put(b, XS_READ, tx, j->backend, "online", NULL);
	xhp_batch_put(b, XS_READ, tx, j->backend, "state", NULL);
	/* (An image's path is not known yet when its first step rides.) */
	if (j->devpath == NULL && !j->once)
		xhp_batch_put(b, XS_READ, tx, j->backend,
			      "physical-device-path", NULL);
	if (ahead)
		put_writes(j, b, tx, j->mm, 0);
}

/* The publication's batch; static: what it holds stays reachable when we
 * die in it, and a leak checker does not count it. */
static struct xhp_batch steps = { NULL, 0, 0, XHP_USAGE };

void xhp_pub_ride(struct xhp_pub *j, struct xhp_batch *q, unsigned int tx)
{
	j->tx = tx;
	j->rider = q->n;
	j->rode_ahead = j->once && j->devpath != NULL;
	first_step(j, q, tx, j->rode_ahead);
}

void xhp_pub_rode(struct xhp_pub *j, struct xhp_batch *q)
{
	xhp_batch_clear(&steps);
	xhp_batch_take(&steps, q, j->rider);
	j->rode = 1;
}

/* One attempt. 0 committed (or nothing to write), -1 EAGAIN: retry. */
static int attempt(struct xhp_pub *j, struct xhp_batch *b)
{
	char dm[XHP_MAJMIN_MAX];
	const char *mm = j->mm, *online, *state;
	unsigned int tx = j->tx;
	int has_pd, err, ahead;

	j->tx = 0;
	if (j->rode) {
		/* The first step went out with the scan's second batch. */
		ahead = j->rode_ahead;
		j->rode = 0;
	} else {
		if (tx == 0)
			tx = xhp_batch_start(j->q, b);
		if (tx == 0)
			xhp_die_sys(XHP_SYS, "unable to start a transaction");
		ahead = j->once && j->devpath != NULL;
		first_step(j, b, tx, ahead);
		xhp_batch_send(j->q, b);
	}
	if (b->r[R_LS].err != 0) {
		if (b->r[R_LS].err == ENOENT)
			refuse(j, b, tx, "backend %s is gone%s", "");
		errno = b->r[R_LS].err;
		xhp_die_sys(XHP_SYS, "unable to list %s", j->backend);
	}
	has_pd = listed(&b->r[R_LS], "physical-device");
	if ((j->once && (has_pd || listed(&b->r[R_LS], "physical-device-path"))) ||
	    (j->devpath == NULL && has_pd)) {
		/* Another add of this backend got here first; or,
		 * converting, there is nothing to do. */
		(void)xhp_batch_end(j->q, b, tx, 0);
		j->already = j->once;
		return 0;
	}
	online = value(&b->r[R_ON]);
	state = value(&b->r[R_ST]);
	if (j->lifecycle && !xhp_pub_waiting(online, state))
		refuse(j, b, tx, "backend %s is being torn down%s",
		       online != NULL && strcmp(online, "1") != 0 ?
		       " (online 0)" : " (state not 2)");
	if (j->devpath == NULL) {
		convert(j, b, tx, &b->r[R_PP], dm);
		mm = dm;
	}
	if (ahead)
		check_writes(j, b, R_PP);
	else {
		xhp_batch_clear(b);
		put_writes(j, b, tx, mm, has_pd);
		if (b->n > 0) {
			xhp_batch_send(j->q, b);
			check_writes(j, b, 0);
		}
	}
	if (j->precommit != NULL)
		j->precommit();
	err = xhp_batch_end(j->q, b, tx, 1);
	if (err == 0)
		return 0;
	if (err != EAGAIN) {
		errno = err;
		xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s",
			    j->backend);
	}
	return -1;
}

/* EAGAIN means another writer touched what we read: retry, with a short
 * growing pause, but bounded, inside libxl's 40 s: at most ~0.2 s. */
static void pause_try(int i)
{
	struct timespec ts = { 0, (long)i * 1000000L };

	/* An early wake-up (EINTR) only shortens it. */
	(void)nanosleep(&ts, NULL);
}

int xhp_pub_commit(struct xhp_pub *j)
{
	int i, r = -1;

	for (i = 0; r != 0 && i < XHP_PUB_TRIES; i++) {
		if (i > 0)
			pause_try(i);
		j->tries = i + 1;
		r = attempt(j, &steps);
	}
	xhp_batch_free(&steps);
	if (r != 0) {
		errno = EAGAIN;
		xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s "
			    "after %d tries", j->backend, XHP_PUB_TRIES);
	}
	return 0;
}

int xhp_pub_fail(struct xhp_xs *q, const char *backend, const char *status,
		 const char *msg)
{
	struct xhp_batch f = { NULL, 0, 0, XHP_USAGE };
	unsigned int tx;
	size_t ls;
	int i, err = EAGAIN, gone = 0;

	/* Called on the way out (xhp_atdie): it never dies itself. */
	for (i = 0; err == EAGAIN && i < XHP_PUB_TRIES; i++) {
		if (i > 0)
			pause_try(i);
		tx = xhp_batch_start(q, &f);
		if (tx == 0) {
			err = errno;
			break;
		}
		ls = xhp_batch_put(&f, XS_DIRECTORY, tx, backend, NULL, NULL);
		xhp_batch_put(&f, XS_WRITE, tx, backend, "hotplug-error", msg);
		xhp_batch_put(&f, XS_WRITE, tx, backend, "hotplug-status",
			      status);
		xhp_batch_send(q, &f);
		gone = f.r[ls].err == ENOENT;
		err = f.r[ls].err;
		if (err == 0)
			err = f.r[ls + 1].err != 0 ? f.r[ls + 1].err :
			      f.r[ls + 2].err;
		if (err != 0) {
			(void)xhp_batch_end(q, &f, tx, 0);
			break;
		}
		err = xhp_batch_end(q, &f, tx, 1);
	}
	xhp_batch_free(&f);
	if (gone)
		return 1;
	errno = err;
	return err == 0 ? 0 : -1;
}
