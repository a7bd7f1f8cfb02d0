#include <errno.h>

#include "xhp.h"

#ifdef __linux__
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int xhp_loop_backing(unsigned int maj, unsigned int min, dev_t *dev,
		     ino_t *ino)
{
	char link[64], target[PATH_MAX], node[64];
	const char *name;
	unsigned long n;
	struct stat st;
	ssize_t len;
	int fd, r, err;

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
	if (fd == -1)
		/* ENXIO: the device is being removed. */
		return errno == ENXIO ? 1 : -1;
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
	r = xhp_loop_status(fd, dev, ino, NULL);
	err = errno;
	if (close(fd) == -1 && r != -1)
		return -1;
	errno = err;
	return r;
}
#else
int xhp_loop_backing(unsigned int maj, unsigned int min, dev_t *dev,
		     ino_t *ino)
{
	(void)maj;
	(void)min;
	(void)dev;
	(void)ino;
	return 1;
}
#endif
