/* SPDX-License-Identifier: LGPL-2.1-only */
/* xs.c: our own xenstore connection, on which many requests are in flight
 * at once (docs/performance.md), and the paths and payloads sent on it.
 *
 * libxenstore sends one request per handle and waits for its reply, so a
 * sharing check over 1000 backends costs 1000 round trips through
 * xenstored, each a pair of wake-ups. The wire protocol lets a client send
 * the next request before the last reply: xenstored answers each
 * connection's requests in order, with the request's req_id. Here up to
 * XHP_XS_WINDOW requests go out, then their replies are read back, so the
 * same scan costs a few round trips.
 *
 * The scan (scan.c, fetch.c) and the transactions (batch.c, pub.c) go
 * through here, with paths and payloads built by xspath.c. libxenstore is
 * left for a listing over 4096 bytes, which it fetches in parts. The
 * connection is found as xs_open() finds it: the socket named by
 * xs_daemon_socket() (XENSTORED_PATH, or xenstored's run directory),
 * otherwise the kernel's xenbus device, which takes one message per
 * write(2) and queues the replies. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"


static int sock_open(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static const char *const xenbus_devs[] = {
	"/dev/xen/xenbus", "/proc/xen/xenbus", "/kern/xen/xenbus",
	"/dev/xen/xenstore", NULL
};

void xhp_xs_open(struct xhp_xs *q)
{
	const char *path = xs_daemon_socket();
	struct stat st;
	int i, err = ENOENT;

	q->fd = -1;
	q->id = 0;
	q->sock = 0;
	q->rpos = q->rlen = 0;
	if (path != NULL && stat(path, &st) == 0) {
		q->sock = S_ISSOCK(st.st_mode);
		q->fd = q->sock ? sock_open(path) : open(path, O_RDWR);
		if (q->fd != -1) {
			(void)fcntl(q->fd, F_SETFD, FD_CLOEXEC);
			return;
		}
		err = errno;
	}
	/* XENSTORED_PATH, when set, is the only place xs_open() looks;
	 * otherwise it falls back to the kernel's xenbus device. */
	if (getenv("XENSTORED_PATH") == NULL) {
		q->sock = 0;
		for (i = 0; xenbus_devs[i] != NULL; i++) {
			q->fd = open(xenbus_devs[i], O_RDWR);
			if (q->fd != -1) {
				(void)fcntl(q->fd, F_SETFD, FD_CLOEXEC);
				return;
			}
		}
	}
	errno = err;
	xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
}

void xhp_xs_close(struct xhp_xs *q)
{
	if (q->fd != -1)
		close(q->fd);
	q->fd = -1;
}

/* A socket whose xenstored went away must give an error, not a SIGPIPE
 * that would kill us before we could undo anything (libxenstore ignores
 * SIGPIPE around its writes for the same reason). */
static void write_all(int fd, int sock, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = sock ? send(fd, buf, len, MSG_NOSIGNAL) :
			    write(fd, buf, len);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			xhp_die_sys(XHP_SYS, "unable to send to xenstore");
		}
		buf += w;
		len -= (size_t)w;
	}
}

/* The next LEN bytes of the reply stream into BUF, through Q's buffer:
 * one read(2) takes as many replies as are there, not two per reply. A
 * device gives what it has queued, as a socket does. */
static void read_all(struct xhp_xs *q, char *buf, size_t len)
{
	size_t n;
	ssize_t r;

	while (len > 0) {
		if (q->rpos == q->rlen) {
			r = read(q->fd, q->rb, sizeof(q->rb));
			if (r == 0)
				xhp_die(XHP_SYS, "unable to read from "
					"xenstore: the connection was closed");
			if (r == -1) {
				if (errno == EINTR)
					continue;
				xhp_die_sys(XHP_SYS,
					    "unable to read from xenstore");
			}
			q->rpos = 0;
			q->rlen = (size_t)r;
		}
		n = q->rlen - q->rpos < len ? q->rlen - q->rpos : len;
		memcpy(buf, q->rb + q->rpos, n);
		q->rpos += n;
		buf += n;
		len -= n;
	}
}

/* Queue request R with id ID in OUT (room for one message); return its
 * length. */
static size_t put_req(char *out, const struct xhp_xs_req *r, uint32_t id)
{
	struct xsd_sockmsg m;

	if (r->len > XENSTORE_PAYLOAD_MAX)
		xhp_die(XHP_SYS, "xenstore request of %zu bytes", r->len);
	memset(&m, 0, sizeof(m));
	m.type = r->type;
	m.req_id = id;
	m.tx_id = r->tx;
	m.len = (uint32_t)r->len;
	memcpy(out, &m, sizeof(m));
	memcpy(out + sizeof(m), r->data, r->len);
	return sizeof(m) + r->len;
}

/* Take the reply to request R, sent with id ID: R->val and R->vlen, or
 * R->err for an error reply, the name mapped to its errno as libxenstore
 * does (EINVAL for one it does not know). */
static void get_reply(struct xhp_xs *q, struct xhp_xs_req *r, uint32_t id)
{
	struct xsd_sockmsg m;
	char *body;
	size_t e;

	read_all(q, (char *)&m, sizeof(m));
	if (m.len > XENSTORE_PAYLOAD_MAX)
		xhp_die(XHP_SYS, "xenstore sent a reply of %u bytes",
			(unsigned int)m.len);
	body = malloc((size_t)m.len + 1);
	if (body == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	read_all(q, body, m.len);
	body[m.len] = '\0';
	if (m.req_id != id || (m.type != r->type && m.type != XS_ERROR))
		xhp_die(XHP_SYS, "xenstore answered out of order (request %u, "
			"reply %u of type %u)", (unsigned int)id,
			(unsigned int)m.req_id, (unsigned int)m.type);
	r->val = NULL;
	r->vlen = 0;
	r->err = 0;
	if (m.type == XS_ERROR) {
		r->err = EINVAL;
		for (e = 0; e < sizeof(xsd_errors) / sizeof(xsd_errors[0]); e++)
			if (strcmp(body, xsd_errors[e].errstring) == 0)
				r->err = xsd_errors[e].errnum;
		free(body);
		return;
	}
	r->val = body;
	r->vlen = m.len;
}

void xhp_xs_batch(struct xhp_xs *q, struct xhp_xs_req *r, size_t n)
{
	char *out = NULL;
	size_t i, j, k, used, need, room = 0;

	for (i = 0; i < n; i = k) {
		uint32_t first = q->id;

		/* Room for this window's messages, not for 64 of the largest:
		 * a scan's requests are small. */
		need = 0;
		for (k = i; k < n && k - i < XHP_XS_WINDOW; k++)
			need += sizeof(struct xsd_sockmsg) +
				(r[k].len > XENSTORE_PAYLOAD_MAX ?
				 0 : r[k].len);
		if (need > room) {
			free(out);
			out = malloc(need);
			if (out == NULL)
				xhp_die_sys(XHP_SYS,
					    "unable to allocate memory");
			room = need;
		}
		used = 0;
		for (k = i; k < n && k - i < XHP_XS_WINDOW; k++) {
			size_t m = put_req(out + used, &r[k], q->id++);

			/* A device takes one message per write. */
			if (!q->sock)
				write_all(q->fd, 0, out + used, m);
			else
				used += m;
		}
		if (q->sock)
			write_all(q->fd, 1, out, used);
		for (j = i; j < k; j++)
			get_reply(q, &r[j], first + (uint32_t)(j - i));
	}
	free(out);
}

/* The requests of the xhp_xs_many call in progress: a helper that dies
 * in it exits with them (and the replies they hold) still reachable, so
 * that a leak checker does not count them (volatile: never read, the
 * compiler would drop it otherwise). */
static struct xhp_xs_req *volatile many_live;

void xhp_xs_many(struct xhp_xs *q, int list, char *const *paths,
		 size_t n, char **vals, unsigned int *lens)
{
	struct xhp_xs_req *r = calloc(n + 1, sizeof(*r));
	size_t i;

	if (r == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (i = 0; i < n; i++) {
		r[i].type = list ? XS_DIRECTORY : XS_READ;
		r[i].data = paths[i];
		r[i].len = strlen(paths[i]) + 1;
	}
	many_live = r;
	xhp_xs_batch(q, r, n);
	for (i = 0; i < n; i++) {
		if (r[i].err != 0 && r[i].err != ENOENT) {
			errno = r[i].err;
			xhp_die_sys(XHP_SYS, "unable to %s %s",
				    list ? "list" : "read", paths[i]);
		}
		vals[i] = r[i].val;
		lens[i] = r[i].vlen;
	}
	many_live = NULL;
	free(r);
}

char *xhp_xs_read(struct xhp_xs *q, const char *node, unsigned int *len)
{
	char *v, *p = (char *)node;
	unsigned int n;

	xhp_xs_many(q, 0, &p, 1, &v, len ? len : &n);
	return v;
}
