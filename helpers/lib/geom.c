/* SPDX-License-Identifier: LGPL-2.1-only */
/* geom.c: FreeBSD's GEOM tree (docs/freebsd.md, "In use"). A FreeBSD
 * disk is a GEOM provider, and so are its partitions (class PART), its
 * labels, its encrypted, mirrored and striped views: each provider is
 * made by a geom that consumes the providers below it. Two users conflict
 * when the sectors they reach on the disks at the bottom meet, whichever
 * provider each was given (ada0 and ada0p1, gpt/boot and ada0p1).
 *
 * The tree is the kernel's kern.geom.conftxt, one provider a line:
 *   LEVEL CLASS NAME MEDIASIZE SECTORSIZE [KEY VALUE]...
 * in depth-first order from the disks (LEVEL 0): a line's parent is the
 * nearest line above it one level up, and a provider over two disks (a
 * mirror) appears under each. A PART provider's " o " is its byte offset
 * in its parent, so its extent is exact; any other class is taken as the
 * whole of its parent (its sectors lie there, wherever exactly). Each
 * provider is DEVDIR/NAME, a character device.
 *
 * Read once per process, from the kernel on FreeBSD, or from a file of
 * conftxt lines (the tests on Linux). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __FreeBSD__
#include <sys/types.h>
#include <sys/sysctl.h>
#endif

#include "xhp.h"

struct prov {
	char *name;
	int dev;                /* DEVDIR/NAME is a character device */
	unsigned long maj, min;
	int part;               /* class PART: the extent is exact */
	size_t parent, root;    /* line indexes; a root is its own */
	uint64_t lo, hi;        /* on the root, in 512-byte sectors */
};

static struct {
	const char *file, *devdir;
	int want, loaded;
	struct prov *p;
	size_t n, a;
} g = { NULL, "/dev", 0, 0, NULL, 0, 0 };

void xhp_geom_source(const char *conftxt, const char *devdir)
{
	g.file = conftxt;
	g.devdir = devdir != NULL ? devdir : "/dev";
#ifdef __FreeBSD__
	g.want = 1;
#else
	g.want = conftxt != NULL;
#endif
	/* Read again at the next look: the tree may have changed. */
	while (g.n > 0)
		free(g.p[--g.n].name);
	g.loaded = 0;
}

static uint64_t sectors_up(uint64_t bytes)
{
	return bytes / 512 + (bytes % 512 != 0);
}

/* Append the provider of one line; UP[LEVEL] is the last line seen at
 * each level above it. 0, or -1 (ENOMEM). */
static int add(char *line, size_t *up, unsigned *depth)
{
	char node[PATH_MAX];
	struct xhp_conftxt c;
	struct prov *p, *par;
	struct stat st;
	uint64_t off;

	if (xhp_table_conftxt(line, &c) == -1 || c.level > *depth)
		/* Not a line, or a child without its parent: skipped, and so
		 * is everything below it. */
		return 0;
	if (g.n == g.a) {
		p = realloc(g.p, (g.a ? 2 * g.a : 16) * sizeof(*p));
		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		g.p = p;
		g.a = g.a ? 2 * g.a : 16;
	}
	p = &g.p[g.n];
	memset(p, 0, sizeof(*p));
	if ((p->name = strdup(c.name)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if ((size_t)snprintf(node, sizeof(node), "%s/%s", g.devdir, c.name) <
		    sizeof(node) &&
	    stat(node, &st) == 0 && S_ISCHR(st.st_mode)) {
		p->dev = 1;
		p->maj = xhp_id_major(st.st_rdev);
		p->min = xhp_id_minor(st.st_rdev);
	}
	p->part = strcmp(c.class, "PART") == 0 && c.has_off;
	off = c.off;
	if (c.level == 0) {
		p->parent = p->root = g.n;
		p->lo = 0;
		p->hi = sectors_up(c.size);
	} else {
		p->parent = up[c.level - 1];
		par = &g.p[p->parent];
		p->root = par->root;
		p->lo = par->lo;
		p->hi = par->hi;
		if (p->part && off / 512 < par->hi - par->lo) {
			p->lo = par->lo + off / 512;
			if (sectors_up(off % 512 + c.size) < par->hi - p->lo)
				p->hi = p->lo + sectors_up(off % 512 + c.size);
		}
	}
	up[c.level] = g.n++;
	*depth = c.level + 1 < XHP_CONFTXT_LEVELS ? c.level + 1 :
						      XHP_CONFTXT_LEVELS - 1;
	return 0;
}

/* The tree from TEXT (LEN bytes, cut into lines in place). */
static int load_text(char *text, size_t len)
{
	size_t up[XHP_CONFTXT_LEVELS];
	unsigned depth = 0;
	char *s = text, *nl;
	int r = 0;

	while (r == 0 && s < text + len) {
		nl = memchr(s, '\n', (size_t)(text + len - s));
		if (nl != NULL)
			*nl = '\0';
		else
			text[len] = '\0';
		r = add(s, up, &depth);
		s = nl != NULL ? nl + 1 : text + len;
	}
	return r;
}

/* The whole of FILE, or of the kernel's kern.geom.conftxt, into a buffer
 * with room for a terminating NUL. */
static char *slurp(size_t *len)
{
	char *buf = NULL, *p;
	size_t cap = 0;
	FILE *f;

	if (g.file == NULL) {
#ifdef __FreeBSD__
		/* The tree may grow between the two calls: retry. */
		for (int tries = 0; tries < 4; tries++) {
			if (sysctlbyname("kern.geom.conftxt", NULL, &cap, NULL,
					 0) == -1)
				return NULL;
			cap += cap / 4 + 256;
			if ((buf = malloc(cap + 1)) == NULL)
				return NULL;
			*len = cap;
			if (sysctlbyname("kern.geom.conftxt", buf, len, NULL,
					 0) == 0)
				return buf;
			free(buf);
			if (errno != ENOMEM)
				return NULL;
		}
		errno = EAGAIN;
#else
		errno = ENOENT;
#endif
		return NULL;
	}
	f = fopen(g.file, "r");
	if (f == NULL)
		return NULL;
	*len = 0;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			p = realloc(buf, cap ? 2 * cap : 8192);
			if (p == NULL) {
				free(buf);
				(void)fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = p;
			cap = cap ? 2 * cap : 8192;
		}
		size_t n = fread(buf + *len, 1, cap - *len - 1, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		(void)fclose(f);
		errno = EIO;
		return NULL;
	}
	(void)fclose(f);
	return buf;
}

/* Read the tree once; a tree that cannot be read is a system error (a
 * check that cannot see the stack must not pass). */
static void load(void)
{
	size_t len = 0;
	char *text;

	if (g.loaded || !g.want)
		return;
	text = slurp(&len);
	if (text == NULL)
		xhp_die_sys(XHP_SYS, "unable to read the GEOM tree %s",
			    g.file != NULL ? g.file : "(kern.geom.conftxt)");
	if (load_text(text, len) == -1)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	free(text);
	g.loaded = 1;
}

int xhp_geom_walk(unsigned long maj, unsigned long min,
		  void (*fn)(const struct xhp_via *v, void *ctx), void *ctx)
{
	struct xhp_via v;
	size_t i, j;
	int n = 0;

	load();
	for (i = 0; i < g.n; i++) {
		const struct prov *t = &g.p[i], *r = &g.p[t->root];

		if (!t->dev || t->maj != maj || t->min != min)
			continue;
		n++;
		/* Depth 0: the sectors it reaches on the disk at the bottom
		 * (itself, when it is a disk or has no node to name it by). */
		memset(&v, 0, sizeof(v));
		v.maj = r->dev ? r->maj : maj;
		v.min = r->dev ? r->min : min;
		v.lo = r->dev ? t->lo : 0;
		v.hi = r->dev ? t->hi : XHP_EXT_ALL;
		fn(&v, ctx);
		/* Then every provider below it, nearest first. */
		for (j = i, v.depth = 1; g.p[j].parent != j; v.depth++) {
			const struct prov *c = &g.p[j];

			j = c->parent;
			if (!g.p[j].dev)
				continue;
			v.maj = g.p[j].maj;
			v.min = g.p[j].min;
			v.kind = v.depth == 1 && t->part ? XHP_VIA_DISK :
							   XHP_VIA_SLAVE;
			v.lo = t->lo - g.p[j].lo;
			v.hi = t->hi - g.p[j].lo;
			fn(&v, ctx);
		}
	}
	return n;
}

int xhp_geom_name(unsigned long maj, unsigned long min, char *buf, size_t n)
{
	load();
	for (size_t i = 0; i < g.n; i++)
		if (g.p[i].dev && g.p[i].maj == maj && g.p[i].min == min) {
			snprintf(buf, n, "%s/%s", g.devdir, g.p[i].name);
			return 0;
		}
	return -1;
}
