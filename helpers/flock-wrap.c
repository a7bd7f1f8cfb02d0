/* NetBSD shows major(), minor(), makedev() and flock() only with this. */
#define _NETBSD_SOURCE

/* flock-wrap: take the hotplug lock with the protocol of Xen's locking.sh
 * (flock, then check the locked file is still the one at the path; release
 * unlinks while holding), with a bounded wait. See docs/flock-wrap.md. */

/* setitimer is XSI, not in plain POSIX.1-2008. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "xhp.h"

#define USAGE \
"usage: flock-wrap [-w SECS] -F FD LOCKFILE\n" \
"       flock-wrap -u -F FD LOCKFILE\n" \
"       flock-wrap [-w SECS] LOCKFILE PROG [ARG...]\n" \
"  -F FD    lock (or with -u release) descriptor FD, already open on LOCKFILE\n" \
"  -u       release: unlink LOCKFILE if FD holds the lock on it\n" \
"  -w SECS  give up after SECS seconds (decimal, up to 3 places; default 30)\n"

/* GNU getopt permutes; PROG's own options must not be taken as ours. */
#ifdef __GLIBC__
#define OPTSTRING "+hF:uw:"
#else
#define OPTSTRING "hF:uw:"
#endif

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* SECS as milliseconds: digits, optionally '.' and 1 to 3 digits. */
static int parse_secs(const char *s, unsigned long *ms)
{
	char whole[16], frac[4] = "000";
	const char *dot = strchr(s, '.');
	size_t wl = dot ? (size_t)(dot - s) : strlen(s);
	unsigned long w, f;

	if (wl == 0 || wl >= sizeof(whole))
		return -1;
	memcpy(whole, s, wl);
	whole[wl] = '\0';
	if (xhp_parse_ulong(whole, 10, 1000000UL, &w) == -1)
		return -1;
	if (dot != NULL) {
		size_t fl = strlen(dot + 1);

		if (fl == 0 || fl > 3)
			return -1;
		memcpy(frac, dot + 1, fl);
		if (xhp_parse_ulong(frac, 10, 999UL, &f) == -1)
			return -1;
	} else {
		f = 0;
	}
	*ms = w * 1000 + f;
	return 0;
}

/* What the caller gave us for SIGALRM, restored before exec. */
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

/* Timers survive execve: PROG must not get our SIGALRM, and gets the
 * caller's disposition and mask back. */
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
	    xhp_flock_holder(st.st_dev, st.st_ino, who, sizeof(who)) != 0)
		snprintf(who, sizeof(who), "an unknown process");
	xhp_die(XHP_NO, "unable to lock %s within %s s: held by %s", path,
		secs, who);
}

/* Refuse what a lock file must not be. 0 ok, 1 absent. */
static int check_path(const char *path, struct stat *st)
{
	if (lstat(path, st) == -1) {
		if (errno == ENOENT)
			return 1;
		xhp_die_sys(XHP_SYS, "unable to stat %s", path);
	}
	if (S_ISLNK(st->st_mode))
		xhp_die(XHP_SYS, "unable to use %s: lock file is a symlink",
			path);
	if (!S_ISREG(st->st_mode))
		xhp_die(XHP_SYS,
			"unable to use %s: lock file is not a regular file",
			path);
	return 0;
}

/* After flock: is FD still the file at PATH? (The holder may have
 * released, that is unlinked, while we waited.) */
static int is_current(int fd, const char *path)
{
	struct stat fs, ps;

	if (fstat(fd, &fs) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat lock descriptor");
	if (check_path(path, &ps) != 0)
		return 0;
	return fs.st_dev == ps.st_dev && fs.st_ino == ps.st_ino;
}

/* mkdir -p of PATH's directory, as locking.sh does for its base dir. */
static void make_parent(const char *path)
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

static int fd_mode(int fd, const char *path, const char *secs,
		   unsigned long ms)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat descriptor %d", fd);
	if (!S_ISREG(st.st_mode))
		xhp_die(XHP_SYS, "unable to use descriptor %d: "
			"not a regular file", fd);
	if (check_path(path, &st) != 0)
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

static int release_mode(int fd, const char *path)
{
	struct stat fs, ps;

	if (fstat(fd, &fs) == -1)
		xhp_die_sys(XHP_SYS, "unable to stat descriptor %d", fd);
	if (check_path(path, &ps) != 0 || fs.st_dev != ps.st_dev ||
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
	if (unlink(path) == -1)
		xhp_die_sys(XHP_SYS, "unable to unlink %s", path);
	if (flock(fd, LOCK_UN) == -1)
		xhp_die_sys(XHP_SYS, "unable to unlock %s", path);
	return XHP_OK;
}

static void chainload(const char *path, char **argv, unsigned long ms,
		      const char *secs)
{
	struct stat st;
	int fd, fl;

	make_parent(path);
	if (ms > 0)
		arm(ms);
	for (;;) {
		check_path(path, &st);
		/* Not O_CLOEXEC: PROG inherits the lock. O_NONBLOCK: a fifo
		 * swapped in after the check must not hang us. */
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK,
			  0644);
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
	execvp(argv[0], argv);
	xhp_die_sys(errno == ENOENT ? XHP_NOTFOUND : XHP_NOEXEC,
		    "unable to exec %s", argv[0]);
}

int main(int argc, char **argv)
{
	const char *secs = "30";
	unsigned long ms = 30000, fd = 0;
	int c, has_fd = 0, unlock = 0, has_w = 0;

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
			if (parse_secs(optarg, &ms) == -1)
				xhp_usage(USAGE);
			secs = optarg;
			has_w = 1;
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (unlock && (!has_fd || has_w))
		xhp_usage(USAGE);
	if (has_fd) {
		if (argc != 1 || argv[0][0] == '\0')
			xhp_usage(USAGE);
		if (unlock)
			return release_mode((int)fd, argv[0]);
		return fd_mode((int)fd, argv[0], secs, ms);
	}
	if (argc < 2 || argv[0][0] == '\0')
		xhp_usage(USAGE);
	chainload(argv[0], argv + 1, ms, secs);
	return XHP_SYS;
}
