/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xsclient: run a small script of xenstore operations through libxenstore,
 * one connection, so tests can hold a transaction open while other
 * processes change the store, then see how the commit ends.
 *
 *   xsclient < SCRIPT
 *
 * One command per line; each prints one line (the result, "OK", or
 * "ERR <ERRNO-NAME>"):
 *   start | commit | abort           transaction (ops below use it if open)
 *   read P | write P VALUE | mkdir P | rm P | ls P | perms P
 *   incr P                           read P as a number, write it plus 1,
 *                                    print the new value
 *   watch P TOKEN | unwatch P TOKEN  register/remove a watch
 *   event                            wait for one event: "event PATH TOKEN"
 *   sh COMMAND                       run COMMAND with system(), print status
 * The exit status is 0 once the script ends, whatever the results.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <xenstore.h>

#define PROG "xsclient"

static const char *ename(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case E2BIG: return "E2BIG";
	case EACCES: return "EACCES";
	case ENOSPC: return "ENOSPC";
	case ENOSYS: return "ENOSYS";
	case EBUSY: return "EBUSY";
	case EIO: return "EIO";
	default: return "E?";
	}
}

static void err(void)
{
	printf("ERR %s\n", ename(errno));
}

int main(void)
{
	struct xs_handle *xs;
	xs_transaction_t t = XBT_NULL;
	char *line = NULL, *cmd, *arg, *val, *r, **v;
	size_t cap = 0;
	ssize_t n;
	unsigned int len, i, num;
	struct xs_permissions *perms;
	int st;
	char nbuf[32];

	xs = xs_open(0);
	if (!xs) {
		fprintf(stderr, PROG ": fatal: unable to open xenstore: %s\n",
		        strerror(errno));
		return 111;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		cmd = line;
		arg = strchr(line, ' ');
		if (arg)
			*arg++ = '\0';
		else
			arg = line + strlen(line);
		val = strchr(arg, ' ');
		if (val && strcmp(cmd, "sh") != 0)
			*val++ = '\0';
		if (!val)
			val = arg + strlen(arg);
		if (strcmp(cmd, "start") == 0) {
			t = xs_transaction_start(xs);
			if (t == XBT_NULL)
				err();
			else
				puts("OK");
		} else if (strcmp(cmd, "commit") == 0 ||
		           strcmp(cmd, "abort") == 0) {
			if (xs_transaction_end(xs, t, cmd[0] == 'a'))
				puts("OK");
			else
				err();
			t = XBT_NULL;
		} else if (strcmp(cmd, "read") == 0) {
			r = xs_read(xs, t, arg, &len);
			if (r)
				printf("%.*s\n", (int)len, r);
			else
				err();
			free(r);
		} else if (strcmp(cmd, "incr") == 0) {
			r = xs_read(xs, t, arg, &len);
			if (!r) {
				err();
				continue;
			}
			snprintf(nbuf, sizeof(nbuf), "%ld",
			         strtol(r, NULL, 10) + 1);
			free(r);
			if (xs_write(xs, t, arg, nbuf, strlen(nbuf)))
				puts(nbuf);
			else
				err();
		} else if (strcmp(cmd, "write") == 0) {
			if (xs_write(xs, t, arg, val, strlen(val)))
				puts("OK");
			else
				err();
		} else if (strcmp(cmd, "mkdir") == 0) {
			if (xs_mkdir(xs, t, arg))
				puts("OK");
			else
				err();
		} else if (strcmp(cmd, "rm") == 0) {
			if (xs_rm(xs, t, arg))
				puts("OK");
			else
				err();
		} else if (strcmp(cmd, "ls") == 0) {
			v = xs_directory(xs, t, arg, &num);
			if (!v) {
				err();
				continue;
			}
			for (i = 0; i < num; i++)
				printf("%s%s", i ? " " : "", v[i]);
			putchar('\n');
			free(v);
		} else if (strcmp(cmd, "perms") == 0) {
			perms = xs_get_permissions(xs, t, arg, &num);
			if (!perms) {
				err();
				continue;
			}
			for (i = 0; i < num; i++) {
				printf("%s%c%u", i ? " " : "",
				       "nrwb"[perms[i].perms & 3],
				       perms[i].id);
			}
			putchar('\n');
			free(perms);
		} else if (strcmp(cmd, "watch") == 0 ||
		           strcmp(cmd, "unwatch") == 0) {
			if ((cmd[0] == 'w' ? xs_watch : xs_unwatch)(xs, arg, val))
				puts("OK");
			else
				err();
		} else if (strcmp(cmd, "event") == 0) {
			v = xs_read_watch(xs, &num);
			if (!v) {
				err();
				continue;
			}
			printf("event %s %s\n", v[XS_WATCH_PATH],
			       v[XS_WATCH_TOKEN]);
			free(v);
		} else if (strcmp(cmd, "sh") == 0) {
			fflush(stdout);
			st = system(arg);
			printf("status %d\n", WIFEXITED(st) ? WEXITSTATUS(st)
			                                    : 128);
		} else {
			fprintf(stderr, PROG ": fatal: unknown command %s\n",
			        cmd);
			return 100;
		}
		fflush(stdout);
	}
	free(line);
	xs_close(xs);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": fatal: unable to write stdout: %s\n",
		        strerror(errno));
		return 111;
	}
	return 0;
}
