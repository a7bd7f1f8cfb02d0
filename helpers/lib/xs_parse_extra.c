#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int xhp_parse_extra(const char *arg)
{
	const char *def;
	char *cp;
	int r;

	/* Checked on a copy: the caller splits ARG later. */
	if (strchr(arg, '=') == NULL) {
		errno = EINVAL;
		return -1;
	}
	cp = strdup(arg);
	if (cp == NULL)
		return -1;
	/* NODE must stay under the backend, and the two nodes the publisher
	 * guards are not the caller's to set. */
	r = xhp_parse_nodearg(cp, &def) == -1 || cp[0] == '/' ||
	    strncmp(cp, "physical-device", 15) == 0 ? -1 : 0;
	free(cp);
	errno = EINVAL;
	return r;
}
