#include <stdio.h>
#include <stdlib.h>

#include "xhp.h"

void xhp_usage(const char *usage)
{
	fputs(usage, stderr);
	exit(XHP_USAGE);
}
