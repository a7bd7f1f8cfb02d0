/* SPDX-License-Identifier: LGPL-2.1-only */
/* loop-detach: free a loop device only if it still maps the file (and
 * carries the tag) we recorded; or free every device carrying a tag; or,
 * with -b, the whole of `block remove` for a backend under the hotplug
 * lock; with -b -N, NetBSD's: the vnd(4) unit the add configured, and
 * the backend directory. See docs/loop-detach.md. */
#define _DEFAULT_SOURCE
#define _NETBSD_SOURCE

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
#include <xen/io/xs_wire.h>

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
"              one tagged PREFIX:TYPE/DOMID/DEVID; print what was freed\n" \
"       loop-detach -b -N -l LOCKFILE [-w SECS] [-s PID] [-d DEVDIR]\n" \
"                   [-V VNDTAB] [-R RAWPART] [-r] BACKEND\n" \
"  -N          NetBSD: free the vnd unit in BACKEND's vnd node if it is\n" \
"              still backed by the image of vnd-file-id (INODE:FSDEV);\n" \
"              -d DEVDIR of the vndN nodes, -V VNDTAB a vnd table instead\n" \
"              of the kernel's, -R the raw partition; -r then removes\n" \
"              BACKEND, as NetBSD's stock script does\n"

#ifdef __linux__
#include <linux/loop.h>
#include <sys/ioctl.h>
#endif

/* Parse "DEV:INO", both decimal (loop-file-id); or with NB, NetBSD's
 * vnd-file-id "INODE:FSDEV", where older scripts wrote the file system's
 * device node ("INODE:/dev/NAME") in place of FSDEV. */
static int parse_id(const char *s, int nb, dev_t *dev, ino_t *ino)
{
	char buf[PATH_MAX], *colon;
	unsigned long a, b;
	struct stat st;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon++ = '\0';
	if (xhp_parse_ulong(buf, 10, ULONG_MAX, &a) == -1)
		return -1;
	if (nb && colon[0] == '/') {
		if (stat(colon, &st) == -1 || !S_ISBLK(st.st_mode) ||
		    (dev_t)(unsigned long)st.st_rdev != st.st_rdev)
			return -1;
		b = (unsigned long)st.st_rdev;
	} else if (xhp_parse_ulong(colon, 10, ULONG_MAX, &b) == -1) {
		return -1;
	}
	*dev = (dev_t)(nb ? b : a);
	*ino = (ino_t)(nb ? a : b);
	return (unsigned long)*dev == (nb ? b : a) &&
	       (unsigned long)*ino == (nb ? a : b) ? 0 : -1;
}

/* Detach the loop device open on FD. While our descriptor is open nobody
 * else can clear and rebind the device (their clear turns lazy), so what
 * the caller verified is what we detach. */
static void detach(int fd, const char *node)
{
#ifdef __linux__
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
#else
	(void)fd;
	xhp_die(XHP_SYS, "unable to detach %s: loop devices are Linux only",
		node);
#endif
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
	if (want_id != NULL && parse_id(want_id, 0, &wdev, &wino) == -1) {
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

	if (want_id != NULL && parse_id(want_id, 0, &dev, &ino) == -1)
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
	if (xhp_loopmap_bound_each(detach_tagged, (void *)want_tag) == -1)
		xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	xhp_close_stdout();
	return XHP_OK;
}

/* -b's connection and backend, for rm_undo(). */
static struct xhp_xs rm_q = { .fd = -1 };
static const char *rm_backend;

/* On the way out of -b: a refusal or the deadline is written into the
 * backend (never recreating it); the lock goes with the process. */
static const char *rm_undo(int code, const char *msg)
{
	if (rm_q.fd != -1 && (code == XHP_REFUSED || code == XHP_TIMEOUT))
		(void)xhp_pub_fail(&rm_q, rm_backend, "error", msg);
	return NULL;
}

/* -b's start: connect, take the lock (SECS of RUN), and read BACKEND's
 * N nodes NODE (NULL: the directory) into V, LEN. The locked descriptor. */
static int rm_begin(const struct xhp_run *run, const char *lock_file,
		    const char *backend, const char *const *node, size_t n,
		    char **v, unsigned int *len)
{
	char *path[8];
	size_t i;
	int lfd;

	xhp_xs_open(&rm_q);
	rm_backend = backend;
	xhp_atdie = rm_undo;
	for (i = 0; i < n; i++)
		path[i] = xhp_xspath_msg(XHP_USAGE, backend, node[i], NULL,
					 NULL);
	xhp_run_pause("wait");
	xhp_lock_mkparent(lock_file);
	lfd = xhp_lock_open(lock_file, xhp_run_left(run), run->secs,
			    O_CLOEXEC);
	xhp_run_pause("locked");
	xhp_xs_many(&rm_q, 0, path, n, v, len);
	for (i = 0; i < n; i++)
		free(path[i]);
	return lfd;
}

/* -b's end: drop the lock, free V's N values, close, flush stdout. */
static void rm_end(int lfd, const char *lock_file, char **v, size_t n)
{
	size_t i;

	if (close(lfd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", lock_file);
	xhp_atdie = NULL;
	for (i = 0; i < n; i++)
		free(v[i]);
	xhp_xs_close(&rm_q);
	xhp_close_stdout();
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
	char *v[R_NODES], tag[XHP_LOOP_TAG_MAX], why[512];
	const char *want_tag;
	unsigned int len[R_NODES];
	int lfd, other = 0;

	if (xhp_loop_tag_for(tag, prefix, backend) == -1)
		xhp_die(XHP_REFUSED, "loop tag '%s:%s' is longer than 63 bytes",
			prefix, backend);
	lfd = rm_begin(run, lock_file, backend, RNODE, R_NODES, v, len);
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
		else if (xhp_loopmap_bound_each(detach_tagged, tag) == -1)
			/* Not ours any more: what our add attached, if any
			 * is left, still carries the tag derived from the
			 * backend's path (not the recorded one, which could
			 * name another backend's). */
			xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	} else if (v[R_DIR] == NULL || v[R_PD] == NULL || *v[R_PD] == '\0') {
		/* No record: gone, or an add killed before its commit. */
		if (xhp_loopmap_bound_each(detach_tagged, tag) == -1)
			xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	}
	rm_end(lfd, lock_file, v, R_NODES);
	return other ? XHP_OTHER : XHP_OK;
}

/* Delete BACKEND, as NetBSD's stock script does after the remove. */
static void rm_dir(const char *backend)
{
	struct xhp_xs_req r;
	size_t len;
	char *m = xhp_xspath_msg(XHP_USAGE, backend, NULL, NULL, &len);

	memset(&r, 0, sizeof(r));
	r.type = XS_RM;
	r.data = m;
	r.len = len;
	xhp_xs_batch(&rm_q, &r, 1);
	free(m);
	free(r.val);
	if (r.err != 0 && r.err != ENOENT) {
		errno = r.err;
		xhp_die_sys(XHP_SYS, "unable to remove %s", backend);
	}
}

/* What -b -N reads from BACKEND, in this order. */
enum { V_DIR, V_TYPE, V_VND, V_FILEID, V_NODES };
static const char *const VNODE[V_NODES] = {
	NULL, "type", "vnd", "vnd-file-id"
};

/* -b -N: NetBSD's whole remove. Under the lock (no add configures a unit
 * while we look), free the unit the add recorded in vnd, only if it is
 * still backed by the image of vnd-file-id (params and the image may be
 * gone; the unit may have been freed and configured again by someone
 * else), then, with RMDIR, delete the backend. A unit still open
 * (xbdback) is an error and the backend is kept, with its record. A unit
 * that backs another file now is left alone (1), the backend deleted.
 * Idempotent: nothing to free is 0. */
static int remove_vnd(const struct xhp_run *run, const char *lock_file,
		      const char *backend, int rmdir)
{
	char *v[V_NODES];
	unsigned int len[V_NODES];
	unsigned long unit;
	dev_t dev = 0, odev;
	ino_t ino = 0, oino;
	int lfd, r = 1, any, code = XHP_OK;

	lfd = rm_begin(run, lock_file, backend, VNODE, V_NODES, v, len);
	if (xhp_parse_backend(backend, VNODE, v, len, V_NODES,
			      v[V_DIR] != NULL ? v[V_TYPE] : NULL)) {
		puts(v[V_TYPE]);
		rm_end(lfd, lock_file, v, V_NODES);
		return XHP_OTHER;
	}
	if (v[V_DIR] == NULL) {
		/* Gone: done already, and nothing to recreate. */
		rm_end(lfd, lock_file, v, V_NODES);
		return XHP_OK;
	}
	if (v[V_VND] != NULL && *v[V_VND] != '\0') {
		if (xhp_vnd_unit(v[V_VND], &unit) == -1)
			xhp_die(XHP_REFUSED, "refusing to unconfigure %s: not "
				"a vnd device", v[V_VND]);
		any = v[V_FILEID] == NULL || *v[V_FILEID] == '\0';
		if (!any && parse_id(v[V_FILEID], 1, &dev, &ino) == -1)
			xhp_die(XHP_REFUSED, "refusing to unconfigure %s: "
				"vnd-file-id '%s' is not INODE:FSDEV",
				v[V_VND], v[V_FILEID]);
		r = xhp_vnd_detach(unit, any, dev, ino, &odev, &oino);
		if (r == -1)
			xhp_die_sys(XHP_SYS, "unable to unconfigure %s",
				    v[V_VND]);
		if (r == 0)
			puts(v[V_VND]);
	}
	if (rmdir)
		rm_dir(backend);
	if (r == 2) {
		fprintf(stderr, "%s: fatal: unable to unconfigure %s: it backs "
			"%ju:%ju now, not %s: left alone\n", xhp_prog,
			v[V_VND], (uintmax_t)oino, (uintmax_t)odev,
			v[V_FILEID]);
		code = XHP_NO;
	}
	rm_end(lfd, lock_file, v, V_NODES);
	return code;
}

int main(int argc, char **argv)
{
	const char *id = NULL, *tag = NULL, *lock_file = NULL, *secs = "30";
	const char *prefix = "xen-hotplug", *devdir = NULL, *vndtab = NULL;
	unsigned long ms = 30000, pid = 0, raw = 3;
	struct xhp_run run;
	int c, all = 0, be = 0, nb = 0, rmdir = 0, nbopt = 0, rawset = 0;
	int tset = 0;

	xhp_init(argv[0]);
	opterr = 0;
	while ((c = getopt(argc, argv, "habi:t:l:w:s:T:Nd:V:R:r")) != -1) {
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
		case 'T': prefix = optarg; tset = 1; break;
		case 'N': nb = 1; break;
		case 'd': devdir = optarg; nbopt = 1; break;
		case 'V': vndtab = optarg; nbopt = 1; break;
		case 'R':
			if (xhp_parse_ulong(optarg, 10, XHP_NB_MAXPART - 1,
					    &raw) == -1)
				xhp_usage(USAGE);
			nbopt = rawset = 1;
			break;
		case 'r': rmdir = 1; nbopt = 1; break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((nbopt && !nb) || (nb && (!be || tag != NULL || tset)) ||
	    (devdir != NULL && *devdir == '\0'))
		xhp_usage(USAGE);
	if (nb) {
		if (argc != 1 || argv[0][0] == '\0' || all || id != NULL ||
		    lock_file == NULL || *lock_file == '\0')
			xhp_usage(USAGE);
#ifdef __NetBSD__
		if (!rawset)
			raw = (unsigned long)xhp_bsdmnt_rawpartition();
#endif
		xhp_vnd_source(vndtab, devdir, (int)raw);
		xhp_run_init(&run, (pid_t)pid, ms, secs);
		return remove_vnd(&run, lock_file, argv[0], rmdir);
	}
#ifndef __linux__
	xhp_die(XHP_SYS, "unable to detach: loop devices are Linux only");
#endif
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
