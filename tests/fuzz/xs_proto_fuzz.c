/*
 * libFuzzer target for the protocol reader of test-xenstored: the input is
 * a byte stream as a client would send it. Every complete message is split
 * into its arguments and its first argument canonicalised as a path, the
 * same steps the daemon takes before touching the store.
 *
 * Build and run (see docs/test-xenstored.md):
 *   make build/fuzz/xs_proto_fuzz
 *   build/fuzz/xs_proto_fuzz -max_total_time=60 tests/fuzz/corpus/xs_proto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd_sockmsg h;
	const unsigned char *payload;
	const char *vec[4];
	char path[XSD_PATH_BUF];
	size_t used, off = 0, n, i;
	int st;
	unsigned char *copy;

	while (off < size) {
		st = xsd_proto_parse(data + off, size - off, &h, &payload,
		                     &used);
		if (st != XSD_PROTO_MSG)
			break;
		if (used != XSD_HDR_LEN + h.len || h.len > XENSTORE_PAYLOAD_MAX)
			abort();
		/* A private copy, so ASan sees reads past the payload. */
		copy = malloc(h.len ? h.len : 1);
		if (!copy)
			return 0;
		memcpy(copy, payload, h.len);
		n = xsd_get_strings(copy, h.len, vec, 4);
		if (n > xsd_count_strings(copy, h.len))
			abort();
		for (i = 0; i < n; i++)
			if (xsd_canon_path(vec[i], (int)(i & 1), path,
			                   sizeof(path)) == 0 &&
			    strlen(path) >= sizeof(path))
				abort();
		if (xsd_onearg(copy, h.len) && n != 1)
			abort();
		(void)xsd_errname((int)h.type);
		free(copy);
		off += used;
	}
	return 0;
}
