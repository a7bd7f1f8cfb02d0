/*
 * libFuzzer target for loop-detach's "-i DEV:INO" parser (parse_id, static
 * in helpers/loop-detach.c, compiled in here with main renamed) and for
 * xhp_loop_index, which decides what is a loop device's name in sysfs.
 * Differential against plain reference readings of the grammars.
 *
 *   make build/fuzz/args_fuzz_loop_detach
 *   build/fuzz/args_fuzz_loop_detach -max_total_time=30
 */
#define main loop_detach_main
#include "../../helpers/loop-detach.c"
#undef main

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decimal digits only, no overflow of unsigned long: 0 and *V, else -1. */
static int ref_num(const char *s, size_t n, unsigned long *v)
{
	size_t i;

	*v = 0;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (*v > (ULONG_MAX - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long d, i, n, want;
	dev_t dev = 0;
	ino_t ino = 0;
	const char *colon;
	char *s;
	int r, ok;

	if (size > 80)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	r = parse_id(s, &dev, &ino);
	colon = strchr(s, ':');
	ok = strlen(s) < 64 && colon != NULL &&
	     ref_num(s, (size_t)(colon - s), &d) == 0 &&
	     ref_num(colon + 1, strlen(colon + 1), &i) == 0;
	if ((r == 0) != ok ||
	    (r == 0 && ((unsigned long)dev != d || (unsigned long)ino != i)))
		abort();

	r = xhp_loop_index(s, &n);
	ok = strncmp(s, "loop", 4) == 0 &&
	     ref_num(s + 4, strlen(s + 4), &want) == 0 && want <= 0xfffff;
	if ((r == 0) != ok || (r == 0 && n != want))
		abort();
	free(s);
	return 0;
}
