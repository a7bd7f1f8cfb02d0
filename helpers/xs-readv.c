/* SPDX-License-Identifier: LGPL-2.1-only */
/* xs-readv: read several xenstore nodes in one process and one connection,
 * printing each value on its own line (docs/xs-readv.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xhp.h"

static const char USAGE[] = "usage: xs-readv NODE[=DEFAULT]...\n";

/* Which message to give for a refused value. */
static int has_control(const char *v, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 1;
	return 0;
}

/* Globals, so that what is allocated stays reachable when we die. */
static const char **def;
static char **val;
static unsigned int *lens;

int main(int argc, char **argv)
{
	struct xhp_xs q;
	char *v;
	int c, i, n;

	xhp_init(argv[0]);
	while ((c = getopt(argc, argv, "h")) != -1) {
		if (c == 'h') {
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		}
		xhp_usage(USAGE);
	}
	argv += optind;
	n = argc - optind;
	if (n < 1)
		xhp_usage(USAGE);

	def = calloc((size_t)n, sizeof(*def));
	val = calloc((size_t)n, sizeof(*val));
	lens = calloc((size_t)n, sizeof(*lens));
	if (def == NULL || val == NULL || lens == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	/* Validate every argument before connecting: a usage error must not
	 * depend on the store. */
	for (i = 0; i < n; i++) {
		if (xhp_parse_nodearg(argv[i], &def[i]) == -1) {
			fprintf(stderr, "%s: fatal: invalid node name: %s\n",
				xhp_prog, argv[i]);
			xhp_usage(USAGE);
		}
	}

	/* All the reads in flight at once: one round trip, not N. */
	xhp_xs_open(&q);
	xhp_xs_many(&q, 0, argv, (size_t)n, val, lens);
	xhp_xs_close(&q);
	for (i = 0; i < n; i++) {
		v = val[i];
		if (v == NULL) {
			if (def[i] != NULL)
				continue;
			errno = ENOENT;
			xhp_die_sys(XHP_NO, "unable to read %s", argv[i]);
		}
		/* Callers split our output on newlines and pass values to
		 * commands: refuse what would break either. */
		if (!xhp_parse_value(v, lens[i]))
			xhp_die(XHP_NO, has_control(v, lens[i]) ?
				"value of %s contains a control character" :
				"value of %s is not valid UTF-8", argv[i]);
	}
	/* Nothing is printed unless every read succeeded. */
	for (i = 0; i < n; i++) {
		fputs(val[i] != NULL ? val[i] : def[i], stdout);
		putchar('\n');
	}
	xhp_close_stdout();
	for (i = 0; i < n; i++)
		free(val[i]);
	free(val);
	free(lens);
	free(def);
	return XHP_OK;
}
