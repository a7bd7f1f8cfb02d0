/* libFuzzer target: xhp_table_mountinfo. What the check relies on: the
 * fields point into the line, the mount point prints on one line, and
 * the numbers are in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct xhp_mount m;
	size_t n;

	if (line == NULL)
		abort();
	/* getline gives a NUL-terminated string; what follows a NUL is
	 * invisible to the parser. */
	memcpy(line, data, size);
	line[size] = '\0';
	n = strlen(line);
	if (xhp_table_mountinfo(line, &m) == 0) {
		if (m.maj > 0xfff || m.min > 0xfffff)
			abort();
		if (m.mnt < line || m.mnt > line + n ||
		    m.source < line || m.source > line + n)
			abort();
		if (strpbrk(m.mnt, " \n") != NULL)
			abort();
		if (m.sb_rw != 0 && m.sb_rw != 1)
			abort();
	}
	free(line);
	return 0;
}
