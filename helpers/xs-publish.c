/* SPDX-License-Identifier: LGPL-2.1-only */
/* xs-publish: the whole of `block add` in one process and one xenstore
 * connection (docs/xs-publish.md): read and validate the backend, check
 * dom0's mounts, take the hotplug lock, check the other guests, attach an
 * image file to a loop device, and publish in one transaction that refuses
 * a backend libxl is tearing down; or refuse, undo, and write why. */
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
	"usage: xs-publish -l LOCKFILE [-w SECS] [-s PID] [-B BASE] [-T PREFIX]\n"
	"                  [-p] [-v] BACKEND\n"
	"       xs-publish -l LOCKFILE [-w SECS] [-s PID] [-B BASE] [-m MODE]\n"
	"                  [-p] [-v] [-o FMT] [-M MOUNTINFO] [-t TAG] [-i NODE]\n"
	"                  [-e NODE=VALUE]... BACKEND TARGET\n"
	"       xs-publish -O -l LOCKFILE [-w SECS] [-s PID] [-B BASE] [-v]\n"
	"                  [-d DEVDIR] [-F FSTAB] [-U MDLIST] [-G GEOM] BACKEND\n"
	"       xs-publish -N -l LOCKFILE [-w SECS] [-s PID] [-B BASE] [-v]\n"
	"                  [-d DEVDIR] [-F FSTAB] [-V VNDTAB] [-R RAWPART] BACKEND\n"
	"  -l LOCKFILE   the hotplug lock (locking.sh protocol)\n"
	"  -w SECS       the deadline: SECS after the start of PID (default 30)\n"
	"  -s PID        the script this runs for (default: our parent); we\n"
	"                give up, undoing everything, when it is gone\n"
	"  -B BASE       the backend root to scan (default backend)\n"
	"  -T PREFIX     loop device tags are PREFIX:TYPE/DOMID/DEVID\n"
	"                (default xen-hotplug)\n"
	"  -p            path only: no physical-device\n"
	"  -v            timings on stderr\n"
	"  BACKEND alone: the target and mode are its params and mode nodes.\n"
	"  With TARGET: -m MODE (default: the mode node), -o linux|netbsd,\n"
	"  -M MOUNTINFO (- is stdin), -t TAG, -i NODE (the file's DEV:INO\n"
	"  there), -e extra nodes; a conflict is printed on stdout.\n"
	"  -O: the backend opens the target itself (FreeBSD): a file, block or\n"
	"  character device, published as physical-device-path alone; nothing\n"
	"  attached. -d DEVDIR for relative names and md(4) units (default\n"
	"  /dev), -F FSTAB the mounts as mount -p prints them, -U MDLIST the md\n"
	"  units as mdconfig -l -v prints them, -G GEOM the GEOM tree as\n"
	"  kern.geom.conftxt gives it (default: the kernel's).\n"
	"  -N: NetBSD's xbdback: an image goes on a vnd(4) unit, physical-device\n"
	"  is a decimal dev_t, vnd and vnd-file-id record the unit. -d DEVDIR\n"
	"  for relative names and the vndN nodes, -F FSTAB the mounts as\n"
	"  mount -p lines, -V VNDTAB a vnd table instead of the kernel's units,\n"
	"  -R RAWPART the raw partition (default: kern.rawpartition, else 3).\n"
	"prints: DEVPATH (block device), /dev/loopN DEV:INO (file), with -N\n"
	"        DEVDIR/vndNd INO:DEV (file)\n";

/* Everything one add knows; static, so that undo() reaches it when we
 * die anywhere. */
static struct add {
	/* options */
	const char *lock_file, *secs, *base, *types, *prefix, *mountinfo;
	const char *idnode, *modearg, *tagarg, *backend, *targetarg;
	unsigned long ms;
	long script;
	int pathonly, verbose, fmt, explicit;
	/* -O: the backend opens the target itself (FreeBSD) */
	int opened;
	const char *devdir, *fstab, *mdlist, *geom;
	/* -N: NetBSD, images on vnd(4) units */
	int netbsd, raw;
	const char *vndtab;
	long vnd_unit;
	dev_t vnd_dev;
	ino_t vnd_ino;
	char **extra;
	int nextra;
	/* the backend and the target */
	char *node[9];
	char target[PATH_MAX + 8];
	const char *mode, *what;
	int cmode, isfile;
	struct stat st;
	char *devpath;
	char mm[XHP_MAJMIN_MAX], tag[XHP_LOOP_TAG_MAX], id[64];
	/* what is held, for undo() */
	struct xhp_run run;
	struct xhp_xs q;
	struct xhp_share c;
	struct xhp_pub j;
	int lock_fd, loop_fd;
	char loop_node[PATH_MAX];
	long long t[4];
} A = { .lock_fd = -1, .loop_fd = -1, .q = { .fd = -1 }, .raw = -1,
	.vnd_unit = -1 };

/* The nodes read from BACKEND, in this order (A.node[i]). */
enum { N_DIR, N_TYPE, N_PARAMS, N_MODE, N_FID, N_STATE, N_ONLINE, N_PD,
       N_PDP, N_NODES };
static const char *const NODE[N_NODES] = {
	"", "/type", "/params", "/mode", "/frontend-id", "/state", "/online",
	"/physical-device", "/physical-device-path"
};

/* -N: unconfigure the vnd unit we configured, if it is still ours. */
static int vnd_free(void)
{
	dev_t d;
	ino_t i;

	return xhp_vnd_detach((unsigned long)A.vnd_unit, 0, A.vnd_dev,
			      A.vnd_ino, &d, &i) == -1 ? -1 : 0;
}

/* Undo what is held, and write the failure into the backend (busy for a
 * conflict, error for a refusal or the deadline), in a transaction that
 * refuses a backend directory that is gone. */
static const char *undo(int code, const char *msg)
{
	static char note[PATH_MAX + 512];
	size_t n;

	note[0] = '\0';
	if (A.loop_fd != -1 && xhp_loop_clear(A.loop_fd) == -1)
		snprintf(note, sizeof(note), " (and unable to free %s: %s)",
			 A.loop_node, strerror(errno));
	A.loop_fd = -1;
	if (A.vnd_unit != -1 && vnd_free() == -1)
		snprintf(note, sizeof(note), " (and unable to free %s: %s)",
			 A.loop_node, strerror(errno));
	A.vnd_unit = -1;
	if (A.q.fd != -1 && (code == XHP_NO || code == XHP_REFUSED ||
			     code == XHP_TIMEOUT))
		(void)xhp_pub_fail(&A.q, A.backend,
				   code == XHP_NO ? "busy" : "error", msg);
	if (A.lock_fd != -1 && close(A.lock_fd) == -1) {
		n = strlen(note);
		snprintf(note + n, sizeof(note) - n, " (and unable to close %s: "
			 "%s)", A.lock_file, strerror(errno));
	}
	A.lock_fd = -1;
	return note[0] != '\0' ? note : NULL;
}

static long long now_us(void)
{
	struct timespec ts;

	if (!A.verbose)
		return 0;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		xhp_die_sys(XHP_SYS, "unable to read the clock");
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "NODE=VALUE" in new memory, appended to the publication's extras. */
static void extra(const char *node, const char *val)
{
	size_t n = strlen(node) + strlen(val) + 2;
	char *p = malloc(n);

	if (p == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	snprintf(p, n, "%s=%s", node, val);
	A.j.extra[A.j.nextra++] = p;
}

/* -i NODE: a node -e could write, not "node" (the loop device's). */
static int idnode_ok(const char *node)
{
	char buf[XHP_XS_PATHMAX];
	int n = snprintf(buf, sizeof(buf), "%s=", node);

	return n > 0 && (size_t)n < sizeof(buf) && strchr(node, '=') == NULL &&
	       strcmp(node, "node") != 0 && xhp_parse_extra(buf) == 0;
}

static void options(int argc, char **argv)
{
	unsigned long pid;
	int opt;

	A.secs = "30";
	A.ms = 30000;
	A.base = "backend";
	A.types = "vbd,vbd3,qdisk";
	A.prefix = "xen-hotplug";
	A.mountinfo = "/proc/self/mountinfo";
	A.fmt = XHP_FMT_DEFAULT;
	/* Room for every -e, and node, the identity, loop-tag and
	 * hotplug-status. */
	A.extra = calloc((size_t)argc + 4, sizeof(*A.extra));
	if (A.extra == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	opterr = 0; /* the usage alone, not getopt's message first */
	while ((opt = getopt(argc, argv,
			     "hl:w:s:B:T:pvm:o:M:t:i:e:Od:F:U:G:NV:R:")) != -1) {
		switch (opt) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			exit(XHP_OK);
		case 'l': A.lock_file = optarg; break;
		case 'w':
			if (xhp_parse_secs(optarg, &A.ms) == -1)
				xhp_usage(USAGE);
			A.secs = optarg;
			break;
		case 's':
			if (xhp_parse_ulong(optarg, 10, INT_MAX, &pid) == -1)
				xhp_usage(USAGE);
			A.script = (long)pid;
			break;
		case 'B': A.base = optarg; break;
		case 'T': A.prefix = optarg; break;
		case 'p': A.pathonly = 1; break;
		case 'v': A.verbose = 1; break;
		case 'm': A.modearg = optarg; break;
		case 'o':
			A.fmt = xhp_parse_fmt(optarg);
			if (A.fmt == -1)
				xhp_usage(USAGE);
			break;
		case 'M':
			/* "-": a caller that converts another system's mount
			 * list (NetBSD's block) pipes it in without a file. */
			A.mountinfo = strcmp(optarg, "-") == 0 ? "/dev/stdin" :
				optarg;
			break;
		case 't':
			if (!xhp_loop_tag_ok(optarg))
				xhp_usage(USAGE);
			A.tagarg = optarg;
			break;
		case 'i':
			if (!idnode_ok(optarg))
				xhp_usage(USAGE);
			A.idnode = optarg;
			break;
		case 'e':
			if (xhp_parse_extra(optarg) == -1)
				xhp_usage(USAGE);
			A.extra[A.nextra++] = optarg;
			break;
		case 'O': A.opened = 1; break;
		case 'd': A.devdir = optarg; break;
		case 'F': A.fstab = optarg; break;
		case 'U': A.mdlist = optarg; break;
		case 'G': A.geom = optarg; break;
		case 'N': A.netbsd = 1; break;
		case 'V': A.vndtab = optarg; break;
		case 'R':
			if (xhp_parse_ulong(optarg, 10, XHP_NB_MAXPART - 1,
					    &pid) == -1)
				xhp_usage(USAGE);
			A.raw = (int)pid;
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	A.explicit = argc == 2;
	if ((argc != 1 && argc != 2) || *argv[0] == '\0' ||
	    (A.explicit && *argv[1] == '\0') || A.lock_file == NULL ||
	    *A.lock_file == '\0' || *A.base == '\0' ||
	    (!A.explicit && (A.modearg != NULL || A.idnode != NULL ||
			     A.tagarg != NULL || A.nextra > 0)))
		xhp_usage(USAGE);
	if (A.opened ? A.explicit || A.netbsd ||
	    (A.devdir != NULL && *A.devdir == '\0') || A.vndtab != NULL ||
	    A.raw != -1 :
	    A.netbsd ? A.explicit || A.mdlist != NULL || A.geom != NULL ||
	    (A.devdir != NULL && *A.devdir == '\0') :
	    A.devdir != NULL || A.fstab != NULL || A.mdlist != NULL ||
	    A.geom != NULL || A.vndtab != NULL || A.raw != -1)
		xhp_usage(USAGE);
	if (A.devdir == NULL)
		A.devdir = "/dev";
	/* Path only: blkback opens it, and writes hotplug-status itself. */
	if (A.opened)
		A.pathonly = 1;
	if (A.netbsd) {
		A.fmt = XHP_FMT_NETBSD;
		if (A.raw == -1)
			A.raw = xhp_bsdmnt_rawpartition();
		xhp_vnd_source(A.vndtab, A.devdir, A.raw);
	}
	A.backend = argv[0];
	A.targetarg = A.explicit ? argv[1] : NULL;
}

/* Read the backend's nodes in one round trip, and decide what is not
 * ours to do: a backend that is gone or going (4), another type's script
 * (64), an add that was done already (0). */
static void read_backend(void)
{
	char *path[N_NODES];
	unsigned int len[N_NODES], i;
	char **v = A.node;

	for (i = 0; i < N_NODES; i++)
		path[i] = xhp_xspath_msg(XHP_USAGE, A.backend, NODE[i][0] ?
					 NODE[i] + 1 : NULL, NULL, NULL);
	xhp_xs_many(&A.q, 0, path, N_NODES, v, len);
	for (i = 0; i < N_NODES; i++)
		free(path[i]);
	if (v[N_DIR] == NULL)
		xhp_die(XHP_GONE, "backend %s is gone", A.backend);
	if (xhp_parse_backend(A.backend, NODE, v, len, N_NODES,
			      A.explicit ? NULL : v[N_TYPE])) {
		/* Another kind of storage: block runs block-TYPE. */
		puts(v[N_TYPE]);
		xhp_close_stdout();
		exit(XHP_OTHER);
	}
	if ((v[N_PD] != NULL && *v[N_PD] != '\0') ||
	    (v[N_PDP] != NULL && *v[N_PDP] != '\0')) {
		/* Called twice for one add: the first one did it. */
		xhp_close_stdout();
		exit(XHP_OK);
	}
	if (!xhp_pub_waiting(v[N_ONLINE], v[N_STATE]))
		xhp_die(XHP_GONE, "Path closed or removed during hotplug add: "
			"%s state: %s online: %s", A.backend,
			v[N_STATE] ? v[N_STATE] : "none",
			v[N_ONLINE] ? v[N_ONLINE] : "none");
}

/* The request: params (or TARGET), mode, frontend-id, in plain words
 * when they are wrong. */
static void validate(void)
{
	const char *p = A.explicit ? A.targetarg : A.node[N_PARAMS];
	const char *fid = A.node[N_FID];
	unsigned long dom;

	A.mode = A.modearg != NULL ? A.modearg : A.node[N_MODE];
	/* write_dev's caller may have no mode node: check as a writer. */
	if (A.explicit && (A.mode == NULL || *A.mode == '\0'))
		A.mode = "w";
	if (p == NULL || *p == '\0')
		xhp_die(XHP_REFUSED, "%s has no params: no device or image to "
			"attach", A.backend);
	if (A.mode == NULL || *A.mode == '\0')
		xhp_die(XHP_REFUSED, "%s has no mode", A.backend);
	if (strcmp(A.mode, "r") != 0 && strcmp(A.mode, "ro") != 0 &&
	    strcmp(A.mode, "w") != 0 && strcmp(A.mode, "rw") != 0 &&
	    strcmp(A.mode, "w!") != 0 && strcmp(A.mode, "rw!") != 0)
		xhp_die(XHP_REFUSED, "unknown mode '%s' in %s (expected r, w "
			"or w!)", A.mode, A.backend);
	A.cmode = xhp_parse_mode(A.mode, strlen(A.mode));
	if (!A.explicit && (fid == NULL || *fid == '\0'))
		xhp_die(XHP_REFUSED, "%s has no frontend-id", A.backend);
	if (!A.explicit && (strspn(fid, "0123456789") != strlen(fid) ||
	    xhp_parse_ulong(fid, 10, XHP_DOMID_MAX, &dom) == -1))
		xhp_die(XHP_REFUSED, "invalid frontend-id '%s' in %s", fid,
			A.backend);
	if (p[0] == '/') {
		snprintf(A.target, sizeof(A.target), "%s", p);
	} else {
		/* A relative name is a device under /dev, never outside. */
		if (strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 ||
		    strstr(p, "/../") != NULL ||
		    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
			xhp_die(XHP_REFUSED, "params '%s' is relative and climbs "
				"out of /dev with ..", p);
		snprintf(A.target, sizeof(A.target), "%s/%s", A.devdir, p);
	}
	if (strlen(p) > PATH_MAX)
		xhp_die(XHP_REFUSED, "params of %s is too long", A.backend);
}

/* -O: what the target is, for a backend that opens it itself (FreeBSD's
 * blkback: vn_open of the path, a file through VOP calls, a character
 * device through GEOM): a non-empty file or a device, published by its
 * real path, absolute, so that blkback opens what was checked (a relative
 * name it would first look up from /). Nothing is attached. */
static void inspect_opened(void)
{
	const char *d = A.target;

	if (S_ISREG(A.st.st_mode)) {
		if (A.st.st_size == 0)
			xhp_die(XHP_REFUSED, "%s is empty: no disk to attach",
				d);
		if (A.cmode == 'w' && (A.st.st_mode & 0222) == 0)
			xhp_die(XHP_NO, "File %s is read-only, and so will not "
				"be attached read-write to a guest.", d);
		A.what = "File";
	} else if (S_ISCHR(A.st.st_mode) || S_ISBLK(A.st.st_mode)) {
		A.what = "Device";
	} else {
		xhp_die(XHP_REFUSED, "%s is not a file, block device or "
			"character device", d);
	}
	A.devpath = realpath(d, NULL);
	if (A.devpath == NULL)
		xhp_die_sys(XHP_SYS, "unable to resolve %s", d);
}

/* -O: the identity set (md(4) units are read again each time: one may
 * have been configured over the image meanwhile). */
static void expand_opened(void)
{
	xhp_md_source(A.mdlist, A.devdir);
	xhp_geom_source(A.geom, A.devdir);
	if (xhp_id_expand_opened(&A.c.ids, &A.st) == -1)
		xhp_die_sys(XHP_SYS, "unable to find the md units of %s",
			    A.target);
}

/* What the target is: a block device (published by its real node, not a
 * udev alias that may name something else when it is opened) or a
 * non-empty image file; anything else, in words. */
static void inspect(void)
{
	const char *d = A.target;
	struct stat lst;

	if (stat(d, &A.st) == -1) {
		/* A link loop is a link to nowhere; a name too long for the
		 * kernel names nothing. */
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP &&
		    errno != ENAMETOOLONG)
			xhp_die_sys(XHP_SYS, "unable to stat %s", d);
		if (lstat(d, &lst) == 0 && S_ISLNK(lst.st_mode))
			xhp_die(XHP_REFUSED, "%s is a dangling symbolic link", d);
		xhp_die(XHP_REFUSED, "%s does not exist", d);
	}
	if (A.opened && S_ISDIR(A.st.st_mode))
		xhp_die(XHP_REFUSED, "%s is a directory, not a file, block "
			"device or character device", d);
	if (A.opened) {
		inspect_opened();
		return;
	}
	if (S_ISDIR(A.st.st_mode))
		xhp_die(XHP_REFUSED, "%s is a directory, not a block device or "
			"image file", d);
	if (S_ISFIFO(A.st.st_mode))
		xhp_die(XHP_REFUSED, "%s is a fifo, not a block device or image "
			"file", d);
	if (S_ISCHR(A.st.st_mode))
		xhp_die(XHP_REFUSED, "%s is a character device, not a block "
			"device or image file", d);
	if (!S_ISBLK(A.st.st_mode) && !S_ISREG(A.st.st_mode))
		xhp_die(XHP_REFUSED, "%s is not a block device or image file", d);
	A.isfile = S_ISREG(A.st.st_mode);
	A.what = A.isfile ? "File" : "Device";
	if (!A.isfile) {
		/* With TARGET (write_dev) the caller's spelling is kept, as
		 * upstream's write_dev keeps it (block-iscsi's by-path link). */
		A.devpath = A.explicit ? strdup(d) : realpath(d, NULL);
		if (A.devpath == NULL)
			xhp_die_sys(XHP_SYS, "unable to resolve %s", d);
		if (!A.pathonly)
			xhp_id_stat_blk(A.devpath, A.fmt, A.mm);
		return;
	}
	if (A.st.st_size == 0)
		xhp_die(XHP_REFUSED, "%s is empty: no disk to attach", d);
	/* As root, access(W_OK) always succeeds: the permission bits. */
	if (A.cmode == 'w' && (A.st.st_mode & 0222) == 0)
		xhp_die(XHP_NO, "File %s is read-only, and so will not be "
			"attached read-write to a guest.", d);
	if (A.netbsd)
		return;
	if (A.tagarg != NULL)
		snprintf(A.tag, sizeof(A.tag), "%s", A.tagarg);
	else if (xhp_loop_tag_for(A.tag, A.prefix, A.backend) == -1)
		xhp_die(XHP_REFUSED, "loop tag '%s:%s' is longer than 63 bytes",
			A.prefix, A.backend);
}

/* A conflict, in words. With TARGET (NetBSD's block, which reads it), the
 * verdict line on stdout and nothing on stderr. */
static void busy(void) __attribute__((noreturn));
static void busy(void)
{
	const char *who = A.c.verdict, *mm = strchr(who, ' ') + 1;
	const char *where = strchr(mm, ' ') + 1;
	int guest = strncmp(who, "guest ", 6) == 0, w = A.cmode == 'w';
	char msg[2 * XHP_XS_PATHMAX + 512];

	if (A.c.rel != NULL && guest)
		/* Another layer of the same stack: name it. */
		snprintf(msg, sizeof(msg), "%s %s %s, already used %sby another "
			 "guest through %s, and so cannot be attached %s now.",
			 A.what, A.target, A.c.rel, w ? "" : "read-write ",
			 where, w ? "read-write" : "read-only");
	else if (A.c.rel != NULL)
		/* dom0's use, beyond a plain mount of the target itself. */
		snprintf(msg, sizeof(msg), "%s %s %s, and so cannot be attached "
			 "%s to a guest.", A.what, A.target, A.c.rel,
			 w ? "read-write" : "read-only");
	else
		snprintf(msg, sizeof(msg), "%s %s (device %.*s) is %s %s%s %s, "
			 "and so cannot be attached %s%s.", A.what, A.target,
			 (int)(where - mm - 1), mm, guest ? "already used" :
			 "mounted", w ? "" : "read-write ", guest ?
			 "by another guest through" :
			 "in the privileged domain at", where,
			 w ? "read-write" : "read-only", guest ? " now" :
			 " to a guest");
	if (!A.explicit)
		xhp_die(XHP_NO, "%s", msg);
	xhp_atdie = NULL;
	(void)undo(XHP_NO, msg);
	puts(who);
	xhp_close_stdout();
	exit(XHP_NO);
}

/* -O: dom0's mounts, from getmntinfo(3) on FreeBSD, or from -F; elsewhere
 * without -F (a Linux dom0), the mount table of -M and the kernel's
 * claims. */
static int dom0_opened(void)
{
#ifndef __FreeBSD__
	if (A.fstab == NULL)
		return xhp_dom0_check(&A.c, A.mountinfo);
#endif
	return xhp_bsdmnt_check(&A.c, A.fstab);
}

/* dom0's mounts are not under the hotplug lock anyway: check them first,
 * so that a device dom0 uses costs no lock wait. */
static void check_dom0(void)
{
	A.c.q = &A.q;
	A.c.mode = A.cmode;
	A.c.fmt = A.fmt;
	A.c.self = A.backend;
	A.c.pub = &A.j;
	xhp_xspath_normalise(A.c.selfn, A.backend);
	if (A.opened) {
		A.c.devdir = A.devdir;
		expand_opened();
		if (dom0_opened())
			busy();
		xhp_id_free(&A.c.ids);
		return;
	}
	if (xhp_id_expand_st(&A.c.ids, &A.st) == -1)
		xhp_die_sys(XHP_SYS, "unable to find the loop devices of %s",
			    A.target);
	A.c.rawpart = A.netbsd ? A.raw + 1 : 0;
	if (A.netbsd ? xhp_bsdmnt_check(&A.c, A.fstab) :
	    xhp_dom0_check(&A.c, A.mountinfo))
		busy();
	xhp_id_free(&A.c.ids);
}

static void orphan_check(void)
{
	if (xhp_run_orphaned(&A.run))
		xhp_die(XHP_GONE, "the script that ran %s for %s is gone: libxl "
			"gave up on the device", xhp_prog, A.backend);
}

static void lock(void)
{
	/* A script killed before we started: no wait for nobody. */
	orphan_check();
	xhp_run_pause("wait");
	xhp_lock_mkparent(A.lock_file);
	A.lock_fd = xhp_lock_open(A.lock_file, xhp_run_left(&A.run), A.secs,
				  O_CLOEXEC);
	A.t[0] = now_us();
	xhp_run_pause("locked");
	orphan_check();
}

/* Under the lock: the identity set again (a loop device attached over the
 * same file by an add that held the lock before us is part of it now),
 * against every other backend. */
static void check_guests(void)
{
	if (A.opened)
		expand_opened();
	else if (xhp_id_expand_st(&A.c.ids, &A.st) == -1)
		xhp_die_sys(XHP_SYS, "unable to find the loop devices of %s",
			    A.target);
	if (xhp_scan_guests(&A.c, A.base, A.types))
		busy();
}

/* The image on a free loop device, tagged; or with -N on a free vnd
 * unit, recorded by vnd and vnd-file-id (INODE:FSDEV, decimal: the
 * image's inode and its file system's device) for the remove. Read-only
 * for mode r. */
static void attach(void)
{
	struct stat fst;

	if (A.netbsd) {
		A.vnd_unit = (long)xhp_vnd_attach(A.target, A.cmode == 'r',
						  A.loop_node,
						  sizeof(A.loop_node),
						  &fst.st_dev, &fst.st_ino);
		A.vnd_dev = fst.st_dev;
		A.vnd_ino = fst.st_ino;
	} else {
		A.loop_fd = xhp_loop_attach(A.target, A.cmode == 'r', A.tag,
					    A.loop_node, &fst);
	}
	/* Checked one file, attached another: refuse. */
	if (fst.st_dev != A.st.st_dev || fst.st_ino != A.st.st_ino)
		xhp_die(XHP_REFUSED, "%s was replaced during the check",
			A.target);
	A.devpath = A.loop_node;
	if (!A.pathonly)
		xhp_id_stat_blk(A.loop_node, A.fmt, A.mm);
	if (A.netbsd) {
		snprintf(A.id, sizeof(A.id), "%ju:%ju", (uintmax_t)fst.st_ino,
			 (uintmax_t)fst.st_dev);
		extra("vnd", A.loop_node);
		extra("vnd-file-id", A.id);
		xhp_run_pause("attached");
		return;
	}
	snprintf(A.id, sizeof(A.id), "%ju:%ju", (uintmax_t)fst.st_dev,
		 (uintmax_t)fst.st_ino);
	extra("node", A.loop_node);
	if (A.idnode != NULL || !A.explicit)
		extra(A.idnode != NULL ? A.idnode : "loop-file-id", A.id);
	if (!A.explicit)
		extra("loop-tag", A.tag);
	xhp_run_pause("attached");
}

static void precommit(void)
{
	xhp_run_pause("commit");
	orphan_check();
}

/* What is published besides the extras: the path, and hotplug-status
 * (FreeBSD's blkback writes it itself once it has opened the path). */
static void planned(void)
{
	A.j.devpath = A.devpath;
	if (!A.opened)
		extra("hotplug-status", "connected");
}

/* The publication, planned before the lock. A device's is known whole
 * now: its first step rides with the scan's batches (xhp_pub_ride). An
 * image's loop device is not known before attach(). */
static void plan(void)
{
	int i;

	A.j.q = &A.q;
	A.j.backend = A.backend;
	A.j.mm = A.pathonly ? NULL : A.mm;
	A.j.fmt = A.fmt;
	A.j.once = 1;
	A.j.lifecycle = 1;
	A.j.precommit = precommit;
	for (i = 0; i < A.nextra; i++)
		A.j.extra[A.j.nextra++] = A.extra[i];
	if (!A.isfile)
		planned();
}

/* The transaction, under the lock, opened by the scan or here: it re-reads
 * the backend's directory, online and state, and refuses a backend being
 * torn down; a libxl write that lands between the reads and the commit
 * makes the commit fail with EAGAIN, and the retry sees it. */
static void publish(void)
{
	if (A.isfile)
		planned();
	A.t[1] = now_us();
	xhp_pub_commit(&A.j);
	if (A.j.already && A.isfile && !A.netbsd &&
	    xhp_loop_clear(A.loop_fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to free %s", A.loop_node);
	if (A.j.already && A.vnd_unit != -1 && vnd_free() == -1)
		xhp_die_sys(XHP_SYS, "unable to free %s", A.loop_node);
	A.t[2] = now_us();
}

static void finish(void)
{
	int lfd = A.loop_fd, i;

	/* Published: the loop device is recorded in xenstore now. */
	A.loop_fd = -1;
	A.vnd_unit = -1;
	xhp_atdie = NULL;
	if (close(A.lock_fd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", A.lock_file);
	A.t[3] = now_us();
	if (A.isfile && !A.j.already)
		printf("%s %s\n", A.loop_node, A.id);
	else if (!A.j.already)
		puts(A.devpath);
	if (A.isfile && !A.netbsd && close(lfd) == -1)
		xhp_die_sys(XHP_SYS, "unable to close %s", A.loop_node);
	if (A.verbose)
		fprintf(stderr, "xs-publish: check %lld us, attach %lld us, "
			"write %lld us (%d tries), under lock %lld us\n",
			A.t[1] - A.t[0], A.t[2] - A.t[1], A.t[3] - A.t[2],
			A.j.tries, A.t[3] - A.t[0]);
	xhp_close_stdout();
	for (i = A.nextra; i < A.j.nextra; i++)
		free(A.j.extra[i]);
}

int main(int argc, char **argv)
{
	int i;

	xhp_init(argv[0]);
	options(argc, argv);
	xhp_run_init(&A.run, (pid_t)A.script, A.ms, A.secs);
	A.j.extra = calloc((size_t)argc + 8, sizeof(*A.j.extra));
	if (A.j.extra == NULL)
		xhp_die_sys(XHP_SYS, "unable to allocate memory");
	xhp_xs_open(&A.q);
	xhp_atdie = undo;
	read_backend();
	validate();
	inspect();
	plan();
	if (A.cmode != '!')
		check_dom0();
	lock();
	if (A.cmode != '!')
		check_guests();
	if (A.isfile)
		attach();
	publish();
	finish();
	if (!A.isfile)
		free(A.devpath);
	for (i = 0; i < N_NODES; i++)
		free(A.node[i]);
	free(A.j.extra);
	free(A.extra);
	xhp_id_free(&A.c.ids);
	free(A.c.ourvm);
	free(A.c.ourtvm);
	if (A.c.h != NULL)
		xs_close(A.c.h);
	xhp_xs_close(&A.q);
	return XHP_OK;
}
