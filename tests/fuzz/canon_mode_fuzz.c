/* libFuzzer target: xhp_parse_mode against upstream's rule, restated. */
#include <stdint.h>
#include <stdlib.h>

#include "xhp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int w = 0, bang = 0, want, got;

	for (size_t i = 0; i < size; i++) {
		w |= data[i] == 'w';
		bang |= data[i] == '!';
	}
	want = !w ? 'r' : bang ? '!' : 'w';
	got = xhp_parse_mode((const char *)data, size);
	if (got != want)
		abort();
	return 0;
}
