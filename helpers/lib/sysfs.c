/* SPDX-License-Identifier: LGPL-2.1-only */
/* sysfs.c: the kernel's block-device graph as sysfs shows it,
 * /sys/dev/block/MAJ:MIN (a link to the device's directory: a partition's
 * parent directory is its disk; holders/ and slaves/ link the stack).
 * Small reads only: each attribute is one short line. Linux only; the
 * stack walk (blkdev.c) and dom0's claims (dom0.c) read it. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

#ifdef __linux__
void xhp_sysfs_join(char *out, const char *a, const char *b)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		xhp_die(XHP_SYS, "path too long: %s/%s", a, b);
}

int xhp_sysfs_read(const char *dir, const char *name, char *buf, size_t n)
{
	char p[PATH_MAX];
	ssize_t len;
	int fd, err;

	xhp_sysfs_join(p, dir, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	len = read(fd, buf, n - 1);
	err = errno;
	(void)close(fd);
	if (len < 0) {
		errno = err;
		return -1;
	}
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return 0;
}

int xhp_sysfs_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[32], *end;
	unsigned long long n;

	if (xhp_sysfs_read(dir, name, buf, sizeof(buf)) == -1)
		return -1;
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\0')
		return -1;
	*v = (uint64_t)n;
	return 0;
}

int xhp_sysfs_dev(const char *dir, const char *name, unsigned long *maj,
		  unsigned long *min)
{
	char buf[32];

	if (xhp_sysfs_read(dir, name, buf, sizeof(buf)) == -1)
		return -1;
	return sscanf(buf, "%lu:%lu", maj, min) == 2 ? 0 : -1;
}

int xhp_sysfs_dir(unsigned long maj, unsigned long min, char *dir)
{
	char link[64], to[PATH_MAX], *p, *q;
	ssize_t n;

	/* One readlink, not realpath's one per component: the scan asks
	 * this of every device another backend names, most of which the
	 * kernel here does not have. The link is relative
	 * ("../../devices/.../block/sda/sda1") and /sys/dev/block holds no
	 * other links, so dropping "dir/.." pairs resolves it. */
	snprintf(link, sizeof(link), "/sys/dev/block/%lu:%lu", maj, min);
	n = readlink(link, to, sizeof(to) - 1);
	if (n == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			xhp_die_sys(XHP_SYS, "unable to resolve %s", link);
		return -1;
	}
	to[n] = '\0';
	if (to[0] == '/')
		snprintf(dir, PATH_MAX, "%s", to);
	else
		xhp_sysfs_join(dir, "/sys/dev/block", to);
	/* Fold "X/../" in place, left to right. */
	while ((p = strstr(dir, "/../")) != NULL) {
		*p = '\0';
		q = strrchr(dir, '/');
		if (q == NULL)
			q = dir;
		memmove(q, p + 3, strlen(p + 3) + 1);
	}
	return 0;
}

int xhp_sysfs_node(unsigned long maj, unsigned long min, char *node)
{
	char dir[PATH_MAX];
	struct stat st;

	if (xhp_sysfs_dir(maj, min, dir) == -1)
		return -1;
	snprintf(node, PATH_MAX, "/dev/%s", strrchr(dir, '/') + 1);
	/* A stale /dev, or another namespace's: no node of ours. */
	if (stat(node, &st) == -1 || !S_ISBLK(st.st_mode) ||
	    xhp_id_major(st.st_rdev) != maj || xhp_id_minor(st.st_rdev) != min)
		return -1;
	return 0;
}
#endif
