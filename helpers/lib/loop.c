/* SPDX-License-Identifier: LGPL-2.1-only */
/* loop.c: binding a file to a free Linux loop device in one race-free
 * step, tagged so that it can be verified and found again
 * (docs/loop-attach.md): the tag, the attach, reading back what a device
 * held open is bound to and with which tag, and the unbinding. Which
 * devices are bound to what is loopmap.c's. Elsewhere there are no loop
 * devices: attaching fails. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "xhp.h"

#ifdef __linux__
#include <fcntl.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

int xhp_loop_tag_ok(const char *tag)
{
	size_t n = strlen(tag), i;

	/* losetup stores the backing file's path in the same field: a tag
	 * that cannot be a path means -a never frees a losetup device. */
	if (n == 0 || n >= XHP_LOOP_TAG_MAX || tag[0] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)tag[i] < 0x20 || (unsigned char)tag[i] > 0x7e)
			return 0;
	return 1;
}

#ifdef __linux__
int xhp_loop_status(int fd, dev_t *dev, ino_t *ino, char *tag)
{
	struct loop_info64 li;

	memset(&li, 0, sizeof(li));
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1)
		/* ENXIO is the loop driver's "no file bound". */
		return errno == ENXIO ? 1 : -1;
	if (dev != NULL)
		*dev = xhp_loopmap_decode_dev(li.lo_device);
	if (ino != NULL)
		*ino = (ino_t)li.lo_inode;
	if (tag != NULL) {
		memcpy(tag, li.lo_file_name, XHP_LOOP_TAG_MAX - 1);
		tag[XHP_LOOP_TAG_MAX - 1] = '\0';
	}
	return 0;
}

int xhp_loop_clear(int lfd)
{
	return ioctl(lfd, LOOP_CLR_FD, 0) == -1 ? -1 : 0;
}

/* Another losetup user can take the device LOOP_CTL_GET_FREE gave us
 * before we bind it; try again with a fresh one this many times. */
#define ATTEMPTS 64

static int open_file(const char *path, int ro, struct stat *st)
{
	int fd, fl;

	/* stat first: opening a device node or fifo has side effects (or
	 * blocks), and those are refused anyway. */
	if (stat(path, st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			xhp_die_sys(XHP_NO, "unable to open %s", path);
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	}
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_NO, "unable to attach %s: not a regular file",
			path);
	fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == EROFS)
			xhp_die(XHP_NO, "unable to attach %s: %s is on a "
				"read-only filesystem", path, path);
		if (errno == ENOENT)
			xhp_die_sys(XHP_NO, "unable to open %s", path);
		xhp_die_sys(XHP_SYS, "unable to open %s", path);
	}
	/* Swapped for something else since the stat? */
	if (fstat(fd, st) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_NO, "unable to attach %s: not a regular file",
			path);
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		xhp_die_sys(XHP_SYS, "unable to set flags on %s", path);
	return fd;
}

/* Old kernels (before 5.8) have no LOOP_CONFIGURE: bind, then label. The
 * read-only flag follows from FILE's open mode. 0 ok, -1 with errno. */
static int bind_old(int lfd, int ffd, const struct loop_info64 *li)
{
	struct loop_info64 st = *li;
	int err;

	if (ioctl(lfd, LOOP_SET_FD, ffd) == -1)
		return -1;
	st.lo_flags = 0;
	if (ioctl(lfd, LOOP_SET_STATUS64, &st) == -1) {
		err = errno;
		/* Leave no untagged device behind. */
		if (ioctl(lfd, LOOP_CLR_FD, 0) == -1)
			xhp_die_sys(XHP_SYS, "unable to detach half-attached "
				    "loop device");
		errno = err;
		xhp_die_sys(XHP_SYS, "unable to set loop device status");
	}
	return 0;
}

int xhp_loop_attach(const char *path, int ro, const char *tag, char *node,
		    struct stat *st)
{
	struct loop_config cfg;
	int ffd, cfd, lfd = -1, attempt, bound = 0;
	int no_configure = getenv("XHP_TEST_NO_LOOP_CONFIGURE") != NULL;
	long n;

	ffd = open_file(path, ro, st);
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (uint32_t)ffd;
	cfg.info.lo_flags = ro ? LO_FLAGS_READ_ONLY : 0;
	memcpy(cfg.info.lo_file_name, tag, strlen(tag));

	cfd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (cfd == -1)
		xhp_die_sys(XHP_SYS, "unable to open /dev/loop-control");
	for (attempt = 0; attempt < ATTEMPTS && !bound; attempt++) {
		n = ioctl(cfd, LOOP_CTL_GET_FREE);
		if (n < 0)
			xhp_die_sys(XHP_SYS, "unable to get a free loop device");
		snprintf(node, 32, "/dev/loop%ld", n);
		lfd = open(node, O_RDWR | O_CLOEXEC);
		if (lfd == -1) {
			/* Removed (LOOP_CTL_REMOVE) under us: take another. */
			if (errno == ENOENT || errno == ENXIO)
				continue;
			xhp_die_sys(XHP_SYS, "unable to open %s", node);
		}
		if (!no_configure && ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			bound = 1;
		else if (!no_configure && errno != EINVAL && errno != ENOTTY &&
			 errno != EBUSY)
			xhp_die_sys(XHP_SYS, "unable to attach %s to %s",
				    path, node);
		else if (no_configure || errno != EBUSY) {
			if (bind_old(lfd, ffd, &cfg.info) == 0)
				bound = 1;
			else if (errno != EBUSY)
				xhp_die_sys(XHP_SYS, "unable to attach %s "
					    "to %s", path, node);
		}
		if (!bound && close(lfd) == -1)
			xhp_die_sys(XHP_SYS, "unable to close %s", node);
	}
	if (!bound)
		xhp_die(XHP_SYS, "unable to attach %s: every free loop device "
			"was taken by someone else %d times", path, ATTEMPTS);
	/* The binding holds its own reference to the file. */
	if (close(cfd) == -1 || close(ffd) == -1) {
		int err = errno;

		/* Nobody learnt the device name: do not leak it. */
		(void)ioctl(lfd, LOOP_CLR_FD, 0);
		errno = err;
		xhp_die_sys(XHP_SYS, "unable to close descriptors");
	}
	return lfd;
}
#else
int xhp_loop_status(int fd, dev_t *dev, ino_t *ino, char *tag)
{
	(void)fd;
	(void)dev;
	(void)ino;
	(void)tag;
	errno = ENOTTY;
	return -1;
}

int xhp_loop_clear(int lfd)
{
	(void)lfd;
	errno = ENOTSUP;
	return -1;
}

int xhp_loop_attach(const char *path, int ro, const char *tag, char *node,
		    struct stat *st)
{
	(void)path;
	(void)ro;
	(void)tag;
	(void)node;
	(void)st;
	xhp_die(XHP_SYS, "unable to attach: loop devices are Linux only");
}
#endif

int xhp_loop_tag_for(char *tag, const char *prefix, const char *backend)
{
	const char *rest = backend;
	int n;

	/* TYPE/DOMID/DEVID: the backend below backend/ (relative, as libxl
	 * names it) or below /local/domain/N/backend/. */
	if (strncmp(rest, "/local/domain/", 14) == 0) {
		rest += 14 + strspn(rest + 14, "0123456789");
		if (*rest == '/')
			rest++;
	}
	if (strncmp(rest, "backend/", 8) == 0)
		rest += 8;
	n = snprintf(tag, XHP_LOOP_TAG_MAX, "%s:%s", prefix, rest);
	return n > 0 && n < XHP_LOOP_TAG_MAX && xhp_loop_tag_ok(tag) ? 0 : -1;
}
