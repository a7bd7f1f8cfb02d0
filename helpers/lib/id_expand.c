#include "xhp.h"

static int add_user(unsigned int maj, unsigned int min, void *ctx)
{
	return xhp_idset_add_blk(ctx, maj, min) == -1 ? -1 : 0;
}

int xhp_idset_expand_file(struct xhp_idset *s, dev_t dev, ino_t ino)
{
	if (xhp_idset_add_file(s, dev, ino) == -1)
		return -1;
	/* A file is in use through every loop device over it, whatever
	 * name each was attached under. */
	return xhp_loop_users(dev, ino, add_user, s) == 0 ? 0 : -1;
}

int xhp_idset_expand_blk(struct xhp_idset *s, unsigned long maj,
			 unsigned long min)
{
	dev_t dev;
	ino_t ino;
	int r;

	if (xhp_idset_add_blk(s, maj, min) == -1)
		return -1;
	if (maj > 0xfffUL || min > 0xfffffUL)
		return 0;
	r = xhp_loop_backing((unsigned int)maj, (unsigned int)min, &dev, &ino);
	if (r == -1)
		return -1;
	if (r == 1)
		return 0;
	/* A loop device stands for its backing file, which other loop
	 * devices may also serve. */
	return xhp_idset_expand_file(s, dev, ino);
}
