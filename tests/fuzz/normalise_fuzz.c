/*
 * libFuzzer target for xhp_xspath_normalise, which decides whether two
 * spellings of a backend path are the same backend (the sharing check
 * skips "ourselves" by it, so a wrong answer hides or invents a conflict).
 * Properties checked on every input:
 *  - the result fits, has no "//", and neither starts nor ends with '/';
 *  - normalising again changes nothing;
 *  - a relative path and the same path under /local/domain/N/ agree, and
 *    doubling every '/' changes nothing (while the input is short enough
 *    not to be truncated).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char a[XHP_XS_PATHMAX], b[XHP_XS_PATHMAX], c[XHP_XS_PATHMAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src, *abs, *dbl;
	size_t n, i, j;

	src = malloc(size + 1);
	if (src == NULL)
		abort();
	memcpy(src, data, size);
	src[size] = '\0';
	n = strlen(src);

	xhp_xspath_normalise(a, src);
	if (strlen(a) >= XHP_XS_PATHMAX || strstr(a, "//") != NULL)
		abort();
	if (a[0] == '/' || (a[0] != '\0' && a[strlen(a) - 1] == '/'))
		abort();
	xhp_xspath_normalise(b, a);
	if (strcmp(a, b) != 0)
		abort();

	if (n < XHP_XS_PATHMAX / 2 - 32 && src[0] != '/') {
		abs = malloc(n + 32);
		dbl = malloc(2 * n + 1);
		if (abs == NULL || dbl == NULL)
			abort();
		memcpy(abs, "/local/domain/7/", 16);
		memcpy(abs + 16, src, n + 1);
		xhp_xspath_normalise(c, abs);
		if (strcmp(a, c) != 0)
			abort();
		for (i = j = 0; i < n; i++) {
			dbl[j++] = src[i];
			if (src[i] == '/')
				dbl[j++] = '/';
		}
		dbl[j] = '\0';
		xhp_xspath_normalise(c, dbl);
		if (strcmp(a, c) != 0)
			abort();
		free(dbl);
		free(abs);
	}
	free(src);
	return 0;
}
