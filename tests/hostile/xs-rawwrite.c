/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xs-rawwrite: test client for tests/scripts/hostile.bats. Writes the bytes of
 * stdin, exactly as read (NUL bytes, invalid UTF-8 and a missing final
 * newline included), as the value of one xenstore node. xenstore-write
 * takes the value as a C string and so cannot write a NUL; xs_write takes
 * a length. Never installed, never part of a helper.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#define USAGE "usage: xs-rawwrite PATH <VALUE\n"
#define MAXV 65536

int main(int argc, char **argv)
{
	static char buf[MAXV];
	size_t len = 0;
	ssize_t n;
	struct xs_handle *xs;

	if (argc != 2) {
		fputs(USAGE, stderr);
		return 100;
	}
	for (;;) {
		n = read(0, buf + len, sizeof(buf) - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "xs-rawwrite: fatal: unable to read stdin: %s\n",
			    strerror(errno));
			return 111;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf)) {
			fputs("xs-rawwrite: fatal: value longer than 65535 bytes\n", stderr);
			return 100;
		}
	}
	xs = xs_open(0);
	if (xs == NULL) {
		fprintf(stderr, "xs-rawwrite: fatal: unable to connect to xenstore: %s\n",
		    strerror(errno));
		return 111;
	}
	if (!xs_write(xs, XBT_NULL, argv[1], buf, (unsigned int)len)) {
		fprintf(stderr, "xs-rawwrite: fatal: unable to write %s: %s\n",
		    argv[1], strerror(errno));
		xs_close(xs);
		return 111;
	}
	xs_close(xs);
	return 0;
}
