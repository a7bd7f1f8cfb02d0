/* SPDX-License-Identifier: LGPL-2.1-only */
/* dom0.c: is the target in use by the privileged domain itself
 * (docs/block-scripts.md, "In use")? dom0 uses a device by mounting it
 * (in any mount namespace), by swapping on it, or by stacking a holder on
 * it (device-mapper, md); it uses an image through a loop device. Each of
 * those uses is a use of every layer of the same stack: a mounted
 * partition is a use of its whole disk.
 *
 * Two sources, one rule. The mount table (ours, or the one given with -M)
 * names the mounts. On Linux the kernel itself is the truth for the rest:
 * an open with O_EXCL fails with EBUSY while anything has claimed the
 * device (a mounted filesystem, active swap, a holder). blkback does not
 * claim, so a guest's use never shows here. A claim the mount table does
 * not explain is looked up: the holders in sysfs, /proc/swaps, the mount
 * tables of the other mount namespaces. A read-only request may sit
 * beside a read-only mount; anything else that claims the device
 * refuses. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xhp.h"

/* A small set of block devices. */
struct devs {
	struct xhp_blkid *d;
	size_t n, a;
};

static int has(const struct devs *s, unsigned long maj, unsigned long min)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->d[i].maj == maj && s->d[i].min == min)
			return 1;
	return 0;
}

static void add(struct devs *s, unsigned long maj, unsigned long min)
{
	if (has(s, maj, min))
		return;
	if (s->n == s->a) {
		s->a = s->a ? 2 * s->a : 8;
		s->d = realloc(s->d, s->a * sizeof(*s->d));
		if (s->d == NULL)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
	}
	s->d[s->n].maj = maj;
	s->d[s->n].min = min;
	s->n++;
}

static void add_cb(unsigned long maj, unsigned long min, void *ctx)
{
	add(ctx, maj, min);
}

int xhp_dom0_local(struct xhp_share *c, unsigned long maj, unsigned long min,
		   const char *where, int plain, const char *fmt, ...)
{
	char what[PATH_MAX + 256], *rel;
	va_list ap;
	int n;

	xhp_share_busy(c, "local", maj, min, where);
	rel = xhp_share_relation(c, maj, min);
	if (rel == NULL && plain)
		return 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	n = rel == NULL ?
		    snprintf(NULL, 0, "(device %lx:%lx) %s", maj, min, what) :
		    snprintf(NULL, 0, "%s, which %s", rel, what);
	if (n < 0 || (c->rel = malloc((size_t)n + 1)) == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	if (rel == NULL)
		snprintf(c->rel, (size_t)n + 1, "(device %lx:%lx) %s", maj, min,
			 what);
	else
		snprintf(c->rel, (size_t)n + 1, "%s, which %s", rel, what);
	free(rel);
	return 1;
}

/* The mount table FILE (of process PID's mount namespace; 0: ours)
 * against ALL. A read-write mount, or any mount for a read-write request,
 * is busy; a read-only mount beside a read-only request is recorded in
 * SEEN. */
static int table(struct xhp_share *c, const char *file, const struct devs *all,
		 struct devs *seen, long pid)
{
	struct xhp_mount m;
	struct stat st;
	char *line = NULL, ns[64] = "";
	size_t cap = 0;
	int busy = 0;
	FILE *f;

	f = fopen(file, "r");
	if (f == NULL) {
		/* A process of another namespace may be gone already. */
		if (pid != 0 && errno == ENOENT)
			return 0;
		xhp_die_sys(XHP_SYS, "unable to open %s", file);
	}
	if (pid != 0)
		snprintf(ns, sizeof(ns), ", in the mount namespace of process "
			 "%ld", pid);
	errno = 0;
	while (!busy && getline(&line, &cap, f) != -1) {
		if (xhp_table_mountinfo(line, &m) == -1)
			continue;
		/* Major 0 is an anonymous device (btrfs, for one): the source
		 * names the real block device. */
		if (m.maj == 0) {
			if (m.source[0] != '/' || stat(m.source, &st) == -1 ||
			    !S_ISBLK(st.st_mode))
				continue;
			m.maj = xhp_id_major(st.st_rdev);
			m.min = xhp_id_minor(st.st_rdev);
		}
		if (!has(all, m.maj, m.min))
			continue;
		if (c->mode == 'r' && !m.sb_rw) {
			add(seen, m.maj, m.min);
			continue;
		}
		busy = xhp_dom0_local(c, m.maj, m.min, m.mnt, pid == 0,
				      "is mounted %sin the privileged domain "
				      "at %s%s", c->mode == 'w' ? "" :
				      "read-write ", m.mnt, ns);
	}
	if (!busy && ferror(f))
		xhp_die_sys(XHP_SYS, "unable to read %s", file);
	free(line);
	if (fclose(f) == EOF)
		xhp_die_sys(XHP_SYS, "unable to close %s", file);
	return busy;
}

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
static int other_ns(struct xhp_share *c, const struct devs *all,
		    struct devs *seen)
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
		busy = table(c, p, all, seen, pid);
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
		   const struct devs *all, struct devs *seen)
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
	if (has(seen, maj, min))
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

/* The kernel's claims on PROBE: the partitions that meet the target
 * (index NOWN on) first, then the target's own devices. A whole disk is
 * claimed while any of its partitions is, so a claimed partition already
 * explained explains its disk's claim too. */
static int claims(struct xhp_share *c, const struct devs *probe, size_t nown,
		  const struct devs *all, struct devs *seen)
{
	struct devs disks = { NULL, 0, 0 };
	unsigned long maj, min, dmaj, dmin;
	size_t i;
	int busy = 0;

	for (i = nown; !busy && i < probe->n; i++) {
		maj = probe->d[i].maj;
		min = probe->d[i].min;
		if (!has(seen, maj, min) && !claimed(maj, min))
			continue;
		if (!has(seen, maj, min))
			busy = explain(c, maj, min, all, seen);
		if (disk_of(maj, min, &dmaj, &dmin) == 0)
			add(&disks, dmaj, dmin);
	}
	for (i = 0; !busy && i < nown; i++) {
		maj = probe->d[i].maj;
		min = probe->d[i].min;
		if (has(seen, maj, min) || has(&disks, maj, min) ||
		    !claimed(maj, min))
			continue;
		busy = explain(c, maj, min, all, seen);
	}
	free(disks.d);
	return busy;
}
#endif

int xhp_dom0_check(struct xhp_share *c, const char *mountinfo)
{
	struct devs probe = { NULL, 0, 0 }, all = { NULL, 0, 0 },
		    seen = { NULL, 0, 0 };
	size_t i, nown;
	int busy;

	/* The target's own devices, then the partitions that meet it (the
	 * kernel's to claim, so probed), then the devices below it (which
	 * its own stack claims: only the mount table counts there). */
	for (i = 0; i < c->ids.nblk; i++)
		add(&probe, c->ids.blk[i].maj, c->ids.blk[i].min);
	nown = probe.n;
	xhp_part_above(&c->ids, add_cb, &all);
	/* A partition the stack itself passes through (an LV's physical
	 * volume) is claimed by that stack: not probed. */
	for (i = 0; i < all.n; i++)
		if (xhp_stack_via(&c->ids, all.d[i].maj, all.d[i].min) == NULL)
			add(&probe, all.d[i].maj, all.d[i].min);
	for (i = 0; i < probe.n; i++)
		add(&all, probe.d[i].maj, probe.d[i].min);
	for (i = 0; i < c->ids.nvia; i++)
		add(&all, c->ids.via[i].maj, c->ids.via[i].min);
	busy = table(c, mountinfo, &all, &seen, 0);
#ifdef __linux__
	if (!busy)
		busy = claims(c, &probe, nown, &all, &seen);
#else
	(void)nown;
#endif
	free(probe.d);
	free(all.d);
	free(seen.d);
	return busy;
}
