/* SPDX-License-Identifier: LGPL-2.1-only */
/* lockshim.so: an LD_PRELOAD shim that records how long each exclusive
 * flock() call took, for the concurrent case of `make bench`.
 *
 * Every contender reaches the lock through libc's flock(): upstream via
 * util-linux flock(1), ours via flock-wrap, the floor directly. Timing the
 * call in the process that makes it measures the lock wait the same way for
 * all of them, with no extra process and no change to any script. A polling
 * locker (LOCK_NB in a loop) is covered too: the report takes the span from
 * the first attempt to the successful one.
 *
 * Each call appends one line to $BENCH_LOCKLOG with a single write() on an
 * O_APPEND descriptor, so concurrent lines do not interleave:
 *   ADD PID T0 T1 RESULT NONBLOCK      (CLOCK_MONOTONIC seconds)
 * ADD is $BENCH_ADD, set per copy by timerun. */

/* RTLD_NEXT is a GNU extension: it is how a shim reaches the real symbol. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

int flock(int fd, int op)
{
	static int (*real)(int, int);
	struct timespec a, b;
	const char *log = getenv("BENCH_LOCKLOG");
	const char *add = getenv("BENCH_ADD");
	char line[160];
	int r, saved, n, lfd;

	if (!real)
		real = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (!log || !(op & LOCK_EX))
		return real(fd, op);
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = real(fd, op);
	saved = errno;
	clock_gettime(CLOCK_MONOTONIC, &b);
	n = snprintf(line, sizeof line, "%s %ld %lld.%09ld %lld.%09ld %d %d\n",
		     add ? add : "-", (long)getpid(), (long long)a.tv_sec,
		     a.tv_nsec, (long long)b.tv_sec, b.tv_nsec, r,
		     (op & LOCK_NB) != 0);
	lfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (lfd >= 0) {
		/* A lost line shows up as a missing add in the report; the
		 * caller's lock must not fail because of the shim. */
		if (write(lfd, line, (size_t)n) < 0)
			(void)0;
		close(lfd);
	}
	errno = saved;
	return r;
}
