#include <errno.h>
#include <stdio.h>

#include "xhp.h"

int xhp_fmt_majmin(char *buf, unsigned long maj, unsigned long min, int fmt)
{
	unsigned long d;

	if (fmt != XHP_FMT_NETBSD) {
		/* blkback parses "%x:%x"; no padding, lowercase. */
		snprintf(buf, XHP_MAJMIN_MAX, "%lx:%lx", maj, min);
		return 0;
	}
	/* xbdback reads a decimal dev_t in NetBSD's own encoding: numbers
	 * outside it would silently name another device. */
	if (maj > 0xfffUL || min > 0xfffffUL) {
		errno = ERANGE;
		return -1;
	}
	d = ((maj << 8) & 0xfff00UL) | ((min << 12) & 0xfff00000UL) |
	    (min & 0xffUL);
	snprintf(buf, XHP_MAJMIN_MAX, "%lu", d);
	return 0;
}
