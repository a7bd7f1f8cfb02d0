/* SPDX-License-Identifier: LGPL-2.1-only */
/* floor: the least work any correct block hotplug script must do, as one
 * program, so that `make bench` can say how far a script is from the floor.
 *
 * add: one process and one xenstore connection; read params, mode and
 * frontend-id; stat the target (a file gets a loop device from
 * /dev/loop-control); under the upstream-compatible lock, read every other
 * backend's physical-device (listing the tree with directory reads), walk
 * the block-device stack in sysfs for the target and for each device
 * another backend names, probe dom0's claim on the target (an exclusive
 * open), read /proc/self/mountinfo, and write physical-device-path, physical-device,
 * hotplug-status (and node for a file) in one transaction. remove: read
 * node, free the loop device.
 *
 * Every step's requests go out together on the one connection, as many as
 * the wire protocol allows in flight (xhp_xs_batch), so a scan costs a few
 * round trips and not one per backend: no script can do with fewer. It is
 * only a yardstick, never installed. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: floor [-o linux|netbsd] [-l LOCKFILE] add BACKEND\n"
	"       floor remove BACKEND\n";

static struct xhp_xs xs;
static bool netbsd;

/* One request on the connection; its reply, or NULL with errno. */
static char *call(unsigned int type, unsigned int tx, const char *data,
		  size_t len)
{
	struct xhp_xs_req r = { type, tx, data, len, NULL, 0, 0 };

	xhp_xs_batch(&xs, &r, 1);
	errno = r.err;
	return r.val;
}

static char *xread(unsigned int tx, const char *path)
{
	return call(XS_READ, tx, path, strlen(path) + 1);
}

/* Queue a write of VAL to PATH in transaction TX into R (BUF holds the
 * payload, freed by the caller). */
static void put_write(struct xhp_xs_req *r, char **buf, unsigned int tx,
		      const char *path, const char *val)
{
	size_t len;

	*buf = xhp_xspath_msg(XHP_SYS, path, NULL, val, &len);
	*r = (struct xhp_xs_req){ XS_WRITE, tx, *buf, len, NULL, 0, 0 };
}

static void xclose(int fd, const char *what)
{
	if (close(fd) < 0)
		xhp_die_sys(XHP_SYS, "unable to close %s", what);
}

static char *join(const char *a, const char *b)
{
	/* As ours builds its paths: one malloc and two memcpy. */
	return xhp_xspath_msg(XHP_SYS, a, b, NULL, NULL);
}

/* The device number in the format the backend kernel parses. */
static void fmt_dev(char *buf, size_t n, dev_t d)
{
	unsigned long ma = major(d), mi = minor(d);
	if (netbsd)
		snprintf(buf, n, "%lu", ((ma << 8) & 0xfff00UL) |
			 ((mi << 12) & 0xfff00000UL) | (mi & 0xffUL));
	else
		snprintf(buf, n, "%lx:%lx", ma, mi);
}

/* Take the lock the way upstream's locking.sh does, so the floor pays the
 * same syscalls a compatible script pays: flock, then make sure the file we
 * locked is still the one at the path. */
static int lock(const char *file)
{
	for (;;) {
		struct stat a, b;
		int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 && errno == ENOENT) {
			/* First lock since boot: /run is a tmpfs. */
			char dir[4096], *slash;
			snprintf(dir, sizeof dir, "%s", file);
			slash = strrchr(dir, '/');
			if (slash && slash != dir) {
				*slash = 0;
				if (mkdir(dir, 0755) < 0 && errno != EEXIST)
					xhp_die_sys(XHP_SYS, "unable to create %s", dir);
			}
			fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		}
		if (fd < 0)
			xhp_die_sys(XHP_SYS, "unable to open %s", file);
		if (flock(fd, LOCK_EX) < 0)
			xhp_die_sys(XHP_SYS, "unable to lock %s", file);
		if (fstat(fd, &a) < 0)
			xhp_die_sys(XHP_SYS, "unable to stat %s", file);
		if (stat(file, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return fd;
		xclose(fd, file);
	}
}

/* Release by closing, leaving the file in place. The protocol allows that
 * (a later locker, old script or new, opens and locks the same inode), and
 * it is less work than upstream's unlink: an unlinked lock file sends every
 * waiter round the stale-retry loop, O(waiters) calls per hand-over. */
static void unlock(const char *file, int fd)
{
	xclose(fd, file);
}

/* Does backend value PD (physical-device) name the target? For a file the
 * target is every loop device backing it, so a loop major costs one ioctl. */
static bool same_target(const char *pd, dev_t rdev, const struct stat *file)
{
	unsigned long ma, mi;
	char *colon, dev[32];
	if (netbsd) {
		unsigned long v;
		if (xhp_parse_ulong(pd, 10, 0xffffffffUL, &v) < 0)
			return false;
		ma = (v & 0xfff00UL) >> 8;
		mi = (v & 0xff) | ((v & 0xfff00000UL) >> 12);
	} else {
		colon = strchr(pd, ':');
		if (!colon || colon - pd >= 16)
			return false;
		memcpy(dev, pd, colon - pd);
		dev[colon - pd] = 0;
		if (xhp_parse_ulong(dev, 16, 0xfffUL, &ma) < 0 ||
		    xhp_parse_ulong(colon + 1, 16, 0xfffffUL, &mi) < 0)
			return false;
	}
	if (!file)
		return makedev(ma, mi) == rdev;
	if (ma != 7)
		return false;
	struct loop_info64 li;
	snprintf(dev, sizeof dev, "/dev/loop%lu", mi);
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	int r = ioctl(fd, LOOP_GET_STATUS64, &li);
	xclose(fd, dev);
	return r == 0 && li.lo_device == file->st_dev &&
	       li.lo_inode == file->st_ino;
}

/* The target's stack (where its sectors live), read once per add. */
static struct xhp_idset target_stack;

/* Do the sectors of the device PD names meet the target's anywhere in the
 * block-device stack? The same sysfs walk as ours, per other backend. */
static bool stack_meets(const char *pd)
{
	struct xhp_idset o;
	unsigned long ma, mi;
	bool hit;

	if (netbsd || xhp_parse_physdev(pd, strlen(pd), XHP_FMT_LINUX, &ma,
					&mi) != 0)
		return false;
	memset(&o, 0, sizeof(o));
	xhp_stack_blk(&o, ma, mi);
	hit = xhp_stack_overlap(&target_stack, &o) != NULL;
	xhp_id_free(&o);
	return hit;
}

/* dom0's claim on one device: an exclusive open fails with EBUSY. */
static void probe_one(unsigned long ma, unsigned long mi, void *ctx)
{
	char link[64], dir[4096], node[4200];
	int fd;

	snprintf(link, sizeof link, "/sys/dev/block/%lu:%lu", ma, mi);
	if (realpath(link, dir) == NULL)
		return;
	snprintf(node, sizeof node, "/dev/%s", strrchr(dir, '/') + 1);
	fd = open(node, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			*(bool *)ctx = true;
		return;
	}
	xclose(fd, node);
}

/* Mode letter as upstream canonicalises it: '!' no check, 'w', or 'r'. */
static char canon(const char *m)
{
	if (!strchr(m, 'w'))
		return 'r';
	return strchr(m, '!') ? '!' : 'w';
}

static char *vm_of(const char *dom)
{
	char p[64];
	snprintf(p, sizeof p, "/local/domain/%s/vm", dom);
	return xread(0, p);
}

/* The vm of the domain DOM is a stubdomain for (its target), or NULL. */
static char *target_vm_of(const char *dom)
{
	char p[64], *t, *vm;
	snprintf(p, sizeof p, "/local/domain/%s/target", dom);
	t = xread(0, p);
	if (!t)
		return NULL;
	vm = vm_of(t);
	free(t);
	return vm;
}

static bool eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Upstream's same_vm: a guest and its stubdomain may share. Only read
 * for a backend that uses our device, so it costs nothing in the scan. */
static bool same_vm(const char *mydom, const char *dom)
{
	char *a = vm_of(mydom), *at = target_vm_of(mydom);
	char *b = vm_of(dom), *bt = target_vm_of(dom);
	bool same = eq(a, b) || eq(at, b) || eq(a, bt) || eq(at, bt);
	free(a);
	free(at);
	free(b);
	free(bt);
	return same;
}

/* Names in a directory reply. */
static char **names(char *val, unsigned int len, unsigned int *n)
{
	return val ? xhp_xspath_split(val, len, n) : (*n = 0, calloc(1, 1));
}

/* The sharing check over xenstore: the list of domains, their lists of
 * backends, then every backend's physical-device, each step's requests in
 * flight together; mode and vm are read only for a backend that uses our
 * device. */
static const char *scan(const char *base, const char *self, char mode,
			const char *mydom, dev_t rdev, const struct stat *file)
{
	unsigned int nd, nv, *dvl, *pvl, nb = 0, dll;
	char **doms, **dp, **dv, **bp, **pp, **pv, *dl, *top = (char *)base;
	size_t *bdom;
	const char *who = NULL;

	xhp_xs_many(&xs, 1, &top, 1, &dl, &dll);
	doms = names(dl, dll, &nd);
	dp = calloc(nd + 1, sizeof(*dp));
	dv = calloc(nd + 1, sizeof(*dv));
	dvl = calloc(nd + 1, sizeof(*dvl));
	for (unsigned int i = 0; i < nd; i++)
		dp[i] = join(base, doms[i]);
	xhp_xs_many(&xs, 1, dp, nd, dv, dvl);
	for (unsigned int i = 0; i < nd; i++) {
		char **d = names(dv[i], dvl[i], &nv);
		nb += nv;
		free(d);
	}
	bp = calloc(nb + 1, sizeof(*bp));
	pp = calloc(nb + 1, sizeof(*pp));
	pv = calloc(nb + 1, sizeof(*pv));
	pvl = calloc(nb + 1, sizeof(*pvl));
	bdom = calloc(nb + 1, sizeof(*bdom));
	nb = 0;
	for (unsigned int i = 0; i < nd; i++) {
		char **d = names(dv[i], dvl[i], &nv);
		for (unsigned int j = 0; j < nv; j++) {
			bp[nb] = join(dp[i], d[j]);
			if (!strcmp(bp[nb], self)) {
				free(bp[nb]);
				continue;
			}
			pp[nb] = join(bp[nb], "physical-device");
			bdom[nb++] = i;
		}
		free(d);
	}
	xhp_xs_many(&xs, 0, pp, nb, pv, pvl);
	for (unsigned int k = 0; k < nb && !who; k++) {
		bool hit = pv[k] && (same_target(pv[k], rdev, file) ||
				     stack_meets(pv[k]));
		if (hit && mode == 'r') {
			char *mp = join(bp[k], "mode");
			char *m = xread(0, mp);
			hit = m && canon(m) == 'w';
			free(m);
			free(mp);
		}
		if (hit)
			hit = !same_vm(mydom, doms[bdom[k]]);
		if (hit)
			who = bp[k];
	}
	/* The winner's path is returned: leak it, free the rest. */
	for (unsigned int k = 0; k < nb; k++) {
		if (bp[k] != who)
			free(bp[k]);
		free(pp[k]);
		free(pv[k]);
	}
	for (unsigned int i = 0; i < nd; i++) {
		free(dp[i]);
		free(dv[i]);
	}
	free(bp);
	free(pp);
	free(pv);
	free(pvl);
	free(bdom);
	free(dp);
	free(dv);
	free(dvl);
	free(doms);
	free(dl);
	return who;
}

/* dom0 mounts: field 3 is major:minor; a major of 0 means the source must be
 * stat'ed to know the device. */
static bool mounted(dev_t rdev, char mode)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool hit = false;
	if (!f)
		xhp_die_sys(XHP_SYS, "unable to open /proc/self/mountinfo");
	while (!hit && getline(&line, &cap, f) > 0) {
		unsigned int ma, mi;
		char opts[256], src[4096];
		struct stat st;
		if (sscanf(line, "%*s %*s %u:%u %*s %*s %255s", &ma, &mi,
			   opts) != 3)
			continue;
		dev_t d = makedev(ma, mi);
		if (ma == 0) {
			char *sep = strstr(line, " - ");
			if (!sep || sscanf(sep, " - %*s %4095s", src) != 1 ||
			    src[0] != '/' || stat(src, &st) < 0 ||
			    !S_ISBLK(st.st_mode))
				continue;
			d = st.st_rdev;
		}
		hit = d == rdev && (mode == 'w' || strncmp(opts, "rw", 2) == 0);
	}
	if (ferror(f))
		xhp_die_sys(XHP_SYS, "unable to read /proc/self/mountinfo");
	free(line);
	if (fclose(f) != 0)
		xhp_die_sys(XHP_SYS, "unable to close /proc/self/mountinfo");
	return hit;
}

static dev_t loop_attach(const char *file, char mode, char *node, size_t n)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int ffd = open(file, (mode == 'w' ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	struct stat st;
	if (ctl < 0)
		xhp_die_sys(XHP_SYS, "unable to open /dev/loop-control");
	if (ffd < 0)
		xhp_die_sys(XHP_SYS, "unable to open %s", file);
	for (;;) {
		struct loop_config lc;
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			xhp_die_sys(XHP_SYS, "unable to get a free loop device");
		snprintf(node, n, "/dev/loop%d", nr);
		int lfd = open(node, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			xhp_die_sys(XHP_SYS, "unable to open %s", node);
		memset(&lc, 0, sizeof lc);
		lc.fd = ffd;
		lc.info.lo_flags = mode == 'w' ? 0 : LO_FLAGS_READ_ONLY;
		if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0) {
			if (fstat(lfd, &st) < 0)
				xhp_die_sys(XHP_SYS, "unable to stat %s", node);
			xclose(lfd, node);
			xclose(ffd, file);
			xclose(ctl, "/dev/loop-control");
			return st.st_rdev;
		}
		/* EBUSY: another losetup user took it between the two calls. */
		if (errno != EBUSY)
			xhp_die_sys(XHP_SYS, "unable to attach %s", node);
		xclose(lfd, node);
	}
}

static void loop_free(const char *node)
{
	int fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		xhp_die_sys(XHP_SYS, "unable to open %s", node);
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
		xhp_die_sys(XHP_SYS, "unable to detach %s", node);
	xclose(fd, node);
}

/* The publishing transaction in three round trips, as ours: start it;
 * read state, online (libxl's tear-down, as ours) and physical-device
 * with every write, which the abort discards when the backend is gone or
 * already published; the commit, only once every write succeeded
 * (xenstored would commit the others). 0 done (or already), 1 backend
 * gone (nothing written), or -1 with errno (EAGAIN: again). */
static int publish(const char *be, const char *devpath, const char *node,
		   const char *pd)
{
	struct xhp_xs_req r[7];
	char *buf[7] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	char *sp = join(be, "state"), *dp = join(be, "physical-device");
	char *op = join(be, "online");
	char *p1 = join(be, "physical-device-path"), *p2 = join(be, "node");
	char *p4 = join(be, "hotplug-status"), *tx;
	unsigned int t, n = 3, k;
	int gone, had, err;
	unsigned long id;

	tx = call(XS_TRANSACTION_START, 0, "", 1);
	if (!tx || xhp_parse_ulong(tx, 10, 0xffffffffUL, &id) < 0)
		xhp_die_sys(XHP_SYS, "unable to start a transaction");
	free(tx);
	t = (unsigned int)id;
	r[0] = (struct xhp_xs_req){ XS_READ, t, sp, strlen(sp) + 1, NULL, 0, 0 };
	r[1] = (struct xhp_xs_req){ XS_READ, t, dp, strlen(dp) + 1, NULL, 0, 0 };
	r[2] = (struct xhp_xs_req){ XS_READ, t, op, strlen(op) + 1, NULL, 0, 0 };
	put_write(&r[n], &buf[n], t, p1, devpath);
	n++;
	if (*node) {
		put_write(&r[n], &buf[n], t, p2, node);
		n++;
	}
	put_write(&r[n], &buf[n], t, p4, "connected");
	n++;
	put_write(&r[n], &buf[n], t, dp, pd);
	n++;
	xhp_xs_batch(&xs, r, n);
	/* A remove may have run while we waited for the lock: never recreate
	 * a backend directory that libxl has deleted (the abort discards
	 * the writes). */
	gone = r[0].val == NULL || strcmp(r[0].val, "2") != 0 ||
	       (r[2].val != NULL && strcmp(r[2].val, "1") != 0);
	had = r[1].val != NULL;
	for (k = 0; k < n; k++) {
		if (k >= 3 && r[k].err)
			xhp_die(XHP_SYS, "unable to write in %s: %s", be,
				strerror(r[k].err));
		free(r[k].val);
		free(buf[k]);
		buf[k] = NULL;
	}
	r[0] = (struct xhp_xs_req){ XS_TRANSACTION_END, t,
				   gone || had ? "F" : "T", 2,
				   NULL, 0, 0 };
	xhp_xs_batch(&xs, r, 1);
	err = r[0].err;
	free(r[0].val);
	free(sp);
	free(dp);
	free(op);
	free(p1);
	free(p2);
	free(p4);
	if (gone)
		return 1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int add(const char *be, const char *lockfile)
{
	char *rp[3] = { join(be, "params"), join(be, "mode"),
			join(be, "frontend-id") }, *rv[3];
	unsigned int rl[3];
	char node[64] = "", pd[32], base[4096];
	struct stat st;
	dev_t rdev;
	bool isfile;

	xhp_xs_many(&xs, 0, rp, 3, rv, rl);
	char *params = rv[0], *modestr = rv[1], *fid = rv[2];
	if (!params || !modestr || !fid)
		xhp_die(XHP_NO, "unable to read %s", be);
	char mode = canon(modestr);
	if (stat(params, &st) < 0)
		xhp_die_sys(XHP_NO, "unable to stat %s", params);
	isfile = S_ISREG(st.st_mode);
	if (!isfile && !S_ISBLK(st.st_mode))
		xhp_die(XHP_NO, "%s is not a block device or file", params);
	/* BASE/vbd/DOM/DEV: the check scans BASE/vbd. */
	snprintf(base, sizeof base, "%s", be);
	for (int k = 0; k < 2; k++) {
		char *s = strrchr(base, '/');
		if (!s)
			xhp_die(XHP_USAGE, "bad backend path %s", be);
		*s = 0;
	}
	/* Where the target's sectors live, and dom0's claims on it and the
	 * partitions that meet it: the same reads as ours. */
	bool claimed = false;
	if (isfile) {
		xhp_stack_file(&target_stack, st.st_dev, st.st_ino, 0,
			       XHP_EXT_ALL);
	} else {
		xhp_stack_blk(&target_stack, major(st.st_rdev),
			      minor(st.st_rdev));
		xhp_id_add_blk(&target_stack, major(st.st_rdev),
			       minor(st.st_rdev));
		probe_one(major(st.st_rdev), minor(st.st_rdev), &claimed);
		xhp_part_above(&target_stack, probe_one, &claimed);
	}
	int lfd = lock(lockfile);
	rdev = st.st_rdev;
	const char *who = NULL;
	if (mode != '!') {
		who = scan(base, be, mode, fid, rdev, isfile ? &st : NULL);
		if (!who && !isfile && (mounted(rdev, mode) || claimed))
			who = "dom0";
	}
	if (who) {
		struct xhp_xs_req r;
		char *buf, *hp = join(be, "hotplug-status");
		put_write(&r, &buf, 0, hp, "busy");
		xhp_xs_batch(&xs, &r, 1);
		unlock(lockfile, lfd);
		xhp_die(XHP_NO, "device in use by %s", who);
	}
	if (isfile)
		rdev = loop_attach(params, mode, node, sizeof node);
	fmt_dev(pd, sizeof pd, rdev);
	for (;;) {
		int r = publish(be, isfile ? node : params, node, pd);
		if (r == 1) {
			if (isfile)
				loop_free(node);
			unlock(lockfile, lfd);
			xhp_die(XHP_NO, "backend %s gone", be);
		}
		if (r == 0)
			break;
		if (errno != EAGAIN)
			xhp_die_sys(XHP_SYS, "unable to commit to %s", be);
	}
	unlock(lockfile, lfd);
	return 0;
}

static int rm(const char *be)
{
	char *node = xread(0, join(be, "node"));
	if (node)
		loop_free(node);
	return 0;
}

int main(int argc, char **argv)
{
	const char *lockfile = "/var/run/xen-hotplug/block";
	int c;
	xhp_init(argv[0]);
	while ((c = getopt(argc, argv, "hl:o:")) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return 0;
		case 'l':
			lockfile = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "netbsd"))
				netbsd = true;
			else if (strcmp(optarg, "linux"))
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	if (argc - optind != 2)
		xhp_usage(USAGE);
	xhp_xs_open(&xs);
	if (!strcmp(argv[optind], "add"))
		return add(argv[optind + 1], lockfile);
	if (!strcmp(argv[optind], "remove"))
		return rm(argv[optind + 1]);
	xhp_usage(USAGE);
}
