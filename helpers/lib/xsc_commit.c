/* The publishing transaction of xs-majmin and xs-publish
 * (docs/xs-majmin.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "xhp.h"

static void xwrite(struct xhp_pub *j, xs_transaction_t t, const char *node,
		   const char *val)
{
	char p[XHP_XS_PATHMAX];

	xhp_pathf(p, XHP_USAGE, "%s/%s", j->backend, node);
	if (!xs_write(j->h, t, p, val, strlen(val)))
		xhp_die_sys(XHP_SYS, "unable to write %s", p);
}

/* Read BACKEND/NODE inside T; NULL when absent, dies on other errors. */
static char *tread(struct xhp_pub *j, xs_transaction_t t, const char *node,
		   unsigned int *len)
{
	char p[XHP_XS_PATHMAX], *v;

	xhp_pathf(p, XHP_USAGE, "%s/%s", j->backend, node);
	v = xs_read(j->h, t, p, len);
	if (v == NULL && errno != ENOENT)
		xhp_die_sys(XHP_SYS, "unable to read %s", p);
	return v;
}

/* Is NAME among the N entries of LIST? */
static int listed(char **list, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* One attempt. Returns 0 when committed, -1 on EAGAIN (retry). */
static int attempt(struct xhp_pub *j)
{
	char dm[XHP_MAJMIN_MAX], **names, *path = NULL;
	const char *mm = j->mm;
	xs_transaction_t t;
	unsigned int len, n;
	int i, has_pd, done;

	t = xs_transaction_start(j->h);
	if (t == XBT_NULL)
		xhp_die_sys(XHP_SYS, "unable to start a transaction");
	/* One round trip says both whether the backend still exists and
	 * whether it has a physical-device. A remove may have deleted the
	 * directory while we stat'ed or attached: writing now would recreate
	 * it with no one to clean up. */
	names = xs_directory(j->h, t, j->backend, &n);
	if (names == NULL) {
		if (errno != ENOENT)
			xhp_die_sys(XHP_SYS, "unable to read %s", j->backend);
		xs_transaction_end(j->h, t, true);
		xhp_die(XHP_NO, "backend gone: %s", j->backend);
	}
	has_pd = listed(names, n, "physical-device");
	done = j->once && (has_pd || listed(names, n, "physical-device-path"));
	free(names);
	if (done) {
		/* Another add of this backend got here first. */
		xs_transaction_end(j->h, t, true);
		j->already = 1;
		return 0;
	}
	if (j->devpath == NULL) {
		/* Converted already: nothing to do, and no need for the path
		 * to still exist (an image may be gone while in use). */
		if (has_pd) {
			xs_transaction_end(j->h, t, true);
			return 0;
		}
		path = tread(j, t, "physical-device-path", &len);
		if (path == NULL) {
			xs_transaction_end(j->h, t, true);
			xhp_die(XHP_NO, "no physical-device-path in %s",
				j->backend);
		}
		if (len == 0 || memchr(path, '\0', len) != NULL)
			xhp_die(XHP_NO, "value of %s/physical-device-path is "
				"not a path", j->backend);
		xhp_stat_blk(path, j->fmt, dm);
		mm = dm;
	} else {
		xwrite(j, t, "physical-device-path", j->devpath);
	}
	for (i = 0; i < j->nextra; i++) {
		char *eq = strchr(j->extra[i], '=');

		*eq = '\0';
		xwrite(j, t, j->extra[i], eq + 1);
		*eq = '=';
	}
	/* blkback acts on the first value it sees and never again: an
	 * existing one, right or wrong, is not ours to change. */
	if (mm != NULL && !has_pd)
		xwrite(j, t, "physical-device", mm);
	free(path);
	if (xs_transaction_end(j->h, t, false))
		return 0;
	if (errno != EAGAIN)
		xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s",
			    j->backend);
	return -1;
}

int xhp_pub_commit(struct xhp_pub *j)
{
	struct timespec ts;
	int i;

	/* EAGAIN means another writer touched what we read: retrying is
	 * right, but bounded, inside libxl's 40 s: at most ~0.2 s. */
	for (i = 0; i < XHP_PUB_TRIES; i++) {
		j->tries = i + 1;
		if (attempt(j) == 0)
			return 0;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(i + 1) * 1000000L;
		/* An early wake-up (EINTR) only shortens the backoff. */
		(void)nanosleep(&ts, NULL);
	}
	errno = EAGAIN;
	xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s after "
		    "%d tries", j->backend, XHP_PUB_TRIES);
}
