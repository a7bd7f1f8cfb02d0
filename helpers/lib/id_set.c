#include <errno.h>
#include <stdlib.h>

#include "xhp.h"

/* A target has one device, a backing file and the few loop devices over
 * it: linear search beats any structure here. */

int xhp_idset_has_blk(const struct xhp_idset *s, unsigned long maj,
		      unsigned long min)
{
	for (size_t i = 0; i < s->nblk; i++)
		if (s->blk[i].maj == maj && s->blk[i].min == min)
			return 1;
	return 0;
}

int xhp_idset_has_file(const struct xhp_idset *s, dev_t dev, ino_t ino)
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

int xhp_idset_add_blk(struct xhp_idset *s, unsigned long maj,
		      unsigned long min)
{
	struct xhp_blkid *p;

	if (xhp_idset_has_blk(s, maj, min))
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

int xhp_idset_add_file(struct xhp_idset *s, dev_t dev, ino_t ino)
{
	struct xhp_fileid *p;

	if (xhp_idset_has_file(s, dev, ino))
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

void xhp_idset_free(struct xhp_idset *s)
{
	free(s->blk);
	free(s->file);
	s->blk = NULL;
	s->file = NULL;
	s->nblk = s->ablk = s->nfile = s->afile = 0;
}
