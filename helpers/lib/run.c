/* SPDX-License-Identifier: LGPL-2.1-only */
/* run.c: the helper's place in one run of a hotplug script: the script it
 * works for, the one deadline of that run, and the test-only pause points.
 *
 * libxl counts its 40 s from the start of the script, and kills only the
 * script's pid. So the deadline is counted from the script's start, not
 * the helper's (a second wait in the same run gets what is left, not a
 * fresh allowance), and a helper whose script is gone works for nobody:
 * libxl has given up on the device and may have removed it already. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xhp.h"

static long long mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		xhp_die_sys(XHP_SYS, "unable to read the clock");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#ifdef __linux__
/* State and start time (clock ticks after boot) of process PID, from
 * /proc/PID/stat. 0, or -1 when there is no such process. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p, *end;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold anything, ')' too: skip to the last. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	*state = p[2];
	/* Field 3 is the state; the start time is field 22. */
	p += 2;
	for (i = 3; i < 22 && p != NULL; i++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return -1;
	errno = 0;
	*start = strtoull(p, &end, 10);
	return errno == 0 && end != p ? 0 : -1;
}

/* Milliseconds since PID started (0 when unknown). */
static long long age_ms(pid_t pid, unsigned long long *start)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);
	char state;

	/* The start time is counted on the boot clock, which goes on while
	 * the system is suspended. */
	if (hz <= 0 || proc_stat(pid, &state, start) == -1 ||
	    clock_gettime(CLOCK_BOOTTIME, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
	       (long long)(*start * 1000 / (unsigned long long)hz);
}

/* Is ANC an ancestor of this process (up to a few generations)? */
static int ancestor(pid_t anc)
{
	char path[64], buf[512], *p;
	pid_t pid = getppid();
	ssize_t n;
	int fd, i;

	for (i = 0; i < 8 && pid > 1; i++) {
		if (pid == anc)
			return 1;
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			return 0;
		n = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		if (n <= 0)
			return 0;
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p == NULL || strlen(p) < 5)
			return 0;
		pid = (pid_t)strtol(p + 4, NULL, 10);
	}
	return 0;
}
#else
static long long age_ms(pid_t pid, unsigned long long *start)
{
	(void)pid;
	*start = 0;
	return 0;
}

static int ancestor(pid_t anc)
{
	return anc == getppid();
}
#endif

/* SCRIPT is not our ancestor: was it the script that started us, killed
 * before we looked (no such process, a zombie, or its pid already reused
 * by a process younger than us)? Otherwise it is a stranger. */
static int died_before(pid_t script)
{
#ifdef __linux__
	unsigned long long start, self;
	char state;

	if (proc_stat(script, &state, &start) == -1 || state == 'Z' ||
	    state == 'X')
		return 1;
	return proc_stat(getpid(), &state, &self) == 0 && start > self;
#else
	return kill(script, 0) == -1 && errno == ESRCH;
#endif
}

void xhp_run_init(struct xhp_run *r, pid_t script, unsigned long ms,
		  const char *secs)
{
	memset(r, 0, sizeof(*r));
	r->parent = getppid();
	r->script = r->parent;
	r->ms = ms;
	r->secs = secs;
	r->t0 = mono_ms();
	/* Only an ancestor: anything else would be a stranger's clock. */
	if (script > 0 && ancestor(script))
		r->script = script;
	else if (script > 0 && died_before(script))
		/* Re-parented before we started: orphaned already, and our
		 * parent's age (init's) is no clock for this run. */
		r->gone = 1;
	r->age0 = r->gone ? 0 : age_ms(r->script, &r->start);
	if (r->age0 < 0)
		r->age0 = 0;
}

unsigned long xhp_run_left(const struct xhp_run *r)
{
	long long used = r->age0 + (mono_ms() - r->t0);

	if (used >= (long long)r->ms)
		return 0;
	/* 0 would mean "try once": at least 1 ms of waiting is left. */
	return (unsigned long)((long long)r->ms - used);
}

int xhp_run_orphaned(const struct xhp_run *r)
{
#ifdef __linux__
	unsigned long long start;
	char state;

	if (r->gone || getppid() != r->parent)
		return 1;
	if (r->script == r->parent || r->start == 0)
		return 0;
	/* A script between us and libxl, killed: gone, a zombie until
	 * libxl reaps it, or its pid already someone else's. */
	return proc_stat(r->script, &state, &start) == -1 || state == 'Z' ||
	       state == 'X' || start != r->start;
#else
	return r->gone || getppid() != r->parent;
#endif
}

void xhp_run_pause(const char *point)
{
	const char *want = getenv("XEN_HOTPLUG_TEST_PAUSE");
	size_t n = strlen(point);
	char pid[32];
	int fd;

	/* XEN_HOTPLUG_TEST_PAUSE=POINT:FILE, for the tests only: write our
	 * pid to FILE and stop, until the test sends SIGCONT. */
	if (want == NULL || strncmp(want, point, n) != 0 || want[n] != ':' ||
	    want[n + 1] == '\0')
		return;
	fd = open(want + n + 1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd == -1)
		xhp_die_sys(XHP_SYS, "unable to open %s", want + n + 1);
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid) ||
	    close(fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to write %s", want + n + 1);
	(void)raise(SIGSTOP);
}
