# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# block-common.sh: the NetBSD block functions for other people's scripts.
#
# `block` itself does not need this file: its add is one xs-publish -N and
# its remove one loop-detach -b -N -r (docs/netbsd.md). What is left here
# is the small public API that a third-party block-* script may use; each
# function runs one helper, so the policy (the sharing rules, the decimal
# dev_t, the one publishing transaction) stays in C, in one copy.
#
# The device contract (DESIGN.md section 2, docs/netbsd.md):
#   physical-device       decimal NetBSD dev_t, what xbdback parses
#   physical-device-path  the device node given to the guest
#   vnd, vnd-file-id      for an image file: the vnd unit and the image
#
# Environment read (optional), as by `block`: XEN_HOTPLUG_DEVDIR,
# XEN_HOTPLUG_MOUNTS, XEN_HOTPLUG_VNDTAB, XEN_HOTPLUG_RAWPARTITION, and
# those of xen-hotplug-common.sh.
#
# Functions return 0 for yes and 1 for no unless said otherwise.

case $0 in
*/*) xhp_libdir=${0%/*} ;;
*) xhp_libdir=. ;;
esac
# shellcheck source=xen-hotplug-common.sh
. "$xhp_libdir/xen-hotplug-common.sh"

# canonicalise_mode MODE: print r, w or ! (w with "skip the sharing
# check"), as upstream's function of that name does: no w means r.
canonicalise_mode() {
	case $1 in
	*w*'!'* | *'!'*w*) echo '!' ;;
	*w*) echo w ;;
	*) echo r ;;
	esac
}

# check_sharing TARGET MODE: may TARGET (a block device or an image file)
# be given to the guest of XENBUS_PATH in MODE (r, w or !)? One
# xs-stat-path -c -N: other guests' backends, and dom0's mounts (a
# mounted partition uses its disk's raw partition), with the vnd units
# over an image. Takes no lock: call it under claim_lock block. Prints
# nothing; sets xhp_sharing to "ok" or to the helper's verdict line
# ("guest DEV BACKEND" or "local DEV MOUNTPOINT"). Returns 0 when free, 1
# on a conflict; calls fatal when the check itself fails.
check_sharing() {
	set -- "$1" -c -N -m "$2" -s "$XENBUS_PATH"
	[ -z "${XEN_HOTPLUG_DEVDIR:-}" ] || set -- "$@" -d "$XEN_HOTPLUG_DEVDIR"
	[ -z "${XEN_HOTPLUG_MOUNTS:-}" ] || set -- "$@" -F "$XEN_HOTPLUG_MOUNTS"
	[ -z "${XEN_HOTPLUG_VNDTAB:-}" ] || set -- "$@" -V "$XEN_HOTPLUG_VNDTAB"
	[ -z "${XEN_HOTPLUG_RAWPARTITION:-}" ] ||
	    set -- "$@" -R "$XEN_HOTPLUG_RAWPARTITION"
	_cs_rc=0
	_cs_t=$1
	shift
	xhp_sharing=$("$XHP_H/xs-stat-path" "$@" -- "$_cs_t" 2>&1) || _cs_rc=$?
	case $_cs_rc in
	0) return 0 ;;
	1) return 1 ;;
	esac
	fatal "$xhp_sharing"
}

# write_dev DEV [NODE=VALUE...]: publish the block device DEV in one
# transaction (xs-majmin -o netbsd): physical-device-path, each
# NODE=VALUE, hotplug-status connected, and physical-device (decimal
# dev_t) unless one exists. Returns 0 when written, 1 when the backend is
# gone (nothing written); calls fatal on any other failure.
write_dev() {
	_wd_dev=$1
	shift
	_wd_out=$("$XHP_H/xs-majmin" -o netbsd -e hotplug-status=connected \
	    -- "$XENBUS_PATH" "$_wd_dev" "$@" 2>&1)
	case $? in
	0) return 0 ;;
	4)
		log warning "$XENBUS_PATH gone before $_wd_dev was published: $_wd_out"
		return 1
		;;
	*) fatal "$_wd_out" ;;
	esac
}
