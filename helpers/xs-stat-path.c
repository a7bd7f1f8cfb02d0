/* SPDX-License-Identifier: LGPL-2.1-only */
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
	"       xs-stat-path -c -N -m MODE -s SELF [-B BASE] [-T TYPES] "
	"[-d DEVDIR] [-F FSTAB] [-V VNDTAB] [-R RAWPART] TARGET\n"
	"-N: NetBSD (as xs-publish -N): decimal dev_t, vnd(4) units, the\n"
	"mounts of getmntinfo(3) or FSTAB (mount -p lines).\n"
	"FMT is linux (hex MAJ:MIN) or netbsd (decimal dev_t).\n";

static struct xs_handle *xs_connect(void)
{
	struct xs_handle *h = xs_open(0);

	if (h == NULL)
		xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
	return h;
}

static void target_ids(struct xhp_share *c, const char *target, const char *id)
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
		c->ids.isfile = 1;
		r = xhp_id_expand_file(&c->ids, (dev_t)dev, (ino_t)ino);
	} else {
		if (stat(target, &st) == -1)
			xhp_die_sys(errno == ENOENT || errno == ENOTDIR ?
				    XHP_NO : XHP_SYS, "unable to stat %s", target);
		r = xhp_id_expand_st(&c->ids, &st);
		if (r == 1)
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

	xhp_id_stat_blk(path, fmt, mm);
	puts(mm);
	xhp_close_stdout();
	exit(XHP_OK);
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *base = "backend", *mountinfo =
		"/proc/self/mountinfo", *node = NULL, *id = NULL, *target = NULL;
	const char *types = "vbd,vbd3,qdisk", *devdir = NULL, *fstab = NULL;
	const char *vndtab = NULL;
	unsigned long raw = 3;
	int nb = 0, rawset = 0, nbopt = 0, mset = 0;
	char *v;
	struct xhp_share c;
	struct xhp_xs q;
	unsigned int len;
	int opt, check = 0, other = 0;

	xhp_init(argv[0]);
	memset(&c, 0, sizeof(c));
	c.fmt = XHP_FMT_DEFAULT;
	while ((opt = getopt(argc, argv, "hcm:s:B:T:M:o:n:i:Nd:F:V:R:")) != -1) {
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
		case 'M': mountinfo = optarg; other = mset = 1; break;
		case 'i': id = optarg; other = 1; break;
		case 'n': node = optarg; break;
		case 'N': nb = 1; break;
		case 'd': devdir = optarg; nbopt = 1; break;
		case 'F': fstab = optarg; nbopt = 1; break;
		case 'V': vndtab = optarg; nbopt = 1; break;
		case 'R':
			if (xhp_parse_ulong(optarg, 10, XHP_NB_MAXPART - 1,
					    &raw) == -1)
				xhp_usage(USAGE);
			rawset = nbopt = 1;
			break;
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
	if ((nbopt && !nb) || (nb && (!check || id != NULL || mset)) ||
	    (devdir != NULL && *devdir == '\0'))
		xhp_usage(USAGE);
	if (nb) {
		c.fmt = XHP_FMT_NETBSD;
		if (!rawset)
			raw = (unsigned long)xhp_bsdmnt_rawpartition();
		c.rawpart = (int)raw + 1;
		xhp_vnd_source(vndtab, devdir, (int)raw);
	}
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
	c.mode = xhp_parse_mode(mode, strlen(mode));
	if (c.mode == '!') {
		/* "w!": the administrator asked for no check. */
		puts("ok");
		xhp_close_stdout();
		return XHP_OK;
	}
	xhp_xspath_normalise(c.selfn, c.self);

	target_ids(&c, target, id);
	/* Mounts first, as upstream: no xenstore traffic when dom0 itself
	 * holds the device. */
	if (nb ? xhp_bsdmnt_check(&c, fstab) : xhp_dom0_check(&c, mountinfo))
		xhp_share_exit(&c);
	xhp_xs_open(&q);
	c.q = &q;
	if (xhp_scan_guests(&c, base, types))
		xhp_share_exit(&c);
	puts("ok");
	xhp_close_stdout();
	xhp_id_free(&c.ids);
	free(c.ourvm);
	free(c.ourtvm);
	if (c.h != NULL)
		xs_close(c.h);
	xhp_xs_close(&q);
	return XHP_OK;
}
