/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Request handling of test-xenstored: connections as far as the protocol
 * sees them (queued output, watches, open transactions), and one function
 * per request type on top of store.c. No socket I/O here, so the fuzzer
 * can drive whole request streams through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

struct xsd_watch {
	char *path;             /* canonical */
	char *token;
	size_t prefix;          /* bytes to strip: relative watches */
	struct xsd_watch *next;
};

struct xsd_conn *xsd_conns;
static struct xsd_tx **txs;
static size_t ntx, txcap;
static uint32_t next_txid = 1;
int xsd_verbose;
unsigned long xsd_fault_next, xsd_fault_every, xsd_fault_delay_ms,
              xsd_fault_drop;
static unsigned long commits;

void xsd_die(const char *verb, const char *obj)
{
	fprintf(stderr, "test-xenstored: fatal: unable to %s %s: %s\n", verb, obj,
	        strerror(errno));
	exit(111);
}

void *xsd_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		xsd_die("allocate", "memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		xsd_die("allocate", "memory");
	return p;
}

int xsd_parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end)
		return -1;
	return 0;
}

/* ---- output ---- */

static void out_append(struct xsd_conn *c, const void *p, size_t n)
{
	if (c->outlen + n > c->outcap) {
		if (c->outoff) {
			memmove(c->out, c->out + c->outoff,
			        c->outlen - c->outoff);
			c->outlen -= c->outoff;
			c->outoff = 0;
		}
		while (c->outlen + n > c->outcap)
			c->outcap = c->outcap ? c->outcap * 2 : 8192;
		c->out = xsd_realloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void send_msg(struct xsd_conn *c, uint32_t type, uint32_t req_id,
                     uint32_t tx_id, const void *p1, size_t n1,
                     const void *p2, size_t n2)
{
	struct xsd_sockmsg h;

	if (c->dead)
		return;
	h.type = type;
	h.req_id = req_id;
	h.tx_id = tx_id;
	h.len = (uint32_t)(n1 + n2);
	out_append(c, &h, sizeof(h));
	if (n1)
		out_append(c, p1, n1);
	if (n2)
		out_append(c, p2, n2);
}

/* ---- watches ---- */

/* A long path plus a long token can exceed what any client accepts in one
 * message; such an event is dropped rather than break the connection. */
static void send_event(struct xsd_conn *c, const struct xsd_watch *w,
                       const char *path)
{
	size_t pl = strlen(path + w->prefix) + 1, tl = strlen(w->token) + 1;

	if (pl + tl > XENSTORE_PAYLOAD_MAX)
		return;
	send_msg(c, XS_WATCH_EVENT, 0, 0, path + w->prefix, pl, w->token, tl);
}

static int is_child(const char *child, const char *parent)
{
	size_t n = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return 1;
	return strncmp(child, parent, n) == 0 &&
	       (child[n] == '/' || child[n] == '\0');
}

void xsd_fire(const char *path, int exact)
{
	struct xsd_conn *c;
	struct xsd_watch *w;
	int hit;

	for (c = xsd_conns; c; c = c->next)
		for (w = c->watches; w; w = w->next) {
			hit = exact ? strcmp(path, w->path) == 0
			            : is_child(path, w->path);
			if (!hit || strlen(path) < w->prefix)
				continue;
			send_event(c, w, path);
			if (xsd_verbose)
				fprintf(stderr, XSD_PROG ": fd %d event %s %s\n",
				        c->fd, path + w->prefix, w->token);
		}
}

/* ---- transactions table ---- */

static struct xsd_tx *tx_lookup(struct xsd_conn *c, uint32_t id, size_t *idx)
{
	size_t i;

	for (i = 0; i < ntx; i++)
		if (xsd_tx_id(txs[i]) == id && xsd_tx_owner(txs[i]) == c) {
			if (idx)
				*idx = i;
			return txs[i];
		}
	return NULL;
}

static void tx_forget(size_t i)
{
	txs[i] = txs[--ntx];
}

static void conn_drop_txs(struct xsd_conn *c)
{
	size_t i = 0;

	while (i < ntx)
		if (xsd_tx_owner(txs[i]) == c) {
			xsd_tx_abort(txs[i]);
			tx_forget(i);
		} else {
			i++;
		}
}

static void conn_drop_watches(struct xsd_conn *c)
{
	struct xsd_watch *w;

	while ((w = c->watches)) {
		c->watches = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
}

/* ---- requests ---- */

static const char ok[] = "OK";

/* The perm strings after the path: each a letter then a domid, as
 * xs_strings_to_perms reads them; an unterminated tail is ignored, as
 * cxenstored counts only NUL-terminated strings. *plen covers the rest. */
static int do_perms_check(const unsigned char *p, size_t len, size_t off,
                          size_t *plen)
{
	size_t n = 0, start = off;
	const char *s;

	while (off < len && memchr(p + off, '\0', len - off)) {
		s = (const char *)p + off;
		if (s[0] == '\0' || !strchr("rwbn", s[0]))
			return EINVAL;
		off += strlen(s) + 1;
		n++;
	}
	if (n == 0)
		return EINVAL;
	*plen = off - start;
	return 0;
}

/* fault-write: the name of the nodes whose writes are refused ("": none). */
static char fault_write[64];
/* fault-read: the node whose reads are refused ("": none), as a guest's
 * vm is to a driver domain that may not read it. */
static char fault_read[XSD_PATH_BUF];

static int control(struct xsd_conn *c, const struct xsd_sockmsg *h,
                   const unsigned char *p, size_t len)
{
	const char *v[3];
	size_t n = xsd_get_strings(p, len, v, 3);
	unsigned long u;
	static const char help[] =
	    "Available commands:\n"
	    "check                   verify the tree (EIO if broken)\n"
	    "help\nprint <string>\n"
	    "fault-eagain <n>        fail the next n commits with EAGAIN\n"
	    "fault-eagain-every <n>  fail every n-th commit (0: never)\n"
	    "fault-delay <ms>        stall <ms> before each request (0: off)\n"
	    "fault-drop <n>          hang up on each client's n-th request\n"
	    "fault-write <name>      refuse (EACCES) writes of nodes called\n"
	    "                        <name>; - for none\n"
	    "fault-read <path>       refuse (EACCES) reads of the node\n"
	    "                        <path>; - for none\n"
	    "nodes                   print the number of nodes\n";
	char buf[32], path[XSD_PATH_BUF];

	if (n == 0)
		return EINVAL;
	if (strcmp(v[0], "check") == 0 && n == 1) {
		/* As cxenstored: verify the store's own structure. */
		if (xsd_store_check())
			return EIO;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "help") == 0 && n == 1) {
		send_msg(c, h->type, h->req_id, h->tx_id, help, sizeof(help),
		         NULL, 0);
	} else if (strcmp(v[0], "print") == 0 && n == 2) {
		fprintf(stderr, XSD_PROG ": %s\n", v[1]);
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "nodes") == 0 && n == 1) {
		snprintf(buf, sizeof(buf), "%lu", xsd_node_count());
		send_msg(c, h->type, h->req_id, h->tx_id, buf,
		         strlen(buf) + 1, NULL, 0);
	} else if ((strcmp(v[0], "fault-eagain") == 0 ||
	            strcmp(v[0], "fault-eagain-every") == 0) && n == 2) {
		if (xsd_parse_ulong(v[1], &u))
			return EINVAL;
		if (v[0][12] == '\0')
			xsd_fault_next = u;
		else
			xsd_fault_every = u;
		commits = 0;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "fault-delay") == 0 && n == 2) {
		if (xsd_parse_ulong(v[1], &u))
			return EINVAL;
		xsd_fault_delay_ms = u;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "fault-write") == 0 && n == 2) {
		if (strlen(v[1]) >= sizeof(fault_write))
			return EINVAL;
		strcpy(fault_write, strcmp(v[1], "-") == 0 ? "" : v[1]);
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "fault-read") == 0 && n == 2) {
		if (strcmp(v[1], "-") == 0)
			path[0] = '\0';
		else if (xsd_canon_path(v[1], 0, path, sizeof(path)))
			return EINVAL;
		strcpy(fault_read, path);
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "fault-drop") == 0 && n == 2) {
		if (xsd_parse_ulong(v[1], &u))
			return EINVAL;
		xsd_fault_drop = u;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else {
		return EINVAL;
	}
	return 0;
}

static int handle(struct xsd_conn *c, const struct xsd_sockmsg *h,
                  const unsigned char *p, size_t len)
{
	char path[XSD_PATH_BUF], buf[64];
	const char *a, *v[2];
	struct xsd_tx *tx = NULL;
	struct xsd_view view;
	struct xsd_watch *w, **wp;
	char *kids, *reply;
	size_t klen, n, off, i, plen;
	uint64_t gen;
	unsigned long dom;
	int err;

	/* As cxenstored: types with no handler are ENOSYS; only the watch
	 * calls ignore the transaction id, all others must name a live
	 * transaction of this connection (or 0). */
	if (h->type >= XS_TYPE_COUNT || h->type == XS_WATCH_EVENT ||
	    h->type == XS_ERROR || h->type == XS_SET_TARGET + 1)
		return ENOSYS;
	if (h->type != XS_WATCH && h->type != XS_UNWATCH &&
	    h->type != XS_RESET_WATCHES && h->tx_id != 0) {
		tx = tx_lookup(c, h->tx_id, NULL);
		if (!tx)
			return ENOENT;
	}

	switch (h->type) {
	case XS_CONTROL:
		return control(c, h, p, len);

	case XS_READ:
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		if ((err = xsd_canon_path(a, 0, path, sizeof(path))))
			return err;
		if (fault_read[0] != '\0' && strcmp(path, fault_read) == 0)
			return EACCES;
		if ((err = xsd_read(tx, path, &view)))
			return err;
		send_msg(c, h->type, h->req_id, h->tx_id, view.value,
		         view.vlen, NULL, 0);
		return 0;

	case XS_GET_PERMS:
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		if ((err = xsd_canon_path(a, 0, path, sizeof(path))) ||
		    (err = xsd_read(tx, path, &view)))
			return err;
		send_msg(c, h->type, h->req_id, h->tx_id, view.perms,
		         view.plen, NULL, 0);
		return 0;

	case XS_DIRECTORY:
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		if ((err = xsd_canon_path(a, 0, path, sizeof(path))) ||
		    (err = xsd_children(tx, path, &kids, &klen, &gen)))
			return err;
		if (klen > XENSTORE_PAYLOAD_MAX) {
			free(kids);
			return E2BIG;
		}
		send_msg(c, h->type, h->req_id, h->tx_id, kids, klen, NULL, 0);
		free(kids);
		return 0;

	case XS_DIRECTORY_PART:
		/* Reply: generation, then as many whole names as fit from
		 * byte offset off; an empty name marks the end of the list.
		 * The client restarts when the generation changes. */
		if (xsd_count_strings(p, len) != 2 ||
		    xsd_get_strings(p, len, v, 2) != 2)
			return EINVAL;
		if ((err = xsd_canon_path(v[0], 0, path, sizeof(path))) ||
		    (err = xsd_children(tx, path, &kids, &klen, &gen)))
			return err;
		off = (size_t)strtoul(v[1], NULL, 10);
		n = (size_t)snprintf(buf, sizeof(buf), "%llu",
		                     (unsigned long long)gen) + 1;
		if (off >= klen) {
			send_msg(c, h->type, h->req_id, h->tx_id, buf, n, "", 1);
			free(kids);
			return 0;
		}
		/* Only resume at a name boundary (a stale offset from a
		 * client whose list changed gets whole names anyway). */
		while (off > 0 && kids[off - 1] != '\0')
			off--;
		i = 0;
		while (off + i < klen &&
		       i + strlen(kids + off + i) < XENSTORE_PAYLOAD_MAX - n - 1)
			i += strlen(kids + off + i) + 1;
		reply = xsd_realloc(NULL, n + i + 1);
		memcpy(reply, buf, n);
		memcpy(reply + n, kids + off, i);
		if (off + i == klen)
			reply[n + i++] = '\0';
		send_msg(c, h->type, h->req_id, h->tx_id, reply, n + i, NULL, 0);
		free(reply);
		free(kids);
		return 0;

	case XS_WRITE:
		if (xsd_get_strings(p, len, v, 1) != 1)
			return EINVAL;
		if ((err = xsd_canon_path(v[0], 0, path, sizeof(path))))
			return err;
		if (fault_write[0] != '\0' &&
		    strcmp(strrchr(path, '/') + 1, fault_write) == 0)
			return EACCES;
		off = strlen(v[0]) + 1;
		if ((err = xsd_write(tx, path, (const char *)p + off,
		                     len - off)))
			return err;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
		return 0;

	case XS_MKDIR:
	case XS_RM:
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		if ((err = xsd_canon_path(a, 0, path, sizeof(path))))
			return err;
		err = h->type == XS_MKDIR ? xsd_mkdir(tx, path)
		                          : xsd_rm(tx, path);
		if (err)
			return err;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
		return 0;

	case XS_SET_PERMS:
		if (xsd_get_strings(p, len, v, 1) != 1)
			return EINVAL;
		if ((err = xsd_canon_path(v[0], 0, path, sizeof(path))))
			return err;
		off = strlen(v[0]) + 1;
		if ((err = do_perms_check(p, len, off, &plen)))
			return err;
		if ((err = xsd_set_perms(tx, path, (const char *)p + off,
		                         plen)))
			return err;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
		return 0;

	case XS_GET_DOMAIN_PATH:
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		/* cxenstored uses atoi here: no error for junk. */
		n = (size_t)snprintf(path, sizeof(path), "/local/domain/%u",
		                     (unsigned)strtoul(a, NULL, 10));
		send_msg(c, h->type, h->req_id, h->tx_id, path, n + 1, NULL, 0);
		return 0;

	case XS_IS_DOMAIN_INTRODUCED:
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		dom = strtoul(a, NULL, 10);
		/* Only dom0 (or DOMID_SELF) exists here. */
		send_msg(c, h->type, h->req_id, h->tx_id,
		         dom == 0 || dom == 0x7FF0 ? "T" : "F", 2, NULL, 0);
		return 0;

	case XS_WATCH:
		if (xsd_get_strings(p, len, v, 2) != 2)
			return EINVAL;
		if ((err = xsd_canon_path(v[0], 1, path, sizeof(path))))
			return err;
		for (w = c->watches; w; w = w->next)
			if (!strcmp(w->path, path) && !strcmp(w->token, v[1]))
				return EEXIST;
		w = xsd_realloc(NULL, sizeof(*w));
		w->path = xstrdup(path);
		w->token = xstrdup(v[1]);
		w->prefix = (v[0][0] != '/' && v[0][0] != '@')
		                ? strlen(XSD_HOME) + 1 : 0;
		w->next = NULL;
		for (wp = &c->watches; *wp; wp = &(*wp)->next)
			;
		*wp = w;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
		/* Fire once up front, as cxenstored does. */
		send_event(c, w, path);
		return 0;

	case XS_UNWATCH:
		if (xsd_get_strings(p, len, v, 2) != 2)
			return EINVAL;
		if ((err = xsd_canon_path(v[0], 1, path, sizeof(path))))
			return err;
		for (wp = &c->watches; (w = *wp); wp = &w->next)
			if (!strcmp(w->path, path) && !strcmp(w->token, v[1])) {
				*wp = w->next;
				free(w->path);
				free(w->token);
				free(w);
				send_msg(c, h->type, h->req_id, h->tx_id, ok, 3,
				         NULL, 0);
				return 0;
			}
		return ENOENT;

	case XS_RESET_WATCHES:
		conn_drop_watches(c);
		conn_drop_txs(c);
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
		return 0;

	case XS_TRANSACTION_START:
		/* The payload (libxenstore sends "") is not looked at. */
		if (tx)
			return EBUSY;
		if (ntx == txcap) {
			txcap = txcap ? txcap * 2 : 16;
			txs = xsd_realloc(txs, txcap * sizeof(*txs));
		}
		if (next_txid == 0)
			next_txid = 1;
		txs[ntx++] = xsd_tx_new(next_txid, c);
		n = (size_t)snprintf(buf, sizeof(buf), "%lu",
		                     (unsigned long)next_txid++);
		send_msg(c, h->type, h->req_id, h->tx_id, buf, n + 1, NULL, 0);
		return 0;

	case XS_TRANSACTION_END:
		if (!tx)
			return ENOENT;
		if (!(a = xsd_onearg(p, len)))
			return EINVAL;
		if (strcmp(a, "T") && strcmp(a, "F"))
			return EINVAL;
		tx_lookup(c, h->tx_id, &i);
		tx_forget(i);
		if (a[0] == 'F') {
			xsd_tx_abort(tx);
		} else {
			commits++;
			if (xsd_fault_next > 0 ||
			    (xsd_fault_every && commits % xsd_fault_every == 0)) {
				if (xsd_fault_next > 0)
					xsd_fault_next--;
				xsd_tx_abort(tx);
				return EAGAIN;
			}
			if ((err = xsd_tx_commit(tx)))
				return err;
		}
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
		return 0;

	case XS_INTRODUCE:
	case XS_RELEASE:
	case XS_RESUME:
	case XS_SET_TARGET:
		/* No other domains exist here: see docs/test-xenstored.md. */
		return ENOSYS;

	default:
		return ENOSYS;
	}
}

void xsd_process(struct xsd_conn *c, const struct xsd_sockmsg *h,
                    const unsigned char *p, size_t len)
{
	int err;
	const char *name;

	c->nreq++;
	/* Like a daemon dying under this client: no reply, no effect. */
	if (xsd_fault_drop && c->nreq % xsd_fault_drop == 0) {
		if (xsd_verbose)
			fprintf(stderr, XSD_PROG ": fd %d request %lu dropped, "
			        "closing\n", c->fd, c->nreq);
		c->dead = 1;
		return;
	}
	if (xsd_verbose)
		fprintf(stderr, XSD_PROG ": fd %d req type %u id %u tx %u len %u "
		        "%.*s\n", c->fd, h->type, h->req_id, h->tx_id, h->len,
		        (int)strnlen((const char *)p, len), (const char *)p);
	err = handle(c, h, p, len);
	if (err) {
		name = xsd_errname(err);
		send_msg(c, XS_ERROR, h->req_id, h->tx_id, name,
		         strlen(name) + 1, NULL, 0);
		if (xsd_verbose)
			fprintf(stderr, XSD_PROG ": fd %d error %s\n", c->fd, name);
	}
}

struct xsd_conn *xsd_conn_new(int fd)
{
	struct xsd_conn *c = xsd_realloc(NULL, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->next = xsd_conns;
	xsd_conns = c;
	return c;
}

/* Forget c: its transactions are aborted, its watches dropped. The
 * descriptor is the caller's. */
void xsd_conn_free(struct xsd_conn *c)
{
	struct xsd_conn **cp;

	for (cp = &xsd_conns; *cp; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	conn_drop_txs(c);
	conn_drop_watches(c);
	free(c->out);
	free(c);
}

/* Transaction ids and commit counts from 1 again (reproducible fuzzing). */
void xsd_dispatch_reset(void)
{
	next_txid = 1;
	commits = 0;
	xsd_fault_next = xsd_fault_every = 0;
	xsd_fault_delay_ms = xsd_fault_drop = 0;
}
