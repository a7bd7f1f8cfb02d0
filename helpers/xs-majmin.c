/* xs-majmin: publish a backend's device in one xenstore transaction
 * (docs/xs-majmin.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: xs-majmin [-p] [-o FMT] [-e NODE=VALUE]... BACKEND DEVPATH\n"
	"       xs-majmin -t [-o FMT] BACKEND\n"
	"FMT is linux (hex MAJ:MIN) or netbsd (decimal dev_t).\n";

/* EAGAIN means another writer touched what we read: retrying is right,
 * but bounded, inside libxl's 40 s. 20 tries take at most ~0.2 s. */
#define TRIES 20
#define PATHMAX 3200

struct job {
	struct xs_handle *h;
	const char *backend;
	const char *devpath;    /* NULL with -t */
	int pathonly, fmt;
	char **extra;           /* "NODE=VALUE" */
	int nextra;
};

static void pathf(char *buf, const char *a, const char *b)
{
	int n = snprintf(buf, PATHMAX, "%s/%s", a, b);

	if (n < 0 || n >= PATHMAX) {
		errno = ENAMETOOLONG;
		xhp_die_sys(XHP_USAGE, "unable to use node %s/%s", a, b);
	}
}

/* physical-device for the block device PATH, in FMT, into MM. */
static void derive(const char *path, int fmt, char *mm)
{
	struct stat st;

	if (stat(path, &st) == -1)
		xhp_die_sys(errno == ENOENT || errno == ENOTDIR ? XHP_NO :
			    XHP_SYS, "unable to stat %s", path);
	if (!S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "%s is not a block device", path);
	if (xhp_fmt_majmin(mm, xhp_dev_major(st.st_rdev),
			   xhp_dev_minor(st.st_rdev), fmt) == -1)
		xhp_die_sys(XHP_NO, "unable to encode the device of %s", path);
}

static void xwrite(struct job *j, xs_transaction_t t, const char *node,
		   const char *val)
{
	char p[PATHMAX];

	pathf(p, j->backend, node);
	if (!xs_write(j->h, t, p, val, strlen(val)))
		xhp_die_sys(XHP_SYS, "unable to write %s", p);
}

/* One attempt. Returns 0 when committed, -1 on EAGAIN (retry). */
static int attempt(struct job *j, const char *mm)
{
	char p[PATHMAX], dm[XHP_MAJMIN_MAX], *v, *path = NULL;
	xs_transaction_t t;
	unsigned int len;
	int i;

	t = xs_transaction_start(j->h);
	if (t == XBT_NULL)
		xhp_die_sys(XHP_SYS, "unable to start a transaction");
	/* A remove may have deleted the directory while we stat'ed or
	 * attached: writing now would recreate it with no one to clean up. */
	v = xs_read(j->h, t, j->backend, &len);
	if (v == NULL) {
		if (errno != ENOENT)
			xhp_die_sys(XHP_SYS, "unable to read %s", j->backend);
		xs_transaction_end(j->h, t, true);
		xhp_die(XHP_NO, "backend gone: %s", j->backend);
	}
	free(v);
	if (j->devpath == NULL) {
		/* Converted already: nothing to do, and no need for the path
		 * to still exist (an image may be gone while in use). */
		pathf(p, j->backend, "physical-device");
		v = xs_read(j->h, t, p, &len);
		if (v == NULL && errno != ENOENT)
			xhp_die_sys(XHP_SYS, "unable to read %s", p);
		if (v != NULL) {
			free(v);
			xs_transaction_end(j->h, t, true);
			return 0;
		}
		pathf(p, j->backend, "physical-device-path");
		path = xs_read(j->h, t, p, &len);
		if (path == NULL) {
			if (errno != ENOENT)
				xhp_die_sys(XHP_SYS, "unable to read %s", p);
			xs_transaction_end(j->h, t, true);
			xhp_die(XHP_NO, "no physical-device-path in %s",
				j->backend);
		}
		if (len == 0 || memchr(path, '\0', len) != NULL)
			xhp_die(XHP_NO, "value of %s is not a path", p);
		derive(path, j->fmt, dm);
		mm = dm;
	} else {
		xwrite(j, t, "physical-device-path", j->devpath);
	}
	for (i = 0; i < j->nextra; i++) {
		char *eq = strchr(j->extra[i], '=');

		*eq = '\0';
		xwrite(j, t, j->extra[i], eq + 1);
		*eq = '=';
	}
	if (mm != NULL) {
		/* blkback acts on the first value it sees and never again:
		 * an existing one, right or wrong, is not ours to change. */
		pathf(p, j->backend, "physical-device");
		v = xs_read(j->h, t, p, &len);
		if (v == NULL && errno != ENOENT)
			xhp_die_sys(XHP_SYS, "unable to read %s", p);
		if (v == NULL)
			xwrite(j, t, "physical-device", mm);
		free(v);
	}
	free(path);
	if (xs_transaction_end(j->h, t, false))
		return 0;
	if (errno != EAGAIN)
		xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s",
			    j->backend);
	return -1;
}

int main(int argc, char **argv)
{
	char mm[XHP_MAJMIN_MAX];
	struct timespec ts;
	struct job j;
	const char *def;
	int opt, toolstack = 0, i;

	xhp_init(argv[0]);
	memset(&j, 0, sizeof(j));
	j.fmt = XHP_FMT_DEFAULT;
	j.extra = calloc((size_t)argc, sizeof(*j.extra));
	if (j.extra == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	while ((opt = getopt(argc, argv, "hpte:o:")) != -1) {
		switch (opt) {
		case 'h':
			free(j.extra);
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'p': j.pathonly = 1; break;
		case 't': toolstack = 1; break;
		case 'e':
			/* NODE must be a path under BACKEND and not one of
			 * the two nodes this helper guards; VALUE may be
			 * empty. Checked on a copy: it is split later. */
			{
				char *cp = strdup(optarg);

				if (cp == NULL)
					xhp_die_sys(XHP_SYS, "unable to "
						    "allocate memory");
				if (strchr(cp, '=') == NULL ||
				    xhp_parse_nodearg(cp, &def) == -1 ||
				    cp[0] == '/' ||
				    strncmp(cp, "physical-device", 15) == 0)
					xhp_usage(USAGE);
				free(cp);
			}
			j.extra[j.nextra++] = optarg;
			break;
		case 'o':
			j.fmt = xhp_parse_fmt(optarg);
			if (j.fmt == -1)
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (toolstack ? (argc != 1 || j.pathonly || j.nextra) : argc != 2)
		xhp_usage(USAGE);
	j.backend = argv[0];
	if (*j.backend == '\0')
		xhp_usage(USAGE);
	if (!toolstack) {
		j.devpath = argv[1];
		if (*j.devpath == '\0')
			xhp_usage(USAGE);
		/* Stat before the transaction: it is the slow part. */
		if (!j.pathonly)
			derive(j.devpath, j.fmt, mm);
	}

	j.h = xs_open(0);
	if (j.h == NULL)
		xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
	for (i = 0; i < TRIES; i++) {
		if (attempt(&j, toolstack || j.pathonly ? NULL : mm) == 0) {
			xs_close(j.h);
			free(j.extra);
			return XHP_OK;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(i + 1) * 1000000L;
		/* An early wake-up (EINTR) only shortens the backoff. */
		(void)nanosleep(&ts, NULL);
	}
	errno = EAGAIN;
	xhp_die_sys(XHP_SYS, "unable to commit the transaction on %s after "
		    "%d tries", j.backend, TRIES);
}
