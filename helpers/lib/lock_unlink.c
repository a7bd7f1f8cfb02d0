/* NetBSD shows flock() only with this. */
#define _NETBSD_SOURCE

#include <sys/file.h>
#include <unistd.h>

#include "xhp.h"

int xhp_lock_unlink(int fd, const char *path, const char **step)
{
	/* Unlink first: a waiter that gets the lock next finds the file gone
	 * (its re-check fails) and reopens, so nobody queues on a dead file. */
	*step = "unlink";
	if (unlink(path) == -1)
		return -1;
	*step = "unlock";
	return flock(fd, LOCK_UN);
}
