/* SPDX-License-Identifier: LGPL-2.1-only */
/* timerun: start N copies of a command at once and time each of them and
 * the whole batch, for `make bench`.
 *
 * A shell timing a 2 ms script with `date` before and after would add two
 * process spawns of noise to the figure; this measures from just before
 * fork to the reaping of the child, with a monotonic clock.
 *
 * In every argument and -e value, the token @N@ becomes FIRST+i for copy i
 * (0-based), so 32 copies can each get their own backend path. Each copy
 * also gets BENCH_ADD=i (read by the lock-wait shim) and stdin /dev/null,
 * as libxl gives the hotplug scripts.
 *
 * Output: one line per copy "run I STATUS SECONDS", then "wall SECONDS".
 * Exit 0 when every copy exited 0, else 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: timerun [-n COUNT] [-f FIRST] [-e VAR=VALUE]... PROG [ARG...]\n";

#define MAXN 256
#define MAXE 16

static double now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		xhp_die_sys(XHP_SYS, "unable to read the clock");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* S with every @N@ replaced by the decimal V (fresh allocation). */
static char *subst(const char *s, unsigned long v)
{
	char num[24], *out, *o;
	size_t nl = (size_t)snprintf(num, sizeof num, "%lu", v);
	out = malloc(strlen(s) * (nl + 1) + 1);
	if (!out)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	for (o = out; *s;) {
		if (!strncmp(s, "@N@", 3)) {
			memcpy(o, num, nl);
			o += nl;
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	return out;
}

int main(int argc, char **argv)
{
	unsigned long n = 1, first = 0;
	char *envs[MAXE];
	int ne = 0, c;
	pid_t pids[MAXN];
	double t0[MAXN], t1[MAXN], start;
	int st[MAXN];
	xhp_init(argv[0]);
	while ((c = getopt(argc, argv, "+he:f:n:")) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return 0;
		case 'e':
			if (ne == MAXE || !strchr(optarg, '='))
				xhp_usage(USAGE);
			envs[ne++] = optarg;
			break;
		case 'f':
			if (xhp_parse_ulong(optarg, 10, 1000000, &first) < 0)
				xhp_usage(USAGE);
			break;
		case 'n':
			if (xhp_parse_ulong(optarg, 10, MAXN, &n) < 0 || !n)
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	if (optind == argc)
		xhp_usage(USAGE);
	argv += optind;
	argc -= optind;
	start = now();
	for (unsigned long i = 0; i < n; i++) {
		t0[i] = now();
		pids[i] = fork();
		if (pids[i] < 0)
			xhp_die_sys(XHP_SYS, "unable to fork");
		if (pids[i] == 0) {
			char **av = calloc((size_t)argc + 1, sizeof *av), idx[24];
			int fd = open("/dev/null", O_RDONLY);
			if (!av || fd < 0 || dup2(fd, 0) < 0)
				xhp_die_sys(XHP_SYS, "unable to set up the child");
			if (close(fd) < 0)
				xhp_die_sys(XHP_SYS, "unable to close /dev/null");
			for (int k = 0; k < argc; k++)
				av[k] = subst(argv[k], first + i);
			for (int k = 0; k < ne; k++) {
				char *kv = subst(envs[k], first + i);
				char *eq = strchr(kv, '=');
				*eq = 0;
				if (setenv(kv, eq + 1, 1) < 0)
					xhp_die_sys(XHP_SYS, "unable to set %s", kv);
			}
			snprintf(idx, sizeof idx, "%lu", i);
			if (setenv("BENCH_ADD", idx, 1) < 0)
				xhp_die_sys(XHP_SYS, "unable to set BENCH_ADD");
			execvp(av[0], av);
			xhp_die_sys(errno == ENOENT ? XHP_NOTFOUND : XHP_NOEXEC,
				    "unable to exec %s", av[0]);
		}
	}
	for (unsigned long left = n; left > 0; left--) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		double t = now();
		if (p < 0)
			xhp_die_sys(XHP_SYS, "unable to wait");
		for (unsigned long i = 0; i < n; i++) {
			if (pids[i] == p) {
				t1[i] = t;
				st[i] = WIFEXITED(status) ? WEXITSTATUS(status)
							  : 128 + WTERMSIG(status);
			}
		}
	}
	double wall = now() - start;
	int bad = 0;
	for (unsigned long i = 0; i < n; i++) {
		printf("run %lu %d %.6f\n", i, st[i], t1[i] - t0[i]);
		bad |= st[i] != 0;
	}
	printf("wall %.6f\n", wall);
	xhp_close_stdout();
	return bad;
}
