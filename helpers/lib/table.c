/* SPDX-License-Identifier: LGPL-2.1-only */
/* table.c: the parsers of one line of a system table: /proc/self/mountinfo,
 * `mount -p` (fstab(5)'s columns), `mdconfig -l -v`, kern.geom.conftxt and
 * the vnd table that stands in for vnd(4). Each splits its line in place
 * and refuses one that holds a second line. They are pure functions (no
 * I/O, no exit, no global state), so that tests/fuzz can drive each of
 * them against a reference reading of its grammar. xhp_table_each, the
 * one function here with I/O, is the loop that reads a table file into
 * them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

/* Cut LINE's newline; -1 when it holds another (two lines in one). */
static int one_line(char *line)
{
	size_t len = strlen(line);

	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	return strchr(line, '\n') != NULL ? -1 : 0;
}

/* Next field of *P separated by a run of blanks (space or tab), cut in
 * place; NULL at the end of the line. */
static char *blank_field(char **p)
{
	char *s = *p, *e;

	s += strspn(s, " \t");
	if (*s == '\0')
		return NULL;
	e = s + strcspn(s, " \t");
	if (*e != '\0')
		*e++ = '\0';
	*p = e;
	return s;
}

/* Next space-separated field of *P, NUL-terminated in place; NULL at the
 * end of the line. */
static char *field(char **p)
{
	char *s = *p, *e;

	if (s == NULL || *s == '\0')
		return NULL;
	e = strchr(s, ' ');
	if (e != NULL) {
		*e = '\0';
		*p = e + 1;
	} else {
		*p = NULL;
	}
	return s;
}

/* The kernel escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) |
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* 1 when the comma-separated option list OPTS holds "ro". */
static int has_ro(const char *opts)
{
	const char *p = opts;

	while (p != NULL) {
		if (p[0] == 'r' && p[1] == 'o' && (p[2] == ',' || p[2] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return 0;
}

int xhp_table_mountinfo(char *line, struct xhp_mount *m)
{
	char *p = line, *f[6], *colon, *sep, *fstype, *source, *sbopts;
	int i;

	if (one_line(line) == -1)
		return -1;
	/* id parent maj:min root mountpoint options [optional...] - fstype
	 * source superoptions */
	for (i = 0; i < 6; i++) {
		f[i] = field(&p);
		if (f[i] == NULL)
			return -1;
	}
	do {
		sep = field(&p);
		if (sep == NULL)
			return -1;
	} while (strcmp(sep, "-") != 0);
	fstype = field(&p);
	source = field(&p);
	sbopts = field(&p);
	if (fstype == NULL || source == NULL || sbopts == NULL || p != NULL)
		return -1;
	colon = strchr(f[2], ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (xhp_parse_ulong(f[2], 10, 0xfffUL, &m->maj) == -1 ||
	    xhp_parse_ulong(colon + 1, 10, 0xfffffUL, &m->min) == -1)
		return -1;
	unescape(source);
	m->mnt = f[4];
	m->source = source;
	/* A read-only bind of a read-write superblock still has the device
	 * open for writing, so only the superblock's flag counts. */
	m->sb_rw = !has_ro(sbopts);
	return 0;
}

int xhp_table_fstab(char *line, struct xhp_mount *m)
{
	char *p = line, *source, *mnt, *fstype, *opts;

	if (one_line(line) == -1)
		return -1;
	/* SOURCE MOUNTPOINT FSTYPE OPTIONS [DUMP PASS], as mount -p (and
	 * fstab(5)) lays them out; blanks pad the columns. */
	source = blank_field(&p);
	mnt = blank_field(&p);
	fstype = blank_field(&p);
	opts = blank_field(&p);
	if (source == NULL || mnt == NULL || fstype == NULL || opts == NULL ||
	    source[0] == '#')
		return -1;
	m->maj = m->min = 0;
	m->mnt = mnt;
	m->source = source;
	m->sb_rw = !has_ro(opts);
	return 0;
}

int xhp_table_mdlist(char *line, const char **name, const char **file)
{
	char *f[4], *p = line;
	int i;

	if (one_line(line) == -1)
		return -1;
	/* NAME TYPE SIZE FILE [LABEL OPTIONS], tab-separated: a file name
	 * may hold spaces. SIZE is right-aligned in blanks. */
	for (i = 0; i < 4; i++) {
		f[i] = p;
		p = p == NULL ? NULL : strchr(p, '\t');
		if (f[i] == NULL)
			return -1;
		if (p != NULL)
			*p++ = '\0';
	}
	if (strncmp(f[0], "md", 2) != 0 || f[0][2] == '\0' ||
	    strspn(f[0] + 2, "0123456789") != strlen(f[0] + 2) ||
	    strcmp(f[1], "vnode") != 0 || f[3][0] != '/')
		return -1;
	*name = f[0];
	*file = f[3];
	return 0;
}

/* A decimal uint64_t, digits only: 0, or -1 (empty, other bytes,
 * overflow). */
static int u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (*s < '0' || *s > '9' || n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

int xhp_table_conftxt(char *line, struct xhp_conftxt *g)
{
	char *p = line, *f[5], *key, *val;
	uint64_t level;
	int i;

	if (one_line(line) == -1)
		return -1;
	/* LEVEL CLASS NAME MEDIASIZE SECTORSIZE, then the class's KEY VALUE
	 * pairs, blank-separated (GEOM names hold no blanks). */
	for (i = 0; i < 5; i++)
		if ((f[i] = blank_field(&p)) == NULL)
			return -1;
	if (u64(f[0], &level) == -1 || level >= XHP_CONFTXT_LEVELS ||
	    u64(f[3], &g->size) == -1)
		return -1;
	g->level = (unsigned)level;
	g->class = f[1];
	g->name = f[2];
	g->has_off = 0;
	g->off = 0;
	while ((key = blank_field(&p)) != NULL &&
	       (val = blank_field(&p)) != NULL)
		if (strcmp(key, "o") == 0) {
			g->has_off = u64(val, &g->off) == 0;
			break;
		}
	return 0;
}

int xhp_table_vndtab(char *line, struct xhp_vndent *e)
{
	char *f[5], *p = line;
	unsigned long u, ro;
	uint64_t dev, ino;
	int i;

	if (one_line(line) == -1)
		return -1;
	/* UNIT DEV INO RO PATH, tab-separated; PATH last, so that it may
	 * hold blanks and tabs. */
	for (i = 0; i < 5; i++) {
		f[i] = p;
		if (p == NULL)
			return -1;
		p = i < 4 ? strchr(p, '\t') : NULL;
		if (p != NULL)
			*p++ = '\0';
	}
	if (xhp_parse_ulong(f[0], 10, XHP_VND_UNIT_MAX, &u) == -1 ||
	    u64(f[1], &dev) == -1 || u64(f[2], &ino) == -1 ||
	    xhp_parse_ulong(f[3], 10, 1, &ro) == -1 || f[4][0] != '/' ||
	    (dev_t)dev != dev || (ino_t)ino != ino || ino == 0)
		return -1;
	e->unit = u;
	e->dev = (dev_t)dev;
	e->ino = (ino_t)ino;
	e->ro = (int)ro;
	e->path = f[4];
	return 0;
}

int xhp_table_each(const char *path, int (*fn)(char *line, void *ctx),
		   void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	int r = 0, err;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	errno = 0;
	while (r == 0 && getline(&line, &cap, f) != -1)
		r = fn(line, ctx);
	if (r == 0 && ferror(f))
		r = -1;
	err = errno;
	free(line);
	(void)fclose(f);
	errno = err;
	return r;
}
