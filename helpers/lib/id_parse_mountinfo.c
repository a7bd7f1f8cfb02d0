#include <string.h>

#include "xhp.h"

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

int xhp_parse_mountinfo(char *line, struct xhp_mount *m)
{
	char *p = line, *f[6], *colon, *sep, *fstype, *source, *sbopts;
	size_t len = strlen(line);
	int i;

	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	if (strchr(line, '\n') != NULL)
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
