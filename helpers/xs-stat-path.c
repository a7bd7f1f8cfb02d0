/* xs-stat-path: device identity of a path, and the whole sharing check in
 * one process and one xenstore connection (docs/xs-stat-path.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenstore.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: xs-stat-path [-o FMT] PATH\n"
	"       xs-stat-path [-o FMT] -n NODE\n"
	"       xs-stat-path -c -m MODE -s SELF [-B BASE] [-T TYPES] "
	"[-M MOUNTINFO] [-o FMT] TARGET\n"
	"       xs-stat-path -c -m MODE -s SELF [-B BASE] [-T TYPES] "
	"[-M MOUNTINFO] [-o FMT] -i DEVHEX:INO\n"
	"FMT is linux (hex MAJ:MIN) or netbsd (decimal dev_t).\n";

/* xenstore's absolute path limit is 3072 bytes. */
#define PATHMAX 3200

struct check {
	struct xs_handle *h;
	struct xhp_idset ids;
	int mode;               /* 'r' or 'w' */
	int fmt;
	const char *self;       /* as given */
	char selfn[PATHMAX];    /* normalised, for comparison */
	int ours_read;          /* our vm and target vm fetched */
	char *ourvm, *ourtvm;
};

static struct xs_handle *xs_connect(void)
{
	struct xs_handle *h = xs_open(0);

	if (h == NULL)
		xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
	return h;
}

/* Read NODE, NUL-terminated; NULL when absent. Dies on other errors. */
static char *xread(struct xs_handle *h, const char *node, unsigned int *len)
{
	unsigned int n;
	char *v = xs_read(h, XBT_NULL, node, len ? len : &n);

	if (v == NULL && errno != ENOENT)
		xhp_die_sys(XHP_SYS, "unable to read %s", node);
	return v;
}

static void pathf(char *buf, const char *fmt, const char *a, const char *b)
{
	int n = snprintf(buf, PATHMAX, fmt, a, b);

	if (n < 0 || n >= PATHMAX) {
		errno = ENAMETOOLONG;
		xhp_die_sys(XHP_SYS, "unable to build path %s/%s", a, b);
	}
}

/* SELF may be given relative to our home or absolute; compare both forms
 * by dropping "/local/domain/N/", repeated and trailing slashes. */
static void normalise(char *dst, const char *src)
{
	const char *p = src;
	char *d = dst;

	if (strncmp(p, "/local/domain/", 14) == 0) {
		p += 14;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	while (*p != '\0' && d < dst + PATHMAX - 1) {
		if (*p == '/' && (d == dst || d[-1] == '/')) {
			p++;
			continue;
		}
		*d++ = *p++;
	}
	if (d > dst && d[-1] == '/')
		d--;
	*d = '\0';
}

/* MAJ:MIN in FMT into MM; a number NetBSD's encoding cannot hold (only
 * possible when checking a Linux host with -o netbsd) is given in hex
 * rather than lost from a conflict report. */
static void majmin(char *mm, unsigned long maj, unsigned long min, int fmt)
{
	if (xhp_fmt_majmin(mm, maj, min, fmt) == -1)
		xhp_fmt_majmin(mm, maj, min, XHP_FMT_LINUX);
}

/* Print the one-line verdict and exit 1 (busy). */
static void busy(const char *who, unsigned long maj, unsigned long min,
		 int fmt, const char *where)
{
	char mm[XHP_MAJMIN_MAX];

	majmin(mm, maj, min, fmt);
	printf("%s %s %s\n", who, mm, where);
	xhp_close_stdout();
	exit(XHP_NO);
}

/* vm of domain DOM (a decimal domid as text); NULL when absent. */
static char *dom_vm(struct xs_handle *h, const char *dom)
{
	char p[PATHMAX];

	pathf(p, "/local/domain/%s/%s", dom, "vm");
	return xread(h, p, NULL);
}

/* vm of the domain named in /local/domain/DOM/target (a stubdomain's
 * guest); NULL when there is none. */
static char *target_vm(struct xs_handle *h, const char *dom)
{
	char p[PATHMAX], *t, *vm = NULL;
	unsigned long id;

	pathf(p, "/local/domain/%s/%s", dom, "target");
	t = xread(h, p, NULL);
	if (t != NULL && xhp_parse_ulong(t, 10, 0x7fefUL, &id) == 0)
		vm = dom_vm(h, t);
	free(t);
	return vm;
}

static int eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && *a != '\0' && strcmp(a, b) == 0;
}

/* Upstream's same_vm: is the frontend domain DOM of another backend the
 * same VM as ours, directly or through a stubdomain's target? Read only
 * for a backend that would otherwise conflict. */
static int same_vm(struct check *c, const char *dom)
{
	char p[PATHMAX], *fid, *vm, *tvm;
	unsigned long id;
	int same;

	if (!c->ours_read) {
		c->ours_read = 1;
		pathf(p, "%s/%s", c->self, "frontend-id");
		fid = xread(c->h, p, NULL);
		if (fid != NULL && xhp_parse_ulong(fid, 10, 0x7fefUL, &id) == 0) {
			c->ourvm = dom_vm(c->h, fid);
			c->ourtvm = target_vm(c->h, fid);
		}
		free(fid);
	}
	vm = dom_vm(c->h, dom);
	/* No vm: the other domain is being destroyed (its /local/domain
	 * entry goes before its backends). Upstream lets such a leftover
	 * share; we keep that. */
	if (vm == NULL)
		return 1;
	tvm = target_vm(c->h, dom);
	same = (c->ourvm != NULL && xhp_vm_same(c->ourvm, vm)) ||
	       eq(c->ourtvm, vm) ||
	       (c->ourvm != NULL && tvm != NULL && xhp_vm_same(c->ourvm, tvm)) ||
	       eq(c->ourtvm, tvm);
	free(vm);
	free(tvm);
	return same;
}

/* Is the backend at BP using something in our identity set? On a match,
 * *MAJ, *MIN tell which device. */
static int backend_uses(struct check *c, const char *bp, unsigned long *maj,
			unsigned long *min)
{
	char p[PATHMAX], *v;
	unsigned int len;
	struct stat st;
	int r;

	pathf(p, "%s/%s", bp, "physical-device");
	v = xread(c->h, p, &len);
	if (v != NULL) {
		r = xhp_parse_physdev(v, len, c->fmt, maj, min);
		free(v);
		if (r == 0)
			return xhp_idset_has_blk(&c->ids, *maj, *min);
		/* Unparsable: blkback will not use it either; the path may
		 * still tell what the backend is about to open. */
	}
	/* Path-only writer, or libxl not yet converted: the path names the
	 * device, and its identity now is what matters. */
	pathf(p, "%s/%s", bp, "physical-device-path");
	v = xread(c->h, p, &len);
	if (v == NULL)
		return 0;
	/* A value with a NUL is no path any kernel backend could open. */
	if (len == 0 || memchr(v, '\0', len) != NULL) {
		free(v);
		return 0;
	}
	if (stat(v, &st) == -1) {
		/* Gone: nothing to share any more. */
		if (errno != ENOENT && errno != ENOTDIR)
			xhp_die_sys(XHP_SYS, "unable to stat %s", v);
		free(v);
		return 0;
	}
	free(v);
	if (S_ISBLK(st.st_mode)) {
		*maj = xhp_dev_major(st.st_rdev);
		*min = xhp_dev_minor(st.st_rdev);
		return xhp_idset_has_blk(&c->ids, *maj, *min);
	}
	if (S_ISREG(st.st_mode)) {
		*maj = xhp_dev_major(st.st_dev);
		*min = xhp_dev_minor(st.st_dev);
		return xhp_idset_has_file(&c->ids, st.st_dev, st.st_ino);
	}
	return 0;
}

static int conflicts(struct check *c, const char *bp)
{
	char p[PATHMAX], *m;
	unsigned int len;
	int cm;

	if (c->mode == 'w')
		return 1;
	/* A reader conflicts only with writers. */
	pathf(p, "%s/%s", bp, "mode");
	m = xread(c->h, p, &len);
	if (m == NULL)
		return 0;
	cm = xhp_canon_mode(m, len);
	free(m);
	return cm == 'w';
}

static void scan_guests(struct check *c, const char *base, char *types)
{
	char tp[PATHMAX], dp[PATHMAX], bp[PATHMAX], bn[PATHMAX];
	char **doms, **devs, *type, *save = NULL;
	unsigned int nd, nv, i, j;
	unsigned long maj, min;
	int same;

	for (type = strtok_r(types, ",", &save); type != NULL;
	     type = strtok_r(NULL, ",", &save)) {
		pathf(tp, "%s/%s", base, type);
		doms = xs_directory(c->h, XBT_NULL, tp, &nd);
		if (doms == NULL) {
			if (errno == ENOENT)
				continue;
			xhp_die_sys(XHP_SYS, "unable to list %s", tp);
		}
		for (i = 0; i < nd; i++) {
			pathf(dp, "%s/%s", tp, doms[i]);
			devs = xs_directory(c->h, XBT_NULL, dp, &nv);
			if (devs == NULL) {
				if (errno == ENOENT)
					continue;
				xhp_die_sys(XHP_SYS, "unable to list %s", dp);
			}
			same = -1;
			for (j = 0; j < nv; j++) {
				pathf(bp, "%s/%s", dp, devs[j]);
				normalise(bn, bp);
				if (strcmp(bn, c->selfn) == 0)
					continue;
				if (!backend_uses(c, bp, &maj, &min) ||
				    !conflicts(c, bp))
					continue;
				if (same == -1)
					same = same_vm(c, doms[i]);
				if (same)
					continue;
				busy("guest", maj, min, c->fmt, bp);
			}
			free(devs);
		}
		free(doms);
	}
}

static void scan_mounts(struct check *c, const char *file)
{
	struct xhp_mount m;
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	f = fopen(file, "r");
	if (f == NULL)
		xhp_die_sys(XHP_SYS, "unable to open %s", file);
	errno = 0;
	while (getline(&line, &cap, f) != -1) {
		if (xhp_parse_mountinfo(line, &m) == -1)
			continue;
		/* Major 0 is an anonymous device (btrfs, for one): the source
		 * names the real block device. */
		if (m.maj == 0) {
			if (m.source[0] != '/' || stat(m.source, &st) == -1 ||
			    !S_ISBLK(st.st_mode))
				continue;
			m.maj = xhp_dev_major(st.st_rdev);
			m.min = xhp_dev_minor(st.st_rdev);
		}
		if (!xhp_idset_has_blk(&c->ids, m.maj, m.min))
			continue;
		if (c->mode == 'r' && !m.sb_rw)
			continue;
		busy("local", m.maj, m.min, c->fmt, m.mnt);
	}
	if (ferror(f))
		xhp_die_sys(XHP_SYS, "unable to read %s", file);
	free(line);
	if (fclose(f) == EOF)
		xhp_die_sys(XHP_SYS, "unable to close %s", file);
}

static void target_ids(struct check *c, const char *target, const char *id)
{
	unsigned long dev, ino;
	const char *colon;
	char devhex[32];
	struct stat st;
	int r;

	if (id != NULL) {
		/* upstream passes `stat -c %D` (hex st_dev) and the inode */
		colon = strchr(id, ':');
		if (colon == NULL || (size_t)(colon - id) >= sizeof(devhex))
			xhp_usage(USAGE);
		memcpy(devhex, id, (size_t)(colon - id));
		devhex[colon - id] = '\0';
		if (xhp_parse_ulong(devhex, 16, (unsigned long)-1, &dev) == -1 ||
		    xhp_parse_ulong(colon + 1, 10, (unsigned long)-1, &ino) == -1)
			xhp_usage(USAGE);
		r = xhp_idset_expand_file(&c->ids, (dev_t)dev, (ino_t)ino);
	} else {
		if (stat(target, &st) == -1)
			xhp_die_sys(errno == ENOENT || errno == ENOTDIR ?
				    XHP_NO : XHP_SYS, "unable to stat %s", target);
		if (S_ISBLK(st.st_mode))
			r = xhp_idset_expand_blk(&c->ids,
						 xhp_dev_major(st.st_rdev),
						 xhp_dev_minor(st.st_rdev));
		else if (S_ISREG(st.st_mode))
			r = xhp_idset_expand_file(&c->ids, st.st_dev, st.st_ino);
		else
			xhp_die(XHP_NO, "%s is not a block device or a regular "
				"file", target);
	}
	if (r == -1)
		xhp_die_sys(XHP_SYS, "unable to find the loop devices of %s",
			    target ? target : id);
}

static void print_blk(const char *path, int fmt)
{
	char mm[XHP_MAJMIN_MAX];
	struct stat st;

	if (stat(path, &st) == -1)
		xhp_die_sys(errno == ENOENT || errno == ENOTDIR ? XHP_NO :
			    XHP_SYS, "unable to stat %s", path);
	if (!S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "%s is not a block device", path);
	if (xhp_fmt_majmin(mm, xhp_dev_major(st.st_rdev),
			   xhp_dev_minor(st.st_rdev), fmt) == -1)
		xhp_die_sys(XHP_NO, "unable to encode the device of %s", path);
	puts(mm);
	xhp_close_stdout();
	exit(XHP_OK);
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *base = "backend", *mountinfo =
		"/proc/self/mountinfo", *node = NULL, *id = NULL, *target = NULL;
	char *types = NULL, *v;
	struct check c;
	unsigned int len;
	int opt, check = 0, other = 0;

	xhp_init(argv[0]);
	memset(&c, 0, sizeof(c));
	c.fmt = XHP_FMT_DEFAULT;
	while ((opt = getopt(argc, argv, "hcm:s:B:T:M:o:n:i:")) != -1) {
		switch (opt) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return XHP_OK;
		case 'c': check = 1; break;
		case 'm': mode = optarg; other = 1; break;
		case 's': c.self = optarg; other = 1; break;
		case 'B': base = optarg; other = 1; break;
		case 'T': types = optarg; other = 1; break;
		case 'M': mountinfo = optarg; other = 1; break;
		case 'i': id = optarg; other = 1; break;
		case 'n': node = optarg; break;
		case 'o':
			c.fmt = xhp_parse_fmt(optarg);
			if (c.fmt == -1)
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (!check) {
		if (other || (node == NULL) != (argc == 1) ||
		    (node != NULL && argc != 0))
			xhp_usage(USAGE);
		if (node == NULL)
			print_blk(argv[0], c.fmt);
		c.h = xs_connect();
		v = xs_read(c.h, XBT_NULL, node, &len);
		if (v == NULL)
			xhp_die_sys(errno == ENOENT ? XHP_NO : XHP_SYS,
				    "unable to read %s", node);
		if (len == 0 || memchr(v, '\0', len) != NULL)
			xhp_die(XHP_NO, "value of %s is not a path", node);
		print_blk(v, c.fmt);
	}
	if (node != NULL || mode == NULL || c.self == NULL ||
	    (id == NULL) != (argc == 1) || (id != NULL && argc != 0) ||
	    *base == '\0')
		xhp_usage(USAGE);
	if (id == NULL)
		target = argv[0];
	c.mode = xhp_canon_mode(mode, strlen(mode));
	if (c.mode == '!') {
		/* "w!": the administrator asked for no check. */
		puts("ok");
		xhp_close_stdout();
		return XHP_OK;
	}
	if (types == NULL) {
		static char deftypes[] = "vbd,vbd3";
		types = deftypes;
	}
	normalise(c.selfn, c.self);

	target_ids(&c, target, id);
	/* Mounts first, as upstream: no xenstore traffic when dom0 itself
	 * holds the device. */
	scan_mounts(&c, mountinfo);
	c.h = xs_connect();
	scan_guests(&c, base, types);
	puts("ok");
	xhp_close_stdout();
	xhp_idset_free(&c.ids);
	free(c.ourvm);
	free(c.ourtvm);
	xs_close(c.h);
	return XHP_OK;
}
