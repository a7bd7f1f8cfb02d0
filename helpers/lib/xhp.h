/* xhp.h: the small shared library of the xen-hotplug helpers.
 * One function per file in helpers/lib/, declared here in sections owned by
 * the helpers that need them. Exit codes: docs/exit-codes.md. */
#ifndef XHP_H
#define XHP_H

#include <stddef.h>

/* Exit codes (docs/exit-codes.md). */
enum {
	XHP_OK = 0,
	XHP_NO = 1,        /* busy, absent, refused */
	XHP_STALE = 2,     /* flock-wrap -F: reopen the lock file and retry */
	XHP_USAGE = 100,
	XHP_SYS = 111,
	XHP_NOEXEC = 126,
	XHP_NOTFOUND = 127
};

/* ---- errors, usage, output (xhp_die.c, xhp_usage.c, xhp_out.c) ---- */

/* Program name used in messages; set from argv[0] by xhp_init. */
extern const char *xhp_prog;
void xhp_init(const char *argv0);

/* Print "PROG: fatal: MSG" on stderr and exit with CODE. */
void xhp_die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
/* Same, with ": strerror(errno)" appended (errno saved at entry). */
void xhp_die_sys(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* Print USAGE on stderr and exit XHP_USAGE. */
void xhp_usage(const char *usage) __attribute__((noreturn));

/* Flush and close stdout; exit XHP_SYS if any write failed. Call before
 * exiting 0 from a helper that printed a result. */
void xhp_close_stdout(void);

/* ---- numbers (xhp_parse_ulong.c) ---- */

/* Parse S as a decimal (BASE 10) or hex (BASE 16, no 0x) unsigned number no
 * larger than MAX. Leading/trailing junk, signs, empty strings and overflow
 * are errors. Returns 0 on success, -1 on error (errno = EINVAL/ERANGE). */
int xhp_parse_ulong(const char *s, int base, unsigned long max,
		    unsigned long *out);

#endif
