#include <errno.h>
#include <string.h>

#include "xhp.h"

#ifdef __linux__
#include <linux/loop.h>
#include <sys/ioctl.h>

int xhp_loop_status(int fd, dev_t *dev, ino_t *ino, char *tag)
{
	struct loop_info64 li;

	memset(&li, 0, sizeof(li));
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1)
		/* ENXIO is the loop driver's "no file bound". */
		return errno == ENXIO ? 1 : -1;
	if (dev != NULL)
		*dev = xhp_loop_decode_dev(li.lo_device);
	if (ino != NULL)
		*ino = (ino_t)li.lo_inode;
	if (tag != NULL) {
		memcpy(tag, li.lo_file_name, XHP_LOOP_TAG_MAX - 1);
		tag[XHP_LOOP_TAG_MAX - 1] = '\0';
	}
	return 0;
}
#else
int xhp_loop_status(int fd, dev_t *dev, ino_t *ino, char *tag)
{
	(void)fd;
	(void)dev;
	(void)ino;
	(void)tag;
	errno = ENOTTY;
	return -1;
}
#endif
