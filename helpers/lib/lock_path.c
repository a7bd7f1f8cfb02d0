#include <errno.h>
#include <sys/stat.h>

#include "xhp.h"

int xhp_lock_path(const char *path, struct stat *st)
{
	if (lstat(path, st) == -1) {
		if (errno == ENOENT)
			return 1;
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	}
	/* Whoever can plant a symlink there could make us create or lock
	 * (and later unlink) any file. */
	if (S_ISLNK(st->st_mode))
		xhp_die(XHP_SYS, "unable to use %s: lock file is a symlink",
			path);
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_SYS,
			"unable to use %s: lock file is not a regular file",
			path);
	return 0;
}
