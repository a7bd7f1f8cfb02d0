/* NetBSD hides major()/minor() under _POSIX_C_SOURCE unless asked (and
 * the check-netbsd-build emulation cannot define __NetBSD__). */
#ifndef __linux__
#define _NETBSD_SOURCE
#endif
#include <sys/types.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

unsigned long xhp_dev_major(dev_t d)
{
	return (unsigned long)major(d);
}

unsigned long xhp_dev_minor(dev_t d)
{
	return (unsigned long)minor(d);
}
