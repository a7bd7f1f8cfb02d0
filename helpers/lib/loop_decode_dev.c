/* NetBSD shows major(), minor(), makedev() and flock() only with this. */
#define _NETBSD_SOURCE

#include <sys/types.h>
#if defined(__linux__) || defined(__GLIBC__) /* elsewhere: sys/types.h */
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

dev_t xhp_loop_decode_dev(unsigned long long kdev)
{
	/* Linux's new_encode_dev: the minor's low 8 bits, then 12 bits of
	 * major, then the rest of the minor. glibc's dev_t is laid out
	 * differently, so the raw number never equals st_dev for a device
	 * with a major above 255 or a minor above 255. */
	unsigned int maj = (unsigned int)((kdev & 0xfff00ULL) >> 8);
	unsigned int min = (unsigned int)((kdev & 0xffULL) |
					  ((kdev >> 12) & 0xfff00ULL));

	return makedev(maj, min);
}
