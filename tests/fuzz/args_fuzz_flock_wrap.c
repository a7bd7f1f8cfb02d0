/*
 * libFuzzer target for flock-wrap's arguments. Two differentials:
 *
 * 1. Its SECS parser (flock-wrap's and xs-publish's -w), xhp_parse_secs
 *    in helpers/lib/parse.c, against a plain reading of the grammar "1 to
 *    15 digits, optionally '.' and 1 to 3 digits, at most 1000000 s".
 *
 * 2. Its whole command line: helpers/flock-wrap.c is compiled in here with
 *    main renamed, its lock, run and exec calls replaced by stubs that
 *    record what it would do (nothing is locked, created or executed),
 *    and the outcome (usage, help, lock FD, release FD, chainload, with
 *    the descriptor, the wait, -s PID and the files) is compared with a
 *    reference reading of the usage in docs/flock-wrap.md:
 *      flock-wrap [-w SECS [-s PID]] -F FD LOCKFILE
 *      flock-wrap -u -F FD LOCKFILE
 *      flock-wrap [-w SECS [-s PID]] LOCKFILE PROG [ARG...]
 *      flock-wrap -h
 *    with POSIX getopt ("+": options stop at the first operand), FD a
 *    decimal up to INT_MAX, PID a decimal from 1 to INT_MAX.
 *
 * The input is the arguments, NUL-separated; an argument whose first byte
 * is below 0x20 starts with a word of the grammar (TOKENS) instead.
 *
 *   make build/fuzz/args_fuzz_flock_wrap
 *   build/fuzz/args_fuzz_flock_wrap -max_total_time=30
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

/* What the helper did, as the stubs saw it. */
enum { O_NONE, O_USAGE, O_HELP, O_LOCKFD, O_RELEASE, O_CHAIN, O_DIE };
static struct outcome {
	int kind;
	long fd;
	unsigned long ms;
	long pid;
	const char *file, *prog;
	int nprog;
} got;
static jmp_buf jb;

static void fuzz_usage(const char *usage) __attribute__((noreturn));
static void fuzz_usage(const char *usage)
{
	(void)usage;
	got.kind = O_USAGE;
	longjmp(jb, 1);
}

static void fuzz_die(int code, const char *fmt, ...) __attribute__((noreturn));
static void fuzz_die(int code, const char *fmt, ...)
{
	(void)code;
	(void)fmt;
	got.kind = O_DIE;
	longjmp(jb, 1);
}

static void fuzz_close_stdout(void)
{
}

/* release_mode's first step: what it would release. */
static int fuzz_fstat(int fd, struct stat *st)
{
	(void)st;
	got.kind = O_RELEASE;
	got.fd = fd;
	longjmp(jb, 1);
}

static int fuzz_execvp(const char *file, char *const argv[])
{
	int n = 0;

	while (argv[n] != NULL)
		n++;
	got.kind = O_CHAIN;
	got.prog = file;
	got.nprog = n;
	longjmp(jb, 1);
}

#define main flock_wrap_main
#define xhp_usage fuzz_usage
#define xhp_die fuzz_die
#define xhp_die_sys fuzz_die
#define xhp_close_stdout fuzz_close_stdout
#define fstat(fd, st) fuzz_fstat(fd, st)
#define execvp(f, a) fuzz_execvp(f, a)
#include "../../helpers/flock-wrap.c"
#undef main
#undef fstat
#undef execvp

/* The stubs of the modules not linked in (lock.c, run.c). */
void xhp_run_init(struct xhp_run *r, pid_t script, unsigned long ms,
		  const char *secs)
{
	memset(r, 0, sizeof(*r));
	r->script = script;
	r->ms = ms;
	r->secs = secs;
	got.pid = (long)script;
}

unsigned long xhp_run_left(const struct xhp_run *r)
{
	return r->ms;
}

int xhp_lock_fd(int fd, const char *path, unsigned long ms, const char *secs)
{
	(void)secs;
	got.kind = O_LOCKFD;
	got.fd = fd;
	got.file = path;
	got.ms = ms;
	return 0;
}

void xhp_lock_mkparent(const char *path)
{
	(void)path;
}

int xhp_lock_open(const char *path, unsigned long ms, const char *secs,
		  int flags)
{
	(void)secs;
	(void)flags;
	got.file = path;
	got.ms = ms;
	return 3;
}

int xhp_lock_path(const char *path, struct stat *st)
{
	(void)path;
	(void)st;
	abort();
}

int xhp_lock_unlink(int fd, const char *path, const char **step)
{
	(void)fd;
	(void)path;
	(void)step;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* -h prints the usage: not on the fuzzer's terminal. */
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
	return 0;
}

/* SECS reference: -1 rejected, else milliseconds. */
static long long reference(const char *s)
{
	long long whole = 0, frac = 0;
	size_t i = 0, nw = 0, nf = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++, nw++)
		if (nw < 15)
			whole = whole * 10 + (s[i] - '0');
	if (nw == 0 || nw > 15)
		return -1;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nf++)
			if (nf < 3)
				frac = frac * 10 + (s[i] - '0');
		if (nf == 0 || nf > 3)
			return -1;
		while (nf++ < 3)
			frac *= 10;
	}
	if (s[i] != '\0' || whole > 1000000)
		return -1;
	return whole * 1000 + frac;
}

/* A decimal from MIN to INT_MAX, digits only: its value, else -1. */
static long ref_int(const char *s, long min)
{
	long v = 0;
	size_t i;

	if (*s == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > INT_MAX)
			return -1;
	}
	return v >= min ? v : -1;
}

/* The reference reading of ARGV (ARGC words, ARGV[0] the name). */
static struct outcome ref_args(int argc, char **argv)
{
	struct outcome o = { O_NONE, 0, 30000, 0, NULL, NULL, 0 };
	long fd = -1, pid = 0;
	long long ms;
	int i, unlock = 0, has_w = 0;
	size_t j;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		for (j = 1; a[j] != '\0'; j++) {
			const char *arg;
			char c = a[j];

			if (c == 'h') {
				o.kind = O_HELP;
				return o;
			}
			if (c == 'u') {
				unlock = 1;
				continue;
			}
			if (c != 'F' && c != 'w' && c != 's') {
				o.kind = O_USAGE;
				return o;
			}
			/* The rest of the word, else the next word. */
			if (a[j + 1] != '\0') {
				arg = a + j + 1;
			} else if (i + 1 < argc) {
				arg = argv[++i];
			} else {
				o.kind = O_USAGE;
				return o;
			}
			if (c == 'F') {
				fd = ref_int(arg, 0);
				if (fd < 0) {
					o.kind = O_USAGE;
					return o;
				}
			} else if (c == 'w') {
				ms = reference(arg);
				if (ms < 0) {
					o.kind = O_USAGE;
					return o;
				}
				o.ms = (unsigned long)ms;
				has_w = 1;
			} else {
				pid = ref_int(arg, 1);
				if (pid < 0) {
					o.kind = O_USAGE;
					return o;
				}
			}
			break;
		}
	}
	/* -u needs -F and takes no -w; -s goes with -w. */
	if ((unlock && (fd < 0 || has_w)) || (pid != 0 && !has_w)) {
		o.kind = O_USAGE;
		return o;
	}
	o.pid = pid;
	argc -= i;
	argv += i;
	if (fd >= 0) {
		if (argc != 1 || argv[0][0] == '\0') {
			o.kind = O_USAGE;
			return o;
		}
		o.kind = unlock ? O_RELEASE : O_LOCKFD;
		o.fd = fd;
		o.file = argv[0];
		return o;
	}
	if (argc < 2 || argv[0][0] == '\0') {
		o.kind = O_USAGE;
		return o;
	}
	o.kind = O_CHAIN;
	o.file = argv[0];
	o.prog = argv[1];
	o.nprog = argc - 1;
	return o;
}

static const char *const TOKENS[] = {
	"-F", "-u", "-w", "-s", "-h", "--", "-", "-uF", "-w0.5", "-s1",
	"/run/lock/block", "prog", "3", "0", "2147483647", "2147483648",
	"1.250", "-x", "-Fw", "30", "1"
};
#define NTOKENS (sizeof(TOKENS) / sizeof(TOKENS[0]))
#define MAXARGS 12

static void args_case(const uint8_t *data, size_t size)
{
	char *words[MAXARGS + 2], *argv[MAXARGS + 2], *buf;
	struct outcome want;
	size_t i, start = 0;
	int argc = 1, k;

	words[0] = argv[0] = "flock-wrap";
	for (i = 0; i <= size && argc < MAXARGS + 1; i++) {
		if (i < size && data[i] != '\0')
			continue;
		const uint8_t *w = data + start;
		size_t n = i - start, tn = 0;
		const char *t = "";

		if (n > 0 && w[0] < 0x20) {
			t = TOKENS[w[0] % NTOKENS];
			tn = strlen(t);
			w++;
			n--;
		}
		buf = malloc(tn + n + 1);
		if (buf == NULL)
			abort();
		memcpy(buf, t, tn);
		memcpy(buf + tn, w, n);
		buf[tn + n] = '\0';
		words[argc] = argv[argc] = buf;
		argc++;
		start = i + 1;
	}
	words[argc] = argv[argc] = NULL;

	want = ref_args(argc, words);
	memset(&got, 0, sizeof(got));
	got.kind = O_NONE;
	optind = 0; /* glibc: a full reinitialisation of getopt */
	if (setjmp(jb) == 0) {
		k = flock_wrap_main(argc, argv);
		if (k == XHP_OK && got.kind == O_NONE)
			got.kind = O_HELP;
		else if (got.kind == O_LOCKFD && k != XHP_OK)
			abort();
	}
	if (got.kind != want.kind)
		abort();
	switch (want.kind) {
	case O_LOCKFD:
	case O_CHAIN:
		if (got.ms != want.ms || got.pid != want.pid ||
		    strcmp(got.file, want.file) != 0)
			abort();
		if (want.kind == O_LOCKFD && got.fd != want.fd)
			abort();
		if (want.kind == O_CHAIN && (strcmp(got.prog, want.prog) != 0 ||
					     got.nprog != want.nprog))
			abort();
		break;
	case O_RELEASE:
		if (got.fd != want.fd)
			abort();
		break;
	default:
		break;
	}
	for (k = 1; k < argc; k++)
		free(words[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long ms = 0;
	long long want;
	char *s;
	int r;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = xhp_parse_secs(s, &ms);
	want = reference(s);
	if ((r == 0) != (want >= 0) || (r == 0 && (long long)ms != want))
		abort();
	free(s);
	args_case(data, size);
	return 0;
}
