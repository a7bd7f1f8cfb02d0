/* SPDX-License-Identifier: LGPL-2.1-only */
/* claim.c: the Linux kernel's claims on the target's devices (dom0.c).
 * An open with O_EXCL fails with EBUSY while anything has claimed a block
 * device: a mounted filesystem in any mount namespace, active swap, a
 * holder (device-mapper, md, bcache). blkback does not claim, so a guest's
 * use never shows here. A claim is then explained from sysfs (the
 * holders), /proc/swaps and the mount tables of the other mount
 * namespaces; a read-only request may sit beside a read-only mount, and
 * anything else that claims the device refuses. Elsewhere there is no
 * such probe: nothing is claimed. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xhp.h"

#ifdef __linux__
/* Has something claimed MAJ:MIN? 1 when an exclusive open fails with
 * EBUSY; 0 when it succeeds, or cannot tell (no node for it, no medium,
 * a loop device with nothing bound). */
static int claimed(unsigned long maj, unsigned long min)
{
	char node[PATH_MAX];
	int fd;

	if (xhp_sysfs_node(maj, min, node) == -1)
		return 0;
	/* Read-only: closing a device opened for writing makes udev probe
	 * it again. */
	fd = open(node, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return errno == EBUSY;
	(void)close(fd);
	return 0;
}

/* The disk of partition MAJ:MIN into *DMAJ:*DMIN; -1 for no partition. */
static int disk_of(unsigned long maj, unsigned long min, unsigned long *dmaj,
		   unsigned long *dmin)
{
	char dir[PATH_MAX], buf[16];

	if (xhp_sysfs_dir(maj, min, dir) == -1 ||
	    xhp_sysfs_read(dir, "partition", buf, sizeof(buf)) == -1)
		return -1;
	*strrchr(dir, '/') = '\0';
	return xhp_sysfs_dev(dir, "dev", dmaj, dmin);
}

/* The first holder of MAJ:MIN (device-mapper, md, bcache), into NAME. */
static int holder(unsigned long maj, unsigned long min, char *name, size_t n)
{
	char dir[PATH_MAX], p[PATH_MAX], sub[PATH_MAX];
	unsigned long hmaj, hmin;
	struct dirent *e;
	int found = 0;
	DIR *d;

	if (xhp_sysfs_dir(maj, min, dir) == -1)
		return 0;
	xhp_sysfs_join(p, dir, "holders");
	d = opendir(p);
	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		xhp_sysfs_join(sub, p, e->d_name);
		if (xhp_sysfs_dev(sub, "dev", &hmaj, &hmin) == -1)
			continue;
		xhp_stack_name(hmaj, hmin, name, n);
		found = 1;
	}
	(void)closedir(d);
	return found;
}

/* Is MAJ:MIN active swap (/proc/swaps)? */
static int swap(unsigned long maj, unsigned long min)
{
	char *line = NULL, *p, *q;
	size_t cap = 0;
	struct stat st;
	int found = 0;
	FILE *f;

	f = fopen("/proc/swaps", "r");
	if (f == NULL)
		return 0;
	while (!found && getline(&line, &cap, f) != -1) {
		/* The name, with blanks escaped as \040: cut at the first
		 * blank and undo the octal escapes. */
		for (p = q = line; *p != '\0' && *p != ' ' && *p != '\t';
		     p++, q++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
			    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
			    p[3] <= '7') {
				*q = (char)((p[1] - '0') << 6 |
					    (p[2] - '0') << 3 | (p[3] - '0'));
				p += 3;
			} else {
				*q = *p;
			}
		}
		*q = '\0';
		found = line[0] == '/' && stat(line, &st) == 0 &&
			S_ISBLK(st.st_mode) &&
			xhp_id_major(st.st_rdev) == maj &&
			xhp_id_minor(st.st_rdev) == min;
	}
	free(line);
	(void)fclose(f);
	return found;
}

/* The mount tables of every other mount namespace, once each. */
static int other_ns(struct xhp_share *c, const struct xhp_devs *all,
		    struct xhp_devs *seen)
{
	char self[64], ns[64], p[300], **done = NULL;
	size_t ndone = 0, i;
	struct dirent *e;
	ssize_t len;
	int busy = 0;
	char *end;
	long pid;
	DIR *d;

	len = readlink("/proc/self/ns/mnt", self, sizeof(self) - 1);
	if (len <= 0)
		return 0;
	self[len] = '\0';
	d = opendir("/proc");
	if (d == NULL)
		xhp_die_sys(XHP_SYS, "unable to list /proc");
	while (!busy && (e = readdir(d)) != NULL) {
		pid = strtol(e->d_name, &end, 10);
		if (pid <= 0 || *end != '\0')
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/ns/mnt", pid);
		len = readlink(p, ns, sizeof(ns) - 1);
		if (len <= 0)
			continue;
		ns[len] = '\0';
		if (strcmp(ns, self) == 0)
			continue;
		for (i = 0; i < ndone && strcmp(done[i], ns) != 0; i++)
			;
		if (i < ndone)
			continue;
		done = realloc(done, (ndone + 1) * sizeof(*done));
		if (done == NULL || (done[ndone] = strdup(ns)) == NULL)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
		ndone++;
		snprintf(p, sizeof(p), "/proc/%ld/mountinfo", pid);
		busy = xhp_dom0_table(c, p, all, seen, pid);
	}
	(void)closedir(d);
	for (i = 0; i < ndone; i++)
		free(done[i]);
	free(done);
	return busy;
}

/* MAJ:MIN is claimed: why? 1 (busy, C's verdict set) for a holder, swap,
 * a read-write mount (or any mount for a read-write request) in another
 * namespace, or a claim nothing explains; 0 when only read-only mounts
 * beside a read-only request explain it. */
static int explain(struct xhp_share *c, unsigned long maj, unsigned long min,
		   const struct xhp_devs *all, struct xhp_devs *seen)
{
	char name[300];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	if (holder(maj, min, name, sizeof(name)))
		return xhp_dom0_local(c, maj, min, name, 0, "is held by %s in "
				      "the privileged domain", name);
	if (swap(maj, min))
		return xhp_dom0_local(c, maj, min, "swap", 0, "is active swap "
				      "in the privileged domain");
	if (other_ns(c, all, seen))
		return 1;
	if (xhp_dom0_has(seen, maj, min))
		return 0;
	/* A claim for an instant (another add's exclusive open, this very
	 * check) goes away: look again before calling it a use. */
	for (i = 0; i < 5; i++) {
		(void)nanosleep(&ts, NULL);
		if (!claimed(maj, min))
			return 0;
	}
	return xhp_dom0_local(c, maj, min, "exclusive", 0, "is in exclusive "
			      "use in the privileged domain (opened with "
			      "O_EXCL, by a process or by the kernel)");
}

int xhp_claim_check(struct xhp_share *c, const struct xhp_devs *probe,
		    size_t nown, const struct xhp_devs *all,
		    struct xhp_devs *seen)
{
	struct xhp_devs disks = { NULL, 0, 0 };
	unsigned long maj, min, dmaj, dmin;
	size_t i;
	int busy = 0;

	for (i = nown; !busy && i < probe->n; i++) {
		maj = probe->d[i].maj;
		min = probe->d[i].min;
		if (!xhp_dom0_has(seen, maj, min) && !claimed(maj, min))
			continue;
		if (!xhp_dom0_has(seen, maj, min))
			busy = explain(c, maj, min, all, seen);
		if (disk_of(maj, min, &dmaj, &dmin) == 0)
			xhp_dom0_add(&disks, dmaj, dmin);
	}
	for (i = 0; !busy && i < nown; i++) {
		maj = probe->d[i].maj;
		min = probe->d[i].min;
		if (xhp_dom0_has(seen, maj, min) ||
		    xhp_dom0_has(&disks, maj, min) || !claimed(maj, min))
			continue;
		busy = explain(c, maj, min, all, seen);
	}
	free(disks.d);
	return busy;
}
#else
int xhp_claim_check(struct xhp_share *c, const struct xhp_devs *probe,
		    size_t nown, const struct xhp_devs *all,
		    struct xhp_devs *seen)
{
	(void)c;
	(void)probe;
	(void)nown;
	(void)all;
	(void)seen;
	return 0;
}
#endif
