/* SPDX-License-Identifier: LGPL-2.1-only */
/* batch.c: a batch of xenstore requests that owns their payloads and
 * replies: queued, sent on the pipelined connection in one round trip,
 * read back. And a transaction's start and end, one round trip each.
 *
 * The publishing and failure transactions (pub.c) are made of these: the
 * requests of one step go out together, so that a transaction costs three
 * round trips whatever it reads and writes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"

/* Queue request TYPE in TX with payload DATA of LEN bytes, which the
 * batch owns from now. Returns its index. */
static size_t put_owned(struct xhp_batch *b, unsigned int type,
			unsigned int tx, char *data, size_t len)
{
	struct xhp_xs_req *r;

	b->r = xhp_grow(b->r, b->n, &b->room, sizeof(*b->r));
	r = &b->r[b->n];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->tx = tx;
	r->data = data;
	r->len = len;
	return b->n++;
}

size_t xhp_batch_put(struct xhp_batch *b, unsigned int type, unsigned int tx,
		     const char *dir, const char *node, const char *val)
{
	size_t len;
	char *m = xhp_xspath_msg(b->code ? b->code : XHP_SYS, dir, node, val,
				 &len);

	return put_owned(b, type, tx, m, len);
}

void xhp_batch_send(struct xhp_xs *q, struct xhp_batch *b)
{
	xhp_xs_batch(q, b->r, b->n);
}

void xhp_batch_take(struct xhp_batch *to, struct xhp_batch *from, size_t at)
{
	size_t i;

	for (i = at; i < from->n; i++) {
		to->r = xhp_grow(to->r, to->n, &to->room, sizeof(*to->r));
		to->r[to->n++] = from->r[i];
	}
	from->n = at;
}

void xhp_batch_clear(struct xhp_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free((char *)b->r[i].data);
		free(b->r[i].val);
	}
	b->n = 0;
}

void xhp_batch_free(struct xhp_batch *b)
{
	int code = b->code;

	xhp_batch_clear(b);
	free(b->r);
	memset(b, 0, sizeof(*b));
	b->code = code;
}

/* The one request of a transaction step, its payload P (LEN bytes with
 * the NUL), sent alone; its reply stays in B->r[0]. */
static void step(struct xhp_xs *q, struct xhp_batch *b, unsigned int type,
		 unsigned int tx, const char *p, size_t len)
{
	char *m = malloc(len);

	if (m == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	memcpy(m, p, len);
	xhp_batch_clear(b);
	put_owned(b, type, tx, m, len);
	xhp_batch_send(q, b);
}

unsigned int xhp_batch_txid(const struct xhp_xs_req *r)
{
	unsigned long id = 0;

	errno = r->err;
	if (errno == 0 && xhp_parse_ulong(r->val, 10, 0xffffffffUL,
					  &id) == -1)
		errno = EPROTO;
	return errno == 0 ? (unsigned int)id : 0;
}

unsigned int xhp_batch_start(struct xhp_xs *q, struct xhp_batch *b)
{
	unsigned int tx;
	int err;

	step(q, b, XS_TRANSACTION_START, 0, "", 1);
	tx = xhp_batch_txid(&b->r[0]);
	err = errno;
	xhp_batch_clear(b);
	errno = err;
	return tx;
}

int xhp_batch_end(struct xhp_xs *q, struct xhp_batch *b, unsigned int tx,
		  int commit)
{
	int err;

	step(q, b, XS_TRANSACTION_END, tx, commit ? "T" : "F", 2);
	err = b->r[0].err;
	xhp_batch_clear(b);
	return err;
}
