#include <string.h>

#include "xhp.h"

int xhp_parse_fmt(const char *s)
{
	if (strcmp(s, "linux") == 0)
		return XHP_FMT_LINUX;
	if (strcmp(s, "netbsd") == 0)
		return XHP_FMT_NETBSD;
	return -1;
}
