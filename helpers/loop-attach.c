/* SPDX-License-Identifier: LGPL-2.1-only */
/* loop-attach: bind a file to a free loop device in one race-free step and
 * tag the device, so that it can be verified and found again. See
 * docs/loop-attach.md. */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

#define USAGE \
"usage: loop-attach [-r] -t TAG FILE\n" \
"  -r      attach read-only\n" \
"  -t TAG  label stored in the device (1 to 63 printable bytes, no\n" \
"          leading '/')\n" \
"prints: /dev/loopN DEV:INO (decimal st_dev and inode of FILE)\n"

#ifdef __linux__
int main(int argc, char **argv)
{
	const char *tag = NULL;
	struct stat st;
	char node[32];
	int c, ro = 0, lfd;

	xhp_init(argv[0]);
	opterr = 0;
	while ((c = getopt(argc, argv, "hrt:")) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'r':
			ro = 1;
			break;
		case 't':
			tag = optarg;
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	if (argc - optind != 1 || tag == NULL || !xhp_loop_tag_ok(tag) ||
	    argv[optind][0] == '\0')
		xhp_usage(USAGE);

	lfd = xhp_loop_attach(argv[optind], ro, tag, node, &st);
	printf("%s %ju:%ju\n", node, (uintmax_t)st.st_dev,
	       (uintmax_t)st.st_ino);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int err = errno;

		/* Nobody learnt the device name: do not leak it. */
		if (xhp_loop_clear(lfd) == -1)
			xhp_die_sys(XHP_SYS, "unable to write to stdout, and "
				    "to detach %s", node);
		errno = err;
		xhp_die_sys(XHP_SYS, "unable to write to stdout (%s detached)",
			    node);
	}
	if (close(lfd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", node);
	xhp_close_stdout();
	return XHP_OK;
}
#else
int main(int argc, char **argv)
{
	(void)argc;
	xhp_init(argv[0]);
	xhp_die(XHP_SYS, "unable to attach: loop devices are Linux only");
}
#endif
