#include <errno.h>

#include "xhp.h"

#ifdef __linux__
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Read /sys/block/NAME/dev ("MAJ:MIN\n"). 0 ok, 1 gone, -1 error. */
static int sys_majmin(const char *name, unsigned int *maj, unsigned int *min)
{
	char path[300], buf[32], *colon, *nl;
	unsigned long a, b;
	ssize_t len;
	int fd, err;

	snprintf(path, sizeof(path), "/sys/block/%s/dev", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 1 : -1;
	len = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (len == -1) {
		errno = err;
		return errno == ENODEV ? 1 : -1;
	}
	buf[len] = '\0';
	nl = strchr(buf, '\n');
	if (nl != NULL)
		*nl = '\0';
	colon = strchr(buf, ':');
	if (colon == NULL)
		goto bad;
	*colon = '\0';
	if (xhp_parse_ulong(buf, 10, 0xfffUL, &a) == -1 ||
	    xhp_parse_ulong(colon + 1, 10, 0xfffffUL, &b) == -1)
		goto bad;
	*maj = (unsigned int)a;
	*min = (unsigned int)b;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

int xhp_loop_users(dev_t dev, ino_t ino,
		   int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		   void *ctx)
{
	char bound[300];
	struct dirent *e;
	unsigned long n;
	unsigned int maj, min;
	dev_t bdev;
	ino_t bino;
	DIR *d;
	int r, err;

	d = opendir("/sys/block");
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (e == NULL)
			break;
		if (xhp_loop_index(e->d_name, &n) == -1)
			continue;
		/* The loop/ directory exists only while a file is bound;
		 * checking it first spares opening every idle device. */
		snprintf(bound, sizeof(bound), "/sys/block/%s/loop", e->d_name);
		if (access(bound, F_OK) == -1) {
			if (errno == ENOENT)
				continue;
			goto fail;
		}
		r = sys_majmin(e->d_name, &maj, &min);
		if (r == 1)
			continue;
		if (r == -1)
			goto fail;
		r = xhp_loop_backing(maj, min, &bdev, &bino);
		if (r == 1)
			continue;
		if (r == -1)
			goto fail;
		if (bdev != dev || bino != ino)
			continue;
		r = fn(maj, min, ctx);
		if (r != 0) {
			closedir(d);
			return r;
		}
	}
	if (errno != 0)
		goto fail;
	if (closedir(d) == -1)
		return -1;
	return 0;
fail:
	err = errno;
	closedir(d);
	errno = err;
	return -1;
}
#else
int xhp_loop_users(dev_t dev, ino_t ino,
		   int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		   void *ctx)
{
	(void)dev;
	(void)ino;
	(void)fn;
	(void)ctx;
	return 0;
}
#endif
