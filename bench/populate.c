/* SPDX-License-Identifier: LGPL-2.1-only */
/* populate: fill a test xenstore with V connected vbd backends spread over
 * D domains, in a few transactions, for `make bench`.
 *
 * Each backend gets the nodes libxl and a finished hotplug script leave
 * (so a directory listing costs what it costs on a real host), a
 * physical-device of major 0xf1 (no real device: nothing here may match a
 * benchmark target) and each domain a vm node for the same-VM exemption.
 * One process and 64 backends per transaction: writing 16000 nodes with
 * xenstore-write would take longer than the benchmark itself. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "xhp.h"

static const char USAGE[] =
	"usage: populate -V COUNT [-D DOMAINS] [-f FIRSTDOM] [-b BASE] [-o FMT]\n";

static struct xs_handle *xs;

static void put(xs_transaction_t t, const char *dir, const char *node,
		const char *fmt, unsigned long v)
{
	char path[512], val[256];
	snprintf(path, sizeof path, "%s/%s", dir, node);
	/* A FMT without a conversion is a constant; V is then ignored. */
	if (strchr(fmt, '%'))
		snprintf(val, sizeof val, fmt, v);
	else
		snprintf(val, sizeof val, "%s", fmt);
	if (!xs_write(xs, t, path, val, strlen(val)))
		xhp_die_sys(XHP_SYS, "unable to write %s", path);
}

int main(int argc, char **argv)
{
	unsigned long v = 0, d = 10, first = 1;
	const char *base = "/local/domain/0/backend/vbd";
	int c, netbsd = 0, freebsd = 0;
	xhp_init(argv[0]);
	while ((c = getopt(argc, argv, "hV:D:f:b:o:")) != -1) {
		switch (c) {
		case 'h':
			fputs(USAGE, stdout);
			xhp_close_stdout();
			return 0;
		case 'V':
			if (xhp_parse_ulong(optarg, 10, 1000000, &v) < 0)
				xhp_usage(USAGE);
			break;
		case 'D':
			if (xhp_parse_ulong(optarg, 10, 30000, &d) < 0 || !d)
				xhp_usage(USAGE);
			break;
		case 'f':
			if (xhp_parse_ulong(optarg, 10, 30000, &first) < 0)
				xhp_usage(USAGE);
			break;
		case 'b':
			base = optarg;
			break;
		case 'o':
			/* NetBSD's xbdback reads a decimal dev_t. */
			if (!strcmp(optarg, "netbsd"))
				netbsd = 1;
			else if (!strcmp(optarg, "freebsd"))
				freebsd = 1;
			else if (strcmp(optarg, "linux"))
				xhp_usage(USAGE);
			break;
		default:
			xhp_usage(USAGE);
		}
	}
	if (optind != argc)
		xhp_usage(USAGE);
	xs = xs_open(0);
	if (!xs)
		xhp_die_sys(XHP_SYS, "unable to connect to xenstore");
	for (unsigned long k = 0; k < v || k < d;) {
		unsigned long end = k + 64;
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			xhp_die_sys(XHP_SYS, "unable to start a transaction");
		for (unsigned long i = k; i < end && (i < v || i < d); i++) {
			unsigned long dom = first + i % d, slot = i / d;
			char dir[256], fe[128];
			if (i < d) {
				snprintf(dir, sizeof dir, "/local/domain/%lu", dom);
				put(t, dir, "vm", "/vm/00000000-0000-0000-0000-%012lx", dom);
				put(t, dir, "name", "bench-guest-%lu", dom);
				put(t, dir, "domid", "%lu", dom);
			}
			if (i >= v)
				continue;
			snprintf(dir, sizeof dir, "%s/%lu/%lu", base, dom,
				 51712 + slot * 16);
			snprintf(fe, sizeof fe, "/local/domain/%lu/device/vbd/%%lu", dom);
			put(t, dir, "frontend", fe, 51712 + slot * 16);
			put(t, dir, "params", "/dev/mapper/bench-%lu", i);
			put(t, dir, "script", "/etc/xen/scripts/block", 0);
			put(t, dir, "frontend-id", "%lu", dom);
			put(t, dir, "online", "%lu", 1);
			put(t, dir, "removable", "%lu", 0);
			put(t, dir, "bootable", "%lu", 1);
			put(t, dir, "state", "%lu", 4);
			put(t, dir, "dev", "xvd%lu", slot);
			put(t, dir, "type", "phy", 0);
			put(t, dir, "mode", "w", 0);
			put(t, dir, "device-type", "disk", 0);
			put(t, dir, "discard-enable", "%lu", 0);
			/* FreeBSD's backends have the path alone. */
			if (netbsd)
				put(t, dir, "physical-device", "%lu",
				    ((0xf1UL << 8) & 0xfff00UL) |
				    ((i << 12) & 0xfff00000UL) | (i & 0xffUL));
			else if (!freebsd)
				put(t, dir, "physical-device", "f1:%lx", i);
			put(t, dir, "physical-device-path", "/dev/mapper/bench-%lu", i);
			put(t, dir, "hotplug-status", "connected", 0);
		}
		if (xs_transaction_end(xs, t, false)) {
			k = end;
			continue;
		}
		if (errno != EAGAIN)
			xhp_die_sys(XHP_SYS, "unable to commit backends");
	}
	return 0;
}
