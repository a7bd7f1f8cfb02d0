/* SPDX-License-Identifier: LGPL-2.1-only */
/* loop-probe: drives the loop functions of helpers/lib for
 * tests/helpers/loop-attach.bats.
 *   loop-probe backing MAJ MIN   xhp_loopmap_backing: "RC" or "0 DEV:INO"
 *   loop-probe users FILE [N]    xhp_loopmap_users: one "MAJ:MIN" per
 *                                device, then "RC"; the callback returns 7
 *                                on the Nth device (default: never)
 *   loop-probe decode KDEV       xhp_loopmap_decode_dev: "MAJ:MIN"
 *   loop-probe tag DEV           xhp_loop_status: the name the device was
 *                                bound with (our tag, or losetup's path);
 *                                "RC" when it cannot be read */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "xhp.h"

static unsigned long stop_at, seen;

static int show(unsigned int maj, unsigned int min, void *ctx)
{
	(void)ctx;
	printf("%u:%u\n", maj, min);
	return ++seen == stop_at ? 7 : 0;
}

int main(int argc, char **argv)
{
	unsigned long a, b;
	struct stat st;
	dev_t dev;
	ino_t ino;
	int r;

	xhp_init("loop-probe");
	if (argc == 4 && argv[1][0] == 'b' &&
	    xhp_parse_ulong(argv[2], 10, 0xfffUL, &a) == 0 &&
	    xhp_parse_ulong(argv[3], 10, 0xfffffUL, &b) == 0) {
		r = xhp_loopmap_backing((unsigned int)a, (unsigned int)b,
					&dev, &ino);
		if (r == 0)
			printf("0 %ju:%ju\n", (uintmax_t)dev, (uintmax_t)ino);
		else
			printf("%d\n", r);
	} else if ((argc == 3 || argc == 4) && argv[1][0] == 'u') {
		if (argc == 4 &&
		    xhp_parse_ulong(argv[3], 10, 1000UL, &stop_at) == -1)
			xhp_usage("loop-probe: bad N\n");
		if (stat(argv[2], &st) == -1)
			xhp_die_sys(XHP_SYS, "unable to stat %s", argv[2]);
		r = xhp_loopmap_users(st.st_dev, st.st_ino, show, NULL);
		printf("%d\n", r);
	} else if (argc == 3 && argv[1][0] == 'd' &&
		   xhp_parse_ulong(argv[2], 10, 0xffffffffUL, &a) == 0) {
		dev = xhp_loopmap_decode_dev(a);
		printf("%u:%u\n", major(dev), minor(dev));
	} else if (argc == 3 && argv[1][0] == 't') {
		char tag[XHP_LOOP_TAG_MAX];
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);

		r = fd == -1 ? -1 : xhp_loop_status(fd, NULL, NULL, tag);
		if (r == 0)
			printf("%s\n", tag);
		else
			printf("%d\n", r);
		if (fd != -1)
			close(fd);
	} else {
		xhp_usage("usage: loop-probe backing MAJ MIN | users FILE [N] "
			  "| decode KDEV | tag DEV\n");
	}
	xhp_close_stdout();
	return 0;
}
