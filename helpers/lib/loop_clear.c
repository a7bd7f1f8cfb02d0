#include <errno.h>

#include "xhp.h"

#ifdef __linux__
#include <linux/loop.h>
#include <sys/ioctl.h>

int xhp_loop_clear(int lfd)
{
	return ioctl(lfd, LOOP_CLR_FD, 0) == -1 ? -1 : 0;
}
#else
int xhp_loop_clear(int lfd)
{
	(void)lfd;
	errno = ENOTSUP;
	return -1;
}
#endif
