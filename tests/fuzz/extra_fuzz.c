/*
 * libFuzzer target for xhp_parse_extra, the "-e NODE=VALUE" check of
 * xs-majmin and xs-publish. Differential: every input is also judged by a
 * plain reading of the rule "an '=', before the first one a non-empty
 * relative path of alnum and -/_@ that does not start with
 * physical-device", and the two must agree; the input must be unchanged.
 *
 *   make fuzz-publish
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int reference(const char *s)
{
	const char *eq = strchr(s, '=');
	size_t n, i;

	if (eq == NULL)
		return 0;
	n = (size_t)(eq - s);
	if (n == 0 || s[0] == '/')
		return 0;
	if (n >= 15 && memcmp(s, "physical-device", 15) == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789-/_@", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *copy;
	int r;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	copy = malloc(size + 1);
	if (s == NULL || copy == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	memcpy(copy, s, size + 1);
	r = xhp_parse_extra(s);
	if ((r == 0) != reference(s) || memcmp(s, copy, size + 1) != 0)
		abort();
	free(s);
	free(copy);
	return 0;
}
