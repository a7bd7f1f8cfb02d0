#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# scripts/FreeBSD/block on Linux CI, run as libxl_freebsd.c runs it (env -i,
# the absolute backend path, add or remove), under $HOTPLUG_SH, with the
# real helpers, the test xenstore, real locks, and nodes made with mknod.
# Stubs (tests/stubs/freebsd) only for what FreeBSD's kernel answers:
# mount (the table getmntinfo(3) gives, as `mount -p` prints it) and
# mdconfig (the md(4) units MDIOCQUERY gives, as `mdconfig -l -v` prints
# them); the script gets their tables through XEN_HOTPLUG_MOUNTS and
# XEN_HOTPLUG_MDLIST.
#
# Fake FreeBSD nodes under $DEV (FreeBSD's disks are character devices):
# ada0, ada1 are char 246:0 and 246:1, a zvol char 246:64, md units char
# 245:N (the mdconfig stub), and a block device 240:N (mkblk), which
# libxl also accepts.
# SC2030/SC2031: bats runs each test in its own subshell; variables set
# there are meant to stay there.
# shellcheck disable=SC2030,SC2031

load ../test_helper

bats_require_minimum_version 1.5.0

BE=/local/domain/0/backend/vbd

setup() {
	require_root
	xhp_setup
	DEV=$XHP_TMP/dev
	mkdir -p "$DEV/zvol/tank"
	export XEN_HOTPLUG_DEVDIR=$DEV
	export PATH="$XHP_TOP/tests/stubs/freebsd:$PATH"
	SCRIPT=$XHP_TOP/scripts/FreeBSD/block
	mknod "$DEV/ada0" c 246 0
	mknod "$DEV/ada1" c 246 1
	mknod "$DEV/zvol/tank/vm1" c 246 64
	mount /dev/ada0p2 / >/dev/null
	: >"$XHP_TMP/mdconfig.list"
	IMG=$XHP_TMP/disk.img
	mkimg "$IMG"
}

teardown() {
	xhp_teardown
}

# block ARGS...: the script as libxl runs it: no environment but what
# finds the test xenstore, the helpers and the stubs' tables.
block() {
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" \
	    XEN_HOTPLUG_HELPERDIR="$XHP_BIN" XEN_HOTPLUG_DEVDIR="$DEV" \
	    XEN_HOTPLUG_LOCK_BASEDIR="$XHP_TMP/lock" \
	    XEN_HOTPLUG_MOUNTS="$XHP_TMP/mount.p" \
	    XEN_HOTPLUG_MDLIST="$XHP_TMP/mdconfig.list" \
	    ${GEOM:+XEN_HOTPLUG_GEOM="$GEOM"} \
	    ${DEADLINE:+XEN_HOTPLUG_DEADLINE="$DEADLINE"} \
	    $HOTPLUG_SH "$SCRIPT" "$@" </dev/null
}

# add DOMID PARAMS MODE: a backend as libxl writes it (mkbe, devid 768),
# then the add. Sets B.
add() {
	B=$BE/$1/768
	mkbe "$1" 768 "$2" "$3"
	block "$B" add
}

# added DOMID PARAMS MODE: add, which must succeed.
added() {
	add "$@"
	echo "$stderr"
	[ "$status" -eq 0 ]
}

# refused STATUS MESSAGE-GLOB: the add of $B failed, wrote hotplug-status
# STATUS and a hotplug-error matching the glob, published nothing, and
# left the lock free.
refused() {
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$(rd "$B/hotplug-status")" = "$1" ]
	# shellcheck disable=SC2053 # a glob on purpose
	[[ "$(rd "$B/hotplug-error")" == $2 ]]
	[[ "$stderr" == "block: err: xs-publish: fatal: "* ]]
	absent "$B/physical-device-path"
	absent "$B/physical-device"
	lock_free
}

# only_published: the add of $B wrote physical-device-path and nothing
# else (blkback writes hotplug-status; there is no physical-device, no
# loop or md device of ours).
only_published() {
	[ "$(xenstore-list "$B" | sort | tr '\n' ' ')" = \
	  "bootable dev device-type discard-enable frontend frontend-id mode online params physical-device-path removable script specification state type " ]
}

# blkback_opens: what FreeBSD's blkback does with $B: mode is there with
# the path (libxl wrote it first), and the path opens read-write unless
# the mode is r. A fake device node has no driver behind it: for those,
# only its kind is checked.
blkback_opens() {
	local p m
	m=$(rd "$B/mode")
	p=$(rd "$B/physical-device-path")
	case $p in /*) ;; *) return 1 ;; esac
	if [ -f "$p" ]; then
		if [ "$m" = r ]; then
			(exec 3<"$p")
		else
			(exec 3<>"$p")
		fi
	else
		[ -c "$p" ] || [ -b "$p" ]
	fi
}

# upstream DOMID PARAMS MODE: what upstream's FreeBSD block leaves: the
# backend libxl wrote, and params copied into physical-device-path as it
# is, without a lock or a check.
upstream() {
	mkbe "$1" 768 "$2" "$3"
	xenstore-write "$BE/$1/768/physical-device-path" "$2"
}

# ---- arguments ---------------------------------------------------------------

@test "block with the wrong number of arguments prints its usage and fails" {
	block "$BE/3/768"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "usage: block BACKEND add|remove" ]
}

@test "a backend path that is not absolute is refused and nothing is written anywhere" {
	mkbe 3 768 "$IMG" w
	block backend/vbd/3/768 add
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"backend path must be absolute, /local/domain/N/backend/...: backend/vbd/3/768" ]]
	absent "$BE/3/768/hotplug-error"
	absent "$BE/3/768/physical-device-path"
	absent /local/domain/0/backend/vbd/3/768/hotplug-status
	run xenstore-exists /backend
	[ "$status" -ne 0 ]
}

@test "a backend path with an empty, . or .. component is refused and nothing is written" {
	mkbe 3 768 "$IMG" w
	for p in "$BE/3/768/" "$BE//3/768" "$BE/3/./768" "$BE/3/768/.." \
	    /local/domain/0/backend/; do
		block "$p" add
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"backend path must be absolute"* ]]
	done
	absent "$BE/3/768/hotplug-error"
	absent "$BE/3/768/physical-device-path"
}

@test "an unknown command fails and says so in hotplug-error" {
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	block "$B" online
	[ "$status" -eq 1 ]
	[ "$(rd "$B/hotplug-status")" = error ]
	[ "$(rd "$B/hotplug-error")" = "unknown command 'online' (expected add or remove)" ]
	absent "$B/physical-device-path"
}

@test "xs-publish -O takes the backend alone, and -d, -F, -U, -G come only with -O" {
	only_dash
	L=$XHP_TMP/lock/block
	usage_refused xs-publish -O -l "$L" "$BE/3/768" "$IMG"
	usage_refused xs-publish -O -l "$L" -e a=b "$BE/3/768"
	usage_refused xs-publish -O -l "$L" -d '' "$BE/3/768"
	usage_refused xs-publish -l "$L" -d "$DEV" "$BE/3/768"
	usage_refused xs-publish -l "$L" -F "$XHP_TMP/mount.p" "$BE/3/768"
	usage_refused xs-publish -l "$L" -U "$XHP_TMP/mdconfig.list" "$BE/3/768"
	usage_refused xs-publish -l "$L" -G "$XHP_TMP/conftxt" "$BE/3/768"
	run xs-publish -h
	[[ "$output" == *"xs-publish -O -l LOCKFILE"* ]]
}

@test "xs-publish -O with an md list or a mount list it cannot read is a system failure (111)" {
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	run --separate-stderr xs-publish -O -l "$XHP_TMP/lock/block" -d "$DEV" \
	    -U "$XHP_TMP/none" -F "$XHP_TMP/mount.p" "$B"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-publish: fatal: unable to find the md units of $IMG: No such file or directory" ]]
	run --separate-stderr xs-publish -O -l "$XHP_TMP/lock/block" -d "$DEV" \
	    -U "$XHP_TMP/mdconfig.list" -F "$XHP_TMP/none" "$B"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-publish: fatal: unable to open $XHP_TMP/none: No such file or directory" ]]
	absent "$B/physical-device-path"
}

# ---- what an add publishes -----------------------------------------------------

@test "a file is published as its path alone: no physical-device, no hotplug-status, nothing attached" {
	added 3 "$IMG" w
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(rd "$B/physical-device-path")" = "$IMG" ]
	only_published
	[ "$(loops_of "$IMG")" -eq 0 ]
	[ ! -s "$XHP_TMP/mdconfig.list" ]
	blkback_opens
	lock_free
}

@test "a file named through a symbolic link is published by its real path" {
	ln -s "$IMG" "$XHP_TMP/link.img"
	added 3 "$XHP_TMP/link.img" w
	[ "$(rd "$B/physical-device-path")" = "$IMG" ]
	blkback_opens
}

@test "a character device (a FreeBSD disk) is published by its path" {
	added 3 "$DEV/ada1" w
	[ "$(rd "$B/physical-device-path")" = "$DEV/ada1" ]
	only_published
	blkback_opens
}

@test "a zvol, a character device below /dev/zvol, is published by its path" {
	added 3 "$DEV/zvol/tank/vm1" w
	[ "$(rd "$B/physical-device-path")" = "$DEV/zvol/tank/vm1" ]
	only_published
}

@test "a block device, which libxl also accepts, is published by its path" {
	mkblk "$DEV/blk0" 21
	added 3 "$DEV/blk0" w
	[ "$(rd "$B/physical-device-path")" = "$DEV/blk0" ]
	only_published
	blkback_opens
}

@test "a relative params names a device under /dev and is published absolute, as blkback would find it" {
	added 3 ada1 w
	[ "$(rd "$B/physical-device-path")" = "$DEV/ada1" ]
	added 4 zvol/tank/vm1 r
	[ "$(rd "$B/physical-device-path")" = "$DEV/zvol/tank/vm1" ]
	blkback_opens
}

@test "a relative params that climbs out of /dev is refused" {
	add 3 ../disk.img w
	refused error "params '../disk.img' is relative and climbs out of /dev with .."
}

@test "paths with spaces and shell metacharacters are published as they are" {
	f="$XHP_TMP/my disk \$(touch pwned) *.img"
	mkimg "$f"
	added 3 "$f" w
	[ "$(rd "$B/physical-device-path")" = "$f" ]
	[ ! -e pwned ] && [ ! -e "$XHP_TMP/pwned" ]
	add 4 "$f" w
	refused busy "File $f (device *) is already used by another guest through $BE/3/768, and so cannot be attached read-write now."
}

@test "a second add of a published backend does nothing and succeeds" {
	added 3 "$IMG" w
	xenstore-write "$B/hotplug-status" connected
	added 3 "$IMG" w
	[ "$(rd "$B/physical-device-path")" = "$IMG" ]
	[ "$(rd "$B/hotplug-status")" = connected ]
}

@test "mode w! skips the sharing check" {
	added 3 "$IMG" w
	added 4 "$IMG" 'w!'
	[ "$(rd "$B/physical-device-path")" = "$IMG" ]
}

# ---- the other guests ----------------------------------------------------------

@test "a file another guest has read-write is busy, and the reason names that backend" {
	added 3 "$IMG" w
	add 4 "$IMG" w
	refused busy "File $IMG (device *) is already used by another guest through $BE/3/768, and so cannot be attached read-write now."
	[[ "$stderr" == *"already used by another guest through $BE/3/768"* ]]
}

@test "a hard link to a file another guest has is the same file: busy" {
	added 3 "$IMG" w
	ln "$IMG" "$XHP_TMP/hard.img"
	add 4 "$XHP_TMP/hard.img" r
	refused busy "File $XHP_TMP/hard.img * is already used read-write by another guest through $BE/3/768, and so cannot be attached read-only now."
}

@test "a disk another guest has is busy, whether named absolute, relative or through a link" {
	added 3 "$DEV/ada1" w
	add 4 ada1 w
	refused busy "Device $DEV/ada1 (device f6:1) is already used by another guest through $BE/3/768,*"
	ln -s "$DEV/ada1" "$XHP_TMP/alias"
	add 5 "$XHP_TMP/alias" r
	refused busy "Device $XHP_TMP/alias (device f6:1) is already used read-write *"
}

@test "another disk is not a conflict" {
	added 3 "$DEV/ada1" w
	added 4 "$DEV/zvol/tank/vm1" w
	mkimg "$XHP_TMP/other.img"
	added 5 "$XHP_TMP/other.img" w
}

@test "upstream's lock-less script's physical-device-path is seen: absolute, and relative as blkback resolves it" {
	upstream 3 "$IMG" w
	add 4 "$IMG" w
	refused busy "File $IMG (device *) is already used by another guest through $BE/3/768,*"
	upstream 5 ada1 w
	add 6 "$DEV/ada1" r
	refused busy "Device $DEV/ada1 (device f6:1) is already used read-write by another guest through $BE/5/768,*"
}

@test "readers share; a writer and a reader do not, in either order" {
	added 3 "$IMG" r
	added 4 "$IMG" r
	add 5 "$IMG" w
	refused busy "File $IMG * is already used by another guest through $BE/*/768, and so cannot be attached read-write now."
	added 6 "$DEV/ada1" w
	add 7 ada1 r
	refused busy "Device $DEV/ada1 * is already used read-write by another guest through $BE/6/768, and so cannot be attached read-only now."
}

@test "the domains of one VM may share, as upstream's same_vm: the same vm, vm plus -1, a stubdomain's guest" {
	added 3 "$IMG" w
	# A stubdomain: its target is the guest.
	mkbe 5 768 "$IMG" w
	xenstore-write /local/domain/5/vm /vm/stub-5 /local/domain/5/target 3
	block "$BE/5/768" add
	[ "$status" -eq 0 ]
	# A domain being migrated or restored locally: the new one's vm is
	# the old one's plus "-1".
	mkbe 4 768 "$IMG" w
	xenstore-write /local/domain/4/vm /vm/uuid-3-1
	block "$BE/4/768" add
	[ "$status" -eq 0 ]
	# Another VM.
	add 6 "$IMG" w
	refused busy "File $IMG * already used by another guest *"
}

# ---- md(4): an image through a memory disk, by inode --------------------------

@test "an md unit over the image another guest has as a file is busy, and the reverse" {
	added 3 "$IMG" w
	[ "$(mdconfig -a -t vnode -f "$IMG")" = md0 ]
	add 4 md0 w
	refused busy "Device $DEV/md0 (device *) is already used by another guest through $BE/3/768,*"
	add 5 "$DEV/md0" r
	refused busy "Device $DEV/md0 * already used read-write *"
	mkimg "$XHP_TMP/b.img"
	mdconfig -a -t vnode -f "$XHP_TMP/b.img" -u 4
	added 6 "$DEV/md4" w
	add 7 "$XHP_TMP/b.img" r
	refused busy "File $XHP_TMP/b.img * is already used read-write by another guest through $BE/6/768,*"
}

@test "two md units over one image are one image" {
	mdconfig -a -t vnode -f "$IMG" -u 1
	mdconfig -a -t vnode -f "$IMG" -u 2 -o readonly
	added 3 "$DEV/md1" w
	add 4 "$DEV/md2" r
	refused busy "Device $DEV/md2 * already used read-write by another guest through $BE/3/768,*"
}

@test "md units are compared by inode, not by name: a hard link, or another name, is the same image" {
	ln "$IMG" "$XHP_TMP/hard.img"
	mdconfig -a -t vnode -f "$XHP_TMP/hard.img" -u 3
	# Upstream's writer, so that our add of it does not decide.
	upstream 3 "$DEV/md3" w
	add 4 "$IMG" r
	refused busy "File $IMG * already used read-write by another guest through $BE/3/768,*"
	# Attached through a symbolic link: mdconfig keeps the real path.
	ln -s "$IMG" "$XHP_TMP/link.img"
	mdconfig -a -t vnode -f "$XHP_TMP/link.img" -u 5
	add 5 "$DEV/md5" r
	refused busy "Device $DEV/md5 * already used read-write by another guest through $BE/3/768,*"
}

@test "an md unit over another image is no conflict" {
	mkimg "$XHP_TMP/other.img"
	mdconfig -a -t vnode -f "$XHP_TMP/other.img" -u 0
	added 3 md0 w
	added 4 "$IMG" w
}

# ---- dom0's mounts -------------------------------------------------------------

@test "a disk dom0 mounts read-write is busy for readers and writers" {
	mount "$DEV/ada1" /data
	add 3 "$DEV/ada1" w
	refused busy "Device $DEV/ada1 (device f6:1) is mounted in the privileged domain at /data, and so cannot be attached read-write to a guest."
	add 4 ada1 r
	refused busy "Device $DEV/ada1 (device f6:1) is mounted read-write in the privileged domain at /data, and so cannot be attached read-only to a guest."
}

@test "a disk dom0 mounts read-only may be given read-only, never read-write" {
	mount -r "$DEV/zvol/tank/vm1" /ro
	added 3 zvol/tank/vm1 r
	add 4 "$DEV/zvol/tank/vm1" w
	refused busy "Device $DEV/zvol/tank/vm1 * is mounted in the privileged domain at /ro,*"
	mount -u -w /ro
	add 5 "$DEV/zvol/tank/vm1" r
	refused busy "* is mounted read-write in the privileged domain at /ro,*"
}

@test "an image dom0 mounts through an md unit is busy" {
	mdconfig -a -t vnode -f "$IMG" -u 7
	mount "$DEV/md7" /mnt/img
	add 3 "$IMG" r
	refused busy "File $IMG (device f5:7) is mounted read-write in the privileged domain at /mnt/img,*"
}

@test "mounts of other devices and of no device (ZFS, tmpfs, NFS) are no conflict" {
	printf '%s\n' 'tank/home		/home		zfs	rw,nfsv4acls	0 0' \
	    'tmpfs			/tmp		tmpfs	rw		0 0' \
	    'srv:/export		/net		nfs	rw		0 0' >>"$XHP_TMP/mount.p"
	mount "$DEV/ada0" /data
	added 3 "$DEV/ada1" w
	added 4 "$IMG" w
}

# ---- refusals ------------------------------------------------------------------

@test "missing params is refused in words, with nothing published and the lock free" {
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	xenstore-rm "$B/params"
	block "$B" add
	refused error "$B has no params: no device or image to attach"
}

@test "a bad mode is refused" {
	add 3 "$IMG" rwx
	refused error "unknown mode 'rwx' in $B (expected r, w or w!)"
	add 4 "$IMG" ''
	refused error "$B has no mode"
}

@test "a missing frontend-id is refused" {
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	xenstore-rm "$B/frontend-id"
	block "$B" add
	refused error "$B has no frontend-id"
}

@test "a path that does not exist, a dangling link, a directory, a fifo, an empty file are refused" {
	add 3 "$XHP_TMP/nothing.img" w
	refused error "$XHP_TMP/nothing.img does not exist"
	add 4 nothing w
	refused error "$DEV/nothing does not exist"
	ln -s "$XHP_TMP/gone" "$XHP_TMP/dangling"
	add 5 "$XHP_TMP/dangling" w
	refused error "$XHP_TMP/dangling is a dangling symbolic link"
	add 6 "$XHP_TMP" w
	refused error "$XHP_TMP is a directory, not a file, block device or character device"
	mkfifo "$XHP_TMP/fifo"
	add 7 "$XHP_TMP/fifo" w
	refused error "$XHP_TMP/fifo is not a file, block device or character device"
	: >"$XHP_TMP/empty.img"
	add 8 "$XHP_TMP/empty.img" w
	refused error "$XHP_TMP/empty.img is empty: no disk to attach"
}

@test "a read-only image asked read-write is busy, as on Linux; read-only it is given" {
	chmod a-w "$IMG"
	add 3 "$IMG" w
	refused busy "File $IMG is read-only, and so will not be attached read-write to a guest."
	added 4 "$IMG" r
}

@test "a backend that is gone, or being torn down, gets nothing written" {
	B=$BE/3/768
	block "$B" add
	[ "$status" -eq 1 ]
	[[ "$stderr" == "block: warning: xs-publish: fatal: backend $B is gone" ]]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
	mkbe 4 768 "$IMG" w
	B=$BE/4/768
	xenstore-write "$B/online" 0 "$B/state" 5
	block "$B" add
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"Path closed or removed during hotplug add"* ]]
	absent "$B/hotplug-error"
	absent "$B/physical-device-path"
}

@test "the add waits for the block lock of the Linux protocol, and fails naming the holder past the deadline" {
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # expanded by the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c 'touch "$1"; exec sleep 4' _ "$XHP_TMP/held" 3>&- &
	holder=$!
	while [ ! -e "$XHP_TMP/held" ]; do sleep 0.05; done
	DEADLINE=1 add 3 "$IMG" w
	kill "$holder"
	wait "$holder" || true
	refused error "*within 1 s: held by pid*"
	xenstore-rm "$B/hotplug-status"
	xenstore-rm "$B/hotplug-error"
	added 3 "$IMG" w
}

@test "a helper that cannot run is a failure written into the backend" {
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" \
	    XEN_HOTPLUG_HELPERDIR="$XHP_TMP/nowhere" $HOTPLUG_SH "$SCRIPT" "$B" add
	[ "$status" -eq 1 ]
	[ "$(rd "$B/hotplug-status")" = error ]
	[[ "$(rd "$B/hotplug-error")" == *xs-publish* ]]
	absent "$B/physical-device-path"
}

# ---- remove --------------------------------------------------------------------

@test "remove has nothing to free: a quiet exit 0 that changes nothing, every time" {
	added 3 "$IMG" w
	xenstore-write "$B/hotplug-status" connected "$B/state" 6
	before=$(xenstore-ls -f "$B")
	for _ in 1 2; do
		block "$B" remove
		[ "$status" -eq 0 ]
		[ "$output" = "" ]
		[ "$stderr" = "" ]
	done
	[ "$(xenstore-ls -f "$B")" = "$before" ]
	xenstore-rm "$B"
	block "$B" remove
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

# ---- cost ----------------------------------------------------------------------

@test "an add is the shell and one helper, xs-publish: no xenstore-* tool, no mount or mdconfig" {
	command -v strace >/dev/null || skip "strace not installed"
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" \
	    XEN_HOTPLUG_HELPERDIR="$XHP_BIN" XEN_HOTPLUG_LOCK_BASEDIR="$XHP_TMP/lock" \
	    XEN_HOTPLUG_MOUNTS="$XHP_TMP/mount.p" XEN_HOTPLUG_MDLIST="$XHP_TMP/mdconfig.list" \
	    strace -f -e trace=execve -o "$XHP_TMP/trace" \
	    $HOTPLUG_SH "$SCRIPT" "$B" add </dev/null
	[ "$(rd "$B/physical-device-path")" = "$IMG" ]
	grep 'execve(.* = 0$' "$XHP_TMP/trace" | grep -c . | grep -qx 2
	grep 'execve(.* = 0$' "$XHP_TMP/trace" | grep -c '/xs-publish"' | grep -qx 1
}

# ---- make install OS=FreeBSD -----------------------------------------------------

@test "make install OS=FreeBSD puts the FreeBSD script in /usr/local/etc/xen/scripts and the helpers in /usr/local/libexec" {
	only_dash
	D=$XHP_TMP/dest
	run make -C "$XHP_TOP" -s install DESTDIR="$D" OS=FreeBSD
	echo "$output"
	[ "$status" -eq 0 ]
	S=$D/usr/local/etc/xen/scripts
	[ "$(stat -c %a "$S/block")" = 755 ]
	cmp "$S/block" "$XHP_TOP/scripts/FreeBSD/block"
	# The script, the shared library beside it, and nothing of Linux's
	# or NetBSD's.
	[ "$(LC_ALL=C ls "$S")" = "$( (echo block; echo xen-hotplug-paths.sh
		cd "$XHP_TOP/scripts/common" && ls) | LC_ALL=C sort)" ]
	for f in "$XHP_TOP"/scripts/common/*.sh; do
		cmp "$f" "$S/${f##*/}"
		[ "$(stat -c %a "$S/${f##*/}")" = 644 ]
	done
	[ "$(stat -c %a "$D/usr/local/libexec/xen-hotplug/xs-publish")" = 755 ]
	# shellcheck source=/dev/null
	[ "$(. "$S/xen-hotplug-paths.sh"; echo "$XEN_HOTPLUG_HELPERDIR")" = /usr/local/libexec/xen-hotplug ]
	[ ! -e "$D/etc" ]
	[ ! -e "$D/usr/lib" ]
	[ -f "$D/usr/local/share/doc/xen-hotplug/freebsd.md" ]
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$D" OS=FreeBSD
	[ "$status" -eq 0 ]
	[ -z "$(find "$D" ! -type d)" ]
}

@test "the installed FreeBSD block, run as libxl runs it, finds the shared library and the helpers by itself" {
	P=$XHP_TMP/inst
	run make -C "$XHP_TOP" -s install OS=FreeBSD PREFIX="$P"
	[ "$status" -eq 0 ]
	[ ! -e "$P/etc/xen/scripts/../common" ]
	mkbe 3 768 "$IMG" w
	B=$BE/3/768
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" \
	    XEN_HOTPLUG_DEVDIR="$DEV" XEN_HOTPLUG_LOCK_BASEDIR="$XHP_TMP/lock" \
	    XEN_HOTPLUG_MOUNTS="$XHP_TMP/mount.p" \
	    XEN_HOTPLUG_MDLIST="$XHP_TMP/mdconfig.list" \
	    $HOTPLUG_SH "$P/etc/xen/scripts/block" "$B" add </dev/null
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device-path")" = "$IMG" ]
	# A failure is reported through the shared fatal, in FreeBSD's format.
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" \
	    $HOTPLUG_SH "$P/etc/xen/scripts/block" "$B" frob </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "block: err: unknown command 'frob' (expected add or remove)" ]
	[ "$(rd "$B/hotplug-status")" = error ]
}

@test "make install OS=FreeBSD honours SCRIPTDIR, PREFIX and LIBEXECDIR given on the command line" {
	only_dash
	D=$XHP_TMP/dest
	run make -C "$XHP_TOP" -s install DESTDIR="$D" OS=FreeBSD PREFIX=/opt \
	    SCRIPTDIR=/etc/xen/scripts
	[ "$status" -eq 0 ]
	[ -x "$D/etc/xen/scripts/block" ]
	[ -x "$D/opt/libexec/xen-hotplug/xs-publish" ]
	run make -C "$XHP_TOP" -s install DESTDIR="$D/2" OS=FreeBSD LIBEXECDIR=/usr/libexec/xhp
	[ "$status" -eq 0 ]
	[ -x "$D/2/usr/libexec/xhp/xs-publish" ]
	[ -x "$D/2/usr/local/etc/xen/scripts/block" ]
}

@test "make install with an unknown OS fails with a clear error and installs nothing" {
	only_dash
	D=$XHP_TMP/dest
	run make -C "$XHP_TOP" -s install DESTDIR="$D" OS=Plan9
	[ "$status" -ne 0 ]
	[[ "$output" == *"OS=Plan9 is not supported: use OS=Linux, OS=NetBSD or OS=FreeBSD"* ]]
	[ ! -e "$D" ]
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$D" OS=Plan9
	[ "$status" -ne 0 ]
	[[ "$output" == *"OS=Plan9 is not supported"* ]]
}

# ---- the GEOM tree -------------------------------------------------------------

# geom_tree: the GEOM tree as kern.geom.conftxt gives it (into $GEOM, which
# block passes as XEN_HOTPLUG_GEOM), and the providers' nodes:
#   ada2 (f6:2): GPT, ada2p1 (f6:3) over sectors [40, 1048616) with the
#     label gpt/data (f6:5) on it, ada2p2 (f6:4) over [1048616, 2097152);
#   ada3 (f6:6): an MBR slice ada3s1 (f6:7) and in it the BSD partitions
#     ada3s1a (f6:8) and ada3s1b (f6:9);
#   ada4 (f6:10), ada5 (f6:11): both halves of mirror/gm0 (f6:12), which
#     conftxt lists under each of them.
geom_tree() {
	mkdir -p "$DEV/gpt" "$DEV/mirror"
	mknod "$DEV/ada2" c 246 2
	mknod "$DEV/ada2p1" c 246 3
	mknod "$DEV/ada2p2" c 246 4
	mknod "$DEV/gpt/data" c 246 5
	mknod "$DEV/ada3" c 246 6
	mknod "$DEV/ada3s1" c 246 7
	mknod "$DEV/ada3s1a" c 246 8
	mknod "$DEV/ada3s1b" c 246 9
	mknod "$DEV/ada4" c 246 10
	mknod "$DEV/ada5" c 246 11
	mknod "$DEV/mirror/gm0" c 246 12
	GEOM=$XHP_TMP/conftxt
	cat >"$GEOM" <<'TREE'
0 DISK ada2 1073741824 512 hd 16 sc 63
1 PART ada2p1 536870912 512 i 1 o 20480 ty freebsd-ufs xs GPT xt 516e7cb6-6ecf-11d6-8ff8-00022d09712b
2 LABEL gpt/data 536870912 512 i 0 o 0
1 PART ada2p2 536850432 512 i 2 o 536891392 ty freebsd-ufs xs GPT xt 516e7cb6-6ecf-11d6-8ff8-00022d09712b
0 DISK ada3 1073741824 512 hd 16 sc 63
1 PART ada3s1 1073709056 512 i 1 o 32256 ty freebsd xs MBR xt 165
2 PART ada3s1a 536870912 512 i 1 o 0 ty freebsd-ufs xs BSD xt 7
2 PART ada3s1b 536838144 512 i 2 o 536870912 ty freebsd-swap xs BSD xt 1
0 DISK ada4 1073741824 512 hd 16 sc 63
1 MIRROR mirror/gm0 1073741312 512
0 DISK ada5 1073741824 512 hd 16 sc 63
1 MIRROR mirror/gm0 1073741312 512
TREE
}

@test "GEOM: a partition and its whole disk overlap, in either order, whatever the mode" {
	geom_tree
	added 3 "$DEV/ada2p1" w
	add 4 "$DEV/ada2" w
	refused busy "Device $DEV/ada2 is the whole disk of the partition $DEV/ada2p1 (device f6:3), already used by another guest through $BE/3/768, and so cannot be attached read-write now."
	add 5 ada2 r
	refused busy "*is the whole disk of the partition $DEV/ada2p1 (device f6:3)*read-only*"
	added 6 "$DEV/ada3" w
	add 7 "$DEV/ada3s1b" r
	refused busy "Device $DEV/ada3s1b is stacked on $DEV/ada3 (device f6:6), already used read-write by another guest through $BE/6/768, and so cannot be attached read-only now."
}

@test "GEOM: disjoint partitions of one disk go to two writers; readers share a disk and its partition" {
	geom_tree
	added 3 "$DEV/ada2p1" w
	added 4 "$DEV/ada2p2" w
	added 5 "$DEV/ada3s1a" w
	added 6 "$DEV/ada3s1b" w
	added 7 "$DEV/ada4" r
	added 8 "$DEV/mirror/gm0" r
}

@test "GEOM: a label is its partition, and a mirror is each of its disks" {
	geom_tree
	added 3 "$DEV/gpt/data" w
	add 4 "$DEV/ada2p1" w
	refused busy "Device $DEV/ada2p1 is held by $DEV/gpt/data (device f6:5), already used by another guest through $BE/3/768,*"
	add 5 "$DEV/ada2" w
	refused busy "*$DEV/gpt/data (device f6:5)*$BE/3/768*"
	added 6 "$DEV/ada2p2" w
	added 7 "$DEV/mirror/gm0" w
	add 8 "$DEV/ada5" w
	refused busy "Device $DEV/ada5 is held by $DEV/mirror/gm0 (device f6:c), already used*$BE/7/768*"
	add 9 ada4 r
	refused busy "*$DEV/mirror/gm0 (device f6:c)*$BE/7/768*"
}

@test "GEOM: upstream's lock-less writer of a partition is seen from its path" {
	geom_tree
	upstream 3 "$DEV/ada3s1a" w
	B=$BE/4/768
	add 4 "$DEV/ada3s1" w
	refused busy "*is the whole disk of the partition $DEV/ada3s1a (device f6:8)*$BE/3/768*"
}

@test "GEOM: dom0 mounting a partition makes its disk busy, not the disk's other partitions" {
	geom_tree
	mount "$DEV/ada2p1" /data
	add 3 "$DEV/ada2" w
	refused busy "Device $DEV/ada2 is the whole disk of the partition $DEV/ada2p1 (device f6:3), which is mounted in the privileged domain at /data, and so cannot be attached read-write to a guest."
	add 4 "$DEV/gpt/data" r
	refused busy "*$DEV/ada2p1 (device f6:3)*mounted read-write in the privileged domain at /data*"
	added 5 "$DEV/ada2p2" w
	mount -r "$DEV/ada3s1a" /ro
	added 6 "$DEV/ada3" r
	add 7 "$DEV/ada3" w
	refused busy "*$DEV/ada3s1a (device f6:8)*mounted in the privileged domain at /ro*"
}

@test "GEOM: without a tree each device stands alone (the old behaviour), and an unreadable tree is a system failure" {
	geom_tree
	mv "$GEOM" "$XHP_TMP/conftxt.off"
	GEOM=
	added 3 "$DEV/ada2p1" w
	added 4 "$DEV/ada2" w
	GEOM=$XHP_TMP/no-such-conftxt
	add 5 "$DEV/ada2p2" w
	[ "$status" -eq 1 ]
	[ "$(rd "$B/hotplug-status")" = error ]
	[ "$(rd "$B/hotplug-error")" = "xs-publish: fatal: unable to read the GEOM tree $XHP_TMP/no-such-conftxt: No such file or directory" ]
	absent "$B/physical-device-path"
	lock_free
}

@test "GEOM: lines that are no provider, and children without a parent, are skipped" {
	geom_tree
	{
		printf '%s\n' '' 'garbage' '-1 DISK ada9 512 512' '0 DISK ada9 -5 512' \
		    '99 PART ada2p1 512 512 i 1 o 0' '0 DISK' \
		    '3 PART ada3s1a 512 512 i 1 o 0'
		cat "$GEOM"
		printf '%s\n' '2 PART ada2p2 1024 512 i 9 o 0 ty freebsd-ufs'
	} >"$GEOM.new"
	mv "$GEOM.new" "$GEOM"
	added 3 "$DEV/ada2p1" w
	added 4 "$DEV/ada2p2" w
	add 5 "$DEV/ada2" w
	refused busy "*is the whole disk of the partition $DEV/ada2p1*"
}
