/* SPDX-License-Identifier: LGPL-2.1-only */
/* xs-majmin: publish a backend's device in one xenstore transaction
 * (docs/xs-majmin.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: xs-majmin [-p] [-o FMT] [-e NODE=VALUE]... BACKEND DEVPATH\n"
	"                 [NODE=VALUE]...\n"
	"       xs-majmin -t [-o FMT] BACKEND\n"
	"FMT is linux (hex MAJ:MIN) or netbsd (decimal dev_t). A NODE=VALUE\n"
	"after DEVPATH is one more -e NODE=VALUE.\n";

int main(int argc, char **argv)
{
	char mm[XHP_MAJMIN_MAX];
	struct xhp_pub j;
	struct xhp_xs q;
	int i, opt, toolstack = 0, pathonly = 0;

	xhp_init(argv[0]);
	memset(&j, 0, sizeof(j));
	j.fmt = XHP_FMT_DEFAULT;
	j.extra = calloc((size_t)argc, sizeof(*j.extra));
	if (j.extra == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	while ((opt = getopt(argc, argv, "hpte:o:")) != -1) {
		switch (opt) {
		case 'h':
			free(j.extra);
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'p': pathonly = 1; break;
		case 't': toolstack = 1; break;
		case 'e':
			xhp_pub_extra(&j, optarg, USAGE);
			break;
		case 'o':
			j.fmt = xhp_parse_fmt(optarg);
			if (j.fmt == -1)
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (toolstack ? (argc != 1 || pathonly || j.nextra) : argc < 2)
		xhp_usage(USAGE);
	j.backend = argv[0];
	if (*j.backend == '\0')
		xhp_usage(USAGE);
	if (!toolstack) {
		j.devpath = argv[1];
		if (*j.devpath == '\0')
			xhp_usage(USAGE);
		/* block-common.sh's write_dev passes its NODE=VALUE arguments
		 * on as they came. */
		for (i = 2; i < argc; i++)
			xhp_pub_extra(&j, argv[i], USAGE);
		/* Stat before the transaction: it is the slow part. */
		if (!pathonly) {
			xhp_id_stat_blk(j.devpath, j.fmt, mm);
			j.mm = mm;
		}
	}

	xhp_xs_open(&q);
	j.q = &q;
	xhp_pub_commit(&j);
	xhp_xs_close(&q);
	free(j.extra);
	return XHP_OK;
}
