/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * test-xenstored: a xenstore daemon for tests, on a Unix socket.
 *
 * One process, one poll loop, no threads: requests are handled whole, one
 * at a time, which gives the same atomicity cxenstored has. Replies and
 * watch events are queued per connection and written as the socket allows,
 * so a client that stops reading never blocks the others.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xsd.h"

#define PROG XSD_PROG
#define USAGE "usage: " PROG " -s SOCKET [-P PIDFILE] [-v] [-E N] [-R N]" \
              " [-D MS] [-K N]\n"

static int sigpipe_fds[2] = { -1, -1 };
static volatile sig_atomic_t got_term, got_usr1;

static void usage(void)
{
	fputs(USAGE, stderr);
	exit(100);
}

static void flush_out(struct xsd_conn *c)
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

/* The whole daemon stalls, as a single-threaded xenstored under load. */
static void stall(unsigned long ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !got_term)
		;
}

static void conn_read(struct xsd_conn *c)
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
			if (xsd_verbose)
				fprintf(stderr, PROG ": fd %d bad header, "
				        "closing\n", c->fd);
			c->dead = 1;
			return;
		}
		if (xsd_fault_delay_ms)
			stall(xsd_fault_delay_ms);
		xsd_process(c, &h, payload, h.len);
		off += used;
		if (c->dead)
			return;
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
		xsd_die("set flags on", "descriptor");
}

static int listen_on(const char *sock)
{
	struct sockaddr_un sa;
	int fd, probe;
	struct stat st;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		xsd_die("bind", sock);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		xsd_die("create", "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* A socket left by a killed daemon: replace it, but never
		 * steal the path from one that still answers. */
		if (errno != EADDRINUSE || lstat(sock, &st) < 0 ||
		    !S_ISSOCK(st.st_mode))
			xsd_die("bind", sock);
		probe = socket(AF_UNIX, SOCK_STREAM, 0);
		if (probe < 0)
			xsd_die("create", "socket");
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			errno = EADDRINUSE;
			xsd_die("bind", sock);
		}
		close(probe);
		if (unlink(sock) < 0)
			xsd_die("unlink", sock);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			xsd_die("bind", sock);
	}
	if (listen(fd, 128) < 0)
		xsd_die("listen on", sock);
	set_nonblock_cloexec(fd);
	return fd;
}

static void conn_free(struct xsd_conn *c)
{
	if (close(c->fd) < 0 && errno != EINTR)
		xsd_die("close", "connection");
	xsd_conn_free(c);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *pidfile = NULL;
	struct sigaction sa;
	struct pollfd *pfd = NULL;
	struct xsd_conn *c, *cn, **idx = NULL;
	size_t npfd, cap = 0, i;
	int opt, lfd, fd;
	char drain[64];
	FILE *fp;

	while ((opt = getopt(argc, argv, "s:P:vE:R:D:K:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'v': xsd_verbose = 1; break;
		case 'E':
			if (xsd_parse_ulong(optarg, &xsd_fault_next))
				usage();
			break;
		case 'R':
			if (xsd_parse_ulong(optarg, &xsd_fault_every))
				usage();
			break;
		case 'D':
			if (xsd_parse_ulong(optarg, &xsd_fault_delay_ms))
				usage();
			break;
		case 'K':
			if (xsd_parse_ulong(optarg, &xsd_fault_drop))
				usage();
			break;
		default: usage();
		}
	}
	if (!sock || optind != argc)
		usage();

	if (pipe(sigpipe_fds) < 0)
		xsd_die("create", "pipe");
	set_nonblock_cloexec(sigpipe_fds[0]);
	set_nonblock_cloexec(sigpipe_fds[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0 ||
	    sigaction(SIGUSR1, &sa, NULL) < 0)
		xsd_die("install", "signal handlers");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		xsd_die("ignore", "SIGPIPE");

	xsd_store_init();
	lfd = listen_on(sock);
	if (pidfile) {
		fp = fopen(pidfile, "w");
		if (!fp || fprintf(fp, "%ld\n", (long)getpid()) < 0 ||
		    fclose(fp) != 0)
			xsd_die("write", pidfile);
	}

	while (!got_term) {
		npfd = 2;
		for (c = xsd_conns; c; c = c->next)
			npfd++;
		if (npfd > cap) {
			cap = npfd * 2;
			pfd = xsd_realloc(pfd, cap * sizeof(*pfd));
			idx = xsd_realloc(idx, cap * sizeof(*idx));
		}
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sigpipe_fds[0];
		pfd[1].events = POLLIN;
		npfd = 2;
		for (c = xsd_conns; c; c = c->next) {
			pfd[npfd].fd = c->fd;
			pfd[npfd].events = POLLIN;
			if (c->outoff < c->outlen)
				pfd[npfd].events |= POLLOUT;
			idx[npfd++] = c;
		}
		if (poll(pfd, npfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			xsd_die("poll", "descriptors");
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
		for (c = xsd_conns; c; c = cn) {
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
					xsd_die("accept", "connection");
				}
				set_nonblock_cloexec(fd);
				xsd_conn_new(fd);
			}
		}
	}

	if (unlink(sock) < 0 && errno != ENOENT)
		xsd_die("unlink", sock);
	if (pidfile && unlink(pidfile) < 0 && errno != ENOENT)
		xsd_die("unlink", pidfile);
	while (xsd_conns)
		conn_free(xsd_conns);
	free(pfd);
	free(idx);
	return 0;
}

