#include <string.h>

#include "xhp.h"

int xhp_parse_nodearg(char *arg, const char **def)
{
	char *eq = strchr(arg, '=');
	const char *p;

	/* '=' cannot occur in a xenstore path, so the first one splits. */
	*def = NULL;
	if (eq != NULL) {
		*eq = '\0';
		*def = eq + 1;
	}
	if (*arg == '\0')
		return -1;
	for (p = arg; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '/' ||
		      *p == '_' || *p == '@'))
			return -1;
	}
	return 0;
}
