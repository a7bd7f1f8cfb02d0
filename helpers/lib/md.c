/* SPDX-License-Identifier: LGPL-2.1-only */
/* md.c: FreeBSD's md(4) units over image files (docs/freebsd.md). An
 * image is in use through every md unit that serves it, and an md unit
 * stands for its image, as a Linux loop device does (loop.c). md(4) keeps
 * the file's name as a string, not its identity: each name is stat'ed,
 * and units are compared with files by device and inode, never by name.
 *
 * The units are read once per process, from the kernel on FreeBSD
 * (MDIOCQUERY for each mdN node), or from a file of `mdconfig -l -v`
 * lines where there is no md(4) (the tests on Linux). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __FreeBSD__
#include <sys/ioctl.h>
#include <sys/mdioctl.h>
#endif

#include "xhp.h"

/* A vnode unit: its node's device number, its file's identity. */
struct unit {
	unsigned long maj, min;
	dev_t dev;
	ino_t ino;
};

static struct {
	const char *list, *devdir;
	int loaded;
	struct unit *u;
	size_t n, a;
} md = { NULL, "/dev", 0, NULL, 0, 0 };

void xhp_md_source(const char *list, const char *devdir)
{
	md.list = list;
	md.devdir = devdir != NULL ? devdir : "/dev";
	md.loaded = 0;
	md.n = 0;
}

/* Record unit NAME ("mdN") over FILE, when both are there now: a unit
 * detached meanwhile, or a file gone or renamed, names nothing. 0, or -1
 * (ENOMEM). */
static int add(const char *name, const char *file)
{
	char node[PATH_MAX];
	struct stat ns, fs;
	struct unit *p;

	if ((size_t)snprintf(node, sizeof(node), "%s/%s", md.devdir, name) >=
	    sizeof(node))
		return 0;
	if (stat(node, &ns) == -1 ||
	    !(S_ISCHR(ns.st_mode) || S_ISBLK(ns.st_mode)) ||
	    stat(file, &fs) == -1 || !S_ISREG(fs.st_mode))
		return 0;
	if (md.n == md.a) {
		p = realloc(md.u, (md.a ? 2 * md.a : 8) * sizeof(*p));
		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		md.u = p;
		md.a = md.a ? 2 * md.a : 8;
	}
	p = &md.u[md.n++];
	p->maj = xhp_id_major(ns.st_rdev);
	p->min = xhp_id_minor(ns.st_rdev);
	p->dev = fs.st_dev;
	p->ino = fs.st_ino;
	return 0;
}

/* One `mdconfig -l -v` line of the file LIST: a vnode unit is recorded. */
static int list_line(char *line, void *ctx)
{
	const char *name, *file;

	(void)ctx;
	return xhp_table_mdlist(line, &name, &file) == 0 ? add(name, file) : 0;
}

#ifdef __FreeBSD__
/* The kernel's units: each DEVDIR/mdN node, asked with MDIOCQUERY. */
static int load_kernel(void)
{
	char ctl[PATH_MAX], file[PATH_MAX];
	struct md_ioctl mdio;
	struct dirent *e;
	unsigned long u;
	int fd, r = 0;
	DIR *d;

	snprintf(ctl, sizeof(ctl), "%s/%s", md.devdir, MDCTL_NAME);
	fd = open(ctl, O_RDWR | O_CLOEXEC);
	if (fd == -1)
		/* No md(4) driver loaded: no units. */
		return errno == ENOENT ? 0 : -1;
	d = opendir(md.devdir);
	if (d == NULL) {
		(void)close(fd);
		return -1;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, MD_NAME, 2) != 0 ||
		    xhp_parse_ulong(e->d_name + 2, 10, 0xffffffUL, &u) == -1)
			continue;
		memset(&mdio, 0, sizeof(mdio));
		memset(file, 0, sizeof(file));
		mdio.md_version = MDIOVERSION;
		mdio.md_unit = (unsigned)u;
		mdio.md_file = file;
		if (ioctl(fd, MDIOCQUERY, &mdio) == -1) {
			/* Detached since the listing. */
			if (errno != ENOENT)
				r = -1;
			continue;
		}
		if (mdio.md_type == MD_VNODE && file[0] == '/')
			r = add(e->d_name, file);
	}
	(void)closedir(d);
	(void)close(fd);
	return r;
}
#else
static int load_kernel(void)
{
	return 0;
}
#endif

static int load(void)
{
	if (md.loaded)
		return 0;
	md.n = 0;
	if ((md.list != NULL ? xhp_table_each(md.list, list_line, NULL) :
	     load_kernel()) == -1)
		return -1;
	md.loaded = 1;
	return 0;
}

int xhp_md_users(dev_t dev, ino_t ino,
		 int (*fn)(unsigned long maj, unsigned long min, void *ctx),
		 void *ctx)
{
	size_t i;
	int r;

	if (load() == -1)
		return -1;
	for (i = 0; i < md.n; i++)
		if (md.u[i].dev == dev && md.u[i].ino == ino &&
		    (r = fn(md.u[i].maj, md.u[i].min, ctx)) != 0)
			return r;
	return 0;
}

int xhp_md_backing(unsigned long maj, unsigned long min, dev_t *dev,
		   ino_t *ino)
{
	size_t i;

	if (load() == -1)
		return -1;
	for (i = 0; i < md.n; i++)
		if (md.u[i].maj == maj && md.u[i].min == min) {
			*dev = md.u[i].dev;
			*ino = md.u[i].ino;
			return 0;
		}
	return 1;
}
