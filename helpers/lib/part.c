/* SPDX-License-Identifier: LGPL-2.1-only */
/* part.c: disk partitions in Linux's sysfs: where a partition lies on its
 * disk, for the walk down a stack (blkdev.c), and which partitions of a
 * disk meet a range of it, the layers above a stack that dom0 may have
 * claimed (dom0.c). The kernel shows an extended DOS partition as a stub
 * of 1 or 2 sectors: its real extent is read from the partition table.
 * Elsewhere no partition is found above a stack. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

#ifdef __linux__
/* The four primary entries of the DOS partition table of DISK (its
 * /dev node, checked against MAJ:MIN). An extended partition's device
 * shows only its first 2 sectors; its real extent is in the table. 0 and
 * *LEN set when partition PARTNO of the table is an extended one. */
static int dos_extended(const char *dir, unsigned long maj, unsigned long min,
			unsigned long partno, uint64_t *len)
{
	unsigned char mbr[512], *e;
	char node[PATH_MAX];
	struct stat st;
	int fd, ok;

	(void)dir;
	if (partno < 1 || partno > 4 || xhp_sysfs_node(maj, min, node) == -1)
		return -1;
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return -1;
	ok = fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) &&
	     st.st_rdev == makedev(maj, min) &&
	     pread(fd, mbr, sizeof(mbr), 0) == (ssize_t)sizeof(mbr);
	(void)close(fd);
	if (!ok || mbr[510] != 0x55 || mbr[511] != 0xaa)
		return -1;
	e = mbr + 446 + 16 * (partno - 1);
	if (e[4] != 0x05 && e[4] != 0x0f && e[4] != 0x85)
		return -1;
	*len = (uint64_t)e[12] | (uint64_t)e[13] << 8 |
	       (uint64_t)e[14] << 16 | (uint64_t)e[15] << 24;
	return 0;
}

int xhp_part_range(const char *dir, const char *pdir, unsigned long pmaj,
		   unsigned long pmin, uint64_t *start, uint64_t *size)
{
	uint64_t no, real;

	if (xhp_sysfs_u64(dir, "start", start) == -1 ||
	    xhp_sysfs_u64(dir, "size", size) == -1)
		return -1;
	/* The kernel shows an extended partition as 2 sectors (1 when the
	 * table says 1); the logical ones lie in its real extent. */
	if (*size <= 2 && xhp_sysfs_u64(dir, "partition", &no) == 0) {
		if (dos_extended(pdir, pmaj, pmin, (unsigned long)no,
				 &real) == 0)
			*size = real;
		else if (*size == 2)
			/* Unreadable table: up to the end of the disk. */
			*size = XHP_EXT_ALL - *start;
	}
	return 0;
}

/* The partitions of disk V->maj:min that meet V's range, to FN. */
static void parts_of(const struct xhp_via *v,
		     void (*fn)(unsigned long, unsigned long, void *),
		     void *ctx)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	unsigned long maj, min;
	uint64_t start, size;
	struct dirent *e;
	DIR *d;

	if (xhp_sysfs_dir(v->maj, v->min, dir) == -1)
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		/* A partition is a directory; the disk's attributes and
		 * its links (bdi, device, subsystem) are not. */
		if (e->d_name[0] == '.' ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		xhp_sysfs_join(sub, dir, e->d_name);
		if (xhp_sysfs_u64(sub, "partition", &start) == -1 ||
		    xhp_sysfs_dev(sub, "dev", &maj, &min) == -1 ||
		    xhp_part_range(sub, dir, v->maj, v->min, &start,
				   &size) == -1)
			continue;
		if (start < v->hi && v->lo < xhp_stack_add_sat(start, size))
			fn(maj, min, ctx);
	}
	(void)closedir(d);
}

void xhp_part_above(const struct xhp_idset *s,
		    void (*fn)(unsigned long, unsigned long, void *),
		    void *ctx)
{
	struct xhp_via v;
	size_t i;

	/* Our disks: the target's own devices, whole, and the disk of each
	 * partition the stack passes through, over the range we reach. */
	for (i = 0; i < s->nblk; i++) {
		memset(&v, 0, sizeof(v));
		v.maj = s->blk[i].maj;
		v.min = s->blk[i].min;
		v.hi = XHP_EXT_ALL;
		parts_of(&v, fn, ctx);
	}
	for (i = 0; i < s->nvia; i++)
		if (s->via[i].kind == XHP_VIA_DISK)
			parts_of(&s->via[i], fn, ctx);
}
#else
void xhp_part_above(const struct xhp_idset *s,
		    void (*fn)(unsigned long, unsigned long, void *),
		    void *ctx)
{
	(void)s;
	(void)fn;
	(void)ctx;
}
#endif
