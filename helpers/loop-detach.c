/* SPDX-License-Identifier: LGPL-2.1-only */
/* loop-detach: free a loop device only if it still maps the file (and
 * carries the tag) we recorded; or free every device carrying a tag; or,
 * with -b, the whole of `block remove` for a backend under the hotplug
 * lock. See docs/loop-detach.md. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

#define USAGE \
"usage: loop-detach [-i DEV:INO] [-t TAG] /dev/loopN\n" \
"       loop-detach -a -t TAG\n" \
"       loop-detach -b -l LOCKFILE [-w SECS] [-s PID] [-T PREFIX] BACKEND\n" \
"  -i DEV:INO  detach only if bound to this file (decimal st_dev:inode)\n" \
"  -t TAG      detach only if the device carries TAG\n" \
"  -a          detach every loop device carrying TAG; print each one\n" \
"  -b          under the lock LOCKFILE (deadline SECS after the start of\n" \
"              PID), free the loop device BACKEND's add attached, as its\n" \
"              node, loop-file-id and loop-tag record it, or else every\n" \
"              one tagged PREFIX:TYPE/DOMID/DEVID; print what was freed\n"

#ifdef __linux__
#include <linux/loop.h>
#include <sys/ioctl.h>

/* Parse "DEV:INO", both decimal. */
static int parse_id(const char *s, dev_t *dev, ino_t *ino)
{
	char buf[64], *colon;
	unsigned long d, i;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (xhp_parse_ulong(buf, 10, ULONG_MAX, &d) == -1 ||
	    xhp_parse_ulong(colon + 1, 10, ULONG_MAX, &i) == -1)
		return -1;
	*dev = (dev_t)d;
	*ino = (ino_t)i;
	return (unsigned long)*dev == d && (unsigned long)*ino == i ? 0 : -1;
}

/* Detach the loop device open on FD. While our descriptor is open nobody
 * else can clear and rebind the device (their clear turns lazy), so what
 * the caller verified is what we detach. */
static void detach(int fd, const char *node)
{
	struct loop_info64 li;

	if (ioctl(fd, LOOP_CLR_FD, 0) == 0)
		return;
	if (errno == ENXIO)
		return; /* cleared by someone else meanwhile: done too */
	if (errno != EBUSY)
		xhp_die_sys(XHP_SYS, "unable to detach %s", node);
	/* Kernels before 5.x refuse to clear a device that is still open
	 * (blkback not yet closed): let the last close do it, as
	 * losetup -d does. */
	memset(&li, 0, sizeof(li));
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1) {
		if (errno == ENXIO)
			return;
		xhp_die_sys(XHP_SYS, "unable to get status of %s", node);
	}
	li.lo_flags |= LO_FLAGS_AUTOCLEAR;
	if (ioctl(fd, LOOP_SET_STATUS64, &li) == -1)
		xhp_die_sys(XHP_SYS, "unable to set autoclear on %s", node);
}

/* Free NODE if it is bound to the file WANT_ID ("DEV:INO", or NULL: any)
 * and carries WANT_TAG (or NULL: any). 0 freed; 1 not ours, why in WHY
 * (WHYLEN bytes), the device untouched; dies on a system failure. */
static int free_verified(const char *node, const char *want_id,
			 const char *want_tag, char *why, size_t whylen)
{
	char tag[XHP_LOOP_TAG_MAX];
	dev_t dev = 0, wdev = 0;
	ino_t ino = 0, wino = 0;
	struct stat st;
	int fd, r;

	why[0] = '\0';
	if (want_id != NULL && parse_id(want_id, &wdev, &wino) == -1) {
		snprintf(why, whylen, "unable to detach %s: the recorded "
			 "identity is not DEV:INO", node);
		return 1;
	}
	/* Read-only: closing a device opened for writing makes udev
	 * rescan it. */
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno != ENOENT && errno != ENXIO)
			xhp_die_sys(XHP_SYS, "unable to open %s", node);
		snprintf(why, whylen, "unable to open %s: %s", node,
			 strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat %s", node);
	r = S_ISBLK(st.st_mode) ? xhp_loop_status(fd, &dev, &ino, tag) : 2;
	if (r == -1 && errno != ENOTTY && errno != EINVAL)
		xhp_die_sys(XHP_SYS, "unable to get status of %s", node);
	if (r == -1 || r == 2)
		snprintf(why, whylen, "unable to detach %s: not a loop device",
			 node);
	else if (r == 1)
		snprintf(why, whylen, "unable to detach %s: not attached", node);
	else if (want_id != NULL && (dev != wdev || ino != wino))
		snprintf(why, whylen, "unable to detach %s: bound to %ju:%ju, "
			 "not %s", node, (uintmax_t)dev, (uintmax_t)ino, want_id);
	else if (want_tag != NULL && strcmp(tag, want_tag) != 0)
		snprintf(why, whylen, "unable to detach %s: tagged \"%s\", not "
			 "\"%s\"", node, tag, want_tag);
	else
		detach(fd, node);
	r = why[0] != '\0';
	if (close(fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", node);
	return r;
}

static int detach_one(const char *node, const char *want_id,
		      const char *want_tag)
{
	char why[512] = "";
	dev_t dev;
	ino_t ino;

	if (want_id != NULL && parse_id(want_id, &dev, &ino) == -1)
		xhp_usage(USAGE);

	if (free_verified(node, want_id, want_tag, why, sizeof(why)) != 0)
		xhp_die(XHP_NO, "%s", why);
	return XHP_OK;
}

/* One bound loop device of the -a scan: free it if it carries the tag. */
static int detach_tagged(unsigned long n, const char *name, void *ctx)
{
	const char *want_tag = ctx;
	char tag[XHP_LOOP_TAG_MAX], node[32];
	int fd, r;

	(void)name;
	snprintf(node, sizeof(node), "/dev/loop%lu", n);
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENXIO)
			return 0;
		xhp_die_sys(XHP_SYS, "unable to open %s", node);
	}
	r = xhp_loop_status(fd, NULL, NULL, tag);
	if (r == -1)
		xhp_die_sys(XHP_SYS, "unable to get status of %s", node);
	if (r == 0 && strcmp(tag, want_tag) == 0) {
		detach(fd, node);
		printf("%s\n", node);
	}
	if (close(fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", node);
	return 0;
}

static int detach_all(const char *want_tag)
{
	if (xhp_loop_bound_each(detach_tagged, (void *)want_tag) == -1)
		xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	xhp_close_stdout();
	return XHP_OK;
}

/* -b's connection and backend, for rm_undo(). */
static struct xhp_xs rm_q = { -1, 0, 0 };
static const char *rm_backend;

/* On the way out of -b: a refusal or the deadline is written into the
 * backend (never recreating it); the lock goes with the process. */
static const char *rm_undo(int code, const char *msg)
{
	if (rm_q.fd != -1 && (code == XHP_REFUSED || code == XHP_TIMEOUT))
		(void)xhp_pub_fail(&rm_q, rm_backend, "error", msg);
	return NULL;
}

/* What -b reads from BACKEND, in this order. */
enum { R_DIR, R_TYPE, R_NODE, R_FILEID, R_TAG, R_PD, R_NODES };
static const char *const RNODE[R_NODES] = {
	NULL, "type", "node", "loop-file-id", "loop-tag", "physical-device"
};

/* -b: the whole remove. Under the lock, so that no add of this backend
 * attaches while we look: free exactly the loop device its add recorded
 * (verified: params and the image may be gone by now), or, when the
 * record is missing or names a device that is no longer ours (an add
 * killed between the attach and the commit, a node rewritten), every
 * device carrying this backend's tag. Idempotent: nothing to free is 0. */
static int remove_backend(const struct xhp_run *run, const char *lock_file,
			  const char *prefix, const char *backend)
{
	char *path[R_NODES], *v[R_NODES], tag[XHP_LOOP_TAG_MAX], why[512];
	const char *want_tag;
	unsigned int len[R_NODES], i;
	struct xhp_xs *q = &rm_q;
	int lfd, other = 0;

	if (xhp_loop_tag_for(tag, prefix, backend) == -1)
		xhp_die(XHP_REFUSED, "loop tag '%s:%s' is longer than 63 bytes",
			prefix, backend);
	xhp_xs_open(q);
	rm_backend = backend;
	xhp_atdie = rm_undo;
	for (i = 0; i < R_NODES; i++)
		path[i] = xhp_xs_msg(XHP_USAGE, backend, RNODE[i], NULL, NULL);
	xhp_run_pause("wait");
	xhp_lock_mkparent(lock_file);
	lfd = xhp_lock_open(lock_file, xhp_run_left(run), run->secs,
			    O_CLOEXEC);
	xhp_run_pause("locked");
	xhp_xs_many(q, 0, path, R_NODES, v, len);
	for (i = 0; i < R_NODES; i++)
		free(path[i]);
	if (xhp_parse_backend(backend, RNODE, v, len, R_NODES,
			      v[R_DIR] != NULL ? v[R_TYPE] : NULL)) {
		/* Another kind of storage: block runs block-TYPE remove. */
		puts(v[R_TYPE]);
		other = 1;
	} else if (v[R_NODE] != NULL && *v[R_NODE] != '\0') {
		/* The recorded tag, else (an older add) the derived one. */
		want_tag = v[R_TAG] != NULL && *v[R_TAG] != '\0' ? v[R_TAG] :
			   tag;
		if (free_verified(v[R_NODE], v[R_FILEID] != NULL &&
				  *v[R_FILEID] != '\0' ? v[R_FILEID] : NULL,
				  v[R_FILEID] != NULL && *v[R_FILEID] != '\0' ?
				  want_tag : NULL, why, sizeof(why)) == 0)
			puts(v[R_NODE]);
		else if (xhp_loop_bound_each(detach_tagged, tag) == -1)
			/* Not ours any more: what our add attached, if any
			 * is left, still carries the tag derived from the
			 * backend's path (not the recorded one, which could
			 * name another backend's). */
			xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	} else if (v[R_DIR] == NULL || v[R_PD] == NULL || *v[R_PD] == '\0') {
		/* No record: gone, or an add killed before its commit. */
		if (xhp_loop_bound_each(detach_tagged, tag) == -1)
			xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	}
	if (close(lfd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", lock_file);
	xhp_atdie = NULL;
	for (i = 0; i < R_NODES; i++)
		free(v[i]);
	xhp_xs_close(q);
	xhp_close_stdout();
	return other ? XHP_OTHER : XHP_OK;
}

int main(int argc, char **argv)
{
	const char *id = NULL, *tag = NULL, *lock_file = NULL, *secs = "30";
	const char *prefix = "xen-hotplug";
	unsigned long ms = 30000, pid = 0;
	struct xhp_run run;
	int c, all = 0, be = 0;

	xhp_init(argv[0]);
	opterr = 0;
	while ((c = getopt(argc, argv, "habi:t:l:w:s:T:")) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'a': all = 1; break;
		case 'b': be = 1; break;
		case 'i': id = optarg; break;
		case 't': tag = optarg; break;
		case 'l': lock_file = optarg; break;
		case 'w':
			if (xhp_parse_secs(optarg, &ms) == -1)
				xhp_usage(USAGE);
			secs = optarg;
			break;
		case 's':
			if (xhp_parse_ulong(optarg, 10, INT_MAX, &pid) == -1)
				xhp_usage(USAGE);
			break;
		case 'T': prefix = optarg; break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (be) {
		if (argc != 1 || argv[0][0] == '\0' || all || id != NULL ||
		    tag != NULL || lock_file == NULL || *lock_file == '\0')
			xhp_usage(USAGE);
		xhp_run_init(&run, (pid_t)pid, ms, secs);
		return remove_backend(&run, lock_file, prefix, argv[0]);
	}
	if (lock_file != NULL || pid != 0)
		xhp_usage(USAGE);
	/* Tags never start with '/' (loop-attach): those are losetup's
	 * paths, which -a must not match. */
	if (tag != NULL && (tag[0] == '\0' || tag[0] == '/' ||
			    strlen(tag) >= XHP_LOOP_TAG_MAX))
		xhp_usage(USAGE);
	if (all) {
		if (argc != 0 || tag == NULL || id != NULL)
			xhp_usage(USAGE);
		return detach_all(tag);
	}
	if (argc != 1 || argv[0][0] == '\0')
		xhp_usage(USAGE);
	return detach_one(argv[0], id, tag);
}
#else
int main(int argc, char **argv)
{
	(void)argc;
	xhp_init(argv[0]);
	xhp_die(XHP_SYS, "unable to detach: loop devices are Linux only");
}
#endif
