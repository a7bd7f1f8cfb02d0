/* SPDX-License-Identifier: LGPL-2.1-only */
/* dom0.c: is the target in use by the privileged domain itself
 * (docs/block-scripts.md, "In use")? dom0 uses a device by mounting it
 * (in any mount namespace), by swapping on it, or by stacking a holder on
 * it (device-mapper, md); it uses an image through a loop device. Each of
 * those uses is a use of every layer of the same stack: a mounted
 * partition is a use of its whole disk.
 *
 * Two sources, one rule. The mount table (ours, or the one given with -M)
 * names the mounts; on Linux the kernel's claims (claim.c) are the truth
 * for the rest. A read-only request may sit beside a read-only mount;
 * anything else refuses. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xhp.h"

int xhp_dom0_has(const struct xhp_devs *s, unsigned long maj,
		 unsigned long min)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->d[i].maj == maj && s->d[i].min == min)
			return 1;
	return 0;
}

void xhp_dom0_add(struct xhp_devs *s, unsigned long maj, unsigned long min)
{
	if (xhp_dom0_has(s, maj, min))
		return;
	s->d = xhp_grow(s->d, s->n, &s->a, sizeof(*s->d));
	s->d[s->n].maj = maj;
	s->d[s->n].min = min;
	s->n++;
}

static void add_cb(unsigned long maj, unsigned long min, void *ctx)
{
	xhp_dom0_add(ctx, maj, min);
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

int xhp_dom0_table(struct xhp_share *c, const char *file,
		   const struct xhp_devs *all, struct xhp_devs *seen, long pid)
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
		if (!xhp_dom0_has(all, m.maj, m.min))
			continue;
		if (c->mode == 'r' && !m.sb_rw) {
			xhp_dom0_add(seen, m.maj, m.min);
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

int xhp_dom0_check(struct xhp_share *c, const char *mountinfo)
{
	struct xhp_devs probe = { NULL, 0, 0 }, all = { NULL, 0, 0 },
		    seen = { NULL, 0, 0 };
	size_t i, nown;
	int busy;

	/* The target's own devices, then the partitions that meet it (the
	 * kernel's to claim, so probed), then the devices below it (which
	 * its own stack claims: only the mount table counts there). */
	for (i = 0; i < c->ids.nblk; i++)
		xhp_dom0_add(&probe, c->ids.blk[i].maj, c->ids.blk[i].min);
	nown = probe.n;
	xhp_part_above(&c->ids, add_cb, &all);
	/* A partition the stack itself passes through (an LV's physical
	 * volume) is claimed by that stack: not probed. */
	for (i = 0; i < all.n; i++)
		if (xhp_stack_via(&c->ids, all.d[i].maj, all.d[i].min) == NULL)
			xhp_dom0_add(&probe, all.d[i].maj, all.d[i].min);
	for (i = 0; i < probe.n; i++)
		xhp_dom0_add(&all, probe.d[i].maj, probe.d[i].min);
	for (i = 0; i < c->ids.nvia; i++)
		xhp_dom0_add(&all, c->ids.via[i].maj, c->ids.via[i].min);
	busy = xhp_dom0_table(c, mountinfo, &all, &seen, 0);
	if (!busy)
		busy = xhp_claim_check(c, &probe, nown, &all, &seen);
	free(probe.d);
	free(all.d);
	free(seen.d);
	return busy;
}
