/* SPDX-License-Identifier: LGPL-2.1-only */
/* vnd.c: NetBSD's vnd(4) units over image files (docs/netbsd.md). An
 * image is in use through every unit that serves it, and a unit stands
 * for its image, as a Linux loop device does (loop.c) and a FreeBSD md
 * unit (md.c). The kernel records a unit's file by its identity (the
 * file system's device and the inode, VNDIOCGET), so a unit is told from
 * a file by (st_dev, st_ino), never by name.
 *
 * On NetBSD the units are the kernel's (vndkern.c: VNDIOCGET, VNDIOCSET,
 * VNDIOCCLR); elsewhere (the tests on Linux) a vnd table file stands in
 * for the kernel (vndtab.c), one line a configured unit. Here are the
 * lookups over either and the binding, under the hotplug lock: attach
 * configures a free unit (EBUSY when someone took it first: the next one
 * is tried, so finding and configuring is one step), detach unconfigures
 * one after VNDIOCGET has shown that it is still backed by the file
 * recorded. */
#define _DEFAULT_SOURCE
#define _NETBSD_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "xhp.h"

static struct {
	const char *tab, *devdir;
	int raw;
} vnd = { NULL, "/dev", 3 };

void xhp_vnd_source(const char *tab, const char *devdir, int raw)
{
	vnd.tab = tab;
	vnd.devdir = devdir != NULL ? devdir : "/dev";
	vnd.raw = raw;
}

int xhp_vnd_node(char *buf, size_t n, unsigned long unit, int chr)
{
	return (size_t)snprintf(buf, n, "%s/%svnd%lu%c", vnd.devdir,
				chr ? "r" : "", unit, 'a' + vnd.raw) >= n ? -1 : 0;
}

/* The block node of UNIT: 0 with its MAJ:MIN, 1 when there is none. */
static int node_dev(unsigned long unit, unsigned long *maj,
		    unsigned long *min)
{
	char node[PATH_MAX];
	struct stat st;

	if (xhp_vnd_node(node, sizeof(node), unit, 0) == -1 ||
	    stat(node, &st) == -1 || !S_ISBLK(st.st_mode))
		return 1;
	*maj = xhp_id_major(st.st_rdev);
	*min = xhp_id_minor(st.st_rdev);
	return 0;
}

int xhp_vnd_unit(const char *node, unsigned long *unit)
{
	size_t d = strlen(vnd.devdir), len;
	char want[PATH_MAX];
	const char *p;

	if (strncmp(node, vnd.devdir, d) != 0 ||
	    strncmp(node + d, "/vnd", 4) != 0)
		return -1;
	p = node + d + 4;
	len = strspn(p, "0123456789");
	if (len == 0 || len > 4 || (len > 1 && p[0] == '0'))
		return -1;
	memcpy(want, p, len);
	want[len] = '\0';
	if (xhp_parse_ulong(want, 10, XHP_VND_UNIT_MAX, unit) == -1 ||
	    xhp_vnd_node(want, sizeof(want), *unit, 0) == -1)
		return -1;
	return strcmp(want, node) == 0 ? 0 : -1;
}

/* FN(UNIT, DEV, INO, CTX) for each configured unit with a node, until FN
 * returns non-zero (returned). Units are numbered from 0, without gaps
 * (as MAKEDEV makes their nodes): the first without a node ends the
 * scan. 0, or -1 with errno. */
static int each(int (*fn)(unsigned long unit, dev_t dev, ino_t ino,
			  void *ctx), void *ctx)
{
	unsigned long u, maj, min;
	dev_t dev;
	ino_t ino;
	int r;

#ifndef XHP_VNDKERN
	if (vnd.tab == NULL)
		return 0;
#endif
	for (u = 0; u <= XHP_VND_UNIT_MAX; u++) {
		if (node_dev(u, &maj, &min) == 1)
			break;
		r = vnd.tab != NULL ? xhp_vndtab_get(vnd.tab, u, &dev, &ino) :
				      xhp_vndkern_get(u, &dev, &ino);
		if (r == -1)
			return -1;
		if (r == 0 && (r = fn(u, dev, ino, ctx)) != 0)
			return r;
	}
	return 0;
}

struct users {
	dev_t dev;
	ino_t ino;
	int (*fn)(unsigned long maj, unsigned long min, void *ctx);
	void *ctx;
};

static int user(unsigned long unit, dev_t dev, ino_t ino, void *ctx)
{
	struct users *u = ctx;
	unsigned long maj, min;

	if (dev != u->dev || ino != u->ino || node_dev(unit, &maj, &min))
		return 0;
	return u->fn(maj, min, u->ctx);
}

int xhp_vnd_users(dev_t dev, ino_t ino,
		  int (*fn)(unsigned long maj, unsigned long min, void *ctx),
		  void *ctx)
{
	struct users u = { dev, ino, fn, ctx };

	return each(user, &u);
}

/* The lookup of xhp_vnd_backing: the unit whose node is on the same disk
 * (major, and minor / MAXPARTITIONS) as MAJ:MIN. */
struct backing {
	unsigned long maj, min;
	dev_t dev;
	ino_t ino;
};

static int backs(unsigned long unit, dev_t dev, ino_t ino, void *ctx)
{
	struct backing *b = ctx;
	unsigned long maj, min;

	if (node_dev(unit, &maj, &min) || maj != b->maj ||
	    min / XHP_NB_MAXPART != b->min / XHP_NB_MAXPART)
		return 0;
	b->dev = dev;
	b->ino = ino;
	return 1;
}

int xhp_vnd_backing(unsigned long maj, unsigned long min, dev_t *dev,
		    ino_t *ino)
{
	struct backing b = { maj, min, 0, 0 };
	int r = each(backs, &b);

	if (r != 1)
		return r == 0 ? 1 : -1;
	*dev = b.dev;
	*ino = b.ino;
	return 0;
}

unsigned long xhp_vnd_attach(const char *path, int ro, char *node,
			     size_t n, dev_t *dev, ino_t *ino)
{
	char busy[256] = "";
	unsigned long u, maj, min;
	struct stat st;
	size_t len;
	int r;

	for (u = 0; u <= XHP_VND_UNIT_MAX; u++) {
		if (node_dev(u, &maj, &min) == 1)
			break;
		/* 0 done, 1 taken, 2 no such unit, -1 (the file). */
		r = vnd.tab != NULL ? xhp_vndtab_set(vnd.tab, u, path, ro, &st) :
				      xhp_vndkern_set(u, path, ro, &st);
		if (r == 0) {
			if (xhp_vnd_node(node, n, u, 0) == -1)
				xhp_die(XHP_SYS, "vnd node name too long");
			*dev = st.st_dev;
			*ino = st.st_ino;
			return u;
		}
		if (r == 2)
			break;
		if (r == -1 && errno == EROFS)
			xhp_die(XHP_NO, "unable to attach %s: it is on a "
				"read-only file system", path);
		if (r == -1)
			xhp_die_sys(XHP_SYS, "unable to configure vnd%lu with "
				    "%s", u, path);
		len = strlen(busy);
		if (len + 16 < sizeof(busy))
			snprintf(busy + len, sizeof(busy) - len, "%svnd%lu",
				 len ? " " : "", u);
	}
	if (u == 0)
		xhp_die(XHP_SYS, "no free vnd device for %s: no vnd nodes in "
			"%s", path, vnd.devdir);
	xhp_die(XHP_SYS, "no free vnd device for %s: all in use (%s)", path,
		busy);
}

int xhp_vnd_detach(unsigned long unit, int any, dev_t dev, ino_t ino,
		   dev_t *odev, ino_t *oino)
{
	int r;

	if (vnd.tab == NULL)
		return xhp_vndkern_detach(unit, any, dev, ino, odev, oino);
	r = xhp_vndtab_get(vnd.tab, unit, odev, oino);
	if (r != 0)
		return r;
	if (!any && (*odev != dev || *oino != ino))
		return 2;
	return xhp_vndtab_clr(vnd.tab, unit);
}
