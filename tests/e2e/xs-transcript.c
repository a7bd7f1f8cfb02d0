/*
 * xs-transcript: run a fixed sequence of xenstore operations through
 * libxenstore and print one line per operation and per watch event.
 *
 * The same binary runs against the real xenstored in the e2e dom0
 * (oxenstored and the C xenstored) and against our test xenstore on the
 * host; the transcripts must be identical. It therefore touches only its own
 * subtrees (/xhp-diff and the relative xhp-diff-rel), and prints errors as
 * errno names, never strerror text.
 *
 * An operation whose reply the real implementations disagree on carries
 * "(impl-defined)" in its line; a comparison with only one of them at hand
 * does not hold the test xenstore to that line.
 *
 * Directory listings are printed sorted: the order of children is not part
 * of the protocol, and the implementations differ in it.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#define USAGE "usage: xs-transcript\n" \
	"Runs the differential xenstore sequence against $XENSTORED_PATH " \
	"(or the local xenstored) and prints a transcript.\n"

static struct xs_handle *h1, *h2;
static unsigned step;

static const char *ename(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case EISDIR: return "EISDIR";
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ENOSYS: return "ENOSYS";
	case EROFS: return "EROFS";
	case EBUSY: return "EBUSY";
	case EAGAIN: return "EAGAIN";
	case EISCONN: return "EISCONN";
	case E2BIG: return "E2BIG";
	case EPERM: return "EPERM";
	case ENOMEM: return "ENOMEM";
	default: return "E?";
	}
}

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
	va_list ap;

	printf("%03u ", ++step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Values are printed with non-printing bytes escaped, and with their length. */
static void pvalue(const char *what, const char *v, unsigned len)
{
	printf("%03u %s -> \"", ++step, what);
	for (unsigned i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\" len %u\n", len);
}

static void rd(struct xs_handle *h, xs_transaction_t t, const char *p)
{
	char what[512];
	unsigned len;
	char *v;

	snprintf(what, sizeof what, "read%s %s", t ? "(t)" : "", p);
	v = xs_read(h, t, p, &len);
	if (!v)
		line("%s -> %s", what, ename(errno));
	else
		pvalue(what, v, len);
	free(v);
}

static void wr(struct xs_handle *h, xs_transaction_t t, const char *p,
	       const char *v, unsigned len)
{
	char what[512];

	snprintf(what, sizeof what, "write%s %s", t ? "(t)" : "", p);
	line("%s -> %s", what, xs_write(h, t, p, v, len) ? "ok" : ename(errno));
}

static void wrs(struct xs_handle *h, xs_transaction_t t, const char *p, const char *v)
{
	wr(h, t, p, v, (unsigned)strlen(v));
}

static void mk(const char *p)
{
	line("mkdir %s -> %s", p, xs_mkdir(h1, XBT_NULL, p) ? "ok" : ename(errno));
}

static void rm(const char *p)
{
	line("rm %s -> %s", p, xs_rm(h1, XBT_NULL, p) ? "ok" : ename(errno));
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dir(const char *p)
{
	unsigned n;
	char **d = xs_directory(h1, XBT_NULL, p, &n);

	if (!d) {
		line("directory %s -> %s", p, ename(errno));
		return;
	}
	qsort(d, n, sizeof *d, cmp);
	printf("%03u directory %s ->", ++step, p);
	for (unsigned i = 0; i < n; i++)
		printf(" %s", d[i]);
	printf(" (%u)\n", n);
	free(d);
}

static void perms(const char *p)
{
	unsigned n;
	struct xs_permissions *ps = xs_get_permissions(h1, XBT_NULL, p, &n);

	if (!ps) {
		line("get_perms %s -> %s", p, ename(errno));
		return;
	}
	printf("%03u get_perms %s ->", ++step, p);
	for (unsigned i = 0; i < n; i++) {
		const char *k = "?";

		switch (ps[i].perms & (XS_PERM_READ | XS_PERM_WRITE)) {
		case XS_PERM_NONE: k = "n"; break;
		case XS_PERM_READ: k = "r"; break;
		case XS_PERM_WRITE: k = "w"; break;
		case XS_PERM_READ | XS_PERM_WRITE: k = "b"; break;
		}
		printf(" %s%u", k, ps[i].id);
	}
	putchar('\n');
	free(ps);
}

/* Every event that arrives within 300 ms, in arrival order. */
static void events(const char *label)
{
	struct pollfd pfd = { .fd = xs_fileno(h2), .events = POLLIN };
	unsigned got = 0;

	for (;;) {
		char **ev;

		while ((ev = xs_check_watch(h2))) {
			printf("%03u   event(%s) %s %s\n", ++step, label,
			       ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
			free(ev);
			got++;
		}
		int r = poll(&pfd, 1, 300);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "xs-transcript: fatal: unable to poll xenstore: %s\n",
				strerror(errno));
			exit(111);
		}
		if (r == 0)
			break;
	}
	printf("%03u   events(%s) %u\n", ++step, label, got);
}

static xs_transaction_t tstart(struct xs_handle *h, const char *name)
{
	xs_transaction_t t = xs_transaction_start(h);

	line("transaction_start %s -> %s", name, t ? "ok" : ename(errno));
	return t;
}

static void tend(struct xs_handle *h, xs_transaction_t t, const char *name, int abort_it)
{
	char what[64];

	snprintf(what, sizeof what, "transaction_end(%s) %s", abort_it ? "abort" : "commit", name);
	line("%s -> %s", what, xs_transaction_end(h, t, abort_it) ? "ok" : ename(errno));
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fputs(USAGE, stderr);
		return 100;
	}
	h1 = xs_open(0);
	h2 = xs_open(0);
	if (!h1 || !h2) {
		fprintf(stderr, "xs-transcript: fatal: unable to open xenstore: %s\n",
			strerror(errno));
		return 111;
	}
	/* Leftovers from an earlier run are not part of the transcript. */
	xs_rm(h1, XBT_NULL, "/xhp-diff");
	xs_rm(h1, XBT_NULL, "xhp-diff-rel");

	/* Plain nodes. */
	rd(h1, XBT_NULL, "/xhp-diff");
	dir("/xhp-diff");
	mk("/xhp-diff");
	dir("/xhp-diff");
	rd(h1, XBT_NULL, "/xhp-diff");
	wrs(h1, XBT_NULL, "/xhp-diff/a", "1");
	rd(h1, XBT_NULL, "/xhp-diff/a");
	wrs(h1, XBT_NULL, "/xhp-diff/a", "two");
	rd(h1, XBT_NULL, "/xhp-diff/a");
	wrs(h1, XBT_NULL, "/xhp-diff/b/c/d", "deep");
	rd(h1, XBT_NULL, "/xhp-diff/b/c");
	dir("/xhp-diff");
	dir("/xhp-diff/b");
	wrs(h1, XBT_NULL, "/xhp-diff/empty", "");
	rd(h1, XBT_NULL, "/xhp-diff/empty");
	wr(h1, XBT_NULL, "/xhp-diff/bin", "a\0b\n", 4);
	rd(h1, XBT_NULL, "/xhp-diff/bin");
	mk("/xhp-diff/a");
	rd(h1, XBT_NULL, "/xhp-diff/a");
	wrs(h1, XBT_NULL, "/xhp-diff/a-b_c.d@e", "chars");
	rd(h1, XBT_NULL, "/xhp-diff/a-b_c.d@e");

	/* Malformed paths. */
	rd(h1, XBT_NULL, "");
	rd(h1, XBT_NULL, "/xhp-diff//a");
	rd(h1, XBT_NULL, "/xhp-diff/a/");
	wrs(h1, XBT_NULL, "/xhp-diff/sp ace", "x");
	wrs(h1, XBT_NULL, "/xhp-diff/star*", "x");
	dir("/xhp-diff/nope");
	rd(h1, XBT_NULL, "/xhp-diff/nope/deeper");

	/* Relative paths resolve against /local/domain/0. */
	wrs(h1, XBT_NULL, "xhp-diff-rel/x", "rel");
	rd(h1, XBT_NULL, "/local/domain/0/xhp-diff-rel/x");
	rd(h2, XBT_NULL, "xhp-diff-rel/x");
	wrs(h1, XBT_NULL, "/local/domain/0/xhp-diff-rel/y", "abs");
	rd(h1, XBT_NULL, "xhp-diff-rel/y");

	/* Permissions. */
	perms("/xhp-diff/a");
	{
		struct xs_permissions p[2] = {
			{ .id = 0, .perms = XS_PERM_NONE },
			{ .id = 5, .perms = XS_PERM_READ },
		};
		line("set_perms %s -> %s", "/xhp-diff/a",
		     xs_set_permissions(h1, XBT_NULL, "/xhp-diff/a", p, 2) ? "ok" : ename(errno));
		perms("/xhp-diff/a");
		wrs(h1, XBT_NULL, "/xhp-diff/a/child", "inherits");
		perms("/xhp-diff/a/child");
		line("set_perms %s -> %s", "/xhp-diff/missing",
		     xs_set_permissions(h1, XBT_NULL, "/xhp-diff/missing", p, 2) ? "ok" : ename(errno));
	}

	/* Transactions: isolation, commit, abort, conflict. */
	{
		xs_transaction_t t1, t2;

		t1 = tstart(h1, "t1");
		wrs(h1, t1, "/xhp-diff/t", "in-t1");
		rd(h2, XBT_NULL, "/xhp-diff/t");
		rd(h1, t1, "/xhp-diff/t");
		tend(h1, t1, "t1", 0);
		rd(h2, XBT_NULL, "/xhp-diff/t");

		t1 = tstart(h1, "t1");
		wrs(h1, t1, "/xhp-diff/aborted", "x");
		tend(h1, t1, "t1", 1);
		rd(h1, XBT_NULL, "/xhp-diff/aborted");

		t1 = tstart(h1, "t1");
		t2 = tstart(h2, "t2");
		rd(h1, t1, "/xhp-diff/t");
		wrs(h2, t2, "/xhp-diff/t", "from-t2");
		tend(h2, t2, "t2", 0);
		wrs(h1, t1, "/xhp-diff/t", "from-t1");
		tend(h1, t1, "t1", 0);
		rd(h1, XBT_NULL, "/xhp-diff/t");

		/* A plain write between a transaction's read and its commit. */
		t1 = tstart(h1, "t1");
		rd(h1, t1, "/xhp-diff/t");
		wrs(h2, XBT_NULL, "/xhp-diff/t", "plain");
		wrs(h1, t1, "/xhp-diff/u", "x");
		tend(h1, t1, "t1", 0);
		rd(h1, XBT_NULL, "/xhp-diff/u");

		/* A node that was absent when read, created meanwhile. */
		t1 = tstart(h1, "t1");
		rd(h1, t1, "/xhp-diff/late");
		wrs(h2, XBT_NULL, "/xhp-diff/late", "x");
		wrs(h1, t1, "/xhp-diff/late", "y");
		tend(h1, t1, "t1", 0);
		rd(h1, XBT_NULL, "/xhp-diff/late");

		/* Retry after EAGAIN, as the helpers do. */
		t1 = tstart(h1, "t1");
		rd(h1, t1, "/xhp-diff/late");
		wrs(h1, t1, "/xhp-diff/late", "z");
		tend(h1, t1, "t1", 0);
		rd(h1, XBT_NULL, "/xhp-diff/late");

		/* Removal inside a transaction. */
		t1 = tstart(h1, "t1");
		line("rm(t) %s -> %s", "/xhp-diff/late",
		     xs_rm(h1, t1, "/xhp-diff/late") ? "ok" : ename(errno));
		rd(h2, XBT_NULL, "/xhp-diff/late");
		rd(h1, t1, "/xhp-diff/late");
		tend(h1, t1, "t1", 0);
		rd(h1, XBT_NULL, "/xhp-diff/late");

		/* oxenstored answers EIO, the C xenstored ENOENT. */
		tend(h1, 0x7777, "bogus(impl-defined)", 0);
	}

	/* Watches. */
	line("watch %s %s -> %s", "/xhp-diff/w", "tok",
	     xs_watch(h2, "/xhp-diff/w", "tok") ? "ok" : ename(errno));
	events("register");
	wrs(h1, XBT_NULL, "/xhp-diff/w", "v");
	events("write");
	wrs(h1, XBT_NULL, "/xhp-diff/w/child/grand", "v");
	events("write-deep");
	wrs(h1, XBT_NULL, "/xhp-diff/wx", "v");
	events("sibling-prefix");
	{
		xs_transaction_t t1 = tstart(h1, "t1");
		wrs(h1, t1, "/xhp-diff/w/in-t", "v");
		events("in-transaction");
		tend(h1, t1, "t1", 0);
		events("commit");
	}
	rm("/xhp-diff/w");
	events("rm");
	line("watch %s %s -> %s", "xhp-diff-rel", "rel",
	     xs_watch(h2, "xhp-diff-rel", "rel") ? "ok" : ename(errno));
	events("register-relative");
	wrs(h1, XBT_NULL, "/local/domain/0/xhp-diff-rel/z", "v");
	events("write-relative");
	line("unwatch %s %s -> %s", "/xhp-diff/w", "tok",
	     xs_unwatch(h2, "/xhp-diff/w", "tok") ? "ok" : ename(errno));
	line("unwatch %s %s -> %s", "xhp-diff-rel", "rel",
	     xs_unwatch(h2, "xhp-diff-rel", "rel") ? "ok" : ename(errno));
	wrs(h1, XBT_NULL, "/xhp-diff/w", "v");
	events("after-unwatch");
	line("unwatch %s %s -> %s", "/xhp-diff/never", "tok",
	     xs_unwatch(h2, "/xhp-diff/never", "tok") ? "ok" : ename(errno));
	line("watch %s %s -> %s", "bad//path", "tok",
	     xs_watch(h2, "bad//path", "tok") ? "ok" : ename(errno));

	/* Removal. */
	rm("/xhp-diff/nope");
	rm("/xhp-diff/nope/deeper");
	rm("/xhp-diff/b");
	rd(h1, XBT_NULL, "/xhp-diff/b/c/d");
	rm("/xhp-diff");
	rm("xhp-diff-rel");
	rd(h1, XBT_NULL, "/xhp-diff/a");
	dir("/xhp-diff");

	xs_close(h1);
	xs_close(h2);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "xs-transcript: fatal: unable to write stdout: %s\n",
			strerror(errno));
		return 111;
	}
	return 0;
}
