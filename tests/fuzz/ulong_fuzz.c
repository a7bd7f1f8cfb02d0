/*
 * libFuzzer target for xhp_parse_ulong, the one number parser of every
 * helper (options, major:minor, DEV:INO, loop names through
 * xhp_loopmap_index). Differential: each input is also read by a plain
 * digit-by-digit reference with its own overflow check, and the two must
 * agree on acceptance and value; a refusal must leave *out alone and say
 * EINVAL or ERANGE (ERANGE whenever the text itself is a valid number).
 *
 * Input: byte 0 picks the base (even: 10, odd: 16), byte 1 the limit
 * (ULONG_MAX >> (byte % 64)); the rest, up to the first NUL, is the text.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int digit(char c, int base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0 and *v: a number within MAX; 1: digits only but too big; -1: not a
 * number (empty, or a byte that is no digit of BASE). */
static int reference(const char *s, int base, unsigned long max,
		     unsigned long *v)
{
	int big = 0;

	*v = 0;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		int d = digit(*s, base);
		if (d < 0)
			return -1;
		if (*v > (ULONG_MAX - (unsigned long)d) / (unsigned long)base)
			big = 1;
		else
			*v = *v * (unsigned long)base + (unsigned long)d;
	}
	return big || *v > max ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned long canary = 0x5a5a5a5aUL;
	unsigned long max, want, got = canary, idx;
	int base, ref, rc;
	char *s, *name;

	if (size < 2)
		return 0;
	base = (data[0] & 1) ? 16 : 10;
	max = ULONG_MAX >> (data[1] % 64);
	s = malloc(size - 1);
	name = malloc(size + 3);
	if (s == NULL || name == NULL)
		abort();
	memcpy(s, data + 2, size - 2);
	s[size - 2] = '\0';

	ref = reference(s, base, max, &want);
	errno = 0;
	rc = xhp_parse_ulong(s, base, max, &got);
	if (ref == 0 && (rc != 0 || got != want))
		abort();
	if (ref != 0) {
		if (rc != -1 || got != canary)
			abort();
		if (errno != EINVAL && errno != ERANGE)
			abort();
		if (ref == 1 && errno != ERANGE)
			abort();
	}

	/* A loop device name is "loop" and a decimal number up to 0xfffff. */
	memcpy(name, "loop", 4);
	memcpy(name + 4, s, strlen(s) + 1);
	ref = reference(s, 10, 0xfffffUL, &want);
	idx = canary;
	rc = xhp_loopmap_index(name, &idx);
	if ((ref == 0) != (rc == 0) || (rc == 0 && idx != want) ||
	    (rc != 0 && idx != canary))
		abort();
	free(name);
	free(s);
	return 0;
}
