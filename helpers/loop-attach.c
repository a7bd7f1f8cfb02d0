/* loop-attach: bind a file to a free loop device in one race-free step and
 * tag the device, so that it can be verified and found again. See
 * docs/loop-attach.md. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include <linux/loop.h>
#include <sys/ioctl.h>

/* Another losetup user can take the device LOOP_CTL_GET_FREE gave us
 * before we bind it; try again with a fresh one this many times. */
#define ATTEMPTS 64

static int tag_ok(const char *tag)
{
	size_t n = strlen(tag), i;

	/* losetup stores the backing file's path in the same field: a tag
	 * that cannot be a path means -a never frees a losetup device. */
	if (n == 0 || n >= XHP_LOOP_TAG_MAX || tag[0] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)tag[i] < 0x20 || (unsigned char)tag[i] > 0x7e)
			return 0;
	return 1;
}

static int open_file(const char *path, int ro, struct stat *st)
{
	int fd, fl;

	/* stat first: opening a device node or fifo has side effects (or
	 * blocks), and those are refused anyway. */
	if (stat(path, st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			xhp_die_sys(XHP_NO, "unable to open %s", path);
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	}
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_NO, "unable to attach %s: not a regular file",
			path);
	fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == EROFS)
			xhp_die(XHP_NO, "unable to attach %s: %s is on a "
				"read-only filesystem", path, path);
		if (errno == ENOENT)
			xhp_die_sys(XHP_NO, "unable to open %s", path);
		xhp_die_sys(XHP_SYS, "unable to open %s", path);
	}
	/* Swapped for something else since the stat? */
	if (fstat(fd, st) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_NO, "unable to attach %s: not a regular file",
			path);
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		xhp_die_sys(XHP_SYS, "unable to set flags on %s", path);
	return fd;
}

/* Old kernels (before 5.8) have no LOOP_CONFIGURE: bind, then label. The
 * read-only flag follows from FILE's open mode. 0 ok, -1 with errno. */
static int bind_old(int lfd, int ffd, const struct loop_info64 *li)
{
	struct loop_info64 st = *li;
	int err;

	if (ioctl(lfd, LOOP_SET_FD, ffd) == -1)
		return -1;
	st.lo_flags = 0;
	if (ioctl(lfd, LOOP_SET_STATUS64, &st) == -1) {
		err = errno;
		/* Leave no untagged device behind. */
		if (ioctl(lfd, LOOP_CLR_FD, 0) == -1)
			xhp_die_sys(XHP_SYS, "unable to detach half-attached "
				    "loop device");
		errno = err;
		xhp_die_sys(XHP_SYS, "unable to set loop device status");
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *tag = NULL;
	struct loop_config cfg;
	struct stat st;
	char node[32];
	int c, ro = 0, ffd, cfd, lfd, attempt, bound = 0;
	int no_configure = getenv("XHP_TEST_NO_LOOP_CONFIGURE") != NULL;
	long n;

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
	if (argc - optind != 1 || tag == NULL || !tag_ok(tag) ||
	    argv[optind][0] == '\0')
		xhp_usage(USAGE);

	ffd = open_file(argv[optind], ro, &st);
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (uint32_t)ffd;
	cfg.info.lo_flags = ro ? LO_FLAGS_READ_ONLY : 0;
	memcpy(cfg.info.lo_file_name, tag, strlen(tag));

	cfd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (cfd == -1)
		xhp_die_sys(XHP_SYS, "unable to open /dev/loop-control");
	for (attempt = 0; attempt < ATTEMPTS && !bound; attempt++) {
		n = ioctl(cfd, LOOP_CTL_GET_FREE);
		if (n < 0)
			xhp_die_sys(XHP_SYS, "unable to get a free loop device");
		snprintf(node, sizeof(node), "/dev/loop%ld", n);
		lfd = open(node, O_RDWR | O_CLOEXEC);
		if (lfd == -1) {
			/* Removed (LOOP_CTL_REMOVE) under us: take another. */
			if (errno == ENOENT || errno == ENXIO)
				continue;
			xhp_die_sys(XHP_SYS, "unable to open %s", node);
		}
		if (!no_configure && ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			bound = 1;
		else if (!no_configure && errno != EINVAL && errno != ENOTTY &&
			 errno != EBUSY)
			xhp_die_sys(XHP_SYS, "unable to attach %s to %s",
				    argv[optind], node);
		else if (no_configure || errno != EBUSY) {
			if (bind_old(lfd, ffd, &cfg.info) == 0)
				bound = 1;
			else if (errno != EBUSY)
				xhp_die_sys(XHP_SYS, "unable to attach %s "
					    "to %s", argv[optind], node);
		}
		if (!bound && close(lfd) == -1)
			xhp_die_sys(XHP_SYS, "unable to close %s", node);
	}
	if (!bound)
		xhp_die(XHP_SYS, "unable to attach %s: every free loop device "
			"was taken by someone else %d times", argv[optind],
			ATTEMPTS);
	/* The binding holds its own reference to the file. */
	if (close(cfd) == -1 || close(ffd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close descriptors");
	printf("%s %ju:%ju\n", node, (uintmax_t)st.st_dev,
	       (uintmax_t)st.st_ino);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int err = errno;

		/* Nobody learnt the device name: do not leak it. */
		if (ioctl(lfd, LOOP_CLR_FD, 0) == -1)
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
