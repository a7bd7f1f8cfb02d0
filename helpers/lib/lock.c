/* SPDX-License-Identifier: LGPL-2.1-only */
/* lock.c: the hotplug lock, with the protocol of Xen's locking.sh so that
 * old and new scripts on one host exclude each other: flock the file, then
 * check that the locked file is still the one at the path (a holder
 * releases by unlinking it while still holding it), else reopen. The wait
 * is bounded and a timeout names the holder (holder.c).
 * docs/flock-wrap.md. */
/* NetBSD shows major(), minor() and flock() only with this. */
#define _NETBSD_SOURCE
/* setitimer is XSI, not in plain POSIX.1-2008. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__) || defined(__GLIBC__) /* elsewhere: sys/types.h */
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

int xhp_lock_path(const char *path, struct stat *st)
{
	if (lstat(path, st) == -1) {
		if (errno == ENOENT)
			return 1;
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	}
	/* Whoever can plant a symlink there could make us create or lock
	 * (and later unlink) any file. */
	if (S_ISLNK(st->st_mode))
		xhp_die(XHP_SYS, "unable to use %s: lock file is a symlink",
			path);
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_SYS,
			"unable to use %s: lock file is not a regular file",
			path);
	return 0;
}

/* As locking.sh does for its base directory: the lock directory lives on
 * a tmpfs and is gone after every boot. */
void xhp_lock_mkparent(const char *path)
{
	char dir[PATH_MAX], *p;
	size_t n;

	n = strlen(path);
	if (n >= sizeof(dir))
		xhp_die(XHP_SYS, "unable to use %s: path too long", path);
	memcpy(dir, path, n + 1);
	p = strrchr(dir, '/');
	if (p == NULL || p == dir)
		return;
	*p = '\0';
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* 0755 whatever the caller's umask, as documented. */
			if (chmod(dir, 0755) == -1)
				xhp_die_sys(XHP_SYS, "unable to chmod %s", dir);
		} else if (errno != EEXIST) {
			xhp_die_sys(XHP_SYS, "unable to create directory %s",
				    dir);
		}
		*p = c;
		if (c == '\0')
			break;
	}
}

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

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* What the caller had for SIGALRM, restored by disarm. */
static struct sigaction saved_sa;
static sigset_t saved_mask;
static int armed;

/* A repeating timer: if the first SIGALRM lands between the flag check and
 * the blocking flock(), the next one still interrupts it. SIGALRM is
 * unblocked for the wait: a caller that blocked it would otherwise make the
 * wait unbounded. */
static void arm(unsigned long ms)
{
	struct sigaction sa;
	struct itimerval it;
	sigset_t alrm;

	timed_out = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: flock() must return EINTR */
	if (sigaction(SIGALRM, &sa, &saved_sa) == -1)
		xhp_die_sys(XHP_SYS, "unable to set SIGALRM handler");
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (sigprocmask(SIG_UNBLOCK, &alrm, &saved_mask) == -1)
		xhp_die_sys(XHP_SYS, "unable to unblock SIGALRM");
	armed = 1;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)(ms / 1000);
	it.it_value.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	it.it_interval.tv_usec = 20000;
	if (setitimer(ITIMER_REAL, &it, NULL) == -1)
		xhp_die_sys(XHP_SYS, "unable to set timer");
}

/* Timers survive execve: an exec'ed program must not get our SIGALRM,
 * and gets the caller's disposition and mask back. */
static void disarm(void)
{
	struct itimerval it;

	if (!armed)
		return;
	armed = 0;
	memset(&it, 0, sizeof(it));
	if (setitimer(ITIMER_REAL, &it, NULL) == -1)
		xhp_die_sys(XHP_SYS, "unable to clear timer");
	if (sigaction(SIGALRM, &saved_sa, NULL) == -1 ||
	    sigprocmask(SIG_SETMASK, &saved_mask, NULL) == -1)
		xhp_die_sys(XHP_SYS, "unable to restore SIGALRM");
}

/* flock(LOCK_EX) on FD until the timer fires: 0 locked, 1 timed out. */
static int lock_wait(int fd, const char *path, int wait)
{
	for (;;) {
		if (flock(fd, wait && !timed_out ? LOCK_EX : LOCK_EX | LOCK_NB)
		    == 0)
			return 0;
		if (errno == EWOULDBLOCK)
			return 1;
		if (errno != EINTR)
			xhp_die_sys(XHP_SYS, "unable to lock %s", path);
	}
}

static void die_busy(int fd, const char *path, const char *secs)
	__attribute__((noreturn));

static void die_busy(int fd, const char *path, const char *secs)
{
	char who[200];
	struct stat st;

	/* No more SIGALRMs interrupting the /proc search. */
	disarm();
	if (fstat(fd, &st) == -1 ||
	    xhp_holder_name(st.st_dev, st.st_ino, who, sizeof(who)) != 0)
		snprintf(who, sizeof(who), "an unknown process");
	xhp_die(XHP_TIMEOUT, "unable to lock %s within %s s: held by %s", path,
		secs, who);
}

/* After flock: is FD still the file at PATH? (The holder may have
 * released, that is unlinked, while we waited.) */
static int is_current(int fd, const char *path)
{
	struct stat fs, ps;

	if (fstat(fd, &fs) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat lock descriptor");
	if (xhp_lock_path(path, &ps) != 0)
		return 0;
	return fs.st_dev == ps.st_dev && fs.st_ino == ps.st_ino;
}

int xhp_lock_fd(int fd, const char *path, unsigned long ms, const char *secs)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat descriptor %d", fd);
	if (!S_ISREG(st.st_mode))
		xhp_die(XHP_SYS, "unable to use descriptor %d: "
			"not a regular file", fd);
	if (xhp_lock_path(path, &st) != 0)
		return XHP_STALE;
	if (ms > 0)
		arm(ms);
	if (lock_wait(fd, path, ms > 0) != 0)
		die_busy(fd, path, secs);
	if (!is_current(fd, path)) {
		/* Drop it, so nobody queues behind a dead file. */
		if (flock(fd, LOCK_UN) == -1)
			xhp_die_sys(XHP_SYS, "unable to unlock %s", path);
		return XHP_STALE;
	}
	return XHP_OK;
}

int xhp_lock_open(const char *path, unsigned long ms, const char *secs,
		  int flags)
{
	struct stat st;
	int fd, fl;

	if (ms > 0)
		arm(ms);
	for (;;) {
		xhp_lock_path(path, &st);
		/* O_NONBLOCK: a fifo swapped in after the check must not hang
		 * us. */
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
			  flags, 0644);
		if (fd == -1)
			xhp_die_sys(XHP_SYS, "unable to open %s", path);
		if (fstat(fd, &st) == -1)
			xhp_die_sys(XHP_SYS, "unable to stat %s", path);
		if (!S_ISREG(st.st_mode))
			xhp_die(XHP_SYS, "unable to use %s: lock file is not "
				"a regular file", path);
		if (lock_wait(fd, path, ms > 0) != 0)
			die_busy(fd, path, secs);
		if (is_current(fd, path))
			break;
		if (close(fd) == -1)
			xhp_die_sys(XHP_SYS, "unable to close %s", path);
	}
	disarm();
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		xhp_die_sys(XHP_SYS, "unable to set flags on %s", path);
	return fd;
}
