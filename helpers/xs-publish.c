/* xs-publish: the whole of `block add` after the reads, in one process and
 * one xenstore connection: sharing check, loop attach and the publishing
 * transaction under the hotplug lock, and only they (docs/xs-publish.md). */
/* realpath() is XSI, not in plain POSIX.1-2008. */
#define _DEFAULT_SOURCE
#define _NETBSD_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: xs-publish -l LOCKFILE [-w SECS] -m MODE [-p] [-o FMT] "
	"[-M MOUNTINFO]\n"
	"                  [-B BASE] [-T TYPES] [-t TAG] [-i NODE] [-v]\n"
	"                  [-e NODE=VALUE]... BACKEND TARGET\n"
	"       xs-publish -A -l LOCKFILE -t TAG [OPTION]... BACKEND\n"
	"  -l LOCKFILE   the hotplug lock (locking.sh protocol)\n"
	"  -w SECS       wait at most SECS for it (default 30)\n"
	"  -m MODE       r, w, or w! (no sharing check)\n"
	"  -M MOUNTINFO  dom0's mounts, mountinfo format; - is stdin\n"
	"  -p            path only: no physical-device\n"
	"  -t TAG        loop device tag, required when TARGET is a file\n"
	"  -i NODE       write the file's DEV:INO to BACKEND/NODE\n"
	"  -v            timings on stderr\n"
	"  -A            take TARGET and MODE from BACKEND's nodes; exit 3 when\n"
	"                they are not the plain case, for the script to check\n"
	"prints: DEVPATH (block device) or /dev/loopN DEV:INO (file)\n"
	"FMT is linux (hex MAJ:MIN) or netbsd (decimal dev_t).\n";

/* What to undo when dying: set while held or attached. */
static int lock_fd = -1, loop_fd = -1;
static const char *lock_file;
static char loop_node[32];

/* Release by closing, leaving the lock file in place: the protocol allows
 * it (the next locker's dev/inode re-check succeeds on the same file), and
 * unlinking made every queued waiter wake on a dead file, find it stale and
 * requeue, one after another: a convoy that multiplied lock attempts under
 * contention (bench: 9-16 flock calls per add). release_lock in locking.sh
 * still unlinks, as upstream's does. */
static void release_lock(void)
{
	if (close(lock_fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", lock_file);
	lock_fd = -1;
}

/* A failure after the attach must not leak the device (nobody recorded
 * it), and must not leave the lock file behind. */
static const char *undo(void)
{
	static char note[256];
	size_t n;

	note[0] = '\0';
	if (loop_fd != -1 && xhp_loop_clear(loop_fd) == -1)
		snprintf(note, sizeof(note), " (and unable to free %s: %s)",
			 loop_node, strerror(errno));
	if (lock_fd != -1 && close(lock_fd) == -1) {
		n = strlen(note);
		snprintf(note + n, sizeof(note) - n, " (and unable to close %s: "
			 "%s)", lock_file, strerror(errno));
	}
	return note[0] != '\0' ? note : NULL;
}

static long long now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		xhp_die_sys(XHP_SYS, "unable to read the clock");
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "NODE=VALUE" in new memory. */
static char *pair(const char *node, const char *val)
{
	size_t n = strlen(node) + strlen(val) + 2;
	char *p = malloc(n);

	if (p == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	snprintf(p, n, "%s=%s", node, val);
	return p;
}

/* What -A takes from the backend: the script's common case, and only it. */
struct fast {
	char *target, *mode;
	int already;            /* something is published: nothing to do */
};

/* Leave it to the script (exit 3): it reads the backend again and says
 * in words what is wrong, or does what is unusual. */
static void defer(const char *why, const char *what)
	__attribute__((noreturn));
static void defer(const char *why, const char *what)
{
	fprintf(stderr, "%s: left to the script: %s%s\n", xhp_prog, why,
		what);
	exit(XHP_DEFER);
}

/* -A: read BACKEND's nodes in one round trip and accept only what the
 * block script would accept without a word: type phy, file or none;
 * params an absolute path to a block device or a non-empty image file;
 * mode r, ro, w or rw (w! and rw! skip the check: the script's path);
 * a frontend-id; for a file, state 2 and a write bit for mode w. */
static void fast_read(struct xhp_xs *q, const char *be, struct fast *f)
{
	static const char *const node[] = {
		"", "/type", "/params", "/mode", "/frontend-id", "/state",
		"/physical-device", "/physical-device-path"
	};
	enum { N = sizeof(node) / sizeof(node[0]) };
	/* static: reachable when we die (defer) with them allocated. */
	static char *v[N];
	char *path[N];
	unsigned int len[N], i;
	unsigned long fid;
	struct stat st;

	for (i = 0; i < N; i++) {
		char p[XHP_XS_PATHMAX];

		xhp_xs_pathf(p, XHP_USAGE, "%s%s", be, node[i]);
		path[i] = strdup(p);
		if (path[i] == NULL)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
	}
	xhp_xs_many(q, 0, path, N, v, len);
	for (i = 0; i < N; i++) {
		free(path[i]);
		if (v[i] != NULL && !xhp_parse_value(v[i], len[i]))
			defer("a value the script refuses in ", node[i]);
	}
	if (v[0] == NULL)
		defer("no backend ", be);
	free(v[0]);
	if ((v[6] != NULL && *v[6] != '\0') || (v[7] != NULL && *v[7] != '\0'))
		f->already = 1;
	if (v[1] != NULL && *v[1] != '\0' && strcmp(v[1], "phy") != 0 &&
	    strcmp(v[1], "file") != 0)
		defer("type ", v[1]);
	if (v[2] == NULL || v[2][0] != '/')
		defer("params not an absolute path", "");
	if (v[3] == NULL || (strcmp(v[3], "r") != 0 && strcmp(v[3], "ro") != 0 &&
	    strcmp(v[3], "w") != 0 && strcmp(v[3], "rw") != 0))
		defer("mode not r, ro, w or rw", "");
	/* A domid: 0x7FF0 and above are reserved. */
	if (v[4] == NULL || strlen(v[4]) > 5 || strspn(v[4], "0123456789") !=
	    strlen(v[4]) ||
	    xhp_parse_ulong(v[4], 10, XHP_DOMID_MAX, &fid) == -1)
		defer("frontend-id not a domid", "");
	if (!f->already) {
		if (stat(v[2], &st) == -1)
			defer("params not there: ", v[2]);
		if (S_ISREG(st.st_mode) && (st.st_size == 0 || v[5] == NULL ||
		    strcmp(v[5], "2") != 0 || (strchr(v[3], 'w') != NULL &&
		    (st.st_mode & 0222) == 0)))
			defer("an image file the script must look at: ", v[2]);
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			defer("neither block device nor file: ", v[2]);
	}
	for (i = 1; i < N; i++)
		if (i != 2 && i != 3)
			free(v[i]);
	f->target = v[2];
	f->mode = v[3];
}

int main(int argc, char **argv)
{
	const char *secs = "30", *mode = NULL, *mountinfo =
		"/proc/self/mountinfo", *base = "backend", *types = "vbd,vbd3",
		*tag = NULL, *idnode = NULL, *target;
	char mm[XHP_MAJMIN_MAX], id[64], *devpath, *check;
	unsigned long ms = 30000;
	long long t0, t1, t2, t3;
	struct xhp_share c;
	struct xhp_pub j;
	struct xhp_xs q = { -1, 0, 0 };
	struct stat st, fst;
	int opt, pathonly = 0, verbose = 0, isfile, nuser, i, lfd = -1;
	int fromnodes = 0;
	char *tagpair = NULL;
	/* static: reachable when we die with TARGET and MODE allocated. */
	static struct fast f;

	xhp_init(argv[0]);
	memset(&c, 0, sizeof(c));
	memset(&j, 0, sizeof(j));
	c.fmt = XHP_FMT_DEFAULT;
	/* Room for every -e, node, the identity, -A's loop-tag and
	 * hotplug-status. */
	j.extra = calloc((size_t)argc + 4, sizeof(*j.extra));
	if (j.extra == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	while ((opt = getopt(argc, argv, "hAl:w:m:po:M:B:T:t:i:e:v")) != -1) {
		switch (opt) {
		case 'h':
			free(j.extra);
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'A': fromnodes = 1; break;
		case 'l': lock_file = optarg; break;
		case 'w':
			if (xhp_parse_secs(optarg, &ms) == -1)
				xhp_usage(USAGE);
			secs = optarg;
			break;
		case 'm': mode = optarg; break;
		case 'p': pathonly = 1; break;
		case 'o':
			c.fmt = xhp_parse_fmt(optarg);
			if (c.fmt == -1)
				xhp_usage(USAGE);
			break;
		case 'M':
			/* "-": a caller that converts another system's mount
			 * list (NetBSD's block) pipes it in without a file. */
			mountinfo = strcmp(optarg, "-") == 0 ? "/dev/stdin" :
				optarg;
			break;
		case 'B': base = optarg; break;
		case 'T': types = optarg; break;
		case 't':
			if (!xhp_loop_tag_ok(optarg))
				xhp_usage(USAGE);
			tag = optarg;
			break;
		case 'i':
			check = pair(optarg, "");
			if (xhp_parse_extra(check) == -1 ||
			    strchr(optarg, '=') != NULL ||
			    strcmp(optarg, "node") == 0)
				xhp_usage(USAGE);
			free(check);
			idnode = optarg;
			break;
		case 'e':
			xhp_pub_extra(&j, optarg, USAGE);
			break;
		case 'v': verbose = 1; break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (fromnodes && (argc != 1 || mode != NULL || idnode != NULL ||
	    tag == NULL || *argv[0] == '\0' || lock_file == NULL ||
	    *lock_file == '\0' || *base == '\0'))
		xhp_usage(USAGE);
	if (fromnodes) {
		xhp_xs_open(&q);
		fast_read(&q, argv[0], &f);
		if (f.already) {
			/* Called twice for one add: nothing to do, as the
			 * script's own check. */
			free(j.extra);
			free(f.target);
			free(f.mode);
			xhp_xs_close(&q);
			xhp_close_stdout();
			return XHP_OK;
		}
		j.backend = c.self = argv[0];
		target = f.target;
		mode = f.mode;
	} else {
		if (argc != 2 || lock_file == NULL || *lock_file == '\0' ||
		    mode == NULL || *argv[0] == '\0' || *argv[1] == '\0' ||
		    *base == '\0')
			xhp_usage(USAGE);
		j.backend = c.self = argv[0];
		target = argv[1];
	}
	j.fmt = c.fmt;
	c.mode = xhp_parse_mode(mode, strlen(mode));

	/* Everything that does not need the lock, before it. */
	if (stat(target, &st) == -1)
		xhp_die_sys(errno == ENOENT || errno == ENOTDIR ? XHP_NO :
			    XHP_SYS, "unable to stat %s", target);
	isfile = S_ISREG(st.st_mode);
	if (!isfile && !S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "%s is not a block device or a regular file",
			target);
	if (isfile && tag == NULL)
		xhp_die(XHP_USAGE, "%s is a file: a loop device tag (-t) is "
			"needed", target);
	if (isfile && fromnodes) {
		/* What the script records for a file it attaches. */
		idnode = "loop-file-id";
		tagpair = pair("loop-tag", tag);
		j.extra[j.nextra++] = tagpair;
	}
	if (!isfile) {
		/* Publish the node itself (/dev/dm-3), not a udev alias that
		 * may name something else by the time it is opened. */
		devpath = realpath(target, NULL);
		if (devpath == NULL)
			xhp_die_sys(XHP_SYS, "unable to resolve %s", target);
		if (!pathonly) {
			xhp_id_stat_blk(devpath, c.fmt, mm);
			j.mm = mm;
		}
	}
	if (c.mode != '!') {
		/* dom0's mounts are not under the hotplug lock anyway: check
		 * them first, and a device dom0 uses costs no xenstore work. */
		if (xhp_id_expand_st(&c.ids, &st) == -1)
			xhp_die_sys(XHP_SYS, "unable to find the loop devices "
				    "of %s", target);
		if (xhp_share_mounts(&c, mountinfo))
			xhp_share_exit(&c);
		xhp_id_free(&c.ids);
	}
	/* One connection, the pipelined one, for everything (-A opened it
	 * already). Our own vm is read only if a conflict needs it. */
	if (q.fd == -1)
		xhp_xs_open(&q);
	j.q = c.q = &q;
	if (c.mode != '!')
		xhp_xs_normalise(c.selfn, c.self);
	/* The transaction, opened now with what is known, so that under the
	 * lock the publication is the commit alone (for a file, whose loop
	 * device is not known yet, its writes and then the commit). Called
	 * twice for one backend (the caller's check for that is not under
	 * the lock), the second call changes nothing. */
	nuser = j.nextra;
	j.extra[j.nextra++] = pair("hotplug-status", "connected");
	j.devpath = isfile ? NULL : devpath;
	j.once = 1;
	xhp_pub_open(&j, argc + optind + 4);

	xhp_lock_mkparent(lock_file);
	lock_fd = xhp_lock_open(lock_file, ms, secs, O_CLOEXEC);
	xhp_atdie = undo;
	t0 = verbose ? now_us() : 0;

	/* The identity set again, under the lock: a loop device attached
	 * over the same file by an add that held the lock before us is part
	 * of it now. */
	if (c.mode != '!') {
		if (xhp_id_expand_st(&c.ids, &st) == -1)
			xhp_die_sys(XHP_SYS, "unable to find the loop devices "
				    "of %s", target);
		if (xhp_share_guests(&c, base, types)) {
			xhp_atdie = NULL;
			release_lock();
			xhp_share_exit(&c);
		}
	}
	t1 = verbose ? now_us() : 0;

	if (isfile) {
		loop_fd = xhp_loop_attach(target, c.mode == 'r', tag, loop_node,
					  &fst);
		/* Checked one file, attached another: refuse. */
		if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
			xhp_die(XHP_NO, "%s was replaced during the check",
				target);
		devpath = loop_node;
		if (!pathonly) {
			xhp_id_stat_blk(loop_node, c.fmt, mm);
			j.mm = mm;
		}
		snprintf(id, sizeof(id), "%ju:%ju", (uintmax_t)fst.st_dev,
			 (uintmax_t)fst.st_ino);
		j.extra[j.nextra++] = pair("node", loop_node);
		if (idnode != NULL)
			j.extra[j.nextra++] = pair(idnode, id);
	}
	j.devpath = devpath;
	t2 = verbose ? now_us() : 0;
	xhp_pub_commit(&j);
	lfd = loop_fd;
	if (j.already && isfile) {
		if (xhp_loop_clear(lfd) == -1)
			xhp_die_sys(XHP_SYS, "unable to free %s", loop_node);
	}
	loop_fd = -1;
	xhp_atdie = NULL;
	release_lock();
	t3 = verbose ? now_us() : 0;

	/* Nothing published by us (j.already): nothing to print. */
	if (isfile && !j.already)
		printf("%s %s\n", loop_node, id);
	else if (!j.already)
		puts(devpath);
	/* A file's binding keeps the device; it is recorded in xenstore. */
	if (isfile && close(lfd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", loop_node);
	if (!isfile)
		free(devpath);
	if (verbose)
		fprintf(stderr, "xs-publish: check %lld us, attach %lld us, "
			"write %lld us (%d tries), under lock %lld us\n",
			t1 - t0, t2 - t1, t3 - t2, j.tries, t3 - t0);
	xhp_close_stdout();
	for (i = nuser; i < j.nextra; i++)
		free(j.extra[i]);
	free(j.extra);
	free(tagpair);
	free(f.target);
	free(f.mode);
	xhp_id_free(&c.ids);
	free(c.ourvm);
	free(c.ourtvm);
	if (c.h != NULL)
		xs_close(c.h);
	xhp_xs_close(&q);
	return XHP_OK;
}
