#include <string.h>

#include "xhp.h"

int xhp_loop_index(const char *name, unsigned long *n)
{
	if (strncmp(name, "loop", 4) != 0)
		return -1;
	/* Strict parsing rejects "loop-control" and partitions ("loop0p1"). */
	return xhp_parse_ulong(name + 4, 10, 0xfffffUL, n);
}
