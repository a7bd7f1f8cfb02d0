/* SPDX-License-Identifier: LGPL-2.1-only */
/* pub.c: the transactions that write a backend's outcome, on the
 * pipelined connection: the publication (xs-publish, xs-majmin) and the
 * failure (hotplug-status and hotplug-error).
 *
 * Each is three round trips: the start; the backend's listing and reads
 * together with the writes, which an abort discards; the commit (four for
 * the toolstack conversion, whose writes depend on what it reads). The
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

/* One attempt. 0 committed (or nothing to write), -1 EAGAIN: retry. */
static int attempt(struct xhp_pub *j, struct xhp_batch *b)
{
	char dm[XHP_MAJMIN_MAX];
	const char *mm = j->mm, *online, *state;
	unsigned int tx = j->tx != 0 ? j->tx : xhp_batch_start(j->q, b);
	size_t ls, on, st, pp = 0, w;
	int has_pd, err, ahead;

	j->tx = 0;
	if (tx == 0)
		xhp_die_sys(XHP_SYS, "unable to start a transaction");
	/* The listing says whether the backend exists and what it has; the
	 * reads put online and state in the transaction, so that libxl's
	 * tear-down written after them makes the commit fail. */
	ls = xhp_batch_put(b, XS_DIRECTORY, tx, j->backend, NULL, NULL);
	on = xhp_batch_put(b, XS_READ, tx, j->backend, "online", NULL);
	st = xhp_batch_put(b, XS_READ, tx, j->backend, "state", NULL);
	if (j->devpath == NULL)
		pp = xhp_batch_put(b, XS_READ, tx, j->backend,
				   "physical-device-path", NULL);
	/* A publication once (xs-publish) writes the same whatever the reads
	 * say, or nothing at all: its writes go with them, and an abort
	 * discards them when the reads say no. */
	ahead = j->once && j->devpath != NULL;
	w = b->n;
	if (ahead)
		put_writes(j, b, tx, mm, 0);
	xhp_batch_send(j->q, b);
	if (b->r[ls].err != 0) {
		if (b->r[ls].err == ENOENT)
			refuse(j, b, tx, "backend %s is gone%s", "");
		errno = b->r[ls].err;
		xhp_die_sys(XHP_SYS, "unable to list %s", j->backend);
	}
	has_pd = listed(&b->r[ls], "physical-device");
	if ((j->once && (has_pd || listed(&b->r[ls], "physical-device-path"))) ||
	    (j->devpath == NULL && has_pd)) {
		/* Another add of this backend got here first; or,
		 * converting, there is nothing to do. */
		(void)xhp_batch_end(j->q, b, tx, 0);
		j->already = j->once;
		return 0;
	}
	online = value(&b->r[on]);
	state = value(&b->r[st]);
	if (j->lifecycle && !xhp_pub_waiting(online, state))
		refuse(j, b, tx, "backend %s is being torn down%s",
		       online != NULL && strcmp(online, "1") != 0 ?
		       " (online 0)" : " (state not 2)");
	if (j->devpath == NULL) {
		convert(j, b, tx, &b->r[pp], dm);
		mm = dm;
	}
	if (ahead)
		check_writes(j, b, w);
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

/* static: what it holds stays reachable when we die in it, and a leak
 * checker does not count it. */
static struct xhp_batch b = { NULL, 0, 0, XHP_USAGE };

int xhp_pub_commit(struct xhp_pub *j)
{
	int i, r = -1;

	for (i = 0; r != 0 && i < XHP_PUB_TRIES; i++) {
		if (i > 0)
			pause_try(i);
		j->tries = i + 1;
		r = attempt(j, &b);
	}
	xhp_batch_free(&b);
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
