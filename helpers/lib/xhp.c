/* SPDX-License-Identifier: LGPL-2.1-only */
/* xhp.c: the frame every helper runs in: its name in messages, the one
 * error grammar ("NAME: fatal: unable to VERB OBJECT: REASON"), the undo
 * hook run before dying, the usage exit and the checked close of stdout.
 * Exit codes: docs/exit-codes.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"
const char *xhp_prog = "xen-hotplug";
const char *(*xhp_atdie)(int code, const char *msg);

void xhp_init(const char *argv0)
{
	const char *slash;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	slash = strrchr(argv0, '/');
	xhp_prog = slash ? slash + 1 : argv0;
}

static void vdie(int code, int err, const char *fmt, va_list ap)
	__attribute__((noreturn));

static void vdie(int code, int err, const char *fmt, va_list ap)
{
	const char *(*undo)(int, const char *) = xhp_atdie;
	const char *note = NULL;
	char msg[4096];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	/* Once only: a failure while undoing must not loop back here. */
	xhp_atdie = NULL;
	if (undo != NULL)
		note = undo(code, msg);
	fprintf(stderr, "%s: fatal: %s%s\n", xhp_prog, msg,
		note != NULL ? note : "");
	exit(code);
}

void xhp_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, 0, fmt, ap);
}

void xhp_die_sys(int code, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vdie(code, err ? err : EIO, fmt, ap);
}

void *xhp_grow(void *p, size_t n, size_t *room, size_t size)
{
	size_t r = *room ? 2 * *room : 8;

	if (n < *room)
		return p;
	if (r > SIZE_MAX / size) {
		errno = ENOMEM;
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	}
	p = realloc(p, r * size);
	if (p == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	*room = r;
	return p;
}

void xhp_usage(const char *usage)
{
	fputs(usage, stderr);
	exit(XHP_USAGE);
}

void xhp_close_stdout(void)
{
	/* A result that was not fully written is a failure (sbase, util-linux
	 * close_stdout): a caller reading a truncated device path must not
	 * see exit 0. */
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		xhp_die_sys(XHP_SYS, "unable to write to stdout");
}
