/* SPDX-License-Identifier: LGPL-2.1-only */
/* blkdev.c: the walk down Linux's block-device graph, from a device to
 * where its sectors live, recorded in the identity set (stack.c). It
 * reads sysfs (/sys/dev/block/MAJ:MIN: partition, size, slaves/, loop/),
 * the loop driver's status, and for device-mapper its table
 * (DM_TABLE_STATUS), so that two logical volumes of one physical volume
 * stay apart. Where the exact extent is not known (an md array, a dm
 * target other than linear or striped, a stack deeper than we follow) it
 * is conservative: the whole of every device below. Elsewhere a device
 * is taken whole. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xhp.h"

#define ALL XHP_EXT_ALL
/* Deeper stacks than this are taken whole, not followed. */
#define DEPTH_MAX 12

#ifdef __linux__
void xhp_blkdev_name(unsigned long maj, unsigned long min, char *buf,
		     size_t n)
{
	char dir[PATH_MAX], dm[128];
	const char *base;

	if (xhp_sysfs_dir(maj, min, dir) == -1) {
		snprintf(buf, n, "device %lx:%lx", maj, min);
		return;
	}
	base = strrchr(dir, '/') + 1;
	if (xhp_sysfs_read(dir, "dm/name", dm, sizeof(dm)) == 0 && dm[0] != '\0')
		snprintf(buf, n, "/dev/%s (device-mapper %s)", base, dm);
	else
		snprintf(buf, n, "/dev/%s", base);
}

static void walk(struct xhp_idset *s, unsigned long maj, unsigned long min,
		 uint64_t lo, uint64_t hi, int depth);

/* Every slave of DIR, whole. */
static void slaves_whole(struct xhp_idset *s, const char *dir, int depth)
{
	char p[PATH_MAX], sub[PATH_MAX];
	unsigned long maj, min;
	struct dirent *e;
	DIR *d;

	xhp_sysfs_join(p, dir, "slaves");
	d = opendir(p);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		xhp_sysfs_join(sub, p, e->d_name);
		if (xhp_sysfs_dev(sub, "dev", &maj, &min) == 0) {
			xhp_stack_add_via(s, maj, min, XHP_VIA_SLAVE, depth + 1,
					  0, ALL);
			walk(s, maj, min, 0, ALL, depth + 1);
		}
	}
	(void)closedir(d);
}

/* dm_walk's place in the walk. */
struct dm_ctx {
	struct xhp_idset *s;
	uint64_t lo, hi;
	int depth;
};

/* One target of the table, sectors [START, START + LEN) of the dm
 * device: map what of [LO, HI) falls in it. */
static int dm_target(const char *type, uint64_t start, uint64_t len,
		     char *p, void *ctx)
{
	struct dm_ctx *c = ctx;
	uint64_t off, a, b, end = start + len;
	unsigned long maj, min, n, i;

	a = c->lo > start ? c->lo : start;
	b = c->hi < end ? c->hi : end;
	if (a >= b || strcmp(type, "zero") == 0 || strcmp(type, "error") == 0)
		return 0;
	if (strcmp(type, "linear") == 0) {
		/* "DEV OFFSET": exact. */
		if (xhp_dm_dev_off(&p, &maj, &min, &off) == -1)
			return -1;
		xhp_stack_add_via(c->s, maj, min, XHP_VIA_SLAVE, c->depth + 1,
				  0, ALL);
		walk(c->s, maj, min, xhp_stack_add_sat(off, a - start),
		     xhp_stack_add_sat(off, b - start), c->depth + 1);
		return 0;
	}
	if (strcmp(type, "striped") != 0)
		return -1;
	/* "STRIPES CHUNK (DEV OFFSET)...": each stripe holds at most LEN
	 * sectors from its offset on, a superset. */
	n = strtoul(p, &p, 10);
	(void)strtoul(p, &p, 10);
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (xhp_dm_dev_off(&p, &maj, &min, &off) == -1)
			return -1;
		xhp_stack_add_via(c->s, maj, min, XHP_VIA_SLAVE, c->depth + 1,
				  0, ALL);
		walk(c->s, maj, min, off, xhp_stack_add_sat(off, len),
		     c->depth + 1);
	}
	return 0;
}

/* Sectors [LO, HI) of the dm device MAJ:MIN, through its table. 0, or -1
 * when the table cannot be read or holds a target we do not map. */
static int dm_walk(struct xhp_idset *s, unsigned long maj, unsigned long min,
		   uint64_t lo, uint64_t hi, int depth)
{
	struct dm_ctx c = { s, lo, hi, depth };

	return xhp_dm_table(maj, min, dm_target, &c) == 0 ? 0 : -1;
}

/* The backing of loop device DIR (MAJ:MIN), sectors [LO, HI). 0, or 1
 * when it is not a bound loop device. */
static int loop_walk(struct xhp_idset *s, unsigned long maj,
		     unsigned long min, uint64_t lo, uint64_t hi, int depth)
{
	struct xhp_loopmap_info li;
	uint64_t o, end;

	if (xhp_loopmap_info((unsigned int)maj, (unsigned int)min, &li) != 0)
		return 1;
	o = li.offset / 512;
	end = li.sizelimit != 0 ?
	      xhp_stack_add_sat(o, (li.sizelimit + 511) / 512) : ALL;
	lo = xhp_stack_add_sat(o, lo);
	hi = xhp_stack_add_sat(o, hi) < end ? xhp_stack_add_sat(o, hi) : end;
	if (li.rdev != 0) {
		xhp_stack_add_via(s, xhp_id_major(li.rdev),
				  xhp_id_minor(li.rdev), XHP_VIA_BACKING,
				  depth + 1, lo, hi);
		walk(s, xhp_id_major(li.rdev), xhp_id_minor(li.rdev), lo, hi,
		     depth + 1);
	} else {
		xhp_stack_file(s, li.dev, li.ino, lo, hi);
	}
	return 0;
}

static int has_slaves(const char *dir)
{
	char p[PATH_MAX];
	struct dirent *e;
	int any = 0;
	DIR *d;

	xhp_sysfs_join(p, dir, "slaves");
	d = opendir(p);
	if (d == NULL)
		return 0;
	while (!any && (e = readdir(d)) != NULL)
		any = e->d_name[0] != '.';
	(void)closedir(d);
	return any;
}

static void walk(struct xhp_idset *s, unsigned long maj, unsigned long min,
		 uint64_t lo, uint64_t hi, int depth)
{
	char dir[PATH_MAX], pdir[PATH_MAX], *slash;
	unsigned long pmaj, pmin;
	uint64_t size, start;

	if (depth > DEPTH_MAX || xhp_sysfs_dir(maj, min, dir) == -1) {
		xhp_stack_add_ext_blk(s, maj, min, lo, hi);
		return;
	}
	if (xhp_sysfs_u64(dir, "partition", &start) == 0) {
		memcpy(pdir, dir, strlen(dir) + 1);
		slash = strrchr(pdir, '/');
		*slash = '\0';
		if (xhp_sysfs_dev(pdir, "dev", &pmaj, &pmin) == 0 &&
		    xhp_part_range(dir, pdir, pmaj, pmin, &start, &size) == 0) {
			if (hi > size)
				hi = size;
			xhp_stack_add_via(s, pmaj, pmin, XHP_VIA_DISK,
					  depth + 1,
					  xhp_stack_add_sat(start, lo),
					  xhp_stack_add_sat(start, hi));
			walk(s, pmaj, pmin, xhp_stack_add_sat(start, lo),
			     xhp_stack_add_sat(start, hi), depth + 1);
			return;
		}
	}
	if (xhp_sysfs_u64(dir, "size", &size) == 0 && size > 0 && hi > size)
		hi = size;
	if (loop_walk(s, maj, min, lo, hi, depth) == 0)
		return;
	if (has_slaves(dir)) {
		xhp_sysfs_join(pdir, dir, "dm");
		if (access(pdir, F_OK) == 0 &&
		    dm_walk(s, maj, min, lo, hi, depth) == 0)
			return;
		slaves_whole(s, dir, depth);
		return;
	}
	xhp_stack_add_ext_blk(s, maj, min, lo, hi);
}

void xhp_blkdev_walk(struct xhp_idset *s, unsigned long maj,
		     unsigned long min)
{
	walk(s, maj, min, 0, ALL, 0);
}
#else
void xhp_blkdev_name(unsigned long maj, unsigned long min, char *buf,
		     size_t n)
{
	snprintf(buf, n, "device %lx:%lx", maj, min);
}

void xhp_blkdev_walk(struct xhp_idset *s, unsigned long maj,
		     unsigned long min)
{
	xhp_stack_add_ext_blk(s, maj, min, 0, ALL);
}
#endif
