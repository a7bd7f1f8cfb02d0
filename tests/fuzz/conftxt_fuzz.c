/* libFuzzer target: xhp_table_conftxt, FreeBSD's kern.geom.conftxt lines.
 * What the GEOM walk relies on: the fields point into the line and hold
 * no blank, LEVEL is below XHP_CONFTXT_LEVELS, and the numbers are the
 * digits of their fields (checked against a reference reading with
 * strtok and strtoull on a copy). */
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
	char *line = malloc(size + 1), *copy = malloc(size + 1), *f[5], *save;
	struct xhp_conftxt g;
	size_t n;
	int i;

	if (line == NULL || copy == NULL)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	memcpy(copy, line, size + 1);
	n = strlen(line);
	if (xhp_table_conftxt(line, &g) == 0) {
		if (g.level >= XHP_CONFTXT_LEVELS)
			abort();
		if (g.class < line || g.class > line + n || g.name < line ||
		    g.name > line + n)
			abort();
		if (strpbrk(g.class, " \t\n") != NULL || g.class[0] == '\0' ||
		    strpbrk(g.name, " \t\n") != NULL || g.name[0] == '\0')
			abort();
		/* The reference: the first five blank-separated fields. */
		save = NULL;
		for (i = 0; i < 5; i++)
			if ((f[i] = strtok_r(i ? NULL : copy, " \t\n", &save)) ==
			    NULL)
				abort();
		if (!digits(f[0]) || !digits(f[3]) ||
		    strtoull(f[0], NULL, 10) != g.level ||
		    strcmp(f[1], g.class) != 0 || strcmp(f[2], g.name) != 0)
			abort();
		errno = 0;
		if (strtoull(f[3], NULL, 10) != g.size || errno == ERANGE)
			abort();
		if (g.has_off != 0 && g.has_off != 1)
			abort();
	}
	free(line);
	free(copy);
	return 0;
}
