#include <errno.h>
#include <sys/stat.h>

#include "xhp.h"

void xhp_stat_blk(const char *path, int fmt, char *mm)
{
	struct stat st;

	if (stat(path, &st) == -1)
		xhp_die_sys(errno == ENOENT || errno == ENOTDIR ? XHP_NO :
			    XHP_SYS, "unable to stat %s", path);
	if (!S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "%s is not a block device", path);
	if (xhp_fmt_majmin(mm, xhp_dev_major(st.st_rdev),
			   xhp_dev_minor(st.st_rdev), fmt) == -1)
		xhp_die_sys(XHP_NO, "unable to encode the device of %s", path);
}
