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
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
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

#ifdef __linux__
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
#endif

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
/* OUT (PATH_MAX bytes) = A/B; sysfs paths are short, so a longer one is
 * no device of ours. */
static void join(char *out, const char *a, const char *b)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		xhp_die(XHP_SYS, "path too long: %s/%s", a, b);
}

/* Read the small sysfs file DIR/NAME into BUF (its last newline cut). 0,
 * or -1 (errno) when it cannot be read. */
static int sys_read(const char *dir, const char *name, char *buf, size_t n)
{
	char p[PATH_MAX];
	ssize_t len;
	int fd, err;

	join(p, dir, name);
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

static int sys_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[32], *end;
	unsigned long long n;

	if (sys_read(dir, name, buf, sizeof(buf)) == -1)
		return -1;
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\0')
		return -1;
	*v = (uint64_t)n;
	return 0;
}

static int sys_dev(const char *dir, const char *name, unsigned long *maj,
		   unsigned long *min)
{
	char buf[32];

	if (sys_read(dir, name, buf, sizeof(buf)) == -1)
		return -1;
	return sscanf(buf, "%lu:%lu", maj, min) == 2 ? 0 : -1;
}

/* The sysfs directory of MAJ:MIN, resolved (so that ".." is its disk).
 * 0, or -1 when the kernel has no such block device. */
static int sys_dir(unsigned long maj, unsigned long min, char *dir)
{
	char link[64];

	snprintf(link, sizeof(link), "/sys/dev/block/%lu:%lu", maj, min);
	if (realpath(link, dir) == NULL) {
		if (errno != ENOENT && errno != ENOTDIR)
			xhp_die_sys(XHP_SYS, "unable to resolve %s", link);
		return -1;
	}
	return 0;
}

void xhp_stack_name(unsigned long maj, unsigned long min, char *buf,
		    size_t n)
{
	char dir[PATH_MAX], dm[128];
	const char *base;

	if (sys_dir(maj, min, dir) == -1) {
		snprintf(buf, n, "device %lx:%lx", maj, min);
		return;
	}
	base = strrchr(dir, '/') + 1;
	if (sys_read(dir, "dm/name", dm, sizeof(dm)) == 0 && dm[0] != '\0')
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

	if (partno < 1 || partno > 4)
		return -1;
	snprintf(node, sizeof(node), "/dev/%s", strrchr(dir, '/') + 1);
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

	if (sys_u64(dir, "start", start) == -1 ||
	    sys_u64(dir, "size", size) == -1)
		return -1;
	/* The kernel shows an extended partition as 2 sectors (1 when the
	 * table says 1); the logical ones lie in its real extent. */
	if (*size <= 2 && sys_u64(dir, "partition", &no) == 0) {
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

	join(p, dir, "slaves");
	d = opendir(p);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		join(sub, p, e->d_name);
		if (sys_dev(sub, "dev", &maj, &min) == 0) {
			add_via(s, maj, min, XHP_VIA_SLAVE, depth + 1, 0, ALL);
			walk(s, maj, min, 0, ALL, depth + 1);
		}
	}
	(void)closedir(d);
}

/* "MAJ:MIN" at *P, then a number: a dm table's device and offset. */
static int dm_dev_off(char **p, unsigned long *maj, unsigned long *min,
		      uint64_t *off)
{
	unsigned long long o;
	int n = 0;

	if (sscanf(*p, " %lu:%lu %llu%n", maj, min, &o, &n) != 3)
		return -1;
	*p += n;
	*off = (uint64_t)o;
	return 0;
}

/* Sectors [LO, HI) of the dm device MAJ:MIN, through its table. 0, or -1
 * when the table cannot be read or holds a target we do not map. */
static int dm_walk(struct xhp_idset *s, unsigned long maj, unsigned long min,
		   uint64_t lo, uint64_t hi, int depth)
{
	struct dm_target_spec *t;
	struct dm_ioctl *io;
	size_t size = 16384;
	unsigned long dmaj, dmin, n, i;
	uint64_t off, a, b, end;
	char *params, *p;
	uint32_t k, at;
	int fd, r = 0;

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return -1;
	for (;;) {
		io = calloc(1, size);
		if (io == NULL)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
		io->version[0] = DM_VERSION_MAJOR;
		io->data_size = (uint32_t)size;
		io->data_start = sizeof(*io);
		io->dev = makedev(maj, min);
		io->flags = DM_STATUS_TABLE_FLAG;
		if (ioctl(fd, DM_TABLE_STATUS, io) == -1) {
			free(io);
			(void)close(fd);
			return -1;
		}
		if (!(io->flags & DM_BUFFER_FULL_FLAG) || size >= 1 << 22)
			break;
		free(io);
		size *= 4;
	}
	(void)close(fd);
	if (io->flags & DM_BUFFER_FULL_FLAG) {
		free(io);
		return -1;
	}
	at = io->data_start;
	for (k = 0; k < io->target_count && r == 0; k++) {
		if (at + sizeof(*t) > io->data_size) {
			r = -1;
			break;
		}
		t = (struct dm_target_spec *)((char *)io + at);
		params = (char *)(t + 1);
		end = t->sector_start + t->length;
		a = lo > t->sector_start ? lo : t->sector_start;
		b = hi < end ? hi : end;
		if (a < b) {
			t->target_type[DM_MAX_TYPE_NAME - 1] = '\0';
			p = params;
			if (strcmp(t->target_type, "linear") == 0 &&
			    dm_dev_off(&p, &dmaj, &dmin, &off) == 0) {
				add_via(s, dmaj, dmin, XHP_VIA_SLAVE,
					depth + 1, 0, ALL);
				walk(s, dmaj, dmin,
				     add_sat(off, a - t->sector_start),
				     add_sat(off, b - t->sector_start),
				     depth + 1);
			} else if (strcmp(t->target_type, "striped") == 0) {
				/* "STRIPES CHUNK (DEV OFFSET)...": each
				 * stripe holds at most LENGTH sectors from
				 * its offset on, a superset. */
				n = strtoul(p, &p, 10);
				(void)strtoul(p, &p, 10);
				if (n == 0)
					r = -1;
				for (i = 0; i < n && r == 0; i++) {
					if (dm_dev_off(&p, &dmaj, &dmin,
						       &off) == -1) {
						r = -1;
						break;
					}
					add_via(s, dmaj, dmin, XHP_VIA_SLAVE,
						depth + 1, 0, ALL);
					walk(s, dmaj, dmin, off,
					     add_sat(off, t->length),
					     depth + 1);
				}
			} else if (strcmp(t->target_type, "zero") != 0 &&
				   strcmp(t->target_type, "error") != 0) {
				r = -1;
			}
		}
		/* NEXT counts from the start of the data, not of this
		 * target (the kernel's retrieve_status). */
		if (t->next <= at - io->data_start)
			break;
		at = io->data_start + t->next;
	}
	free(io);
	return r;
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

	join(p, dir, "slaves");
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

	if (depth > DEPTH_MAX || sys_dir(maj, min, dir) == -1) {
		add_ext_blk(s, maj, min, lo, hi);
		return;
	}
	if (sys_u64(dir, "partition", &start) == 0) {
		memcpy(pdir, dir, strlen(dir) + 1);
		slash = strrchr(pdir, '/');
		*slash = '\0';
		if (sys_dev(pdir, "dev", &pmaj, &pmin) == 0 &&
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
	if (sys_u64(dir, "size", &size) == 0 && size > 0 && hi > size)
		hi = size;
	if (loop_walk(s, maj, min, lo, hi, depth) == 0)
		return;
	if (has_slaves(dir)) {
		join(pdir, dir, "dm");
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

	if (sys_dir(v->maj, v->min, dir) == -1)
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		join(sub, dir, e->d_name);
		if (sys_u64(sub, "partition", &start) == -1 ||
		    sys_dev(sub, "dev", &maj, &min) == -1 ||
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
	snprintf(buf, n, "device %lx:%lx", maj, min);
}

void xhp_stack_blk(struct xhp_idset *s, unsigned long maj, unsigned long min)
{
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
