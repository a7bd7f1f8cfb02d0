#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

const char *xhp_prog = "xen-hotplug";
const char *(*xhp_atdie)(void);

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
	const char *(*undo)(void) = xhp_atdie;
	const char *note = NULL;

	/* Once only: a failure while undoing must not loop back here. */
	xhp_atdie = NULL;
	if (undo != NULL)
		note = undo();
	fprintf(stderr, "%s: fatal: ", xhp_prog);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	if (note != NULL)
		fputs(note, stderr);
	fputc('\n', stderr);
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
