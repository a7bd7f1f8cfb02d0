/*
 * test-xenstored: a xenstore daemon for tests, on a Unix socket.
 *
 * One process, one poll loop, no threads: requests are handled whole, one
 * at a time, which gives the same atomicity cxenstored has. Replies and
 * watch events are queued per connection and written as the socket allows,
 * so a client that stops reading never blocks the others.
 */
#define _DEFAULT_SOURCE /* SUN_LEN-free sockaddr_un and strsignal-free build */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xsd.h"

#define PROG "test-xenstored"
#define USAGE "usage: " PROG " -s SOCKET [-P PIDFILE] [-v] [-E N] [-R N]\n"

struct watch {
	char *path;             /* canonical */
	char *token;
	size_t prefix;          /* bytes to strip: relative watches */
	struct watch *next;
};

struct conn {
	int fd;
	unsigned char in[XSD_HDR_LEN + XENSTORE_PAYLOAD_MAX];
	size_t inlen;
	unsigned char *out;
	size_t outlen, outoff, outcap;
	struct watch *watches;
	int dead;
	unsigned long nreq;
	struct conn *next;
};

static struct conn *conns;
static struct xsd_tx **txs;
static size_t ntx, txcap;
static uint32_t next_txid = 1;
static int verbose;
static unsigned long fault_next, fault_every, commits;
static int sigpipe_fds[2] = { -1, -1 };
static volatile sig_atomic_t got_term, got_usr1;

static void die(const char *verb, const char *obj)
{
	fprintf(stderr, PROG ": fatal: unable to %s %s: %s\n", verb, obj,
	        strerror(errno));
	exit(111);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("allocate", "memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("allocate", "memory");
	return p;
}

static int parse_ulong(const char *s, unsigned long *out)
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

static void usage(void)
{
	fputs(USAGE, stderr);
	exit(100);
}

/* ---- output ---- */

static void out_append(struct conn *c, const void *p, size_t n)
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
		c->out = xrealloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void send_msg(struct conn *c, uint32_t type, uint32_t req_id,
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

static void flush_out(struct conn *c)
{
	ssize_t r;

	while (!c->dead && c->outoff < c->outlen) {
		r = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = 1;
			return;
		}
		c->outoff += (size_t)r;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
}

/* ---- watches ---- */

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
	struct conn *c;
	struct watch *w;
	int hit;

	for (c = conns; c; c = c->next)
		for (w = c->watches; w; w = w->next) {
			hit = exact ? strcmp(path, w->path) == 0
			            : is_child(path, w->path);
			if (!hit || strlen(path) < w->prefix)
				continue;
			send_msg(c, XS_WATCH_EVENT, 0, 0, path + w->prefix,
			         strlen(path + w->prefix) + 1, w->token,
			         strlen(w->token) + 1);
			if (verbose)
				fprintf(stderr, PROG ": fd %d event %s %s\n",
				        c->fd, path + w->prefix, w->token);
		}
}

/* ---- transactions table ---- */

static struct xsd_tx *tx_lookup(struct conn *c, uint32_t id, size_t *idx)
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

static void conn_drop_txs(struct conn *c)
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

static void conn_drop_watches(struct conn *c)
{
	struct watch *w;

	while ((w = c->watches)) {
		c->watches = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
}

/* ---- requests ---- */

static const char ok[] = "OK";

static int do_perms_check(const unsigned char *p, size_t len, size_t off,
                          size_t *plen)
{
	size_t n = 0;
	const char *s;

	/* Each entry is a perm letter then a domid, as xs_strings_to_perms. */
	while (off < len) {
		s = (const char *)p + off;
		if (!memchr(s, '\0', len - off))
			return EINVAL;
		if (!strchr("rwbn", s[0]) || s[0] == '\0')
			return EINVAL;
		off += strlen(s) + 1;
		n++;
	}
	if (n == 0)
		return EINVAL;
	*plen = len;
	return 0;
}

static int control(struct conn *c, const struct xsd_sockmsg *h,
                   const unsigned char *p, size_t len)
{
	const char *v[3];
	size_t n = xsd_get_strings(p, len, v, 3);
	unsigned long u;
	static const char help[] =
	    "Available commands:\n"
	    "check\nhelp\nprint <string>\n"
	    "fault-eagain <n>        fail the next n commits with EAGAIN\n"
	    "fault-eagain-every <n>  fail every n-th commit (0: never)\n"
	    "nodes                   print the number of nodes\n";
	char buf[32];

	if (n == 0)
		return EINVAL;
	if (strcmp(v[0], "check") == 0 && n == 1) {
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "help") == 0 && n == 1) {
		send_msg(c, h->type, h->req_id, h->tx_id, help, sizeof(help),
		         NULL, 0);
	} else if (strcmp(v[0], "print") == 0 && n == 2) {
		fprintf(stderr, PROG ": %s\n", v[1]);
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else if (strcmp(v[0], "nodes") == 0 && n == 1) {
		snprintf(buf, sizeof(buf), "%lu", xsd_node_count());
		send_msg(c, h->type, h->req_id, h->tx_id, buf,
		         strlen(buf) + 1, NULL, 0);
	} else if ((strcmp(v[0], "fault-eagain") == 0 ||
	            strcmp(v[0], "fault-eagain-every") == 0) && n == 2) {
		if (parse_ulong(v[1], &u))
			return EINVAL;
		if (v[0][12] == '\0')
			fault_next = u;
		else
			fault_every = u;
		commits = 0;
		send_msg(c, h->type, h->req_id, h->tx_id, ok, 3, NULL, 0);
	} else {
		return EINVAL;
	}
	return 0;
}

static int handle(struct conn *c, const struct xsd_sockmsg *h,
                  const unsigned char *p, size_t len)
{
	char path[XSD_PATH_BUF], buf[64];
	const char *a, *v[2];
	struct xsd_tx *tx = NULL;
	struct xsd_view view;
	struct watch *w, **wp;
	char *kids, *reply;
	size_t klen, n, off, i, plen;
	uint64_t gen;
	unsigned long dom;
	int err;

	if (h->type != XS_TRANSACTION_START && h->tx_id != 0) {
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
		if ((err = xsd_canon_path(a, 0, path, sizeof(path))) ||
		    (err = xsd_read(tx, path, &view)))
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
		reply = xrealloc(NULL, n + i + 1);
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
		                         len - off)))
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
		w = xrealloc(NULL, sizeof(*w));
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
		send_msg(c, XS_WATCH_EVENT, 0, 0, path + w->prefix,
		         strlen(path + w->prefix) + 1, w->token,
		         strlen(w->token) + 1);
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
		if (!xsd_onearg(p, len))
			return EINVAL;
		if (ntx == txcap) {
			txcap = txcap ? txcap * 2 : 16;
			txs = xrealloc(txs, txcap * sizeof(*txs));
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
			if (fault_next > 0 ||
			    (fault_every && commits % fault_every == 0)) {
				if (fault_next > 0)
					fault_next--;
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
		return EINVAL;
	}
}

static void process(struct conn *c, const struct xsd_sockmsg *h,
                    const unsigned char *p, size_t len)
{
	int err;
	const char *name;

	c->nreq++;
	if (verbose)
		fprintf(stderr, PROG ": fd %d req type %u id %u tx %u len %u "
		        "%.*s\n", c->fd, h->type, h->req_id, h->tx_id, h->len,
		        (int)strnlen((const char *)p, len), (const char *)p);
	err = handle(c, h, p, len);
	if (err) {
		name = xsd_errname(err);
		send_msg(c, XS_ERROR, h->req_id, h->tx_id, name,
		         strlen(name) + 1, NULL, 0);
		if (verbose)
			fprintf(stderr, PROG ": fd %d error %s\n", c->fd, name);
	}
}

static void conn_read(struct conn *c)
{
	ssize_t r;
	struct xsd_sockmsg h;
	const unsigned char *payload;
	size_t used, off = 0;
	int st;

	r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (r < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = 1;
		return;
	}
	if (r == 0) {
		c->dead = 1;
		return;
	}
	c->inlen += (size_t)r;
	for (;;) {
		st = xsd_proto_parse(c->in + off, c->inlen - off, &h, &payload,
		                     &used);
		if (st == XSD_PROTO_NEED)
			break;
		if (st == XSD_PROTO_BAD) {
			if (verbose)
				fprintf(stderr, PROG ": fd %d bad header, "
				        "closing\n", c->fd);
			c->dead = 1;
			return;
		}
		process(c, &h, payload, h.len);
		off += used;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
}

/* ---- main loop ---- */

static void on_signal(int sig)
{
	int saved = errno;
	char b = (char)sig;

	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
	/* Wakes poll() even if the signal lands just before it. */
	if (write(sigpipe_fds[1], &b, 1) < 0) {
		/* Pipe full: a wake-up is already pending. */
	}
	errno = saved;
}

static void set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		die("set flags on", "descriptor");
}

static int listen_on(const char *sock)
{
	struct sockaddr_un sa;
	int fd, probe;
	struct stat st;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		die("bind", sock);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		die("create", "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* A socket left by a killed daemon: replace it, but never
		 * steal the path from one that still answers. */
		if (errno != EADDRINUSE || lstat(sock, &st) < 0 ||
		    !S_ISSOCK(st.st_mode))
			die("bind", sock);
		probe = socket(AF_UNIX, SOCK_STREAM, 0);
		if (probe < 0)
			die("create", "socket");
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			errno = EADDRINUSE;
			die("bind", sock);
		}
		close(probe);
		if (unlink(sock) < 0)
			die("unlink", sock);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("bind", sock);
	}
	if (listen(fd, 128) < 0)
		die("listen on", sock);
	set_nonblock_cloexec(fd);
	return fd;
}

static void conn_free(struct conn *c)
{
	struct conn **cp;

	for (cp = &conns; *cp; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	conn_drop_txs(c);
	conn_drop_watches(c);
	close(c->fd);
	free(c->out);
	free(c);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *pidfile = NULL;
	struct sigaction sa;
	struct pollfd *pfd = NULL;
	struct conn *c, *cn, **idx = NULL;
	size_t npfd, cap = 0, i;
	int opt, lfd, fd;
	char drain[64];
	FILE *fp;

	while ((opt = getopt(argc, argv, "s:P:vE:R:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'v': verbose = 1; break;
		case 'E':
			if (parse_ulong(optarg, &fault_next))
				usage();
			break;
		case 'R':
			if (parse_ulong(optarg, &fault_every))
				usage();
			break;
		default: usage();
		}
	}
	if (!sock || optind != argc)
		usage();

	if (pipe(sigpipe_fds) < 0)
		die("create", "pipe");
	set_nonblock_cloexec(sigpipe_fds[0]);
	set_nonblock_cloexec(sigpipe_fds[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0 ||
	    sigaction(SIGUSR1, &sa, NULL) < 0)
		die("install", "signal handlers");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		die("ignore", "SIGPIPE");

	xsd_store_init();
	lfd = listen_on(sock);
	if (pidfile) {
		fp = fopen(pidfile, "w");
		if (!fp || fprintf(fp, "%ld\n", (long)getpid()) < 0 ||
		    fclose(fp) != 0)
			die("write", pidfile);
	}

	while (!got_term) {
		npfd = 2;
		for (c = conns; c; c = c->next)
			npfd++;
		if (npfd > cap) {
			cap = npfd * 2;
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			idx = xrealloc(idx, cap * sizeof(*idx));
		}
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sigpipe_fds[0];
		pfd[1].events = POLLIN;
		npfd = 2;
		for (c = conns; c; c = c->next) {
			pfd[npfd].fd = c->fd;
			pfd[npfd].events = POLLIN;
			if (c->outoff < c->outlen)
				pfd[npfd].events |= POLLOUT;
			idx[npfd++] = c;
		}
		if (poll(pfd, npfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", "descriptors");
		}
		if (pfd[1].revents) {
			while (read(sigpipe_fds[0], drain, sizeof(drain)) > 0)
				;
			if (got_usr1) {
				got_usr1 = 0;
				xsd_dump(stdout);
			}
		}
		for (i = 2; i < npfd; i++) {
			c = idx[i];
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(c);
			if (pfd[i].revents & POLLNVAL)
				c->dead = 1;
		}
		/* Flush everyone: a request may have queued events for
		 * connections that were not readable this round. */
		for (c = conns; c; c = cn) {
			cn = c->next;
			flush_out(c);
			if (c->dead)
				conn_free(c);
		}
		if (pfd[0].revents & POLLIN) {
			for (;;) {
				fd = accept(lfd, NULL, NULL);
				if (fd < 0) {
					if (errno == EINTR)
						continue;
					if (errno == EAGAIN ||
					    errno == EWOULDBLOCK ||
					    errno == ECONNABORTED)
						break;
					if (errno == EMFILE || errno == ENFILE)
						break;
					die("accept", "connection");
				}
				set_nonblock_cloexec(fd);
				c = xrealloc(NULL, sizeof(*c));
				memset(c, 0, sizeof(*c));
				c->fd = fd;
				c->next = conns;
				conns = c;
			}
		}
	}

	if (unlink(sock) < 0 && errno != ENOENT)
		die("unlink", sock);
	if (pidfile && unlink(pidfile) < 0 && errno != ENOENT)
		die("unlink", pidfile);
	while (conns)
		conn_free(conns);
	free(pfd);
	free(idx);
	return 0;
}
