/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xsraw: speak the xenstore wire protocol byte by byte, for tests of
 * test-xenstored (and, later, of a real xenstored) that libxenstore cannot
 * express: malformed headers, DIRECTORY_PART, exact error replies, the
 * order of acks and watch events.
 *
 *   xsraw [-s SOCKET] [-w MS [-n N]] MSG...
 *
 * MSG is one of
 *   TYPE[@TX]:PAYLOAD  a request; TYPE is a name (READ, WATCH...) or a
 *                      number; TX a number, or T for the id returned by the
 *                      last TRANSACTION_START reply. PAYLOAD takes \0 \n \\
 *                      and \xHH escapes.
 *   hdr:TYPE:LEN       a bare header announcing LEN payload bytes
 *   bytes:DATA         raw bytes (escapes as above)
 *   sleep:MS
 * After each request, messages are printed until its reply has arrived;
 * -w then waits up to MS for each late one (watch events); with -n it stops
 * once N messages have been printed in all. Each message prints
 * as "NAME PAYLOAD", payload escaped the same way. "closed" is printed and
 * the exit status is 3 when the daemon hangs up.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#define PROG "xsraw"
#define USAGE "usage: " PROG " [-s SOCKET] [-w MS [-n N]] MSG...\n"

static const char *names[] = {
	"CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH",
	"TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
	"GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT",
	"ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET", "RESTRICT",
	"RESET_WATCHES", "DIRECTORY_PART",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static int fd = -1;
static unsigned char rbuf[2 * (sizeof(struct xsd_sockmsg) +
                               XENSTORE_PAYLOAD_MAX)];
static size_t rlen;
static unsigned long last_tx, shown;

static void die(const char *verb, const char *obj)
{
	fprintf(stderr, PROG ": fatal: unable to %s %s: %s\n", verb, obj,
	        strerror(errno));
	exit(111);
}

static void usage(void)
{
	fputs(USAGE, stderr);
	exit(100);
}

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static size_t unescape(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned int hx;

	while (*s) {
		if (n == max) {
			fprintf(stderr, PROG ": fatal: payload too long\n");
			exit(100);
		}
		if (*s != '\\') {
			out[n++] = (unsigned char)*s++;
			continue;
		}
		s++;
		switch (*s) {
		case '0': out[n++] = 0; s++; break;
		case 'n': out[n++] = '\n'; s++; break;
		case '\\': out[n++] = '\\'; s++; break;
		case 'x':
			if (sscanf(s + 1, "%2x", &hx) != 1)
				usage();
			out[n++] = (unsigned char)hx;
			s += 3;
			break;
		default: usage();
		}
	}
	return n;
}

static void print_escaped(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == 0)
			fputs("\\0", stdout);
		else if (p[i] == '\\')
			fputs("\\\\", stdout);
		else if (p[i] == '\n')
			fputs("\\n", stdout);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
}

static void send_all(const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n) {
		r = write(fd, b, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET) {
				puts("closed");
				exit(3);
			}
			die("write to", "socket");
		}
		b += r;
		n -= (size_t)r;
	}
}

/* One message into hdr/payload; 0 on timeout (ms < 0: wait forever). */
static int next_msg(struct xsd_sockmsg *hdr, unsigned char *payload, int ms)
{
	struct pollfd p;
	ssize_t r;
	size_t need;

	for (;;) {
		if (rlen >= sizeof(*hdr)) {
			memcpy(hdr, rbuf, sizeof(*hdr));
			if (hdr->len > XENSTORE_PAYLOAD_MAX) {
				fprintf(stderr, PROG ": fatal: reply too long\n");
				exit(111);
			}
			need = sizeof(*hdr) + hdr->len;
			if (rlen >= need) {
				memcpy(payload, rbuf + sizeof(*hdr), hdr->len);
				memmove(rbuf, rbuf + need, rlen - need);
				rlen -= need;
				return 1;
			}
		}
		p.fd = fd;
		p.events = POLLIN;
		r = poll(&p, 1, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll", "socket");
		}
		if (r == 0)
			return 0;
		r = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET) {
				puts("closed");
				exit(3);
			}
			die("read from", "socket");
		}
		if (r == 0) {
			puts("closed");
			exit(3);
		}
		rlen += (size_t)r;
	}
}

static void show(const struct xsd_sockmsg *h, const unsigned char *p)
{
	if (h->type < NNAMES)
		fputs(names[h->type], stdout);
	else
		printf("%u", h->type);
	putchar(' ');
	print_escaped(p, h->len);
	putchar('\n');
	fflush(stdout);
	shown++;
}

static unsigned long type_of(const char *s, size_t n)
{
	size_t i;
	unsigned long v;
	char tmp[32];

	if (n == 0 || n >= sizeof(tmp))
		usage();
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	for (i = 0; i < NNAMES; i++)
		if (strcmp(tmp, names[i]) == 0)
			return i;
	if (parse_ulong(tmp, &v))
		usage();
	return v;
}

static void request(const char *arg, uint32_t req_id)
{
	static unsigned char payload[XENSTORE_PAYLOAD_MAX + 64];
	static unsigned char reply[XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg h, r;
	const char *colon = strchr(arg, ':'), *at;
	unsigned long tx = 0;
	size_t tn;
	char tmp[32];

	if (!colon)
		usage();
	at = memchr(arg, '@', (size_t)(colon - arg));
	tn = (size_t)((at ? at : colon) - arg);
	h.type = (uint32_t)type_of(arg, tn);
	if (at) {
		tn = (size_t)(colon - at - 1);
		if (tn == 0 || tn >= sizeof(tmp))
			usage();
		memcpy(tmp, at + 1, tn);
		tmp[tn] = '\0';
		if (strcmp(tmp, "T") == 0)
			tx = last_tx;
		else if (parse_ulong(tmp, &tx))
			usage();
	}
	h.req_id = req_id;
	h.tx_id = (uint32_t)tx;
	h.len = (uint32_t)unescape(colon + 1, payload, sizeof(payload));
	send_all(&h, sizeof(h));
	send_all(payload, h.len);
	for (;;) {
		next_msg(&r, reply, -1);
		show(&r, reply);
		if (r.type == XS_WATCH_EVENT)
			continue;
		if (r.req_id != req_id)
			continue;
		if (r.type == XS_TRANSACTION_START && r.len > 0) {
			reply[r.len - 1] = '\0';
			last_tx = strtoul((char *)reply, NULL, 10);
		}
		return;
	}
}

int main(int argc, char **argv)
{
	const char *sock = getenv("XENSTORED_PATH");
	struct sockaddr_un sa;
	struct xsd_sockmsg h;
	static unsigned char buf[2 * XENSTORE_PAYLOAD_MAX];
	unsigned long ms = 0, v, max = 0;
	struct timespec ts;
	int opt, i;
	size_t n;
	const char *a, *c2;

	while ((opt = getopt(argc, argv, "s:w:n:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'w':
			if (parse_ulong(optarg, &ms) || ms > 600000)
				usage();
			break;
		case 'n':
			if (parse_ulong(optarg, &max))
				usage();
			break;
		default: usage();
		}
	}
	if (!sock || optind == argc)
		usage();
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		die("connect to", sock);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		die("create", "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to", sock);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("ignore", "SIGPIPE");

	for (i = optind; i < argc; i++) {
		a = argv[i];
		if (strncmp(a, "sleep:", 6) == 0) {
			if (parse_ulong(a + 6, &v))
				usage();
			ts.tv_sec = (time_t)(v / 1000);
			ts.tv_nsec = (long)(v % 1000) * 1000000L;
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		} else if (strncmp(a, "bytes:", 6) == 0) {
			n = unescape(a + 6, buf, sizeof(buf));
			send_all(buf, n);
		} else if (strncmp(a, "hdr:", 4) == 0) {
			c2 = strchr(a + 4, ':');
			if (!c2 || parse_ulong(c2 + 1, &v))
				usage();
			h.type = (uint32_t)type_of(a + 4, (size_t)(c2 - a - 4));
			h.req_id = (uint32_t)i;
			h.tx_id = 0;
			h.len = (uint32_t)v;
			send_all(&h, sizeof(h));
		} else {
			request(a, (uint32_t)i);
		}
	}
	while (ms > 0 && (max == 0 || shown < max) &&
	       next_msg(&h, buf, (int)ms))
		show(&h, buf);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write", "stdout");
	return 0;
}
