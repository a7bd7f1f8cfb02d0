#include <errno.h>
#include <stdlib.h>

#include "xhp.h"

int xhp_parse_ulong(const char *s, int base, unsigned long max,
		    unsigned long *out)
{
	char *end;
	unsigned long v;

	/* strtoul accepts leading space, a sign and "0x"; we want none. */
	if (s == NULL || !((*s >= '0' && *s <= '9') ||
			   (base == 16 && ((*s >= 'a' && *s <= 'f') ||
					   (*s >= 'A' && *s <= 'F'))))) {
		errno = EINVAL;
		return -1;
	}
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno == ERANGE || v > max) {
		errno = ERANGE;
		return -1;
	}
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	*out = v;
	return 0;
}
