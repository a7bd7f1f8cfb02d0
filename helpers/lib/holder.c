/* SPDX-License-Identifier: LGPL-2.1-only */
/* holder.c: who holds a flock, for the message of a lock timeout: the
 * process /proc/locks names, if it still has the file open with a flock
 * on it, else the process whose open file carries the lock (a shell that
 * a short-lived "flock-wrap -F" locked for). Linux's /proc only; elsewhere
 * no holder is found and the message says "an unknown process". */
/* NetBSD shows major() and minor() only with this. */
#define _NETBSD_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__) || defined(__GLIBC__) /* elsewhere: sys/types.h */
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

/* Longest command line shown; a holder is named, not dumped. */
#define CMDLINE_MAX 120

/* "pid N (CMDLINE)" into BUF. 0 ok, 1 no such process. */
static int describe(long pid, char *buf, size_t len)
{
	char path[64], cmd[CMDLINE_MAX + 1];
	ssize_t n, i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 1;
	n = read(fd, cmd, sizeof(cmd));
	close(fd);
	if (n < 0)
		return 1;
	/* Arguments are NUL-separated with a trailing NUL. */
	while (n > 0 && cmd[n - 1] == '\0')
		n--;
	if (n == 0) {
		/* A kernel thread or a zombie: no command line. */
		snprintf(buf, len, "pid %ld", pid);
		return 0;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f)
			cmd[i] = cmd[i] == '\0' ? ' ' : '?';
	if (n > CMDLINE_MAX)
		snprintf(buf, len, "pid %ld (%.*s...)", pid, CMDLINE_MAX - 3,
			 cmd);
	else
		snprintf(buf, len, "pid %ld (%.*s)", pid, (int)n, cmd);
	return 0;
}

/* The pid /proc/locks gives for a granted flock on (DEV, INO): 0 if none. */
static long locks_pid(dev_t dev, ino_t ino)
{
	char line[256], type[16];
	unsigned int maj, min;
	unsigned long i;
	long pid;
	FILE *f;

	f = fopen("/proc/locks", "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "->" marks a request still waiting, not a holder. */
		if (strstr(line, "->") != NULL)
			continue;
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", type, &pid,
			   &maj, &min, &i) != 5)
			continue;
		if (strcmp(type, "FLOCK") == 0 && pid > 0 &&
		    maj == major(dev) && min == minor(dev) && i == ino) {
			fclose(f);
			return pid;
		}
	}
	fclose(f);
	return 0;
}

/* Does /proc/PID/fdinfo/FD list a flock? */
static int fdinfo_has_flock(const char *pid, const char *fd)
{
	char path[320], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "lock:", 5) == 0 &&
		    strstr(line, "FLOCK") != NULL)
			found = 1;
	fclose(f);
	return found;
}

/* Does process PID hold a flock on (DEV, INO) through one of its fds? */
static int pid_holds(const char *pid, dev_t dev, ino_t ino)
{
	char path[320];
	struct dirent *e;
	struct stat st;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e->d_name);
		if (stat(path, &st) == 0 && st.st_dev == dev &&
		    st.st_ino == ino && fdinfo_has_flock(pid, e->d_name))
			found = 1;
	}
	closedir(d);
	return found;
}

int xhp_holder_name(dev_t dev, ino_t ino, char *buf, size_t len)
{
	char self[32], num[32];
	struct dirent *e;
	unsigned long pid;
	long lpid;
	DIR *d;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	buf[0] = '\0';
	/* /proc/locks names the process that took the lock. When that was a
	 * short-lived "flock-wrap -F" for a shell, it is gone and the shell
	 * holds the lock: find it by the lock its open file carries. */
	lpid = locks_pid(dev, ino);
	if (lpid > 0) {
		snprintf(num, sizeof(num), "%ld", lpid);
		if (pid_holds(num, dev, ino) && describe(lpid, buf, len) == 0)
			return 0;
	}
	d = opendir("/proc");
	if (d == NULL)
		return -1;
	snprintf(self, sizeof(self), "%ld", (long)getpid());
	while ((e = readdir(d)) != NULL) {
		if (xhp_parse_ulong(e->d_name, 10, 0x7fffffffUL, &pid) == -1 ||
		    strcmp(e->d_name, self) == 0)
			continue;
		if (pid_holds(e->d_name, dev, ino) &&
		    describe((long)pid, buf, len) == 0) {
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return 1;
}
