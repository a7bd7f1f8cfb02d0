#include <errno.h>

#include "xhp.h"

#ifdef __linux__
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

struct users {
	dev_t dev;
	ino_t ino;
	int (*fn)(unsigned int maj, unsigned int min, void *ctx);
	void *ctx;
};

static int one(unsigned long n, const char *name, void *ctx)
{
	struct users *u = ctx;
	unsigned int maj, min;
	dev_t bdev;
	ino_t bino;
	int r;

	(void)n;
	r = sys_majmin(name, &maj, &min);
	if (r != 0)
		return r == 1 ? 0 : -1;
	r = xhp_loop_backing(maj, min, &bdev, &bino);
	if (r != 0)
		return r == 1 ? 0 : -1;
	if (bdev != u->dev || bino != u->ino)
		return 0;
	return u->fn(maj, min, u->ctx);
}

int xhp_loop_users(dev_t dev, ino_t ino,
		   int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		   void *ctx)
{
	struct users u = { dev, ino, fn, ctx };

	return xhp_loop_bound_each(one, &u);
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
