/*
 * libFuzzer target for flock-wrap's (and xs-publish's) SECS parser,
 * xhp_parse_secs in helpers/lib/parse.c. Differential:
 * every input is also judged by a plain reference reading of the grammar
 * "1 to 15 digits, optionally '.' and 1 to 3 digits, at most 1000000 s",
 * and the two must agree on acceptance and on the value.
 *
 *   make build/fuzz/args_fuzz_flock_wrap
 *   build/fuzz/args_fuzz_flock_wrap -max_total_time=30
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference: -1 rejected, else milliseconds. */
static long long reference(const char *s)
{
	long long whole = 0, frac = 0;
	size_t i = 0, nw = 0, nf = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++, nw++)
		if (nw < 15)
			whole = whole * 10 + (s[i] - '0');
	if (nw == 0 || nw > 15)
		return -1;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nf++)
			if (nf < 3)
				frac = frac * 10 + (s[i] - '0');
		if (nf == 0 || nf > 3)
			return -1;
		while (nf++ < 3)
			frac *= 10;
	}
	if (s[i] != '\0' || whole > 1000000)
		return -1;
	return whole * 1000 + frac;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long ms = 0;
	long long want;
	char *s;
	int r;

	if (size > 64)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = xhp_parse_secs(s, &ms);
	want = reference(s);
	if ((r == 0) != (want >= 0) || (r == 0 && (long long)ms != want))
		abort();
	free(s);
	return 0;
}
