/* SPDX-License-Identifier: LGPL-2.1-only */
/* stack.c: where a block device's sectors live (docs/block-scripts.md,
 * "In use"). Block devices nest: a partition is a range of its disk, a
 * loop device a range of its backing file or device, and device-mapper,
 * md and bcache devices sit on their slaves. Two users conflict when the
 * sectors they reach at the bottom of their stacks intersect, whichever
 * layer each was given. This is the identity set's record of it (the
 * extents at the bottom, the devices passed on the way) and whether two
 * sets meet; FreeBSD's GEOM tree (geom.c) fills it where it knows the
 * device, else the walk of Linux's block-device graph (blkdev.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

static void add_ext(struct xhp_idset *s, const struct xhp_ext *e)
{
	if (e->lo >= e->hi)
		return;
	s->ext = xhp_grow(s->ext, s->next, &s->aext, sizeof(*s->ext));
	s->ext[s->next++] = *e;
}

void xhp_stack_add_ext_blk(struct xhp_idset *s, unsigned long maj,
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

void xhp_stack_add_via(struct xhp_idset *s, unsigned long maj,
		       unsigned long min, int kind, int depth, uint64_t lo,
		       uint64_t hi)
{
	struct xhp_via *v;
	size_t i;

	for (i = 0; i < s->nvia; i++)
		if (s->via[i].maj == maj && s->via[i].min == min)
			return;
	s->via = xhp_grow(s->via, s->nvia, &s->avia, sizeof(*s->via));
	v = &s->via[s->nvia++];
	v->maj = maj;
	v->min = min;
	v->kind = kind;
	v->depth = depth;
	v->lo = lo;
	v->hi = hi;
}

uint64_t xhp_stack_add_sat(uint64_t a, uint64_t b)
{
	return a > XHP_EXT_ALL - b ? XHP_EXT_ALL : a + b;
}

/* One provider of a GEOM walk (geom.c): depth 0 is where the sectors
 * live, the rest the providers passed on the way down. */
static void geom_add(const struct xhp_via *v, void *ctx)
{
	if (v->depth == 0)
		xhp_stack_add_ext_blk(ctx, v->maj, v->min, v->lo, v->hi);
	else
		xhp_stack_add_via(ctx, v->maj, v->min, v->kind, v->depth, v->lo,
				  v->hi);
}

/* A device the GEOM tree knows (FreeBSD): 1 with S filled from it. */
static int geom_stack(struct xhp_idset *s, unsigned long maj,
		      unsigned long min)
{
	return xhp_geom_walk(maj, min, geom_add, s) > 0;
}

void xhp_stack_blk(struct xhp_idset *s, unsigned long maj, unsigned long min)
{
	if (!geom_stack(s, maj, min))
		xhp_blkdev_walk(s, maj, min);
}

void xhp_stack_name(unsigned long maj, unsigned long min, char *buf,
		    size_t n)
{
	if (xhp_geom_name(maj, min, buf, n) == 0)
		return;
	xhp_blkdev_name(maj, min, buf, n);
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
