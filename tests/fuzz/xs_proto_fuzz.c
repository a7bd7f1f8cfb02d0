/*
 * libFuzzer target for test-xenstored. The input is a byte stream as
 * clients would send it. The protocol reader (proto.c) splits it into
 * messages; each message's arguments are checked the way the daemon checks
 * them, then the message is handled for real (dispatch.c on store.c) on one
 * of two connections, chosen by the low bit of its request id, so watches,
 * transactions and conflicts between two clients are all reachable.
 * Replies are discarded; the store is emptied before every input and its
 * consistency checked after it.
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

/* The store fires watches through dispatch.c; nothing else is needed. */
static int inited;

static void check_args(const unsigned char *p, size_t len)
{
	const char *vec[4];
	char path[XSD_PATH_BUF];
	size_t n, i;

	n = xsd_get_strings(p, len, vec, 4);
	if (n > xsd_count_strings(p, len))
		abort();
	for (i = 0; i < n; i++)
		if (xsd_canon_path(vec[i], (int)(i & 1), path,
		                   sizeof(path)) == 0 &&
		    strlen(path) >= sizeof(path))
			abort();
	if (xsd_onearg(p, len) && n != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd_sockmsg h;
	const unsigned char *payload;
	struct xsd_conn *c[2];
	size_t used, off = 0;
	unsigned char *copy;

	if (!inited) {
		xsd_store_init();
		inited = 1;
	} else {
		xsd_store_reset();
	}
	xsd_dispatch_reset();
	c[0] = xsd_conn_new(-1);
	c[1] = xsd_conn_new(-1);
	while (off < size) {
		if (xsd_proto_parse(data + off, size - off, &h, &payload,
		                    &used) != XSD_PROTO_MSG)
			break;
		if (used != XSD_HDR_LEN + h.len || h.len > XENSTORE_PAYLOAD_MAX)
			abort();
		/* A private copy, so ASan sees reads past the payload. */
		copy = malloc(h.len ? h.len : 1);
		if (!copy)
			abort();
		memcpy(copy, payload, h.len);
		check_args(copy, h.len);
		xsd_process(c[h.req_id & 1], &h, copy, h.len);
		free(copy);
		c[0]->outlen = c[0]->outoff = 0;
		c[1]->outlen = c[1]->outoff = 0;
		off += used;
	}
	xsd_conn_free(c[0]);
	xsd_conn_free(c[1]);
	/* Logic errors too, not only memory errors: tree and index agree. */
	if (xsd_store_check())
		abort();
	return 0;
}
