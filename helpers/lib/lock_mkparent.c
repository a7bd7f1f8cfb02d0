#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "xhp.h"

/* As locking.sh does for its base directory: the lock directory lives on
 * a tmpfs and is gone after every boot. */
void xhp_lock_mkparent(const char *path)
{
	char dir[PATH_MAX], *p;
	size_t n;

	n = strlen(path);
	if (n >= sizeof(dir))
		xhp_die(XHP_SYS, "unable to use %s: path too long", path);
	memcpy(dir, path, n + 1);
	p = strrchr(dir, '/');
	if (p == NULL || p == dir)
		return;
	*p = '\0';
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* 0755 whatever the caller's umask, as documented. */
			if (chmod(dir, 0755) == -1)
				xhp_die_sys(XHP_SYS, "unable to chmod %s", dir);
		} else if (errno != EEXIST) {
			xhp_die_sys(XHP_SYS, "unable to create directory %s",
				    dir);
		}
		*p = c;
		if (c == '\0')
			break;
	}
}
