#include <stdio.h>

#include "xhp.h"

void xhp_close_stdout(void)
{
	/* A result that was not fully written is a failure (sbase, util-linux
	 * close_stdout): a caller reading a truncated device path must not
	 * see exit 0. */
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		xhp_die_sys(XHP_SYS, "unable to write to stdout");
}
