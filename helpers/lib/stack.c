/* SPDX-License-Identifier: LGPL-2.1-only */
/* stack.c: where a block device's sectors live (docs/block-scripts.md,
 * "In use"). Linux block devices nest: a partition is a range of its
 * disk, a loop device a range of its backing file or device, and
 * device-mapper, md and bcache devices sit on their slaves. Two users
 * conflict when the sectors they reach at the bottom of their stacks
 * intersect, whichever layer each was given.
 *
 * The walk reads the kernel's block-device graph in sysfs
 * (/sys/dev/block/MAJ:MIN: partition, start, size, slaves/, loop/), the
 * loop driver's status, and for device-mapper its table (DM_TABLE_STATUS),
 * so that two logical volumes of one physical volume stay apart. Where the
 * exact extent is not known (an md array, a dm target other than linear
 * or striped, a stack deeper than we follow) it is conservative: the
 * whole of every device below. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

#define ALL XHP_EXT_ALL
/* Deeper stacks than this are taken whole, not followed. */
#define DEPTH_MAX 12

static void *grow(void *a, size_t n, size_t *cap, size_t size)
{
	void *p;

	if (n < *cap)
		return a;
	p = realloc(a, (*cap ? *cap * 2 : 8) * size);
	if (p == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	*cap = *cap ? *cap * 2 : 8;
	return p;
}

static void add_ext(struct xhp_idset *s, const struct xhp_ext *e)
{
	if (e->lo >= e->hi)
		return;
	s->ext = grow(s->ext, s->next, &s->aext, sizeof(*s->ext));
	s->ext[s->next++] = *e;
}

static void add_ext_blk(struct xhp_idset *s, unsigned long maj,
			unsigned long min, uint64_t lo, uint64_t hi)
{
	struct xhp_ext e;

	memset(&e, 0, sizeof(e));
	e.maj = maj;
	e.min = min;
	e.lo = lo;
	e.hi = hi;
	add_ext(s, &e);
}

void xhp_stack_file(struct xhp_idset *s, dev_t dev, ino_t ino, uint64_t lo,
		    uint64_t hi)
{
	struct xhp_ext e;

	memset(&e, 0, sizeof(e));
	e.file = 1;
	e.dev = dev;
	e.ino = ino;
	e.lo = lo;
	e.hi = hi;
	add_ext(s, &e);
}

/* Record that the stack passes through MAJ:MIN, reached by KIND. */
static void add_via(struct xhp_idset *s, unsigned long maj,
		    unsigned long min, int kind, int depth, uint64_t lo,
		    uint64_t hi)
{
	struct xhp_via *v;
	size_t i;

	for (i = 0; i < s->nvia; i++)
		if (s->via[i].maj == maj && s->via[i].min == min)
			return;
	s->via = grow(s->via, s->nvia, &s->avia, sizeof(*s->via));
	v = &s->via[s->nvia++];
	v->maj = maj;
	v->min = min;
	v->kind = kind;
	v->depth = depth;
	v->lo = lo;
	v->hi = hi;
}

/* One provider of a GEOM walk (geom.c): depth 0 is where the sectors
 * live, the rest the providers passed on the way down. */
static void geom_add(const struct xhp_via *v, void *ctx)
{
	if (v->depth == 0)
		add_ext_blk(ctx, v->maj, v->min, v->lo, v->hi);
	else
		add_via(ctx, v->maj, v->min, v->kind, v->depth, v->lo, v->hi);
}

/* A device the GEOM tree knows (FreeBSD): 1 with S filled from it. */
static int geom_stack(struct xhp_idset *s, unsigned long maj,
		      unsigned long min)
{
	return xhp_geom_walk(maj, min, geom_add, s) > 0;
}

const struct xhp_via *xhp_stack_via(const struct xhp_idset *s,
				    unsigned long maj, unsigned long min)
{
	for (size_t i = 0; i < s->nvia; i++)
		if (s->via[i].maj == maj && s->via[i].min == min)
			return &s->via[i];
	return NULL;
}

static int ext_meet(const struct xhp_ext *a, const struct xhp_ext *b)
{
	if (a->file != b->file)
		return 0;
	if (a->file ? a->dev != b->dev || a->ino != b->ino :
		      a->maj != b->maj || a->min != b->min)
		return 0;
	return a->lo < b->hi && b->lo < a->hi;
}

const struct xhp_ext *xhp_stack_overlap(const struct xhp_idset *a,
					const struct xhp_idset *b)
{
	for (size_t i = 0; i < a->next; i++)
		for (size_t j = 0; j < b->next; j++)
			if (ext_meet(&a->ext[i], &b->ext[j]))
				return &a->ext[i];
	return NULL;
}

#ifdef __linux__
void xhp_stack_name(unsigned long maj, unsigned long min, char *buf,
		    size_t n)
{
	char dir[PATH_MAX], dm[128];
	const char *base;

	if (xhp_geom_name(maj, min, buf, n) == 0)
		return;
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

/* A partition's start and extent on its disk (sectors). */
static int part_range(const char *dir, const char *pdir, unsigned long pmaj,
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
			*size = ALL - *start;
	}
	return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > ALL - b ? ALL : a + b;
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
			add_via(s, maj, min, XHP_VIA_SLAVE, depth + 1, 0, ALL);
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
		add_via(c->s, maj, min, XHP_VIA_SLAVE, c->depth + 1, 0, ALL);
		walk(c->s, maj, min, add_sat(off, a - start),
		     add_sat(off, b - start), c->depth + 1);
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
		add_via(c->s, maj, min, XHP_VIA_SLAVE, c->depth + 1, 0, ALL);
		walk(c->s, maj, min, off, add_sat(off, len), c->depth + 1);
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
	struct xhp_loop_info li;
	uint64_t o, end;

	if (xhp_loop_info((unsigned int)maj, (unsigned int)min, &li) != 0)
		return 1;
	o = li.offset / 512;
	end = li.sizelimit != 0 ? add_sat(o, (li.sizelimit + 511) / 512) : ALL;
	lo = add_sat(o, lo);
	hi = add_sat(o, hi) < end ? add_sat(o, hi) : end;
	if (li.rdev != 0) {
		add_via(s, xhp_id_major(li.rdev), xhp_id_minor(li.rdev),
			XHP_VIA_BACKING, depth + 1, lo, hi);
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
		add_ext_blk(s, maj, min, lo, hi);
		return;
	}
	if (xhp_sysfs_u64(dir, "partition", &start) == 0) {
		memcpy(pdir, dir, strlen(dir) + 1);
		slash = strrchr(pdir, '/');
		*slash = '\0';
		if (xhp_sysfs_dev(pdir, "dev", &pmaj, &pmin) == 0 &&
		    part_range(dir, pdir, pmaj, pmin, &start, &size) == 0) {
			if (hi > size)
				hi = size;
			add_via(s, pmaj, pmin, XHP_VIA_DISK, depth + 1,
				add_sat(start, lo), add_sat(start, hi));
			walk(s, pmaj, pmin, add_sat(start, lo),
			     add_sat(start, hi), depth + 1);
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
	add_ext_blk(s, maj, min, lo, hi);
}

void xhp_stack_blk(struct xhp_idset *s, unsigned long maj, unsigned long min)
{
	if (!geom_stack(s, maj, min))
		walk(s, maj, min, 0, ALL, 0);
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
		if (e->d_name[0] == '.')
			continue;
		xhp_sysfs_join(sub, dir, e->d_name);
		if (xhp_sysfs_u64(sub, "partition", &start) == -1 ||
		    xhp_sysfs_dev(sub, "dev", &maj, &min) == -1 ||
		    part_range(sub, dir, v->maj, v->min, &start, &size) == -1)
			continue;
		if (start < v->hi && v->lo < add_sat(start, size))
			fn(maj, min, ctx);
	}
	(void)closedir(d);
}

void xhp_stack_above(const struct xhp_idset *s,
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
		v.hi = ALL;
		parts_of(&v, fn, ctx);
	}
	for (i = 0; i < s->nvia; i++)
		if (s->via[i].kind == XHP_VIA_DISK)
			parts_of(&s->via[i], fn, ctx);
}
#else
void xhp_stack_name(unsigned long maj, unsigned long min, char *buf,
		    size_t n)
{
	if (xhp_geom_name(maj, min, buf, n) == 0)
		return;
	snprintf(buf, n, "device %lx:%lx", maj, min);
}

void xhp_stack_blk(struct xhp_idset *s, unsigned long maj, unsigned long min)
{
	if (!geom_stack(s, maj, min))
		add_ext_blk(s, maj, min, 0, ALL);
}

void xhp_stack_above(const struct xhp_idset *s,
		     void (*fn)(unsigned long, unsigned long, void *),
		     void *ctx)
{
	(void)s;
	(void)fn;
	(void)ctx;
}
#endif
