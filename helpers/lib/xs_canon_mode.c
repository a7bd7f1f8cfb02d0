#include <string.h>

#include "xhp.h"

int xhp_canon_mode(const char *s, size_t len)
{
	/* Same answers as upstream's canonicalise_mode, so that a mode libxl
	 * or an older script wrote ("rw", "w!", "ro", even "") means the same
	 * to both generations of scripts on one host. */
	if (memchr(s, 'w', len) == NULL)
		return 'r';
	if (memchr(s, '!', len) == NULL)
		return 'w';
	return '!';
}
