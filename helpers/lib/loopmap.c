/* SPDX-License-Identifier: LGPL-2.1-only */
/* loopmap.c: which Linux loop devices are bound to what: the file (or
 * block device) and the range a loop device serves, and the loop devices
 * that serve a file, for the identity set (id.c) and the stack walk
 * (blkdev.c); the bound devices one by one, for loop-detach -a and -b.
 * Elsewhere there are no loop devices: the lookups find none. */
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

int xhp_loopmap_index(const char *name, unsigned long *n)
{
	if (strncmp(name, "loop", 4) != 0)
		return -1;
	/* Strict parsing rejects "loop-control" and partitions ("loop0p1"). */
	return xhp_parse_ulong(name + 4, 10, 0xfffffUL, n);
}

dev_t xhp_loopmap_decode_dev(unsigned long long kdev)
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
int xhp_loopmap_info(unsigned int maj, unsigned int min,
		     struct xhp_loopmap_info *info)
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
	if (xhp_loopmap_index(name, &n) == -1)
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
	info->dev = xhp_loopmap_decode_dev(li.lo_device);
	info->ino = (ino_t)li.lo_inode;
	/* The backing inode's own device number: not 0 only when the loop
	 * device is over a block device. */
	info->rdev = li.lo_rdevice != 0 ?
		     xhp_loopmap_decode_dev(li.lo_rdevice) : 0;
	info->offset = li.lo_offset;
	info->sizelimit = li.lo_sizelimit;
	return 0;
}

int xhp_loopmap_backing(unsigned int maj, unsigned int min, dev_t *dev,
			ino_t *ino)
{
	struct xhp_loopmap_info li;
	int r = xhp_loopmap_info(maj, min, &li);

	if (r == 0) {
		*dev = li.dev;
		*ino = li.ino;
	}
	return r;
}

int xhp_loopmap_bound_each(int (*fn)(unsigned long n, const char *name,
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
		if (xhp_loopmap_index(e->d_name, &n) == -1)
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
	r = xhp_loopmap_backing(maj, min, &bdev, &bino);
	if (r != 0)
		return r == 1 ? 0 : -1;
	if (bdev != u->dev || bino != u->ino)
		return 0;
	return u->fn(maj, min, u->ctx);
}

int xhp_loopmap_users(dev_t dev, ino_t ino,
		      int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		      void *ctx)
{
	struct users u = { dev, ino, fn, ctx };

	return xhp_loopmap_bound_each(one, &u);
}
#else
int xhp_loopmap_info(unsigned int maj, unsigned int min,
		     struct xhp_loopmap_info *info)
{
	(void)maj;
	(void)min;
	(void)info;
	return 1;
}

int xhp_loopmap_backing(unsigned int maj, unsigned int min, dev_t *dev,
			ino_t *ino)
{
	(void)maj;
	(void)min;
	(void)dev;
	(void)ino;
	return 1;
}

int xhp_loopmap_bound_each(int (*fn)(unsigned long n, const char *name,
				     void *ctx), void *ctx)
{
	(void)fn;
	(void)ctx;
	return 0;
}

int xhp_loopmap_users(dev_t dev, ino_t ino,
		      int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		      void *ctx)
{
	(void)dev;
	(void)ino;
	(void)fn;
	(void)ctx;
	return 0;
}
#endif
