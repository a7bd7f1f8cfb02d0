/* SPDX-License-Identifier: LGPL-2.1-only */
/* id.c: device identity (docs/helpers.md "Device identity"). A target is
 * in use when any member of its identity set is: the block device, or the
 * regular file, and through loop devices each stands for the other. The
 * set is small (a device, a backing file, the few loop devices over it),
 * so it is a pair of arrays searched linearly. */
/* NetBSD shows major() and minor() only with this (and the
 * check-netbsd-build emulation cannot define __NetBSD__). */
#define _NETBSD_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

unsigned long xhp_id_major(dev_t d)
{
	return (unsigned long)major(d);
}

unsigned long xhp_id_minor(dev_t d)
{
	return (unsigned long)minor(d);
}

int xhp_id_fmt(char *buf, unsigned long maj, unsigned long min, int fmt)
{
	unsigned long d;

	if (fmt != XHP_FMT_NETBSD) {
		/* blkback parses "%x:%x"; no padding, lowercase. */
		snprintf(buf, XHP_MAJMIN_MAX, "%lx:%lx", maj, min);
		return 0;
	}
	/* xbdback reads a decimal dev_t in NetBSD's own encoding: numbers
	 * outside it would silently name another device. */
	if (maj > 0xfffUL || min > 0xfffffUL) {
		errno = ERANGE;
		return -1;
	}
	d = ((maj << 8) & 0xfff00UL) | ((min << 12) & 0xfff00000UL) |
	    (min & 0xffUL);
	snprintf(buf, XHP_MAJMIN_MAX, "%lu", d);
	return 0;
}

void xhp_id_stat_blk(const char *path, int fmt, char *mm)
{
	struct stat st;

	if (stat(path, &st) == -1)
		xhp_die_sys(errno == ENOENT || errno == ENOTDIR ? XHP_NO :
			    XHP_SYS, "unable to stat %s", path);
	if (!S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "%s is not a block device", path);
	if (xhp_id_fmt(mm, xhp_id_major(st.st_rdev),
		       xhp_id_minor(st.st_rdev), fmt) == -1)
		xhp_die_sys(XHP_NO, "unable to encode the device of %s", path);
}

int xhp_id_has_blk(const struct xhp_idset *s, unsigned long maj,
		   unsigned long min)
{
	for (size_t i = 0; i < s->nblk; i++)
		if (s->blk[i].maj == maj && s->blk[i].min == min)
			return 1;
	return 0;
}

int xhp_id_has_file(const struct xhp_idset *s, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < s->nfile; i++)
		if (s->file[i].dev == dev && s->file[i].ino == ino)
			return 1;
	return 0;
}

static void *grow(void *a, size_t *cap, size_t size)
{
	size_t n = *cap ? *cap * 2 : 4;
	void *p = realloc(a, n * size);

	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	*cap = n;
	return p;
}

int xhp_id_add_blk(struct xhp_idset *s, unsigned long maj,
		   unsigned long min)
{
	struct xhp_blkid *p;

	if (xhp_id_has_blk(s, maj, min))
		return 0;
	if (s->nblk == s->ablk) {
		p = grow(s->blk, &s->ablk, sizeof(*p));
		if (p == NULL)
			return -1;
		s->blk = p;
	}
	s->blk[s->nblk].maj = maj;
	s->blk[s->nblk].min = min;
	s->nblk++;
	return 0;
}

int xhp_id_add_file(struct xhp_idset *s, dev_t dev, ino_t ino)
{
	struct xhp_fileid *p;

	if (xhp_id_has_file(s, dev, ino))
		return 0;
	if (s->nfile == s->afile) {
		p = grow(s->file, &s->afile, sizeof(*p));
		if (p == NULL)
			return -1;
		s->file = p;
	}
	s->file[s->nfile].dev = dev;
	s->file[s->nfile].ino = ino;
	s->nfile++;
	return 0;
}

void xhp_id_free(struct xhp_idset *s)
{
	free(s->blk);
	free(s->file);
	free(s->ext);
	free(s->via);
	memset(s, 0, sizeof(*s));
}

static int add_user(unsigned int maj, unsigned int min, void *ctx)
{
	return xhp_id_add_blk(ctx, maj, min) == -1 ? -1 : 0;
}

static int add_md(unsigned long maj, unsigned long min, void *ctx)
{
	return xhp_id_add_blk(ctx, maj, min) == -1 ? -1 : 0;
}

int xhp_id_expand_file(struct xhp_idset *s, dev_t dev, ino_t ino)
{
	if (xhp_id_add_file(s, dev, ino) == -1)
		return -1;
	xhp_stack_file(s, dev, ino, 0, XHP_EXT_ALL);
	/* A file is in use through every loop device (or NetBSD vnd unit)
	 * over it, whatever name each was attached under. */
	if (xhp_loopmap_users(dev, ino, add_user, s) != 0)
		return -1;
	return xhp_vnd_users(dev, ino, add_md, s) == 0 ? 0 : -1;
}

int xhp_id_expand_blk(struct xhp_idset *s, unsigned long maj,
		      unsigned long min)
{
	dev_t dev;
	ino_t ino;
	int r;

	if (xhp_id_add_blk(s, maj, min) == -1)
		return -1;
	if (maj > 0xfffUL || min > 0xfffffUL)
		return 0;
	r = xhp_loopmap_backing((unsigned int)maj, (unsigned int)min, &dev,
				&ino);
	if (r == 1)
		r = xhp_vnd_backing(maj, min, &dev, &ino);
	if (r == -1)
		return -1;
	if (r == 1)
		return 0;
	/* A loop device (a vnd unit, or a partition of one) stands for its
	 * backing file, which other units may also serve. */
	return xhp_id_expand_file(s, dev, ino);
}

int xhp_id_expand_st(struct xhp_idset *s, const struct stat *st)
{
	unsigned long maj = xhp_id_major(st->st_rdev),
		      min = xhp_id_minor(st->st_rdev);

	/* And where its sectors live, for the overlap with other stacks. */
	if (S_ISBLK(st->st_mode)) {
		xhp_stack_blk(s, maj, min);
		return xhp_id_expand_blk(s, maj, min);
	}
	if (S_ISREG(st->st_mode)) {
		s->isfile = 1;
		return xhp_id_expand_file(s, st->st_dev, st->st_ino);
	}
	return 1;
}

/* A file, and every md unit and loop device over it. */
static int expand_served(struct xhp_idset *s, dev_t dev, ino_t ino)
{
	if (xhp_id_expand_file(s, dev, ino) == -1)
		return -1;
	return xhp_md_users(dev, ino, add_md, s) == 0 ? 0 : -1;
}

int xhp_id_expand_opened(struct xhp_idset *s, const struct stat *st)
{
	unsigned long maj = xhp_id_major(st->st_rdev),
		      min = xhp_id_minor(st->st_rdev);
	dev_t dev;
	ino_t ino;
	int r;

	if (S_ISREG(st->st_mode)) {
		s->isfile = 1;
		return expand_served(s, st->st_dev, st->st_ino);
	}
	if (S_ISBLK(st->st_mode))
		r = xhp_id_expand_st(s, st);
	else if (S_ISCHR(st->st_mode)) {
		/* FreeBSD's disks: the device, and where its sectors live in
		 * the GEOM tree (its partitions' disk, a label's partition). */
		xhp_stack_blk(s, maj, min);
		r = xhp_id_add_blk(s, maj, min);
	}
	else
		return 1;
	if (r == -1)
		return -1;
	/* An md unit stands for its image, and so for the other units and
	 * the files over that image. */
	r = xhp_md_backing(maj, min, &dev, &ino);
	if (r != 0)
		return r == -1 ? -1 : 0;
	return expand_served(s, dev, ino);
}
