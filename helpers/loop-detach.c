/* loop-detach: free a loop device only if it still maps the file (and
 * carries the tag) we recorded; or free every device carrying a tag. See
 * docs/loop-detach.md. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

#define USAGE \
"usage: loop-detach [-i DEV:INO] [-t TAG] /dev/loopN\n" \
"       loop-detach -a -t TAG\n" \
"  -i DEV:INO  detach only if bound to this file (decimal st_dev:inode)\n" \
"  -t TAG      detach only if the device carries TAG\n" \
"  -a          detach every loop device carrying TAG; print each one\n"

#ifdef __linux__
#include <linux/loop.h>
#include <sys/ioctl.h>

/* Parse "DEV:INO", both decimal. */
static int parse_id(const char *s, dev_t *dev, ino_t *ino)
{
	char buf[64], *colon;
	unsigned long d, i;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (xhp_parse_ulong(buf, 10, ULONG_MAX, &d) == -1 ||
	    xhp_parse_ulong(colon + 1, 10, ULONG_MAX, &i) == -1)
		return -1;
	*dev = (dev_t)d;
	*ino = (ino_t)i;
	return (unsigned long)*dev == d && (unsigned long)*ino == i ? 0 : -1;
}

/* Detach the loop device open on FD. While our descriptor is open nobody
 * else can clear and rebind the device (their clear turns lazy), so what
 * the caller verified is what we detach. */
static void detach(int fd, const char *node)
{
	struct loop_info64 li;

	if (ioctl(fd, LOOP_CLR_FD, 0) == 0)
		return;
	if (errno == ENXIO)
		return; /* cleared by someone else meanwhile: done too */
	if (errno != EBUSY)
		xhp_die_sys(XHP_SYS, "unable to detach %s", node);
	/* Kernels before 5.x refuse to clear a device that is still open
	 * (blkback not yet closed): let the last close do it, as
	 * losetup -d does. */
	memset(&li, 0, sizeof(li));
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1) {
		if (errno == ENXIO)
			return;
		xhp_die_sys(XHP_SYS, "unable to get status of %s", node);
	}
	li.lo_flags |= LO_FLAGS_AUTOCLEAR;
	if (ioctl(fd, LOOP_SET_STATUS64, &li) == -1)
		xhp_die_sys(XHP_SYS, "unable to set autoclear on %s", node);
}

static int detach_one(const char *node, const char *want_id,
		      const char *want_tag)
{
	char tag[XHP_LOOP_TAG_MAX];
	dev_t dev = 0, wdev = 0;
	ino_t ino = 0, wino = 0;
	struct stat st;
	int fd, r;

	if (want_id != NULL && parse_id(want_id, &wdev, &wino) == -1)
		xhp_usage(USAGE);
	/* Read-only: closing a device opened for writing makes udev
	 * rescan it. */
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENXIO)
			xhp_die_sys(XHP_NO, "unable to open %s", node);
		xhp_die_sys(XHP_SYS, "unable to open %s", node);
	}
	if (fstat(fd, &st) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat %s", node);
	if (!S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "unable to detach %s: not a loop device", node);
	r = xhp_loop_status(fd, &dev, &ino, tag);
	if (r == -1) {
		if (errno == ENOTTY || errno == EINVAL)
			xhp_die(XHP_NO, "unable to detach %s: not a loop "
				"device", node);
		xhp_die_sys(XHP_SYS, "unable to get status of %s", node);
	}
	if (r == 1)
		xhp_die(XHP_NO, "unable to detach %s: not attached", node);
	if (want_id != NULL && (dev != wdev || ino != wino))
		xhp_die(XHP_NO, "unable to detach %s: bound to %ju:%ju, not "
			"%s", node, (uintmax_t)dev, (uintmax_t)ino, want_id);
	if (want_tag != NULL && strcmp(tag, want_tag) != 0)
		xhp_die(XHP_NO, "unable to detach %s: tagged \"%s\", not "
			"\"%s\"", node, tag, want_tag);
	detach(fd, node);
	if (close(fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", node);
	return XHP_OK;
}

/* One bound loop device of the -a scan: free it if it carries the tag. */
static int detach_tagged(unsigned long n, const char *name, void *ctx)
{
	const char *want_tag = ctx;
	char tag[XHP_LOOP_TAG_MAX], node[32];
	int fd, r;

	(void)name;
	snprintf(node, sizeof(node), "/dev/loop%lu", n);
	fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENXIO)
			return 0;
		xhp_die_sys(XHP_SYS, "unable to open %s", node);
	}
	r = xhp_loop_status(fd, NULL, NULL, tag);
	if (r == -1)
		xhp_die_sys(XHP_SYS, "unable to get status of %s", node);
	if (r == 0 && strcmp(tag, want_tag) == 0) {
		detach(fd, node);
		printf("%s\n", node);
	}
	if (close(fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", node);
	return 0;
}

static int detach_all(const char *want_tag)
{
	if (xhp_loop_bound_each(detach_tagged, (void *)want_tag) == -1)
		xhp_die_sys(XHP_SYS, "unable to scan /sys/block");
	xhp_close_stdout();
	return XHP_OK;
}

int main(int argc, char **argv)
{
	const char *id = NULL, *tag = NULL;
	int c, all = 0;

	xhp_init(argv[0]);
	opterr = 0;
	while ((c = getopt(argc, argv, "hai:t:")) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'a':
			all = 1;
			break;
		case 'i':
			id = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	/* Tags never start with '/' (loop-attach): those are losetup's
	 * paths, which -a must not match. */
	if (tag != NULL && (tag[0] == '\0' || tag[0] == '/' ||
			    strlen(tag) >= XHP_LOOP_TAG_MAX))
		xhp_usage(USAGE);
	if (all) {
		if (argc != 0 || tag == NULL || id != NULL)
			xhp_usage(USAGE);
		return detach_all(tag);
	}
	if (argc != 1 || argv[0][0] == '\0')
		xhp_usage(USAGE);
	return detach_one(argv[0], id, tag);
}
#else
int main(int argc, char **argv)
{
	(void)argc;
	xhp_init(argv[0]);
	xhp_die(XHP_SYS, "unable to detach: loop devices are Linux only");
}
#endif
