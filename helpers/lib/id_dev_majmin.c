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
