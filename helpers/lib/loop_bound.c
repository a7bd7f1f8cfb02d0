#include <errno.h>

#include "xhp.h"

#ifdef __linux__
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

int xhp_loop_bound_each(int (*fn)(unsigned long n, const char *name,
				  void *ctx), void *ctx)
{
	char bound[300];
	struct dirent *e;
	unsigned long n;
	DIR *d;
	int r, err;

	d = opendir("/sys/block");
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (e == NULL)
			break;
		if (xhp_loop_index(e->d_name, &n) == -1)
			continue;
		/* The loop/ directory exists only while a file is bound;
		 * checking it first spares opening every idle device. */
		snprintf(bound, sizeof(bound), "/sys/block/%s/loop", e->d_name);
		if (access(bound, F_OK) == -1) {
			if (errno == ENOENT)
				continue;
			goto fail;
		}
		r = fn(n, e->d_name, ctx);
		if (r != 0) {
			err = errno;
			closedir(d);
			errno = err;
			return r;
		}
	}
	if (errno != 0)
		goto fail;
	return closedir(d);
fail:
	err = errno;
	closedir(d);
	errno = err;
	return -1;
}
#else
int xhp_loop_bound_each(int (*fn)(unsigned long n, const char *name,
				  void *ctx), void *ctx)
{
	(void)fn;
	(void)ctx;
	return 0;
}
#endif
