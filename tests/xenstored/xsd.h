/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * test-xenstored: a small xenstore daemon for the fast test tier.
 * See docs/test-xenstored.md for what it implements and what it does not.
 */
#ifndef XSD_H
#define XSD_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#define XSD_PROG "test-xenstored"
#define XSD_HDR_LEN ((size_t)sizeof(struct xsd_sockmsg))

/* proto.c: wire framing, no I/O, so the fuzzer can drive it. */
enum { XSD_PROTO_NEED = 0, XSD_PROTO_MSG = 1, XSD_PROTO_BAD = -1 };
int xsd_proto_parse(const unsigned char *buf, size_t len,
                    struct xsd_sockmsg *hdr, const unsigned char **payload,
                    size_t *used);
size_t xsd_count_strings(const unsigned char *p, size_t len);
size_t xsd_get_strings(const unsigned char *p, size_t len, const char **vec,
                       size_t n);
const char *xsd_onearg(const unsigned char *p, size_t len);
int xsd_canon_path(const char *in, int allow_special, char *out,
                   size_t outsz);
const char *xsd_errname(int err);

/* Home of every connection: we only ever talk to dom0 tools. */
#define XSD_HOME "/local/domain/0"
#define XSD_PATH_BUF (XENSTORE_ABS_PATH_MAX + 64)

/* store.c: the tree, transactions and queued watch events. */
struct xsd_tx;

struct xsd_view {
	int exists;
	const char *value;
	size_t vlen;
	const char *perms;     /* NUL-separated perm strings */
	size_t plen;
	uint64_t gen;
};

void xsd_store_init(void);
void xsd_store_reset(void);
int xsd_read(struct xsd_tx *tx, const char *path, struct xsd_view *v);
/* Children as NUL-terminated names, concatenated; caller frees. */
int xsd_children(struct xsd_tx *tx, const char *path, char **buf,
                 size_t *len, uint64_t *gen);
int xsd_write(struct xsd_tx *tx, const char *path, const char *val,
              size_t vlen);
int xsd_mkdir(struct xsd_tx *tx, const char *path);
int xsd_rm(struct xsd_tx *tx, const char *path);
int xsd_set_perms(struct xsd_tx *tx, const char *path, const char *perms,
                  size_t plen);

struct xsd_tx *xsd_tx_new(uint32_t id, void *owner);
uint32_t xsd_tx_id(const struct xsd_tx *tx);
void *xsd_tx_owner(const struct xsd_tx *tx);
/* 0 on commit, EAGAIN on conflict; the transaction is freed either way. */
int xsd_tx_commit(struct xsd_tx *tx);
void xsd_tx_abort(struct xsd_tx *tx);

void xsd_dump(FILE *fp);
int xsd_store_check(void);
unsigned long xsd_node_count(void);

/* dispatch.c: connections and requests. */
struct xsd_watch;
struct xsd_conn {
	int fd;
	unsigned char in[XSD_HDR_LEN + XENSTORE_PAYLOAD_MAX];
	size_t inlen;
	unsigned char *out;     /* queued replies and events */
	size_t outlen, outoff, outcap;
	struct xsd_watch *watches;
	int dead;
	unsigned long nreq;
	struct xsd_conn *next;
};
extern struct xsd_conn *xsd_conns;
extern int xsd_verbose;
extern unsigned long xsd_fault_next, xsd_fault_every, xsd_fault_delay_ms,
                     xsd_fault_drop;

struct xsd_conn *xsd_conn_new(int fd);
void xsd_conn_free(struct xsd_conn *c);
void xsd_dispatch_reset(void);
void xsd_process(struct xsd_conn *c, const struct xsd_sockmsg *h,
                 const unsigned char *p, size_t len);
void xsd_die(const char *verb, const char *obj);
void *xsd_realloc(void *p, size_t n);
int xsd_parse_ulong(const char *s, unsigned long *out);

/* dispatch.c: called by the store when a node changes (exact: only watches on
 * exactly this path fire, else watches on the path and its ancestors). */
void xsd_fire(const char *path, int exact);

#endif
