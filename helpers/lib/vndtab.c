/* SPDX-License-Identifier: LGPL-2.1-only */
/* vndtab.c: the vnd table, which stands in for NetBSD's vnd(4) where there
 * is none (the tests on Linux; docs/netbsd.md). One line a configured unit
 * (xhp_table_vndtab), and a call each for what vnd.c asks of the kernel:
 * VNDIOCGET reads the table, VNDIOCSET appends a line, VNDIOCCLR rewrites
 * it without one. vnd.c calls them under the hotplug lock. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

/* What a lookup of one unit found. */
struct one {
	unsigned long unit;
	int found;
	dev_t dev;
	ino_t ino;
};

static int find(char *line, void *ctx)
{
	struct one *o = ctx;
	struct xhp_vndent e;

	if (xhp_table_vndtab(line, &e) == -1 || e.unit != o->unit)
		return 0;
	o->found = 1;
	o->dev = e.dev;
	o->ino = e.ino;
	return 1;
}

int xhp_vndtab_get(const char *tab, unsigned long unit, dev_t *dev,
		   ino_t *ino)
{
	struct one o = { unit, 0, 0, 0 };

	/* ENOENT: no table, no units (only opening it says that). */
	if (xhp_table_each(tab, find, &o) == -1 && errno != ENOENT)
		return -1;
	*dev = o.dev;
	*ino = o.ino;
	return o.found ? 0 : 1;
}

/* Append UNIT over the file ST at PATH; EBUSY when it is configured. */
static int append(const char *tab, unsigned long unit, const char *path,
		  int ro, const struct stat *st)
{
	dev_t d;
	ino_t i;
	FILE *f;
	int r;

	r = xhp_vndtab_get(tab, unit, &d, &i);
	if (r != 1) {
		if (r == 0)
			errno = EBUSY;
		return -1;
	}
	f = fopen(tab, "a");
	if (f == NULL)
		return -1;
	fprintf(f, "%lu\t%ju\t%ju\t%d\t%s\n", unit, (uintmax_t)st->st_dev,
		(uintmax_t)st->st_ino, ro, path);
	return fclose(f) == EOF ? -1 : 0;
}

int xhp_vndtab_set(const char *tab, unsigned long unit, const char *path,
		   int ro, struct stat *st)
{
	int fd, r, err;

	/* The kernel opens the file read-write unless read-only. */
	fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return -1;
	r = fstat(fd, st) == -1 ? -1 : append(tab, unit, path, ro, st);
	if (r == -1 && errno == EBUSY)
		r = 1;
	if (r == -1) {
		err = errno;
		(void)close(fd);
		errno = err;
		return -1;
	}
	return close(fd) == -1 ? -1 : r;
}

/* Written aside and renamed over the table, so that a failure leaves it
 * whole. A unit held open (by xbdback) is EBUSY; the tests say so with a
 * file VNDTAB.open/vndN. */
int xhp_vndtab_clr(const char *tab, unsigned long unit)
{
	char tmp[PATH_MAX], *line = NULL;
	struct xhp_vndent e;
	size_t cap = 0;
	int r = 0, err;
	FILE *in, *out;
	char *copy;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.open/vnd%lu", tab,
			     unit) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(tmp, F_OK) == 0) {
		errno = EBUSY;
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", tab);
	in = fopen(tab, "r");
	if (in == NULL)
		return -1;
	out = fopen(tmp, "w");
	if (out == NULL) {
		err = errno;
		(void)fclose(in);
		errno = err;
		return -1;
	}
	while (r == 0 && getline(&line, &cap, in) != -1) {
		copy = strdup(line);
		if (copy == NULL) {
			r = -1;
			break;
		}
		if (xhp_table_vndtab(copy, &e) == -1 || e.unit != unit)
			r = fputs(line, out) == EOF ? -1 : 0;
		free(copy);
	}
	if (r == 0 && ferror(in))
		r = -1;
	err = errno;
	free(line);
	(void)fclose(in);
	if (fclose(out) == EOF && r == 0) {
		r = -1;
		err = errno;
	}
	if (r == 0 && rename(tmp, tab) == -1) {
		r = -1;
		err = errno;
	}
	if (r == -1)
		(void)unlink(tmp);
	errno = err;
	return r;
}
