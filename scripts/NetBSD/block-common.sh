# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# block-common.sh: the NetBSD block hotplug logic, sourced by `block`.
#
# The device contract (DESIGN.md section 2, docs/netbsd.md):
#   physical-device       decimal NetBSD dev_t, what xbdback parses
#                         (`stat -f %r`), written by xs-majmin -o netbsd
#   physical-device-path  the device node given to the guest
#   vnd                   for an image file: the vnd node this script
#                         configured, so remove frees exactly that one
#   vnd-file-id           INODE:FSDEVICE of the image behind that vnd
#
# Everything that decides or changes sharing runs under the global lock
# `block` (locking.sh), shared with the Linux scripts and upstream's. For a
# block device the lock is taken by xs-publish, around its check and write
# only; for an image file by this shell, because vnconfig must run under it.
#
# Environment read (optional):
#   XEN_HOTPLUG_DEVDIR  where the vnd nodes are (default /dev; tests point
#                       it at a directory of mknod'ed nodes)
#
# Commands used: vnconfig, sysctl, mount, df, ls (NetBSD base), xenstore-*,
# and the helpers xs-readv, xs-publish, xs-stat-path, xs-majmin, flock-wrap.

case $0 in
*/*) xhp_libdir=${0%/*} ;;
*) xhp_libdir=. ;;
esac
# shellcheck source=xen-hotplug-common.sh
. "$xhp_libdir/xen-hotplug-common.sh"

: "${XEN_HOTPLUG_DEVDIR:=/dev}"

# canonicalise_mode MODE: print r, w or ! (w with "skip the sharing
# check"), as upstream's function of that name does: no w means r. Kept
# for scripts that source us; block itself uses xhp_canon_mode.
canonicalise_mode() {
	xhp_canon_mode "$1"
	echo "$xhp_cmode"
}

# xhp_canon_mode MODE: set xhp_cmode as canonicalise_mode prints it,
# without the subshell a $(...) costs on every add.
xhp_canon_mode() {
	case $1 in
	*w*'!'* | *'!'*w*) xhp_cmode='!' ;;
	*w*) xhp_cmode=w ;;
	*) xhp_cmode=r ;;
	esac
}

# _xhp_esc STRING: set _esc to STRING with space, tab and backslash
# written as mountinfo octal escapes, so a mount point with blanks stays
# one field. No process is spawned.
# shellcheck disable=SC1003 # the backslash in [' \'] is a literal member
_xhp_esc() {
	_e_in=$1
	_esc=
	while :; do
		case $_e_in in
		*[' 	\']*) ;;
		*)
			_esc=$_esc$_e_in
			return 0
			;;
		esac
		_e_pre=${_e_in%%[' 	\']*}
		_e_rest=${_e_in#"$_e_pre"?}
		_e_ch=${_e_in#"$_e_pre"}
		_e_ch=${_e_ch%"$_e_rest"}
		case $_e_ch in
		' ') _e_ch='\040' ;;
		'	') _e_ch='\011' ;;
		*) _e_ch='\134' ;;
		esac
		_esc=$_esc$_e_pre$_e_ch
		_e_in=$_e_rest
	done
}

# raw_partition: print the letter of the raw partition, the one that
# covers the whole disk (kern.rawpartition: 3, d, on i386 and amd64; 2, c,
# on most other ports). Prints d when the sysctl cannot be read.
raw_partition() {
	xhp_raw_partition
	echo "$xhp_raw"
}

# xhp_raw_partition: set xhp_raw as raw_partition prints it; one sysctl
# process, no subshell around it.
xhp_raw_partition() {
	# exec: bash would fork again inside the $(...).
	xhp_raw=$(exec sysctl -n kern.rawpartition 2>/dev/null)
	case $xhp_raw in
	0) xhp_raw=a ;;
	1) xhp_raw=b ;;
	2) xhp_raw=c ;;
	*) xhp_raw=d ;;
	esac
}

# netbsd_mountinfo MOUNT_OUTPUT: print, in Linux mountinfo format, the
# mounts of local block devices found in NetBSD `mount` output
#   SOURCE on MOUNTPOINT type FSTYPE (OPTION, OPTION...)
# with "read-only" among the options for a read-only mount. The major:minor
# field is 0:0, which makes xs-stat-path stat SOURCE itself. Mounts whose
# source is not a block device (tmpfs, kernfs, NFS...) cannot be a guest's
# disk and are left out. A mounted partition (wd0a) also counts as a use of
# its disk's raw partition (wd0d on amd64, `sysctl kern.rawpartition`),
# which covers the whole disk, so giving a guest wd0d while wd0a is mounted
# is a conflict; other partitions (wd0e) stay free. Returns 0.
netbsd_mountinfo() {
	xhp_mountinfo "$1"
	printf '%s' "$xhp_mi"
}

# xhp_mountinfo MOUNT_OUTPUT: set xhp_mi to what netbsd_mountinfo prints
# (each line newline-terminated), in this shell: a $(...) around the
# conversion would cost a process on every add. At most one process
# (sysctl, for the first mounted partition) whatever the number of mounts.
xhp_mountinfo() {
	xhp_mi=
	_mi_n=0
	_mi_raw=
	while IFS= read -r _mi_l; do
		case $_mi_l in
		*' on '*' type '*) ;;
		*) continue ;;
		esac
		_mi_src=${_mi_l%% on *}
		[ -b "$_mi_src" ] || continue
		_mi_rest=${_mi_l#* on }
		_mi_mnt=${_mi_rest% type *}
		_mi_opts=${_mi_rest##* type }
		_mi_fs=${_mi_opts%% *}
		case $_mi_opts in
		*'('*read-only*')'*) _mi_rw=ro ;;
		*) _mi_rw=rw ;;
		esac
		_mi_n=$((_mi_n + 1))
		_xhp_esc "$_mi_mnt"
		_mi_mnt=$_esc
		_xhp_esc "$_mi_src"
		xhp_mi="$xhp_mi$_mi_n 1 0:0 / $_mi_mnt $_mi_rw - $_mi_fs $_esc $_mi_rw$xhp_nl"
		case $_mi_src in
		*[0-9][a-p]) ;;
		*) continue ;;
		esac
		if [ -z "$_mi_raw" ]; then
			xhp_raw_partition
			_mi_raw=$xhp_raw
		fi
		_mi_whole=${_mi_src%?}$_mi_raw
		[ "$_mi_whole" != "$_mi_src" ] || continue
		[ -b "$_mi_whole" ] || continue
		_mi_n=$((_mi_n + 1))
		_xhp_esc "$_mi_whole"
		xhp_mi="$xhp_mi$_mi_n 1 0:0 / $_mi_mnt $_mi_rw - $_mi_fs $_esc $_mi_rw$xhp_nl"
	done <<EOF
$1
EOF
	return 0
}

# sharing_user TARGET OUTPUT: OUTPUT is a sharing check's (xs-stat-path -c
# or xs-publish, stdout and stderr together) exit 1; its last line is
# "guest ID BACKEND" or "local ID MOUNTPOINT" for a conflict. Sets
# xhp_sharing to a sentence naming the user and returns 0, or returns 1
# when OUTPUT is no conflict (a "no" about TARGET itself: gone).
sharing_user() {
	_su_out=${2##*"$xhp_nl"}
	_su_what=${_su_out%% *}
	_su_rest=${_su_out#* }
	_su_id=${_su_rest%% *}
	_su_who=${_su_rest#* }
	# the helpers echo mountinfo's octal escape for a blank
	while :; do
		case $_su_who in
		*'\040'*) _su_who=${_su_who%%'\040'*}' '${_su_who#*'\040'} ;;
		*) break ;;
		esac
	done
	case $_su_what in
	guest) xhp_sharing="$1 (device $_su_id) is already given to another guest by $_su_who" ;;
	local) xhp_sharing="$1 (device $_su_id) is mounted in dom0 on $_su_who" ;;
	*) return 1 ;;
	esac
	return 0
}

# check_sharing TARGET MODE [ALSO...]: may TARGET (a block device or an
# image file) be given to this guest in MODE (r, w or !)? ALSO are more
# devices that are the same storage (the vnd devices already backing an
# image file). Other guests' backends and dom0's mounts (for MODE r only
# read-write ones) are checked by xs-stat-path, one process per target.
# Sets xhp_sharing to "ok" or to a sentence naming the user. Prints
# nothing. Returns 0 when free, 1 on a conflict; calls fatal when the
# check itself fails.
check_sharing() {
	_cs_mode=$2
	_cs_first=$1
	shift 2
	xhp_sharing=ok
	[ "$_cs_mode" = '!' ] && return 0
	_cs_mounts=$(mount) || fatal "unable to list mounts"
	xhp_mountinfo "$_cs_mounts"
	for _cs_t in "$_cs_first" "$@"; do
		_cs_out=$(printf '%s' "$xhp_mi" |
		    "$XHP_H/xs-stat-path" -c -m "$_cs_mode" -s "$XENBUS_PATH" \
		    -M /dev/stdin -o netbsd "$_cs_t" 2>&1)
		case $? in
		0) ;;
		1)
			sharing_user "$_cs_first" "$_cs_out" || fatal "$_cs_out"
			return 1
			;;
		*) fatal "$_cs_out" ;;
		esac
	done
	return 0
}

# file_identity FILE: set file_ino to FILE's inode number and file_src to
# the device its file system is mounted from, with `ls -i` and `df -P`
# (POSIX, so no stat(1) dialect is needed). Calls fatal on failure.
file_identity() {
	_fi_out=$(ls -diL -- "$1") || fatal "unable to stat $1"
	read -r file_ino _fi_rest <<EOF
$_fi_out
EOF
	_fi_out=$(df -P -- "$1") || fatal "unable to find the file system of $1"
	_fi_out=${_fi_out##*"$xhp_nl"}
	read -r file_src _fi_rest <<EOF
$_fi_out
EOF
}

# vnd_line LINE: parse one line of `vnconfig -l`, whose forms are
#   vndN: not in use
#   vndN: MOUNTPOINT (SOURCE) inode INO     backing file's fs is mounted
#   vndN: DEVNAME inode INO                 fs device known, not mounted
#   vndN: dev MAJ,MIN inode INO             fs device has no /dev name
# Sets vl_unit (vndN), vl_ino and vl_src (the file system's device, empty
# when vnconfig could not name it). Returns 0 for a configured unit, 1
# otherwise.
vnd_line() {
	case $1 in
	vnd*': '*' inode '*) ;;
	*) return 1 ;;
	esac
	vl_unit=${1%%:*}
	vl_ino=${1##* inode }
	_vl_where=${1#*: }
	_vl_where=${_vl_where% inode *}
	case $_vl_where in
	*' ('*')')
		vl_src=${_vl_where##* (}
		vl_src=${vl_src%)}
		;;
	'dev '*) vl_src= ;;
	*) vl_src=/dev/$_vl_where ;;
	esac
	return 0
}

# vnd_backs INO SRC: after vnd_line, does that unit back the file with
# inode INO on the file system from SRC? Without a device name from
# vnconfig the inode alone decides, erring towards "yes".
vnd_backs() {
	[ "$vl_ino" = "$1" ] || return 1
	[ -z "$vl_src" ] || [ "$vl_src" = "$2" ]
}

# vnd_scan FILE: one `vnconfig -l` (see vnd_line). Sets vnd_inuse to the
# configured units ("vnd0 vnd3") and vnd_same to the units backing FILE,
# and file_ino, file_src (file_identity). Returns 0; calls fatal when
# vnconfig fails.
vnd_scan() {
	file_identity "$1"
	vnd_inuse=
	vnd_same=
	_vs_out=$(vnconfig -l 2>&1) || fatal "unable to list vnd devices: $_vs_out"
	while IFS= read -r _vs_l; do
		vnd_line "$_vs_l" || continue
		vnd_inuse="$vnd_inuse $vl_unit"
		if vnd_backs "$file_ino" "$file_src"; then
			vnd_same="$vnd_same $vl_unit"
		fi
	done <<EOF
$_vs_out
EOF
	return 0
}

# vnd_reserve NODE ID: before NODE is configured, record it in the backend
# (vnd, vnd-file-id, and physical-device-path so that other checks see it)
# with xs-majmin -p: if this script is then killed (libxl's 40 s SIGKILL),
# remove still finds the vnd, and frees it only if it backs our image.
# Returns 0, or 1 when the backend is gone; calls fatal on other errors.
vnd_reserve() {
	_vr_out=$("$XHP_H/xs-majmin" -p -o netbsd -e "vnd=$1" -e "vnd-file-id=$2" \
	    "$XENBUS_PATH" "$1" 2>&1)
	case $? in
	0) return 0 ;;
	4)
		log warning "$XENBUS_PATH gone before a vnd was configured: $_vr_out"
		return 1
		;;
	*) fatal "$_vr_out" ;;
	esac
}

# vnd_unreserve: forget a reservation that was not used (no vnd left), so
# the failed backend does not look like a user of the last unit tried.
vnd_unreserve() {
	xenstore-rm "$XENBUS_PATH/physical-device-path" 2>/dev/null
	xenstore-rm "$XENBUS_PATH/vnd" 2>/dev/null
	xenstore-rm "$XENBUS_PATH/vnd-file-id" 2>/dev/null
	return 0
}

# vnd_attach FILE MODE ID: configure the first free vnd on FILE, read-only
# when MODE is r, reserving each unit (vnd_reserve, ID is FILE's
# INODE:FSDEVICE) before vnconfig touches it. Call with the lock held and
# after vnd_scan. A unit is free when its node $XEN_HOTPLUG_DEVDIR/vndNd
# exists and neither `sysctl hw.disknames` nor vnconfig -l lists it; if
# vnconfig still refuses one (another vnconfig user won it), the next is
# tried. Sets vnd_dev to the node and returns 0; returns 1 when the
# backend is gone; calls fatal when no unit is left.
vnd_attach() {
	_va_ro=
	[ "$2" = r ] && _va_ro=-r
	_va_names=$(sysctl -n hw.disknames) ||
		fatal "unable to read sysctl hw.disknames"
	_va_tried=
	_va_err=
	for _va_node in "$XEN_HOTPLUG_DEVDIR"/vnd[0-9]*d; do
		[ -b "$_va_node" ] || continue
		_va_unit=${_va_node##*/}
		_va_unit=${_va_unit%d}
		case $_va_unit in
		vnd*[!0-9]*) continue ;;
		esac
		case " $_va_names $vnd_inuse " in
		*" $_va_unit "*)
			_va_tried="$_va_tried $_va_unit"
			continue
			;;
		esac
		vnd_reserve "$_va_node" "$3" || return 1
		# shellcheck disable=SC2086 # $_va_ro is one option or nothing
		if _va_err=$(vnconfig $_va_ro "$_va_node" "$1" 2>&1); then
			vnd_dev=$_va_node
			return 0
		fi
		_va_tried="$_va_tried $_va_unit"
	done
	vnd_unreserve
	if [ -z "$_va_tried" ]; then
		fatal "no free vnd device for $1: no vnd nodes in $XEN_HOTPLUG_DEVDIR"
	fi
	fatal "no free vnd device for $1: all in use (${_va_tried# })${_va_err:+; last vnconfig error: $_va_err}"
}

# vnd_unit NODE: set vnd_unit to vndN when NODE names a vnd (…/vndNd),
# else return 1. The vnd node is only ever written by this script, but it
# is checked before it reaches vnconfig -u all the same.
vnd_unit() {
	vnd_unit=${1##*/}
	vnd_unit=${vnd_unit%d}
	case $1 in
	*/vnd[0-9]*d) ;;
	*) return 1 ;;
	esac
	case $vnd_unit in
	vnd*[!0-9]*) return 1 ;;
	esac
	return 0
}

# vnd_detach NODE [FILEID]: unconfigure the vnd NODE (as recorded in the
# vnd node). FILEID ("INO:SOURCE", the vnd-file-id node) is the image add
# configured it on: a vnd that now backs another file was freed and taken
# by someone else since, and is left alone. Returns 0 when done, already
# unconfigured, or left alone; calls fatal when vnconfig refuses (for
# example the vnd is still open).
vnd_detach() {
	vnd_unit "$1" || fatal "refusing to unconfigure $1: not a vnd device"
	_vd_out=$(vnconfig -l "$1" 2>&1) ||
		fatal "unable to query $1: $_vd_out"
	vnd_line "$_vd_out" || return 0
	if [ -n "${2:-}" ] && ! vnd_backs "${2%%:*}" "${2#*:}"; then
		log warning "$1 now backs another file (inode $vl_ino), left alone"
		return 0
	fi
	_vd_out=$(vnconfig -u "$1" 2>&1) ||
		fatal "unable to unconfigure $1: $_vd_out"
	return 0
}

# write_dev DEV [NODE=VALUE...]: publish DEV in one transaction (xs-majmin
# -o netbsd): physical-device-path, each NODE=VALUE, hotplug-status
# connected, and physical-device (decimal dev_t) unless one exists.
# Returns 0 when written, 1 when the backend is gone (xs-majmin's 4,
# nothing written);
# calls fatal on any other failure.
write_dev() {
	_wd_dev=$1
	shift
	_wd_n=$#
	while [ "$_wd_n" -gt 0 ]; do
		set -- "$@" -e "$1"
		shift
		_wd_n=$((_wd_n - 1))
	done
	_wd_out=$("$XHP_H/xs-majmin" -o netbsd "$@" -e hotplug-status=connected \
	    "$XENBUS_PATH" "$_wd_dev" 2>&1)
	case $? in
	0) return 0 ;;
	4)
		log warning "$XENBUS_PATH gone before $_wd_dev was published: $_wd_out"
		return 1
		;;
	*) fatal "$_wd_out" ;;
	esac
}

# publish_dev DEV RAWMODE MODE: give block device DEV to the guest with
# one xs-publish, which checks dom0's mounts before the hotplug lock and
# takes the lock only around the guest check and the transaction
# (docs/xs-publish.md). RAWMODE is the mode node as read (xs-publish
# canonicalises it), MODE its canonical form. dom0's mounts go in on
# xs-publish's stdin, converted in this shell beforehand: processes per
# call: mount, at most one sysctl, and the pipeline (printf's side and
# xs-publish) in its $(...), whatever the number of backends and mounts.
# Returns 0 when published (or already published by another add of this
# backend); exits 1 on a conflict (busy), when the backend is gone
# (nothing written) or on any failure.
publish_dev() {
	_pd_dev=$1
	xhp_mi=
	if [ "$3" != '!' ]; then
		_pd_mounts=$(exec mount) || fatal "unable to list mounts"
		xhp_mountinfo "$_pd_mounts"
	fi
	set -- -o netbsd -l "$LOCK_BASEDIR/block" \
	    -w "${XEN_HOTPLUG_LOCK_TIMEOUT:-30}" -m "$2" -M -
	[ -z "${XEN_HOTPLUG_DEBUG:-}" ] || set -- -v "$@"
	_pd_rc=0
	_pd_out=$(printf '%s' "$xhp_mi" |
	    "$XHP_H/xs-publish" "$@" -- "$XENBUS_PATH" "$_pd_dev" 2>&1) ||
	    _pd_rc=$?
	case $_pd_rc:$_pd_out in
	0:*)
		[ -n "${XEN_HOTPLUG_DEBUG:-}" ] || return 0
		# The result and xs-publish's timing line, as one log line.
		_pd_dbg=
		while IFS= read -r _pd_l; do
			_pd_dbg="$_pd_dbg${_pd_dbg:+; }$_pd_l"
		done <<EOF
$_pd_out
EOF
		log debug "add $XENBUS_PATH: $_pd_dbg"
		;;
	1:'guest '* | 1:'local '*)
		sharing_user "$_pd_dev" "$_pd_out"
		ebusy "$xhp_sharing"
		;;
	4:*)
		# Gone or being torn down (docs/exit-codes.md): nothing is
		# written there.
		log warning "$XENBUS_PATH gone before $_pd_dev was published: $_pd_out"
		exit 1
		;;
	*) fatal "${_pd_out:-xs-publish exit $_pd_rc}" ;;
	esac
	return 0
}

# block_add: attach params to the guest (state 2). Exits.
block_add() {
	# Not through xenstore_read: its $(...) inside ours is one more
	# process on every add; and exec, or bash forks twice for it.
	_ba_in=$(exec "$XHP_H/xs-readv" "$XENBUS_PATH/params=" "$XENBUS_PATH/mode" \
	    "$XENBUS_PATH/physical-device=" "$XENBUS_PATH/vnd=" \
	    "$XENBUS_PATH/vnd-file-id=" 2>&1) || fatal "$_ba_in"
	{
		IFS= read -r params
		IFS= read -r mode
		IFS= read -r _ba_done
		IFS= read -r _ba_oldvnd
		IFS= read -r _ba_oldid
	} <<EOF
$_ba_in
EOF
	if [ -n "$_ba_done" ]; then
		# Run twice for one add: a second vnd would leak the first.
		log warning "$XENBUS_PATH already has physical-device $_ba_done, nothing to do"
		exit 0
	fi
	xhp_canon_mode "$mode"
	if [ -z "$params" ]; then
		fatal "$XENBUS_PATH/params is empty, unable to attach block device"
	elif [ -b "$params" ]; then
		publish_dev "$params" "$mode" "$xhp_cmode"
		exit 0
	elif [ -f "$params" ]; then
		claim_lock block
		# An earlier add died after reserving (or configuring) a vnd.
		if [ -n "$_ba_oldvnd" ]; then
			vnd_detach "$_ba_oldvnd" "$_ba_oldid"
			vnd_unreserve
		fi
		vnd_scan "$params"
		set --
		for _ba_u in $vnd_same; do
			set -- "$@" "$XEN_HOTPLUG_DEVDIR/${_ba_u}d"
		done
		mode=$xhp_cmode
		check_sharing "$params" "$mode" "$@" || ebusy "$xhp_sharing"
		_ba_id=$file_ino:$file_src
		vnd_attach "$params" "$mode" "$_ba_id" || exit 1
		if ! write_dev "$vnd_dev" "vnd=$vnd_dev" "vnd-file-id=$_ba_id"
		then
			vnd_detach "$vnd_dev" "$_ba_id"
			exit 1
		fi
	else
		fatal "$params is not a block device or a regular file"
	fi
	release_lock block
	exit 0
}

# block_remove: detach (state 6): unconfigure the recorded vnd, whatever
# params now says, then delete the backend directory. Exits.
block_remove() {
	_br_in=$(xenstore_read "$XENBUS_PATH/vnd=" "$XENBUS_PATH/vnd-file-id=") ||
		exit 1
	{
		IFS= read -r _br_vnd
		IFS= read -r _br_id
	} <<EOF
$_br_in
EOF
	if [ -n "$_br_vnd" ]; then
		claim_lock block
		vnd_detach "$_br_vnd" "$_br_id"
		release_lock block
	fi
	if ! _br_out=$(xenstore-rm "$XENBUS_PATH" 2>&1) &&
	    xenstore-exists "$XENBUS_PATH" 2>/dev/null; then
		fatal "unable to remove $XENBUS_PATH: $_br_out"
	fi
	exit 0
}
