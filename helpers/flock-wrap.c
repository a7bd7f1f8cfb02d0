/* SPDX-License-Identifier: LGPL-2.1-only */
/* NetBSD shows major(), minor(), makedev() and flock() only with this. */
#define _NETBSD_SOURCE

/* flock-wrap: take the hotplug lock with the protocol of Xen's locking.sh
 * (flock, then check the locked file is still the one at the path; release
 * unlinks while holding), with a bounded wait. See docs/flock-wrap.md. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

#define USAGE \
"usage: flock-wrap [-w SECS [-s PID]] -F FD LOCKFILE\n" \
"       flock-wrap -u -F FD LOCKFILE\n" \
"       flock-wrap [-w SECS [-s PID]] LOCKFILE PROG [ARG...]\n" \
"  -F FD    lock (or with -u release) descriptor FD, already open on\n" \
"           LOCKFILE\n" \
"  -u       release: unlink LOCKFILE if FD holds the lock on it\n" \
"  -w SECS  give up after SECS seconds (decimal, up to 3 places;\n" \
"           default 30)\n" \
"  -s PID   count them from the start of process PID, an ancestor (the\n" \
"           script: one deadline for its whole run)\n"

/* GNU getopt permutes; PROG's own options must not be taken as ours. */
#ifdef __GLIBC__
#define OPTSTRING "+hF:uw:s:"
#else
#define OPTSTRING "hF:uw:s:"
#endif

static int release_mode(int fd, const char *path)
{
	struct stat fs, ps;
	const char *step;

	if (fstat(fd, &fs) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat descriptor %d", fd);
	if (xhp_lock_path(path, &ps) != 0 || fs.st_dev != ps.st_dev ||
	    fs.st_ino != ps.st_ino)
		xhp_die(XHP_NO, "unable to release %s: descriptor %d is not "
			"the lock file", path, fd);
	/* Succeeds at once when FD's open file already holds the lock, fails
	 * when some other open file does: only the holder may unlink. */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			xhp_die(XHP_NO, "unable to release %s: descriptor %d "
				"does not hold the lock", path, fd);
		xhp_die_sys(XHP_SYS, "unable to lock %s", path);
	}
	if (xhp_lock_unlink(fd, path, &step) == -1)
		xhp_die_sys(XHP_SYS, "unable to %s %s", step, path);
	return XHP_OK;
}

static void chainload(const char *path, char **argv, unsigned long ms,
		      const char *secs)
{
	xhp_lock_mkparent(path);
	/* Not O_CLOEXEC: PROG inherits the lock. */
	xhp_lock_open(path, ms, secs, 0);
	execvp(argv[0], argv);
	xhp_die_sys(errno == ENOENT ? XHP_NOTFOUND : XHP_NOEXEC,
		    "unable to exec %s", argv[0]);
}

int main(int argc, char **argv)
{
	const char *secs = "30";
	unsigned long ms = 30000, fd = 0, pid = 0;
	int c, has_fd = 0, unlock = 0, has_w = 0;
	struct xhp_run run;

	xhp_init(argv[0]);
	opterr = 0; /* the usage alone, not getopt's message first */
	while ((c = getopt(argc, argv, OPTSTRING)) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'F':
			if (xhp_parse_ulong(optarg, 10, INT_MAX, &fd) == -1)
				xhp_usage(USAGE);
			has_fd = 1;
			break;
		case 'u':
			unlock = 1;
			break;
		case 'w':
			if (xhp_parse_secs(optarg, &ms) == -1)
				xhp_usage(USAGE);
			secs = optarg;
			has_w = 1;
			break;
		case 's':
			if (xhp_parse_ulong(optarg, 10, INT_MAX, &pid) == -1 ||
			    pid == 0)
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((unlock && (!has_fd || has_w)) || (pid != 0 && !has_w))
		xhp_usage(USAGE);
	if (pid != 0) {
		/* What is left of the run's deadline: 0, try once. */
		xhp_run_init(&run, (pid_t)pid, ms, secs);
		ms = xhp_run_left(&run);
	}
	if (has_fd) {
		if (argc != 1 || argv[0][0] == '\0')
			xhp_usage(USAGE);
		if (unlock)
			return release_mode((int)fd, argv[0]);
		return xhp_lock_fd((int)fd, argv[0], ms, secs);
	}
	if (argc < 2 || argv[0][0] == '\0')
		xhp_usage(USAGE);
	chainload(argv[0], argv + 1, ms, secs);
	return XHP_SYS;
}
