#include <string.h>

#include "xhp.h"

int xhp_loop_tag_ok(const char *tag)
{
	size_t n = strlen(tag), i;

	/* losetup stores the backing file's path in the same field: a tag
	 * that cannot be a path means -a never frees a losetup device. */
	if (n == 0 || n >= XHP_LOOP_TAG_MAX || tag[0] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)tag[i] < 0x20 || (unsigned char)tag[i] > 0x7e)
			return 0;
	return 1;
}
