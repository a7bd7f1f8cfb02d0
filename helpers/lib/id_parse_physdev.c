#include <string.h>

#include "xhp.h"

int xhp_parse_physdev(const char *s, size_t len, int fmt,
		      unsigned long *maj, unsigned long *min)
{
	char buf[XHP_MAJMIN_MAX];
	unsigned long d;
	char *colon;

	/* Values come from xenstore: they may hold NUL bytes and have no
	 * terminator, so copy and reject embedded NULs. */
	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (fmt == XHP_FMT_NETBSD) {
		if (xhp_parse_ulong(buf, 10, 0xffffffffUL, &d) == -1)
			return -1;
		*maj = (d & 0xfff00UL) >> 8;
		*min = ((d & 0xfff00000UL) >> 12) | (d & 0xffUL);
		return 0;
	}
	colon = strchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	/* Linux dev_t numbers: 12-bit major, 20-bit minor (MINORBITS). */
	if (xhp_parse_ulong(buf, 16, 0xfffUL, maj) == -1 ||
	    xhp_parse_ulong(colon + 1, 16, 0xfffffUL, min) == -1)
		return -1;
	return 0;
}
