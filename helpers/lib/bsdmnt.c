/* SPDX-License-Identifier: LGPL-2.1-only */
/* bsdmnt.c: is the target mounted in a BSD dom0 (FreeBSD, NetBSD)? The
 * BSD half of the check against dom0's own use (dom0.c holds Linux's):
 * the kernel's mount list (getmntinfo(3)), or a `mount -p` list given in
 * its place, against the target's identity set. A BSD kernel has no
 * O_EXCL claim to ask, so the mounts are all there is; on NetBSD the raw
 * partition (kern.rawpartition) spans its disk and every partition on
 * it. */
#define _DEFAULT_SOURCE
/* NetBSD hides getmntinfo() and sysctlbyname() likewise. */
#define _NETBSD_SOURCE
/* FreeBSD hides getmntinfo() and the like under _POSIX_C_SOURCE alone. */
#if defined(__FreeBSD__) && !defined(__BSD_VISIBLE)
#define __BSD_VISIBLE 1
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __FreeBSD__
#include <sys/param.h>
#include <sys/ucred.h>
#include <sys/mount.h>
/* getmntinfo(3) gives struct statfs, read-only in f_flags. */
#define BSD_MNT struct statfs
#define BSD_MNT_FLAGS f_flags
#define BSD_MNT_RDONLY MNT_RDONLY
#endif
#ifdef __NetBSD__
#include <sys/types.h>
#include <sys/statvfs.h>
#include <sys/sysctl.h>
/* NetBSD's getmntinfo(3) gives struct statvfs, read-only in f_flag. */
#define BSD_MNT struct statvfs
#define BSD_MNT_FLAGS f_flag
#define BSD_MNT_RDONLY ST_RDONLY
#endif

#include "xhp.h"

/* The mount of SOURCE at MNT (RW: read-write): is it one of C's devices,
 * in a conflicting mode? FreeBSD mounts character devices (a disk, a
 * GEOM partition, an md unit); a source that is no device (a ZFS
 * dataset, tmpfs, NFS) is no guest's disk. */
static int bsd_mount(struct xhp_share *c, const char *source,
		     const char *mnt, int rw)
{
	unsigned long maj, min;
	struct xhp_idset o;
	struct stat st;
	int meet;

	if (source[0] != '/' || stat(source, &st) == -1 ||
	    !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
		return 0;
	maj = xhp_id_major(st.st_rdev);
	min = xhp_id_minor(st.st_rdev);
	if (c->mode == 'r' && !rw)
		return 0;
	if (c->rawpart > 0 && min % XHP_NB_MAXPART !=
	    (unsigned long)c->rawpart - 1 &&
	    xhp_id_has_blk(&c->ids, maj, min - min % XHP_NB_MAXPART +
			   (unsigned long)c->rawpart - 1))
		/* NetBSD: the raw partition spans the disk, and so every
		 * partition on it; the others (wd0e beside wd0a) do not
		 * meet. */
		return xhp_dom0_local(c, maj, min, mnt, 0, "is a partition "
				      "of the disk, mounted %sin the "
				      "privileged domain at %s", c->mode ==
				      'w' ? "" : "read-write ", mnt);
	if (!xhp_id_has_blk(&c->ids, maj, min)) {
		/* Another provider over the same sectors: a partition of our
		 * disk, the disk of our partition, a label of either. */
		memset(&o, 0, sizeof(o));
		xhp_stack_blk(&o, maj, min);
		meet = xhp_stack_overlap(&c->ids, &o) != NULL;
		xhp_id_free(&o);
		if (!meet)
			return 0;
	}
	return xhp_dom0_local(c, maj, min, mnt, 1, "is mounted %sin the "
			      "privileged domain at %s", c->mode == 'w' ? "" :
			      "read-write ", mnt);
}

/* The mount list FSTAB, `mount -p` lines. */
static int bsd_fstab(struct xhp_share *c, const char *fstab)
{
	struct xhp_mount m;
	char *line = NULL;
	size_t cap = 0;
	int busy = 0;
	FILE *f;

	f = fopen(fstab, "r");
	if (f == NULL)
		xhp_die_sys(XHP_SYS, "unable to open %s", fstab);
	errno = 0;
	while (!busy && getline(&line, &cap, f) != -1)
		if (xhp_table_fstab(line, &m) == 0)
			busy = bsd_mount(c, m.source, m.mnt, m.sb_rw);
	if (!busy && ferror(f))
		xhp_die_sys(XHP_SYS, "unable to read %s", fstab);
	free(line);
	if (fclose(f) == EOF)
		xhp_die_sys(XHP_SYS, "unable to close %s", fstab);
	return busy;
}

int xhp_bsdmnt_check(struct xhp_share *c, const char *fstab)
{
#if defined(__FreeBSD__) || defined(__NetBSD__)
	BSD_MNT *fs;
	int i, n, busy = 0;

	if (fstab == NULL) {
		/* MNT_NOWAIT: the kernel's list as it is, without asking a
		 * hung NFS server for its statistics. */
		n = getmntinfo(&fs, MNT_NOWAIT);
		if (n == 0)
			xhp_die_sys(XHP_SYS, "unable to list the mounts "
				    "(getmntinfo)");
		for (i = 0; !busy && i < n; i++)
			busy = bsd_mount(c, fs[i].f_mntfromname,
					 fs[i].f_mntonname,
					 (fs[i].BSD_MNT_FLAGS & BSD_MNT_RDONLY)
					 == 0);
		return busy;
	}
#else
	if (fstab == NULL)
		return 0;
#endif
	return bsd_fstab(c, fstab);
}

int xhp_bsdmnt_rawpartition(void)
{
#ifdef __NetBSD__
	int raw;
	size_t len = sizeof(raw);

	if (sysctlbyname("kern.rawpartition", &raw, &len, NULL, 0) == -1)
		xhp_die_sys(XHP_SYS, "unable to read kern.rawpartition");
	if (raw < 0 || raw >= XHP_NB_MAXPART)
		xhp_die(XHP_SYS, "kern.rawpartition %d is out of range", raw);
	return raw;
#else
	return 3;
#endif
}
