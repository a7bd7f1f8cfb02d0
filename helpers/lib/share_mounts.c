#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "xhp.h"

int xhp_share_mounts(struct xhp_share *c, const char *file)
{
	struct xhp_mount m;
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	int busy = 0;
	FILE *f;

	f = fopen(file, "r");
	if (f == NULL)
		xhp_die_sys(XHP_SYS, "unable to open %s", file);
	errno = 0;
	while (!busy && getline(&line, &cap, f) != -1) {
		if (xhp_parse_mountinfo(line, &m) == -1)
			continue;
		/* Major 0 is an anonymous device (btrfs, for one): the source
		 * names the real block device. */
		if (m.maj == 0) {
			if (m.source[0] != '/' || stat(m.source, &st) == -1 ||
			    !S_ISBLK(st.st_mode))
				continue;
			m.maj = xhp_dev_major(st.st_rdev);
			m.min = xhp_dev_minor(st.st_rdev);
		}
		if (!xhp_idset_has_blk(&c->ids, m.maj, m.min))
			continue;
		if (c->mode == 'r' && !m.sb_rw)
			continue;
		busy = xhp_share_busy(c, "local", m.maj, m.min, m.mnt);
	}
	if (!busy && ferror(f))
		xhp_die_sys(XHP_SYS, "unable to read %s", file);
	free(line);
	if (fclose(f) == EOF)
		xhp_die_sys(XHP_SYS, "unable to close %s", file);
	return busy;
}
