/* libFuzzer target: xhp_parse_nodearg (xs-readv's NODE[=DEFAULT]). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *arg = malloc(size + 1), *orig = malloc(size + 1);
	const char *def, *p;
	size_t n;
	int r;

	if (arg == NULL || orig == NULL)
		abort();
	/* argv strings end at the first NUL */
	memcpy(arg, data, size);
	arg[size] = '\0';
	n = strlen(arg);
	memcpy(orig, arg, n + 1);
	r = xhp_parse_nodearg(arg, &def);
	if (r == 0) {
		if (arg[0] == '\0')
			abort();
		for (p = arg; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || strchr("-/_@", *p)))
				abort();
		/* the split is lossless: NODE '=' DEFAULT is the argument */
		if ((def != NULL) != (strchr(orig, '=') != NULL))
			abort();
		if (def != NULL &&
		    (strlen(arg) + 1 + strlen(def) != n ||
		     strncmp(orig, arg, strlen(arg)) != 0 ||
		     orig[strlen(arg)] != '=' ||
		     strcmp(orig + strlen(arg) + 1, def) != 0))
			abort();
		if (def == NULL && strcmp(orig, arg) != 0)
			abort();
	} else if (r != -1) {
		abort();
	}
	free(arg);
	free(orig);
	return 0;
}
