#include <string.h>

#include "xhp.h"

int xhp_vm_same(const char *ours, const char *theirs)
{
	size_t lo = strlen(ours), lt = strlen(theirs);

	/* An empty vm names nothing; it must not make two domains equal. */
	if (lt == 0 || lo == 0)
		return 0;
	if (strcmp(ours, theirs) == 0)
		return 1;
	/* Upstream drops a "-1" suffix from our own vm before comparing: a
	 * domain being restored or migrated locally carried the old vm path
	 * plus "-1" while the old domain still held the disk. */
	return lo == lt + 2 && strcmp(ours + lt, "-1") == 0 &&
	       strncmp(ours, theirs, lt) == 0;
}
