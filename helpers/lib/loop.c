/* SPDX-License-Identifier: LGPL-2.1-only */
/* loop.c: Linux loop devices: which file a loop device serves and which
 * loop devices serve a file (the identity set), and binding a file to a
 * free one in one race-free step, tagged so that it can be verified and
 * found again (docs/loop-attach.md). Elsewhere there are no loop devices:
 * the lookups find none and attaching fails. */
/* NetBSD shows makedev() only with this. */
#define _NETBSD_SOURCE

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#if defined(__linux__) || defined(__GLIBC__) /* elsewhere: sys/types.h */
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

#ifdef __linux__
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

int xhp_loop_index(const char *name, unsigned long *n)
{
	if (strncmp(name, "loop", 4) != 0)
		return -1;
	/* Strict parsing rejects "loop-control" and partitions ("loop0p1"). */
	return xhp_parse_ulong(name + 4, 10, 0xfffffUL, n);
}

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

dev_t xhp_loop_decode_dev(unsigned long long kdev)
{
	/* Linux's new_encode_dev: the minor's low 8 bits, then 12 bits of
	 * major, then the rest of the minor. glibc's dev_t is laid out
	 * differently, so the raw number never equals st_dev for a device
	 * with a major above 255 or a minor above 255. */
	unsigned int maj = (unsigned int)((kdev & 0xfff00ULL) >> 8);
	unsigned int min = (unsigned int)((kdev & 0xffULL) |
					  ((kdev >> 12) & 0xfff00ULL));

	return makedev(maj, min);
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
		*dev = xhp_loop_decode_dev(li.lo_device);
	if (ino != NULL)
		*ino = (ino_t)li.lo_inode;
	if (tag != NULL) {
		memcpy(tag, li.lo_file_name, XHP_LOOP_TAG_MAX - 1);
		tag[XHP_LOOP_TAG_MAX - 1] = '\0';
	}
	return 0;
}

int xhp_loop_info(unsigned int maj, unsigned int min,
		  struct xhp_loop_info *info)
{
	char link[64], target[PATH_MAX], node[64];
	struct loop_info64 li;
	const char *name;
	unsigned long n;
	struct stat st;
	ssize_t len;
	int fd, err;

	/* The loop major is fixed, but the minor of loopN depends on
	 * max_part, so ask sysfs which device MAJ:MIN is. */
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", maj, min);
	len = readlink(link, target, sizeof(target) - 1);
	if (len == -1)
		return errno == ENOENT ? 1 : -1;
	target[len] = '\0';
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	if (xhp_loop_index(name, &n) == -1)
		return 1;

	/* Read-only: closing a block device opened for writing makes udev
	 * rescan it. */
	snprintf(node, sizeof(node), "/dev/loop%lu", n);
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		/* ENXIO: the device is being removed; no node, and no sysfs
		 * entry any more either: removed meanwhile. A bound device
		 * with no node to ask is an error: it may serve our file. */
		err = errno;
		if (err == ENXIO || (err == ENOENT && access(link, F_OK) == -1))
			return 1;
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (!S_ISBLK(st.st_mode) || st.st_rdev != makedev(maj, min)) {
		/* A /dev that does not match sysfs (stale node, foreign
		 * namespace): refuse rather than report some other device. */
		close(fd);
		errno = ENODEV;
		return -1;
	}
	memset(&li, 0, sizeof(li));
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1) {
		err = errno;
		(void)close(fd);
		/* ENXIO is the loop driver's "no file bound". */
		if (err == ENXIO)
			return 1;
		errno = err;
		return -1;
	}
	if (close(fd) == -1)
		return -1;
	info->dev = xhp_loop_decode_dev(li.lo_device);
	info->ino = (ino_t)li.lo_inode;
	/* The backing inode's own device number: not 0 only when the loop
	 * device is over a block device. */
	info->rdev = li.lo_rdevice != 0 ? xhp_loop_decode_dev(li.lo_rdevice) :
					  0;
	info->offset = li.lo_offset;
	info->sizelimit = li.lo_sizelimit;
	return 0;
}

int xhp_loop_backing(unsigned int maj, unsigned int min, dev_t *dev,
		     ino_t *ino)
{
	struct xhp_loop_info li;
	int r = xhp_loop_info(maj, min, &li);

	if (r == 0) {
		*dev = li.dev;
		*ino = li.ino;
	}
	return r;
}

int xhp_loop_bound_each(int (*fn)(unsigned long n, const char *name,
				  void *ctx), void *ctx)
{
	char bound[300];
	struct dirent *e;
	unsigned long n;
	DIR *d;
	int r, err;

	d = opendir("/sys/block");
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (e == NULL)
			break;
		if (xhp_loop_index(e->d_name, &n) == -1)
			continue;
		/* The loop/ directory exists only while a file is bound;
		 * checking it first spares opening every idle device. */
		snprintf(bound, sizeof(bound), "/sys/block/%s/loop", e->d_name);
		if (access(bound, F_OK) == -1) {
			if (errno == ENOENT)
				continue;
			goto fail;
		}
		r = fn(n, e->d_name, ctx);
		if (r != 0) {
			err = errno;
			closedir(d);
			errno = err;
			return r;
		}
	}
	if (errno != 0)
		goto fail;
	return closedir(d);
fail:
	err = errno;
	closedir(d);
	errno = err;
	return -1;
}

/* Read /sys/block/NAME/dev ("MAJ:MIN\n"). 0 ok, 1 gone, -1 error. */
static int sys_majmin(const char *name, unsigned int *maj, unsigned int *min)
{
	char path[300], buf[32], *colon, *nl;
	unsigned long a, b;
	ssize_t len;
	int fd, err;

	snprintf(path, sizeof(path), "/sys/block/%s/dev", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 1 : -1;
	len = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (len == -1) {
		errno = err;
		return errno == ENODEV ? 1 : -1;
	}
	buf[len] = '\0';
	nl = strchr(buf, '\n');
	if (nl != NULL)
		*nl = '\0';
	colon = strchr(buf, ':');
	if (colon == NULL)
		goto bad;
	*colon = '\0';
	if (xhp_parse_ulong(buf, 10, 0xfffUL, &a) == -1 ||
	    xhp_parse_ulong(colon + 1, 10, 0xfffffUL, &b) == -1)
		goto bad;
	*maj = (unsigned int)a;
	*min = (unsigned int)b;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

struct users {
	dev_t dev;
	ino_t ino;
	int (*fn)(unsigned int maj, unsigned int min, void *ctx);
	void *ctx;
};

static int one(unsigned long n, const char *name, void *ctx)
{
	struct users *u = ctx;
	unsigned int maj, min;
	dev_t bdev;
	ino_t bino;
	int r;

	(void)n;
	r = sys_majmin(name, &maj, &min);
	if (r != 0)
		return r == 1 ? 0 : -1;
	r = xhp_loop_backing(maj, min, &bdev, &bino);
	if (r != 0)
		return r == 1 ? 0 : -1;
	if (bdev != u->dev || bino != u->ino)
		return 0;
	return u->fn(maj, min, u->ctx);
}

int xhp_loop_users(dev_t dev, ino_t ino,
		   int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		   void *ctx)
{
	struct users u = { dev, ino, fn, ctx };

	return xhp_loop_bound_each(one, &u);
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

int xhp_loop_info(unsigned int maj, unsigned int min,
		  struct xhp_loop_info *info)
{
	(void)maj;
	(void)min;
	(void)info;
	return 1;
}

int xhp_loop_backing(unsigned int maj, unsigned int min, dev_t *dev,
		     ino_t *ino)
{
	(void)maj;
	(void)min;
	(void)dev;
	(void)ino;
	return 1;
}

int xhp_loop_bound_each(int (*fn)(unsigned long n, const char *name,
				  void *ctx), void *ctx)
{
	(void)fn;
	(void)ctx;
	return 0;
}

int xhp_loop_users(dev_t dev, ino_t ino,
		   int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		   void *ctx)
{
	(void)dev;
	(void)ino;
	(void)fn;
	(void)ctx;
	return 0;
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
