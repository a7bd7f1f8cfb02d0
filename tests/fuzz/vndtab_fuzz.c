/* libFuzzer target: xhp_table_vndtab, the lines of the vnd table that
 * stands in for NetBSD's vnd(4) (docs/netbsd.md, "Tests on Linux CI").
 * What vndtab.c relies on: PATH points into the line, is absolute and holds
 * no newline; UNIT is at most XHP_VND_UNIT_MAX; the inode is never 0 (the
 * kernel's "not configured"); and the numbers are the digits of their
 * fields (checked against a reference reading, with strchr and strtoull,
 * of a copy). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

static int digits(const char *s)
{
	return *s != '\0' && strspn(s, "0123456789") == strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), *copy = malloc(size + 1), *f[5], *p;
	struct xhp_vndent e;
	unsigned long long v[4];
	size_t n;
	int i, ok = 1;

	if (line == NULL || copy == NULL)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	memcpy(copy, line, size + 1);
	n = strlen(line);
	/* The reference: four tab-ended decimal fields, then the path. */
	if (n > 0 && copy[n - 1] == '\n')
		copy[n - 1] = '\0';
	p = copy;
	for (i = 0; i < 5; i++) {
		f[i] = p;
		if (p != NULL && i < 4 && (p = strchr(p, '\t')) != NULL)
			*p++ = '\0';
		if (f[i] == NULL)
			ok = 0;
	}
	for (i = 0; ok && i < 4; i++) {
		errno = 0;
		if (!digits(f[i]) || (v[i] = strtoull(f[i], NULL, 10),
				      errno != 0))
			ok = 0;
	}
	if (ok)
		ok = strchr(f[4], '\n') == NULL && f[4][0] == '/' &&
		     v[0] <= XHP_VND_UNIT_MAX && v[3] <= 1 && v[2] != 0 &&
		     (dev_t)v[1] == v[1] && (ino_t)v[2] == v[2];
	if (xhp_table_vndtab(line, &e) == 0) {
		if (!ok || e.path < line || e.path > line + n ||
		    strcmp(e.path, f[4]) != 0 || e.unit != v[0] ||
		    (unsigned long long)e.dev != v[1] ||
		    (unsigned long long)e.ino != v[2] || e.ro != (int)v[3])
			abort();
	} else if (ok) {
		/* A line the reference takes is taken. */
		abort();
	}
	free(line);
	free(copy);
	return 0;
}
