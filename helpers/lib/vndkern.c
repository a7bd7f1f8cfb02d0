/* SPDX-License-Identifier: LGPL-2.1-only */
/* vndkern.c: the kernel's vnd(4) units, for vnd.c on NetBSD (and in the
 * NetBSD build check, XHP_VND_IOCTL). Each call opens the unit's raw node
 * DEVDIR/rvndN<RAW> (xhp_vnd_node) and asks on that one descriptor:
 * VNDIOCGET what backs it, VNDIOCSET to configure it, VNDIOCCLR to
 * unconfigure it once VNDIOCGET has shown that it still backs the file
 * recorded. Elsewhere there are none: no unit is configured, none exists. */
#define _NETBSD_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

#ifdef XHP_VNDKERN
#include <sys/ioctl.h>
#include <dev/vndvar.h>

/* Open UNIT's raw node: the descriptor, -1 with errno (ENOENT, ENXIO:
 * there is no such unit). */
static int unit_open(unsigned long unit)
{
	char node[PATH_MAX];

	if (xhp_vnd_node(node, sizeof(node), unit, 1) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(node, O_RDWR | O_CLOEXEC);
}

/* VNDIOCGET on FD for its own unit: 0 (*DEV, *INO), 1 not configured. */
static int ask(int fd, dev_t *dev, ino_t *ino)
{
	struct vnd_user vnu;

	memset(&vnu, 0, sizeof(vnu));
	vnu.vnu_unit = -1; /* the unit FD is open on */
	if (ioctl(fd, VNDIOCGET, &vnu) == -1)
		return -1;
	*dev = vnu.vnu_dev;
	*ino = vnu.vnu_ino;
	return vnu.vnu_ino == 0 ? 1 : 0;
}

int xhp_vndkern_get(unsigned long unit, dev_t *dev, ino_t *ino)
{
	int fd = unit_open(unit), r, err;

	if (fd == -1)
		return errno == ENOENT || errno == ENXIO ? 1 : -1;
	r = ask(fd, dev, ino);
	err = errno;
	(void)close(fd);
	errno = err;
	return r;
}

int xhp_vndkern_set(unsigned long unit, const char *path, int ro,
		    struct stat *st)
{
	struct vnd_ioctl vio;
	dev_t dev;
	ino_t ino;
	int fd, r, err;

	fd = unit_open(unit);
	if (fd == -1)
		return errno == ENOENT || errno == ENXIO ? 2 : -1;
	/* A configured unit answers EBUSY too; asking first spares the
	 * kernel a lookup of PATH. */
	r = ask(fd, &dev, &ino);
	if (r == 0)
		r = 1;
	else if (r == 1) {
		memset(&vio, 0, sizeof(vio));
		vio.vnd_file = (char *)path;
		vio.vnd_flags = ro ? VNDIOF_READONLY : 0;
		if (ioctl(fd, VNDIOCSET, &vio) == -1)
			r = errno == EBUSY ? 1 : -1;
		else if ((r = ask(fd, &dev, &ino)) == 1) {
			r = -1; /* configured, yet not backed */
			errno = EIO;
		}
	}
	err = errno;
	(void)close(fd);
	errno = err;
	if (r != 0)
		return r;
	memset(st, 0, sizeof(*st));
	st->st_dev = dev;
	st->st_ino = ino;
	return 0;
}

int xhp_vndkern_detach(unsigned long unit, int any, dev_t dev, ino_t ino,
		       dev_t *odev, ino_t *oino)
{
	struct vnd_ioctl vio;
	int fd = unit_open(unit), r, err;

	if (fd == -1)
		return errno == ENOENT || errno == ENXIO ? 1 : -1;
	/* Asked and cleared on one descriptor, under the hotplug lock;
	 * vnconfig(8) users outside it are the known limit. */
	r = ask(fd, odev, oino);
	if (r == 0 && !any && (*odev != dev || *oino != ino))
		r = 2;
	if (r == 0) {
		memset(&vio, 0, sizeof(vio));
		if (ioctl(fd, VNDIOCCLR, &vio) == -1)
			r = errno == ENXIO ? 1 : -1;
	}
	err = errno;
	(void)close(fd);
	errno = err;
	return r;
}
#else
int xhp_vndkern_get(unsigned long unit, dev_t *dev, ino_t *ino)
{
	(void)unit, (void)dev, (void)ino;
	return 1;
}

int xhp_vndkern_set(unsigned long unit, const char *path, int ro,
		    struct stat *st)
{
	(void)unit, (void)path, (void)ro, (void)st;
	return 2;
}

int xhp_vndkern_detach(unsigned long unit, int any, dev_t dev, ino_t ino,
		       dev_t *odev, ino_t *oino)
{
	(void)unit, (void)any, (void)dev, (void)ino, (void)odev, (void)oino;
	return 1;
}
#endif
