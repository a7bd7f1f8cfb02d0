#include <sys/stat.h>

#include "xhp.h"

int xhp_idset_expand_st(struct xhp_idset *s, const struct stat *st)
{
	if (S_ISBLK(st->st_mode))
		return xhp_idset_expand_blk(s, xhp_dev_major(st->st_rdev),
					    xhp_dev_minor(st->st_rdev));
	if (S_ISREG(st->st_mode))
		return xhp_idset_expand_file(s, st->st_dev, st->st_ino);
	return 1;
}
