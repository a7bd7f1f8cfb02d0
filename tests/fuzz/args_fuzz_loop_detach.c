/*
 * libFuzzer target for loop-detach's arguments. Differential against
 * plain reference readings of the grammars:
 *
 * 1. the "-i DEV:INO" parser (parse_id, static in helpers/loop-detach.c,
 *    compiled in here with main renamed) and xhp_loopmap_index, which
 *    decides what is a loop device's name in sysfs;
 *
 * 2. the whole command line. The helper's device, sysfs, xenstore, lock
 *    and run calls are replaced by stubs that record what it would do
 *    (nothing is opened, detached, locked or connected to), and the
 *    outcome (usage, help, detach one device, -a by tag, -b for a
 *    backend, or the -b tag refused) is compared with a reading of the
 *    usage in docs/loop-detach.md:
 *      loop-detach [-i DEV:INO] [-t TAG] /dev/loopN
 *      loop-detach -a -t TAG
 *      loop-detach -b -l LOCKFILE [-w SECS] [-s PID] [-T PREFIX] BACKEND
 *      loop-detach -b -N -l LOCKFILE [-w SECS] [-s PID] [-d DEVDIR]
 *                  [-V VNDTAB] [-R RAWPART] [-r] BACKEND
 *      loop-detach -h
 *    with POSIX getopt (the helpers are built with _POSIX_C_SOURCE, so
 *    glibc's getopt does not permute: the first operand or "--" ends the
 *    options). As the helper does: -l and -s (but for -s 0) only with -b,
 *    and -w and -T without -b are accepted and unused; -d, -V, -R and -r
 *    only with -N, and -N only with -b and without -t or -T.
 *
 * The input is the arguments, NUL-separated; an argument whose first byte
 * is below 0x20 starts with a word of the grammar (TOKENS) instead.
 *
 *   make build/fuzz/args_fuzz_loop_detach
 *   build/fuzz/args_fuzz_loop_detach -max_total_time=30
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xhp.h"

/* What the helper did, as the stubs saw it. */
enum { O_NONE, O_USAGE, O_HELP, O_ONE, O_ALL, O_REMOVE, O_REFUSED, O_DIE,
       O_VND };
static struct outcome {
	int kind;
	const char *node, *tag, *lock, *prefix, *backend;
	unsigned long ms;
	long pid;
	int vnd;
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
	(void)fmt;
	got.kind = code == XHP_REFUSED ? O_REFUSED : O_DIE;
	longjmp(jb, 1);
}

static void fuzz_close_stdout(void)
{
}

/* free_verified's open: the one device it would look at. */
static int fuzz_open(const char *path, int flags)
{
	(void)flags;
	got.kind = O_ONE;
	got.node = path;
	longjmp(jb, 1);
}

static int fuzz_bound_each(int (*fn)(unsigned long n, const char *name,
				     void *ctx), void *ctx)
{
	(void)fn;
	got.kind = O_ALL;
	got.tag = ctx;
	longjmp(jb, 1);
}

static int fuzz_tag_for(char *tag, const char *prefix, const char *backend);

#define main loop_detach_main
#define xhp_usage fuzz_usage
#define xhp_die fuzz_die
#define xhp_die_sys fuzz_die
#define xhp_close_stdout fuzz_close_stdout
#define xhp_loopmap_bound_each fuzz_bound_each
#define xhp_loop_tag_for fuzz_tag_for
#define open(p, f) fuzz_open(p, f)
#include "../../helpers/loop-detach.c"
#undef main
#undef open
#undef xhp_loop_tag_for

/* -b's tag, derived by the real function. */
static int fuzz_tag_for(char *tag, const char *prefix, const char *backend)
{
	got.prefix = prefix;
	got.backend = backend;
	return xhp_loop_tag_for(tag, prefix, backend);
}

/* The stubs of the modules not linked in (xs.c, pub.c, lock.c, run.c). */
void xhp_run_init(struct xhp_run *r, pid_t script, unsigned long ms,
		  const char *secs)
{
	memset(r, 0, sizeof(*r));
	r->script = script;
	r->ms = ms;
	r->secs = secs;
	got.pid = (long)script;
	got.ms = ms;
}

unsigned long xhp_run_left(const struct xhp_run *r)
{
	return r->ms;
}

void xhp_run_pause(const char *point)
{
	(void)point;
}

void xhp_xs_open(struct xhp_xs *q)
{
	q->fd = -1;
}

void xhp_xs_close(struct xhp_xs *q)
{
	(void)q;
	abort();
}

char *xhp_xspath_msg(int code, const char *dir, const char *node,
		     const char *val, size_t *len)
{
	static char buf[8][8];
	static int i;

	(void)code;
	(void)dir;
	(void)node;
	(void)val;
	if (len != NULL)
		*len = 0;
	return buf[i++ % 8];
}

/* The lock is taken before the backend is read: where -b stops here. */
void xhp_lock_mkparent(const char *path)
{
	got.kind = got.vnd ? O_VND : O_REMOVE;
	got.lock = path;
	longjmp(jb, 1);
}

int xhp_lock_open(const char *path, unsigned long ms, const char *secs,
		  int flags)
{
	(void)path;
	(void)ms;
	(void)secs;
	(void)flags;
	abort();
}

void xhp_xs_many(struct xhp_xs *q, int list, char *const *paths, size_t n,
		 char **vals, unsigned int *lens)
{
	(void)q;
	(void)list;
	(void)paths;
	(void)n;
	(void)vals;
	(void)lens;
	abort();
}

int xhp_pub_fail(struct xhp_xs *q, const char *backend, const char *status,
		 const char *msg)
{
	(void)q;
	(void)backend;
	(void)status;
	(void)msg;
	abort();
}

/* vnd.c's, not linked in: -N records that it was set up. */
void xhp_vnd_source(const char *tab, const char *devdir, int raw)
{
	(void)tab;
	(void)devdir;
	(void)raw;
	got.vnd = 1;
}

int xhp_vnd_unit(const char *node, unsigned long *unit)
{
	(void)node;
	(void)unit;
	abort();
}

int xhp_vnd_detach(unsigned long unit, int any, dev_t dev, ino_t ino,
		   dev_t *odev, ino_t *oino)
{
	(void)unit;
	(void)any;
	(void)dev;
	(void)ino;
	(void)odev;
	(void)oino;
	abort();
}

void xhp_xs_batch(struct xhp_xs *q, struct xhp_xs_req *r, size_t n)
{
	(void)q;
	(void)r;
	(void)n;
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

/* Decimal digits only, no overflow of unsigned long: 0 and *V, else -1. */
static int ref_num(const char *s, size_t n, unsigned long *v)
{
	size_t i;

	*v = 0;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (*v > (ULONG_MAX - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	}
	return 0;
}

/* "DEV:INO", both decimal, shorter than PATH_MAX (the
 * NetBSD form carries a device path in place of FSDEV). */
static int ref_id(const char *s)
{
	const char *colon = strchr(s, ':');
	unsigned long d, i;

	return strlen(s) < PATH_MAX && colon != NULL &&
	       ref_num(s, (size_t)(colon - s), &d) == 0 &&
	       ref_num(colon + 1, strlen(colon + 1), &i) == 0 ? 0 : -1;
}

/* SECS: 1 to 15 digits, optionally '.' and 1 to 3 digits, at most
 * 1000000 s. Milliseconds, or -1. */
static long long ref_secs(const char *s)
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

/* The tag -b derives: PREFIX:REST, REST the backend below backend/ (or
 * /local/domain/N/backend/); under 64 bytes, printable ASCII, not
 * starting with '/'. */
static int ref_tag_ok(const char *prefix, const char *backend)
{
	const char *rest = backend;
	size_t i, n;

	if (strncmp(rest, "/local/domain/", 14) == 0) {
		rest += 14;
		while (*rest >= '0' && *rest <= '9')
			rest++;
		if (*rest == '/')
			rest++;
	}
	if (strncmp(rest, "backend/", 8) == 0)
		rest += 8;
	n = strlen(prefix) + 1 + strlen(rest);
	if (n >= 64 || prefix[0] == '/')
		return 0;
	for (i = 0; prefix[i] != '\0'; i++)
		if ((unsigned char)prefix[i] < 0x20 ||
		    (unsigned char)prefix[i] > 0x7e)
			return 0;
	for (i = 0; rest[i] != '\0'; i++)
		if ((unsigned char)rest[i] < 0x20 ||
		    (unsigned char)rest[i] > 0x7e)
			return 0;
	return 1;
}

#define MAXARGS 12

static struct outcome ref_args(int argc, char **argv)
{
	struct outcome o = { O_NONE, NULL, NULL, NULL, "xen-hotplug", NULL,
			     30000, 0 };
	const char *ops[MAXARGS + 1], *id = NULL;
	int i, nops = 0, all = 0, be = 0, dashdash = 0, nb = 0, nbopt = 0;
	int tset = 0;
	const char *devdir = NULL;
	unsigned long pid = 0, raw;
	long long ms;
	size_t j;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			/* The first operand ends the options. */
			dashdash = 1;
			ops[nops++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		for (j = 1; a[j] != '\0'; j++) {
			const char *arg;
			char c = a[j];

			if (c == 'h') {
				o.kind = O_HELP;
				return o;
			}
			if (c == 'a' || c == 'b' || c == 'N' || c == 'r') {
				if (c == 'a')
					all = 1;
				else if (c == 'b')
					be = 1;
				else if (c == 'N')
					nb = 1;
				else
					nbopt = 1;
				continue;
			}
			if (strchr("itlwsTdVR", c) == NULL) {
				o.kind = O_USAGE;
				return o;
			}
			if (a[j + 1] != '\0') {
				arg = a + j + 1;
			} else if (i + 1 < argc) {
				arg = argv[++i];
			} else {
				o.kind = O_USAGE;
				return o;
			}
			switch (c) {
			case 'i': id = arg; break;
			case 't': o.tag = arg; break;
			case 'l': o.lock = arg; break;
			case 'T': o.prefix = arg; tset = 1; break;
			case 'd': devdir = arg; nbopt = 1; break;
			case 'V': nbopt = 1; break;
			case 'R':
				if (ref_num(arg, strlen(arg), &raw) == -1 ||
				    raw > 15) {
					o.kind = O_USAGE;
					return o;
				}
				nbopt = 1;
				break;
			case 'w':
				ms = ref_secs(arg);
				if (ms < 0) {
					o.kind = O_USAGE;
					return o;
				}
				o.ms = (unsigned long)ms;
				break;
			case 's':
				if (ref_num(arg, strlen(arg), &pid) == -1 ||
				    pid > INT_MAX) {
					o.kind = O_USAGE;
					return o;
				}
				break;
			}
			break;
		}
	}
	o.pid = (long)pid;
	if ((nbopt && !nb) || (nb && (!be || o.tag != NULL || tset)) ||
	    (devdir != NULL && devdir[0] == '\0')) {
		o.kind = O_USAGE;
		return o;
	}
	if (nb) {
		o.kind = nops != 1 || ops[0][0] == '\0' || all || id != NULL ||
			 o.lock == NULL || o.lock[0] == '\0' ? O_USAGE : O_VND;
		return o;
	}
	if (be) {
		if (nops != 1 || ops[0][0] == '\0' || all || id != NULL ||
		    o.tag != NULL || o.lock == NULL || o.lock[0] == '\0') {
			o.kind = O_USAGE;
			return o;
		}
		o.backend = ops[0];
		o.kind = ref_tag_ok(o.prefix, o.backend) ? O_REMOVE : O_REFUSED;
		return o;
	}
	if (o.lock != NULL || pid != 0) {
		o.kind = O_USAGE;
		return o;
	}
	if (o.tag != NULL && (o.tag[0] == '\0' || o.tag[0] == '/' ||
			      strlen(o.tag) >= 64)) {
		o.kind = O_USAGE;
		return o;
	}
	if (all) {
		o.kind = nops == 0 && o.tag != NULL && id == NULL ? O_ALL :
			 O_USAGE;
		return o;
	}
	if (nops != 1 || ops[0][0] == '\0' || (id != NULL && ref_id(id) != 0)) {
		o.kind = O_USAGE;
		return o;
	}
	o.kind = O_ONE;
	o.node = ops[0];
	return o;
}

static const char *const TOKENS[] = {
	"-b", "-l", "-w", "-s", "-T", "-a", "-i", "-t", "-h", "--", "-",
	"backend/vbd/3/51712", "/local/domain/0/backend/vbd/3/51712",
	"/dev/loop0", "1:2", "0.5", "123", "/run/lock/block", "-bl",
	"xen-hotplug", "0", "2147483648", "-ab", "tag", "-N", "-r", "-d",
	"-V", "-R", "3", "16", "-bN"
};
#define NTOKENS (sizeof(TOKENS) / sizeof(TOKENS[0]))

static void args_case(const uint8_t *data, size_t size)
{
	char *words[MAXARGS + 2], *argv[MAXARGS + 2], *buf;
	struct outcome want;
	size_t i, start = 0;
	int argc = 1, k;

	words[0] = argv[0] = "loop-detach";
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
		k = loop_detach_main(argc, argv);
		got.kind = k == XHP_OK && got.kind == O_NONE ? O_HELP : O_DIE;
	}
	if (got.kind != want.kind)
		abort();
	switch (want.kind) {
	case O_ONE:
		if (strcmp(got.node, want.node) != 0)
			abort();
		break;
	case O_ALL:
		if (strcmp(got.tag, want.tag) != 0)
			abort();
		break;
	case O_VND:
		if (strcmp(got.lock, want.lock) != 0 || got.ms != want.ms ||
		    got.pid != want.pid)
			abort();
		break;
	case O_REMOVE:
		if (strcmp(got.lock, want.lock) != 0 || got.ms != want.ms ||
		    got.pid != want.pid)
			abort();
		/* fall through */
	case O_REFUSED:
		if (strcmp(got.prefix, want.prefix) != 0 ||
		    strcmp(got.backend, want.backend) != 0)
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
	unsigned long d, i, n, want;
	dev_t dev = 0;
	ino_t ino = 0;
	const char *colon;
	char *s;
	int r, ok;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	r = parse_id(s, 0, &dev, &ino);
	colon = strchr(s, ':');
	ok = strlen(s) < PATH_MAX && colon != NULL &&
	     ref_num(s, (size_t)(colon - s), &d) == 0 &&
	     ref_num(colon + 1, strlen(colon + 1), &i) == 0;
	if ((r == 0) != ok ||
	    (r == 0 && ((unsigned long)dev != d || (unsigned long)ino != i)))
		abort();

	r = xhp_loopmap_index(s, &n);
	ok = strncmp(s, "loop", 4) == 0 &&
	     ref_num(s + 4, strlen(s + 4), &want) == 0 && want <= 0xfffff;
	if ((r == 0) != ok || (r == 0 && n != want))
		abort();
	free(s);
	args_case(data, size);
	return 0;
}
