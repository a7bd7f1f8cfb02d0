# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# block-common.sh: the library of the block hotplug scripts (sourced).
#
# Sources xen-hotplug-common.sh, finds the command (add/remove) in the
# arguments, checks XENBUS_PATH, and defines the block functions of upstream
# Xen (device_major_minor, write_dev, canonicalise_mode, same_vm; ebusy
# is scripts/common's, through xen-hotplug-common.sh) plus
# the sharing check upstream kept in `block` (check_sharing,
# check_device_sharing, check_file_sharing, do_ebusy, expand_dev), so that
# third-party block-* scripts can use them too.
#
# Environment read (besides xen-hotplug-common.sh's):
#   XENBUS_PATH            backend directory: backend/vbd/DOMID/DEVID, or
#                          /local/domain/N/backend/... (required)
#   XEN_BLOCK_PATH_ONLY    1: publish physical-device-path only, and leave
#                          physical-device to the toolstack (xs-majmin -p)
# Variables set: command, XENBUS_PATH (checked), dir.
# xenstore nodes written: hotplug-status, hotplug-error, physical-device,
# physical-device-path (see write_dev).

case $0 in
*/*) dir=${0%/*} ;;
*) dir=. ;;
esac
# Our libraries are private (XEN_HOTPLUG_LIBDIR), so that upstream's
# other scripts keep upstream's libraries of the same names. The lookup is
# beside the scripts when installed, in ../common in the source tree.
_xhp_lookup=$dir/xen-hotplug-helperdir.sh
[ -f "$_xhp_lookup" ] || _xhp_lookup=$dir/../common/xen-hotplug-helperdir.sh
# shellcheck source=../common/xen-hotplug-helperdir.sh
. "$_xhp_lookup"
# shellcheck source=xen-hotplug-common.sh
. "$XEN_HOTPLUG_LIBDIR/xen-hotplug-common.sh"

command=
findCommand "$@"

# _xhp_check_xenbus_path: XENBUS_PATH must name a directory under this
# domain's backend/ without "." or ".." components, so that no error report
# can land elsewhere in the store. Sets _xhp_bad_path to the reason and
# _xhp_base to the backend root the sharing check scans.
_xhp_check_xenbus_path() {
	_xhp_bad_path=
	_xhp_base=
	case ${XENBUS_PATH:-} in
	'')
		_xhp_bad_path='XENBUS_PATH is not set'
		return 1
		;;
	backend/?*)
		_xhp_base=backend
		;;
	/local/domain/?*/backend/?*)
		_xhp_base=${XENBUS_PATH#/local/domain/}
		_xhp_base=${_xhp_base%%/*}
		case $_xhp_base in
		*[!0-9]*) _xhp_base= ;;
		*) _xhp_base=/local/domain/$_xhp_base/backend ;;
		esac
		;;
	esac
	case /${XENBUS_PATH#/}/ in
	*/../* | */./* | *//*) _xhp_base= ;;
	esac
	if [ -z "$_xhp_base" ]; then
		_xhp_bad_path="XENBUS_PATH '$XENBUS_PATH' is not a backend directory (expected backend/TYPE/DOMID/DEVID)"
		return 1
	fi
	return 0
}

_xhp_check_xenbus_path || :
if [ "$command" != add ] && [ "$command" != remove ]; then
	# Upstream only logs here; a usable XENBUS_PATH also gets the reason.
	[ -n "$_xhp_bad_path" ] || fatal "Invalid command: $command"
	_xhp_reported=1
	log err "Invalid command: $command"
	exit 1
fi
if [ -n "$_xhp_bad_path" ]; then
	_xhp_reported=1
	log err "$_xhp_bad_path"
	exit 1
fi

_xhp_h=$XHP_H

##
# device_major_minor PATH
#
# Prints the major:minor of the block device PATH (symlinks followed) in
# blkback's format, lowercase hex without padding, as upstream's
# `stat -L -c %t:%T`. Returns non-zero when PATH is not a block device.
#
device_major_minor() {
	"$_xhp_h/xs-stat-path" -- "$1"
}

##
# expand_dev PARAMS
#
# Prints PARAMS when it is absolute, else /dev/PARAMS (no newline, as
# upstream).
#
expand_dev() {
	case $1 in
	/*) printf '%s' "$1" ;;
	*) printf '%s' "/dev/$1" ;;
	esac
}

##
# canonicalise_mode MODE
#
# Prints r (no "w" in MODE: read-only checks), w (read-write checks) or !
# ("w!" and friends: no checks at all). Returns 0.
#
canonicalise_mode() {
	case $1 in
	*w*!* | *!*w*) echo '!' ;;
	*w*) echo 'w' ;;
	*) echo 'r' ;;
	esac
}

##
# write_dev DEVPATH [NODE=VALUE...]
#
# Publishes the block device DEVPATH for the backend in one transaction:
# physical-device-path, physical-device (major:minor, never overwriting an
# existing one; skipped in path-only mode), any extra NODE=VALUE pairs,
# and hotplug-status=connected, so blkback sees everything it reads no
# later than physical-device.
# A caller that holds the "block" lock (claim_lock block, check_sharing,
# write_dev, as upstream's block did) has checked already: one xs-majmin
# transaction. A caller that does not (block-drbd, block-nbd, ... publish
# without it upstream) gets the lock, the sharing check for the backend's
# mode and the publication in one xs-publish run, so that its device is in
# the race-free argument too (docs/block-scripts.md).
# Prints nothing. Returns 0; on failure exits 1 with hotplug-error
# written (hotplug-status busy for a conflict). A backend removed
# meanwhile is reported in the log only, never recreated by writing an
# error into it.
#
write_dev() {
	[ -n "${1:-}" ] || fatal "Backend device does not exist"
	_xhp_pub_dev=$1
	shift
	_xhp_n=$#
	while [ "$_xhp_n" -gt 0 ]; do
		set -- "$@" -e "$1"
		shift
		_xhp_n=$((_xhp_n - 1))
	done
	case ${XEN_BLOCK_PATH_ONLY:-0} in
	0 | '' | no | false) ;;
	*) set -- -p "$@" ;;
	esac
	case $_xhp_locks_held in
	*" block "*) set -- "$_xhp_h/xs-majmin" "$@" -e hotplug-status=connected ;;
	*)
		xhp_deadline
		set -- "$_xhp_h/xs-publish" "$@" -l "$LOCK_BASEDIR/block" \
		    -w "$XHP_DEADLINE" -s "$$" -B "$_xhp_base"
		;;
	esac
	_xhp_rc=0
	_xhp_out=$("$@" -- "$XENBUS_PATH" "$_xhp_pub_dev" 2>&1) || _xhp_rc=$?
	case $_xhp_rc:${1##*/} in
	0:*) return 0 ;;
	1:xs-publish | 3:xs-publish | 5:xs-publish)
		# Busy, refused, out of time: xs-publish wrote why.
		_xhp_reported=1
		log err "$_xhp_out"
		exit 1
		;;
	4:*) _xhp_bad_path="backend gone" ;;
	esac
	fatal "${_xhp_out:-unable to publish $_xhp_pub_dev (${1##*/} exit $_xhp_rc)}"
}

##
# _xhp_sharing MODE TARGET...
#
# Runs the whole sharing check (xs-stat-path -c) for this backend: TARGET is
# a path, or `-i DEVHEX:INO` for a file. Sets _xhp_out to the helper's
# line: "ok", "guest MAJMIN BACKEND" or "local MAJMIN MOUNTPOINT". Returns
# 0 for ok, 1 for a conflict, fatal when the check itself fails.
#
_xhp_sharing() {
	_xhp_m=$1
	shift
	_xhp_rc=0
	_xhp_out=$("$_xhp_h/xs-stat-path" -c -m "$_xhp_m" -s "$XENBUS_PATH" \
	    -B "$_xhp_base" "$@" 2>&1) || _xhp_rc=$?
	case $_xhp_rc in
	0 | 1) return "$_xhp_rc" ;;
	esac
	fatal "${_xhp_out:-sharing check failed (xs-stat-path exit $_xhp_rc)}"
}

##
# check_sharing DEVTYPE DEV MODE [INODE]
#
# Upstream's calling convention: DEVTYPE "device" with DEV a path, or "file"
# with DEV the file's st_dev in hex (stat -c %D) and INODE its inode. MODE is
# r or w. Prints "ok", or "local MAJMIN" (mounted in this domain in a
# conflicting way) or "guest MAJMIN" (used by another guest's backend in a
# conflicting way). Returns 0.
#
check_sharing() {
	# A conflict is an answer, not a failure (callers may run set -e).
	if [ "$1" = file ]; then
		_xhp_sharing "$3" -i "$2:${4:-}" || :
	else
		_xhp_sharing "$3" -- "$2" || :
	fi
	_xhp_w1=${_xhp_out%% *}
	_xhp_w2=${_xhp_out#* }
	case $_xhp_out in
	ok) echo ok ;;
	*' '*) printf '%s %s\n' "$_xhp_w1" "${_xhp_w2%% *}" ;;
	*) printf '%s\n' "$_xhp_out" ;;
	esac
	return 0
}

##
# check_device_sharing DEV MODE
#
# Sharing check for block device DEV; a conflict calls do_ebusy (exits).
# Returns 0.
#
check_device_sharing() {
	_xhp_cds_mode=$(canonicalise_mode "$2")
	[ "$_xhp_cds_mode" != '!' ] || return 0
	_xhp_cds=$(check_sharing device "$1" "$_xhp_cds_mode") || exit 1
	if [ "$_xhp_cds" != ok ]; then
		do_ebusy "Device $1 is mounted " "$_xhp_cds_mode" "${_xhp_cds%% *}"
	fi
	return 0
}

##
# check_file_sharing FILE DEVHEX MODE INODE
#
# Sharing check for the image FILE (st_dev DEVHEX, inode INODE); a conflict
# calls do_ebusy (exits). Returns 0.
#
check_file_sharing() {
	_xhp_cfs=$(check_sharing file "$2" "$3" "$4") || exit 1
	if [ "$_xhp_cfs" != ok ]; then
		do_ebusy "File $1 is loopback-mounted through ${_xhp_cfs#* },
which is mounted " "$3" "${_xhp_cfs%% *}"
	fi
	return 0
}

##
# do_ebusy PREFIX MODE RESULT
#
# Builds upstream's busy message from PREFIX, MODE (r or w) and RESULT
# ("guest" or "local"), releases the "block" lock and calls ebusy (exits).
#
do_ebusy() {
	if [ "$3" = guest ]; then
		_xhp_dom='a guest '
		_xhp_when='now'
	else
		_xhp_dom='the privileged '
		_xhp_when='by a guest'
	fi
	if [ "$2" = w ]; then
		_xhp_m1=
		_xhp_m2=
	else
		_xhp_m1='read-write '
		_xhp_m2='read-only '
	fi
	release_lock block
	ebusy "${1}${_xhp_m1}in ${_xhp_dom}domain,
and so cannot be mounted ${_xhp_m2}${_xhp_when}."
}

##
# same_vm OTHERDOM
#
# Uses FRONTEND_ID and FRONTEND_UUID (set by the caller). Returns 0 when
# OTHERDOM belongs to the same VM as our frontend: same vm node, directly or
# through a stubdomain's target; a vanished OTHERDOM counts as the same VM,
# as upstream. Prints nothing. (Our own sharing check does this inside
# xs-stat-path; this is kept for third-party callers.)
#
same_vm() {
	_xhp_othervm=$(xenstore_read_default "/local/domain/$1/vm" "${FRONTEND_UUID:-}")
	_xhp_target=$(xenstore_read_default "/local/domain/${FRONTEND_ID:-}/target" "-1")
	_xhp_targetvm=$(xenstore_read_default "/local/domain/$_xhp_target/vm" "No Target")
	_xhp_otarget=$(xenstore_read_default "/local/domain/$1/target" "-1")
	_xhp_otvm=$(xenstore_read_default "/local/domain/$_xhp_otarget/vm" "No Other Target")
	_xhp_fuuid=${FRONTEND_UUID:-}
	_xhp_fuuid=${_xhp_fuuid%-1}
	[ "$_xhp_fuuid" = "$_xhp_othervm" ] || [ "$_xhp_targetvm" = "$_xhp_othervm" ] ||
	    [ "$_xhp_fuuid" = "$_xhp_otvm" ] || [ "$_xhp_targetvm" = "$_xhp_otvm" ]
}
