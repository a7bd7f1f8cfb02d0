#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# scripts/NetBSD/block on Linux CI: the real helpers, the test xenstore, real
# locks and block nodes made with mknod. What only NetBSD's kernel has is
# given to the helpers as files: the vnd(4) units as a vnd table
# (XEN_HOTPLUG_VNDTAB, one line a configured unit: UNIT DEV INO RO PATH,
# tab-separated, which xs-publish -N appends to and loop-detach -b -N
# removes from, as VNDIOCSET and VNDIOCCLR would), dom0's mounts as `mount
# -p` lines (XEN_HOTPLUG_MOUNTS, for getmntinfo(3)) and the raw partition
# (XEN_HOTPLUG_RAWPARTITION, for kern.rawpartition). No command is
# stubbed. Runs under $HOTPLUG_SH.
#
# Fake NetBSD disks (majors and minors as on NetBSD/amd64, 16 partitions a
# disk): sd is block major 4, vnd block major 14; sdNx / vndNx has minor
# N*16 + partition (a=0, d=3). xbdback's decimal dev_t is
#   ((maj << 8) & 0xfff00) | ((min << 12) & 0xfff00000) | (min & 0xff).
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
	mkdir -p "$DEV"
	export XEN_HOTPLUG_DEVDIR=$DEV XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock
	export XEN_HOTPLUG_VNDTAB=$XHP_TMP/vndtab XEN_HOTPLUG_MOUNTS=$XHP_TMP/mounts
	SCRIPT=$XHP_TOP/scripts/NetBSD/block
	mknod "$DEV/sd0a" b 4 0
	mknod "$DEV/sd0e" b 4 4
	mknod "$DEV/sd1d" b 4 19
	mknod "$DEV/sd16d" b 4 259
	make_vnds 4
	mounted "$DEV/sd0a" / rw
	IMG=$XHP_TMP/disk.img
	mkimage "$IMG"
}

teardown() {
	local p
	for p in ${ADD:-} ${HOLDER:-}; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	xhp_teardown
}

# make_vnds N: vnd0d..vnd(N-1)d, as MAKEDEV makes them.
make_vnds() {
	local i
	for i in $(seq 0 $(($1 - 1))); do
		mknod "$DEV/vnd${i}d" b 14 $((i * 16 + 3))
	done
}

# mkimage FILE: a non-empty image file.
mkimage() {
	head -c 65536 /dev/zero >"$1"
}

# mounted SOURCE MOUNTPOINT rw|ro: one more line of dom0's mount table,
# as NetBSD's `mount -p` prints it.
mounted() {
	printf '%s\t%s\tffs\t%s\t1 1\n' "$1" "$2" "$3" >>"$XHP_TMP/mounts"
}

# nbsd_dev MAJ MIN: the decimal NetBSD dev_t, computed here from the
# formula above, independently of the helpers.
nbsd_dev() {
	echo $(((($1 << 8) & 0xfff00) | (($2 << 12) & 0xfff00000) | ($2 & 0xff)))
}

# guest DOMID PARAMS MODE: a backend as libxl leaves it before running the
# script, and the guest's vm node. Sets B to the backend path.
guest() {
	B=$BE/$1/768
	xenstore-write "$B/params" "$2" "$B/mode" "$3" "$B/frontend-id" "$1" \
		"$B/state" 2 "$B/type" phy "/local/domain/$1/vm" "/vm/uuid-$1"
}

# block ARGS...: run the NetBSD script under $HOTPLUG_SH.
block() {
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr $HOTPLUG_SH "$SCRIPT" "$@"
}

# attach DOMID PARAMS MODE: guest + add, asserting success.
attach() {
	guest "$@"
	block "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
}

xsr() {
	xenstore-read "$1"
}

# vnd_state N: the vnd table's line of unit N ("" when free).
vnd_state() {
	grep "^$1	" "$XEN_HOTPLUG_VNDTAB" 2>/dev/null || true
}

# vnd_units: how many units are configured.
vnd_units() {
	if [ -e "$XEN_HOTPLUG_VNDTAB" ]; then wc -l <"$XEN_HOTPLUG_VNDTAB"; else echo 0; fi
}

# vnd_set N FILE [RO]: configure unit N with FILE behind the script's back,
# as another vnconfig(8) user would.
vnd_set() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$(stat -c %d "$2")" \
		"$(stat -c %i "$2")" "${3:-0}" "$2" >>"$XEN_HOTPLUG_VNDTAB"
}

# vnd_clr N: unconfigure unit N behind the script's back.
vnd_clr() {
	grep -v "^$1	" "$XEN_HOTPLUG_VNDTAB" >"$XHP_TMP/vndtab.tmp" || true
	mv "$XHP_TMP/vndtab.tmp" "$XEN_HOTPLUG_VNDTAB"
}

@test "block with the wrong number of arguments prints its usage and fails" {
	block "$BE/3/768"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == "usage: block BACKEND 2|6" ]]
}

@test "block refuses a relative backend path" {
	block backend/vbd/3/768 2
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"backend path must be absolute"* ]]
}

@test "block ignores states other than 2 and 6" {
	guest 3 "$DEV/sd1d" w
	block "$B" 4
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
	run xenstore-exists "$B/hotplug-status"
	[ "$status" -ne 0 ]
}

@test "adding a block device publishes its decimal dev_t, its path and connected" {
	guest 3 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(xsr "$B/physical-device")" = "$(nbsd_dev 4 19)" ]
	[ "$(xsr "$B/physical-device")" = 1043 ]
	[ "$(xsr "$B/physical-device-path")" = "$DEV/sd1d" ]
	[ "$(xsr "$B/hotplug-status")" = connected ]
	run xenstore-exists "$B/vnd"
	[ "$status" -ne 0 ]
	[ "$(vnd_units)" -eq 0 ]
}

@test "physical-device carries minors above 255 in the high bits, as NetBSD's makedev" {
	guest 3 "$DEV/sd16d" w
	block "$B" 2
	[ "$status" -eq 0 ]
	# major 4, minor 259: 4<<8 | 259<<12 & 0xfff00000 | 3
	[ "$(xsr "$B/physical-device")" = 1049603 ]
	[ "$(nbsd_dev 4 259)" = 1049603 ]
	# not Linux's hex major:minor
	[ "$(xsr "$B/physical-device")" != "4:103" ]
}

@test "removing a block device deletes the backend directory and nothing else" {
	attach 3 "$DEV/sd1d" w
	attach 4 "$DEV/sd0e" w
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$BE/4/768"
	[ "$status" -ne 0 ]
	[ "$(xsr "$BE/3/768/hotplug-status")" = connected ]
	[ -b "$DEV/sd0e" ]
}

@test "adding an image file configures a free vnd read-write and records it" {
	guest 3 "$IMG" w
	block "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	[ "$(xsr "$B/physical-device-path")" = "$DEV/vnd0d" ]
	[ "$(xsr "$B/physical-device")" = "$(nbsd_dev 14 3)" ]
	[ "$(xsr "$B/physical-device")" = 3587 ]
	[ "$(xsr "$B/hotplug-status")" = connected ]
	[ "$(vnd_state 0)" = "0	$(stat -c %d "$IMG")	$(stat -c %i "$IMG")	0	$IMG" ]
}

@test "an image file in mode r gets a read-only vnd" {
	guest 3 "$IMG" r
	block "$B" 2
	[ "$status" -eq 0 ]
	[[ "$(vnd_state 0)" == "0	"*"	1	$IMG" ]]
}

@test "the next image takes the next free vnd" {
	attach 3 "$IMG" w
	mkimage "$XHP_TMP/other.img"
	attach 4 "$XHP_TMP/other.img" w
	[ "$(xsr "$BE/4/768/vnd")" = "$DEV/vnd1d" ]
	[ "$(xsr "$BE/4/768/physical-device")" = "$(nbsd_dev 14 19)" ]
}

@test "a vnd configured by someone else is not taken" {
	mkimage "$XHP_TMP/other.img"
	vnd_set 0 "$XHP_TMP/other.img"
	attach 3 "$IMG" w
	[ "$(xsr "$B/vnd")" = "$DEV/vnd1d" ]
	[[ "$(vnd_state 0)" == *"	$XHP_TMP/other.img" ]]
	[[ "$(vnd_state 1)" == *"	$IMG" ]]
}

@test "a path with blanks is configured and published whole" {
	mkimage "$XHP_TMP/my disk.img"
	attach 3 "$XHP_TMP/my disk.img" w
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	[[ "$(vnd_state 0)" == *"	$XHP_TMP/my disk.img" ]]
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_units)" -eq 0 ]
}

@test "an image is attached and freed whatever the length of the device directory" {
	local d=$XHP_TMP/a/device/directory/longer/than/a/loop/device/name
	mkdir -p "$d"
	mknod "$d/vnd0d" b 14 3
	export XEN_HOTPLUG_DEVDIR=$d
	attach 3 "$IMG" w
	[ "$(xsr "$B/vnd")" = "$d/vnd0d" ]
	[ "$(xsr "$B/physical-device")" = 3587 ]
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_units)" -eq 0 ]
}

@test "removing an image file unconfigures its vnd and deletes the backend" {
	attach 3 "$IMG" w
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(vnd_state 0)" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "remove frees the recorded vnd even when params and the image are gone" {
	attach 3 "$IMG" w
	xenstore-rm "$B/params"
	rm -f "$IMG"
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state 0)" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "remove frees exactly the recorded vnd, not another one backing the same image" {
	attach 3 "$IMG" r
	attach 4 "$IMG" r
	[ "$(xsr "$BE/4/768/vnd")" = "$DEV/vnd1d" ]
	block "$BE/3/768" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state 0)" = "" ]
	[ -n "$(vnd_state 1)" ]
}

@test "remove of an already unconfigured vnd succeeds" {
	attach 3 "$IMG" w
	vnd_clr 0
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "remove run twice is done the second time" {
	attach 3 "$IMG" w
	block "$B" 6
	[ "$status" -eq 0 ]
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "add records the image's identity, INODE:FSDEV, so that remove can check the vnd" {
	attach 3 "$IMG" w
	[ "$(xsr "$B/vnd-file-id")" = "$(stat -c %i "$IMG"):$(stat -c %d "$IMG")" ]
}

@test "vnd detach refuses a unit re-used for another image, and leaves it configured" {
	attach 3 "$IMG" w
	# vnd0 freed behind the script's back and taken for another image
	vnd_clr 0
	mkimage "$XHP_TMP/other.img"
	vnd_set 0 "$XHP_TMP/other.img"
	block "$B" 6
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"unable to unconfigure $DEV/vnd0d: it backs $(stat -c %i "$XHP_TMP/other.img"):"*"left alone"* ]]
	[[ "$(vnd_state 0)" == *"	$XHP_TMP/other.img" ]]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "vnd detach refuses a unit re-used for another image even when the name is the same" {
	attach 3 "$IMG" w
	vnd_clr 0
	# a new file under the old name: another inode (made while the old
	# one still exists, so the inode number cannot be reused)
	mkimage "$XHP_TMP/new.img"
	mv "$XHP_TMP/new.img" "$IMG"
	vnd_set 0 "$IMG"
	block "$B" 6
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"left alone"* ]]
	[ -n "$(vnd_state 0)" ]
}

@test "remove frees a vnd recorded without an identity, as by an older script" {
	attach 3 "$IMG" w
	xenstore-rm "$B/vnd-file-id"
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state 0)" = "" ]
}

@test "remove understands the older INODE:/dev/NAME identity" {
	mknod "$DEV/fsdev" b "$(($(stat -c %d "$IMG") >> 8))" "$(($(stat -c %d "$IMG") & 0xff))"
	attach 3 "$IMG" w
	xenstore-write "$B/vnd-file-id" "$(stat -c %i "$IMG"):$DEV/fsdev"
	block "$B" 6
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(vnd_state 0)" = "" ]
}

@test "remove keeps the backend and reports when the vnd is still open" {
	attach 3 "$IMG" w
	mkdir "$XEN_HOTPLUG_VNDTAB.open"
	: >"$XEN_HOTPLUG_VNDTAB.open/vnd0"
	block "$B" 6
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unable to unconfigure $DEV/vnd0d: Device or resource busy"* ]]
	[ -n "$(vnd_state 0)" ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"busy"* ]]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
}

@test "remove refuses a vnd node that does not name a vnd device" {
	guest 3 "$DEV/sd1d" w
	for v in "$DEV/sd1d" "$DEV/vnd0a" "$DEV/vnd00d" /dev/vnd0d "$DEV/vnd0d/../vnd1d" "$DEV/vnd-1d"; do
		xenstore-write "$B/vnd" "$v"
		block "$B" 6
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"refusing to unconfigure $v: not a vnd device"* ]]
		[ "$(xsr "$B/hotplug-status")" = error ]
	done
}

@test "remove refuses a vnd-file-id that is not INODE:FSDEV, and keeps the unit" {
	attach 3 "$IMG" w
	xenstore-write "$B/vnd-file-id" "12x:3"
	block "$B" 6
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"vnd-file-id '12x:3' is not INODE:FSDEV"* ]]
	[ -n "$(vnd_state 0)" ]
}

@test "vnd exhaustion fails with a clear error and leaves nothing configured" {
	rm -f "$DEV"/vnd*d
	make_vnds 2
	attach 3 "$IMG" w
	mkimage "$XHP_TMP/b.img"
	attach 4 "$XHP_TMP/b.img" w
	mkimage "$XHP_TMP/c.img"
	guest 5 "$XHP_TMP/c.img" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"no free vnd device for $XHP_TMP/c.img: all in use (vnd0 vnd1)"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"no free vnd device for $XHP_TMP/c.img: all in use (vnd0 vnd1)" ]]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
	run xenstore-exists "$B/vnd"
	[ "$status" -ne 0 ]
	[ "$(vnd_units)" -eq 2 ]
}

@test "with no vnd nodes at all the error says so" {
	rm -f "$DEV"/vnd*d
	guest 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == *"no free vnd device for $IMG: no vnd nodes in $DEV" ]]
}

@test "a device given read-write to another guest is busy for a writer" {
	attach 3 "$DEV/sd1d" w
	guest 4 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == "Device $DEV/sd1d (device 1043) is already used by another guest through "*"vbd/3/768, and so cannot be attached read-write now." ]]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
}

@test "a device given read-write to another guest is busy for a reader too" {
	attach 3 "$DEV/sd1d" w
	guest 4 "$DEV/sd1d" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "a device given read-only to another guest can be shared read-only" {
	attach 3 "$DEV/sd1d" r
	attach 4 "$DEV/sd1d" r
	[ "$(xsr "$B/physical-device")" = 1043 ]
}

@test "a device given read-only to another guest is busy for a writer" {
	attach 3 "$DEV/sd1d" r
	guest 4 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "mode w! skips the sharing check" {
	attach 3 "$DEV/sd1d" w
	attach 4 "$DEV/sd1d" 'w!'
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "an image already on another guest's read-write vnd is busy, and no vnd is spent" {
	attach 3 "$IMG" w
	guest 4 "$IMG" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == "File $IMG (device 3587) is already used read-write by another guest through "*"vbd/3/768, and so cannot be attached read-only now." ]]
	[ "$(vnd_state 1)" = "" ]
	[ "$(vnd_units)" -eq 1 ]
}

@test "an image reached through a symlink is still recognised as in use" {
	attach 3 "$IMG" w
	ln -s "$IMG" "$XHP_TMP/link.img"
	guest 4 "$XHP_TMP/link.img" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "an image reached through a hardlink is still recognised as in use" {
	attach 3 "$IMG" w
	ln "$IMG" "$XHP_TMP/hard.img"
	guest 4 "$XHP_TMP/hard.img" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[ "$(vnd_units)" -eq 1 ]
}

@test "an image read-only on another guest can be shared read-only on a second vnd" {
	attach 3 "$IMG" r
	attach 4 "$IMG" r
	[ "$(xsr "$BE/3/768/vnd")" = "$DEV/vnd0d" ]
	[ "$(xsr "$BE/4/768/vnd")" = "$DEV/vnd1d" ]
	[[ "$(vnd_state 1)" == "1	"*"	1	$IMG" ]]
}

@test "a different image with the same name elsewhere is not a conflict" {
	attach 3 "$IMG" w
	mkdir "$XHP_TMP/b"
	mkimage "$XHP_TMP/b/disk.img"
	attach 4 "$XHP_TMP/b/disk.img" w
	[ "$(xsr "$B/vnd")" = "$DEV/vnd1d" ]
}

@test "a path-only writer's device is found by stat of physical-device-path" {
	guest 3 "$DEV/sd1d" w
	xenstore-write "$B/physical-device-path" "$DEV/sd1d"
	guest 4 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == *"vbd/3/768, and so cannot be attached read-write now." ]]
}

@test "a path-only writer's vnd is found when the same image is asked for" {
	vnd_set 2 "$IMG"
	guest 3 "$IMG" w
	xenstore-write "$B/physical-device-path" "$DEV/vnd2d"
	guest 4 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[ "$(vnd_units)" -eq 1 ]
}

@test "another guest's vnd is seen through the image behind it, whatever the vnd's name" {
	# guest 3 has vnd2 (configured over the image by someone else, its
	# physical-device written by hand): the image itself is busy for 4
	vnd_set 2 "$IMG"
	guest 3 "$DEV/vnd2d" w
	block "$B" 2
	[ "$status" -eq 0 ]
	guest 4 "$IMG" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

# stubdom_add PARAMS: guest 3 has PARAMS read-write; its device model
# stubdomain, domain 7 (target 3, its own vm node), asks for it too.
stubdom_add() {
	attach 3 "$1" w
	xenstore-write /local/domain/7/target 3 /local/domain/7/vm /vm/uuid-7
	B=$BE/7/768
	xenstore-write "$B/params" "$1" "$B/mode" w "$B/frontend-id" 7 "$B/state" 2
	block "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
}

@test "a stubdomain and its guest may share a device read-write" {
	stubdom_add "$DEV/sd1d"
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "a stubdomain and its guest may share an image read-write" {
	stubdom_add "$IMG"
	[ "$(xsr "$B/vnd")" = "$DEV/vnd1d" ]
}

@test "a device mounted read-write in dom0 is busy, even for a reader" {
	mounted "$DEV/sd0e" /data rw
	guest 3 "$DEV/sd0e" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[ "$(xsr "$B/hotplug-error")" = "Device $DEV/sd0e (device 1028) is mounted read-write in the privileged domain at /data, and so cannot be attached read-only to a guest." ]
}

@test "a device mounted read-only in dom0 can be given read-only but not read-write" {
	mounted "$DEV/sd0e" /data ro
	attach 3 "$DEV/sd0e" r
	guest 4 "$DEV/sd0e" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "a whole disk is busy while one of its partitions is mounted in dom0" {
	mknod "$DEV/sd0d" b 4 3
	guest 3 "$DEV/sd0d" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == "Device $DEV/sd0d "*"is a partition of the disk, mounted read-write in the privileged domain at /"* ]]
}

@test "another partition of a disk with a mounted partition stays free" {
	attach 3 "$DEV/sd0e" w
	[ "$(xsr "$B/physical-device")" = "$(nbsd_dev 4 4)" ]
}

@test "the raw partition follows XEN_HOTPLUG_RAWPARTITION (kern.rawpartition)" {
	mknod "$DEV/sd0c" b 4 2
	mknod "$DEV/sd0d" b 4 3
	export XEN_HOTPLUG_RAWPARTITION=2
	guest 3 "$DEV/sd0c" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	attach 4 "$DEV/sd0d" w
}

@test "an image whose vnd partition is mounted in dom0 is busy" {
	mknod "$DEV/vnd0a" b 14 0
	vnd_set 0 "$IMG"
	mounted "$DEV/vnd0a" /mnt rw
	guest 3 "$IMG" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == *"mounted read-write in the privileged domain at /mnt"* ]]
	[ "$(vnd_units)" -eq 1 ]
}

@test "mounts of non-device sources are ignored" {
	mounted tmpfs /tmp rw
	mounted kernfs /kern rw
	attach 3 "$DEV/sd1d" w
}

@test "an image whose vnd is mounted read-write in dom0 is busy" {
	vnd_set 0 "$IMG"
	mounted "$DEV/vnd0d" /mnt rw
	guest 3 "$IMG" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == *"mounted read-write in the privileged domain at /mnt"* ]]
}

@test "a second add for the same backend changes nothing and spends no vnd" {
	attach 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	[ "$(vnd_units)" -eq 1 ]
}

@test "a read-only image is refused read-write and no vnd is spent" {
	chmod 0444 "$IMG"
	guest 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == *"read-only"* ]]
	[ "$(vnd_units)" -eq 0 ]
}

@test "an empty image is refused" {
	: >"$IMG"
	guest 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"is empty"* ]]
	[ "$(vnd_units)" -eq 0 ]
}

@test "a backend without mode is an error" {
	guest 3 "$DEV/sd1d" w
	xenstore-rm "$B/mode"
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == "$B has no mode" ]]
}

@test "remove of a backend that is already gone succeeds and recreates nothing" {
	guest 3 "$DEV/sd1d" w
	xenstore-rm "$B"
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "add of a backend that is already gone fails and recreates nothing" {
	guest 3 "$IMG" w
	xenstore-rm "$B"
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"is gone"* ]]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
	[ "$(vnd_units)" -eq 0 ]
}

@test "block works with a PATH that lacks the system directories" {
	# libxl adds no environment: xenstore-* come from the standard
	# directories the shim appends; the helpers from the helper directory.
	local sh_path
	sh_path=$(command -v "${HOTPLUG_SH%% *}")
	guest 3 "$IMG" w
	# shellcheck disable=SC2086 # the shell's own arguments ("sh" of busybox)
	run --separate-stderr env PATH="$XHP_BIN" \
		"$sh_path" ${HOTPLUG_SH#"${HOTPLUG_SH%% *}"} "$SCRIPT" "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
}

@test "in the source tree block finds the helpers in build/bin by itself" {
	guest 3 "$DEV/sd1d" w
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -u XEN_HOTPLUG_HELPERDIR \
		PATH="/usr/bin:/bin" $HOTPLUG_SH "$SCRIPT" "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/physical-device")" = 1043 ]
}

@test "params that is neither a device nor a file is an error" {
	guest 3 "$XHP_TMP" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == "$XHP_TMP is a directory, not a block device or image file" ]]
}

@test "empty params is an error" {
	guest 3 "" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == *"has no params"* ]]
}

@test "hostile params and modes are refused with nothing configured" {
	mkfifo "$XHP_TMP/fifo"
	ln -s "$XHP_TMP/nowhere" "$XHP_TMP/dangling"
	for p in "$XHP_TMP/fifo" "$XHP_TMP/dangling" /dev/null ../../etc/passwd "$XHP_TMP/missing"; do
		guest 3 "$p" w
		block "$B" 2
		[ "$status" -eq 1 ]
		[ "$(xsr "$B/hotplug-status")" = error ]
		run xenstore-exists "$B/physical-device-path"
		[ "$status" -ne 0 ]
	done
	for m in x 'r;w' ''; do
		guest 3 "$IMG" "$m"
		block "$B" 2
		[ "$status" -eq 1 ]
		[ "$(xsr "$B/hotplug-status")" = error ]
	done
	guest 3 "$IMG" w
	xenstore-write "$B/frontend-id" 99999
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == "invalid frontend-id '99999' in $B" ]]
	[ "$(vnd_units)" -eq 0 ]
}

@test "a backend of another type runs block-TYPE, and a hostile type is refused" {
	guest 3 "$IMG" w
	xenstore-write "$B/type" '../../bin/sh'
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	xenstore-write "$B/type" nbd
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"backend type 'nbd' is not supported"* ]]
	[ "$(vnd_units)" -eq 0 ]
}

# hold_lock: another script holds the hotplug lock, with upstream's
# protocol, until release_holder; HOLDER is its pid.
hold_lock() {
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # $1 is for the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c ': >"$1"
		while [ ! -e "$1.go" ]; do sleep 0.05; done' sh "$XHP_TMP/held" 3>&- &
	HOLDER=$!
	until [ -e "$XHP_TMP/held" ]; do sleep 0.02; done
}

release_holder() {
	: >"$XHP_TMP/held.go"
	wait "$HOLDER" || true
	HOLDER=
}

@test "a block device add takes the shared lock file and leaves it free" {
	attach 3 "$DEV/sd1d" w
	# xs-publish releases by closing: the file stays, unlocked.
	[ -f "$XHP_TMP/lock/block" ]
	run flock-wrap -w 0 "$XHP_TMP/lock/block" true
	[ "$status" -eq 0 ]
}

@test "an image add and its remove take the shared lock and leave it free" {
	attach 3 "$IMG" w
	run flock-wrap -w 0 "$XHP_TMP/lock/block" true
	[ "$status" -eq 0 ]
	block "$B" 6
	[ "$status" -eq 0 ]
	run flock-wrap -w 0 "$XHP_TMP/lock/block" true
	[ "$status" -eq 0 ]
}

@test "a block device add gives up within XEN_HOTPLUG_LOCK_TIMEOUT naming the holder" {
	hold_lock
	guest 3 "$DEV/sd1d" w
	XEN_HOTPLUG_LOCK_TIMEOUT=0.3 block "$B" 2
	release_holder
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"xs-publish: fatal: unable to lock $XHP_TMP/lock/block within 0.3 s: held by pid"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"held by pid"* ]]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
}

@test "a remove gives up within XEN_HOTPLUG_LOCK_TIMEOUT and keeps the vnd and its record" {
	attach 3 "$IMG" w
	hold_lock
	XEN_HOTPLUG_LOCK_TIMEOUT=0.3 block "$B" 6
	release_holder
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"held by pid"* ]]
	[ -n "$(vnd_state 0)" ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
}

@test "with XEN_HOTPLUG_DEBUG an add logs the result and the lock timings" {
	guest 3 "$IMG" w
	XEN_HOTPLUG_DEBUG=1 block "$B" 2
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == "block: debug: add $B: "*"$DEV/vnd0d"* ]]
	[[ "$stderr" =~ xs-publish:\ check\ [0-9]+\ us,.*under\ lock\ [0-9]+\ us ]]
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "without XEN_HOTPLUG_DEBUG an add logs nothing" {
	guest 3 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
}

# add_paused POINT: the script's add in the background, paused at POINT
# (start_paused).
add_paused() {
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	start_paused "$1" $HOTPLUG_SH "$SCRIPT" "$B" 2
}

# teardown_as_libxl: online=0 and state=5 in one write, as libxl_device.c.
teardown_as_libxl() {
	xenstore-write "$B/online" 0 "$B/state" 5
}

nothing_published() {
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
	run xenstore-exists "$B/physical-device-path"
	[ "$status" -ne 0 ]
	run xenstore-exists "$B/vnd"
	[ "$status" -ne 0 ]
	[ "$(vnd_units)" -eq 0 ]
}

@test "an add whose backend is torn down while it waits for the lock publishes nothing and leaks no vnd" {
	guest 3 "$IMG" w
	add_paused wait
	teardown_as_libxl
	kill -CONT "$HELPER"
	wait "$ADD" || true
	ADD=
	[[ "$(cat "$XHP_TMP/add.out")" == *"being torn down"* || "$(cat "$XHP_TMP/add.out")" == *"closed or removed"* ]]
	nothing_published
	run xenstore-exists "$B/hotplug-status"
	[ "$status" -ne 0 ]
}

@test "an add whose backend is removed after the vnd attach frees the vnd and recreates nothing" {
	guest 3 "$IMG" w
	add_paused attached
	[ "$(vnd_units)" -eq 1 ]
	xenstore-rm "$B"
	kill -CONT "$HELPER"
	wait "$ADD" || true
	ADD=
	[[ "$(cat "$XHP_TMP/add.out")" == *"is gone"* ]]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
	[ "$(vnd_units)" -eq 0 ]
}

@test "an image removed while the add waits for the lock is refused, nothing configured" {
	guest 3 "$IMG" w
	add_paused locked
	rm "$IMG"
	kill -CONT "$HELPER"
	wait "$ADD" || true
	ADD=
	[[ "$(cat "$XHP_TMP/add.out")" == *"unable to configure vnd0 with $IMG: No such file or directory"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	nothing_published
}

@test "the add's script SIGKILLed after the vnd attach: the orphan frees its vnd before the commit" {
	guest 3 "$IMG" w
	add_paused attached
	[ "$(vnd_units)" -eq 1 ]
	kill -9 "$ADD"
	wait "$ADD" || true
	ADD=
	teardown_as_libxl
	kill -CONT "$HELPER"
	gone_wait "$HELPER"
	nothing_published
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_units)" -eq 0 ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "the add's script SIGKILLed with the helper about to commit: nothing is published, an add after it works" {
	guest 3 "$IMG" w
	add_paused commit
	kill -9 "$ADD"
	wait "$ADD" || true
	ADD=
	kill -CONT "$HELPER"
	gone_wait "$HELPER"
	nothing_published
	block "$B" 2
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	[ "$(vnd_units)" -eq 1 ]
}

# execs TRACE [NAME]: the programs the run executed (execve that
# succeeded), the script's shell included; with NAME, only those whose path
# ends in /NAME. In a trace=process log the parent's wait4 may cut the
# child's execve in two ("<unfinished ...>", then "<... execve resumed>")
# when the machine is busy: the path is on the first line, the return on
# the second, so count by the pid's last execve path, as forks does.
execs() {
	awk -v name="${2:-}" '
	    function ok(p) { if (name == "" || p ~ ("/" name "$")) n++ }
	    $2 ~ /^execve\(/ {
		p = $2; sub(/^execve\("/, "", p); sub(/".*/, "", p); path[$1] = p
		if ($(NF - 1) == "=" && $NF == "0") ok(p)
		next
	    }
	    $2 == "<..." && $3 == "execve" && $(NF - 1) == "=" && $NF == "0" {
		ok(path[$1])
	    }
	    END { print n + 0 }' "$1"
}

# forks TRACE: the processes the script started in an strace -f -e
# trace=process log. A call counts by its return, on the call's line or
# on its "<... clone resumed>" line; an interrupted call that the kernel
# restarts (ERESTARTNOINTR) is not counted twice.
forks() {
	awk '($2 ~ /^(clone|clone3|fork|vfork)\(/ ||
		    ($2 == "<..." && $3 ~ /^(clone|clone3|fork|vfork)$/)) &&
		    $(NF - 1) == "=" && $NF ~ /^[0-9]+$/ { n++ }
		END { print n + 0 }' "$1"
}

# traced DOMID PARAMS MODE NAME: an add under strace into $XHP_TMP/NAME.
traced() {
	guest "$1" "$2" "$3"
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	strace -f -e trace=process -o "$XHP_TMP/$4" $HOTPLUG_SH "$SCRIPT" "$B" 2
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "an add is 2 processes, the script and the helper, phy or image, with 50 other backends and 50 mounts as with none" {
	command -v strace >/dev/null || skip "strace not installed"
	local d
	traced 3 "$DEV/sd1d" w phy1
	traced 5 "$IMG" w img1
	set --
	for d in $(seq 100 149); do
		mknod "$DEV/sd${d}e" b 4 $((d * 16 + 4))
		mounted "$DEV/sd${d}e" "/m$d" rw
		set -- "$@" "$BE/$d/768/physical-device" \
		    "$(nbsd_dev 4 $((d * 16 + 4)))" "$BE/$d/768/mode" w \
		    "$BE/$d/768/frontend-id" "$d"
	done
	xenstore-write "$@"
	traced 4 "$DEV/sd0e" w phy50
	mkimage "$XHP_TMP/b.img"
	traced 6 "$XHP_TMP/b.img" w img50
	for t in phy1 img1 phy50 img50; do
		echo "$t: $(execs "$XHP_TMP/$t") execs, $(forks "$XHP_TMP/$t") forks" >&3
		[ "$(execs "$XHP_TMP/$t")" -eq 2 ]
		[ "$(forks "$XHP_TMP/$t")" -le 1 ]
		[ "$(execs "$XHP_TMP/$t" xs-publish)" -eq 1 ]
	done
}

@test "a remove is 2 processes, the script and the helper" {
	command -v strace >/dev/null || skip "strace not installed"
	attach 3 "$IMG" w
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	strace -f -e trace=process -o "$XHP_TMP/rm" $HOTPLUG_SH "$SCRIPT" "$B" 6
	[ "$(vnd_units)" -eq 0 ]
	[ "$(execs "$XHP_TMP/rm")" -eq 2 ]
	[ "$(execs "$XHP_TMP/rm" loop-detach)" -eq 1 ]
}

@test "add waits for the hotplug lock held by another script" {
	hold_lock
	guest 3 "$IMG" w
	add_paused wait
	kill -CONT "$HELPER"
	# still waiting: nothing configured while the lock is held
	sleep 0.3
	[ "$(vnd_units)" -eq 0 ]
	release_holder
	wait "$ADD"
	ADD=
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
}

@test "add gives up within XEN_HOTPLUG_LOCK_TIMEOUT naming the holder, and changes nothing" {
	hold_lock
	guest 3 "$IMG" w
	XEN_HOTPLUG_LOCK_TIMEOUT=0.3 block "$B" 2
	release_holder
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unable to lock $XHP_TMP/lock/block within"*"held by pid"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"held by pid"* ]]
	[ "$(vnd_units)" -eq 0 ]
}

# adds_at_once DOMID...: the adds of those guests' backends, all started
# together; returns when all are done.
adds_at_once() {
	local d p pids=
	for d in "$@"; do
		# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
		$HOTPLUG_SH "$SCRIPT" "$BE/$d/768" 2 2>/dev/null 3>&- &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || true; done
}

@test "concurrent adds of one device read-write: exactly one guest gets it" {
	local d
	for d in 3 4 5 6; do
		guest "$d" "$DEV/sd1d" w
	done
	adds_at_once 3 4 5 6
	run sh -c 'for d in 3 4 5 6; do xenstore-read "$1/$d/768/hotplug-status"; done' sh "$BE"
	echo "$output"
	[ "$(printf '%s\n' "$output" | grep -c '^connected$')" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c '^busy$')" -eq 3 ]
}

@test "concurrent adds of one image read-write: exactly one guest gets it, one vnd is spent" {
	local d
	for d in 3 4 5 6; do
		guest "$d" "$IMG" w
	done
	adds_at_once 3 4 5 6
	run sh -c 'for d in 3 4 5 6; do xenstore-read "$1/$d/768/hotplug-status"; done' sh "$BE"
	[ "$(printf '%s\n' "$output" | grep -c '^connected$')" -eq 1 ]
	[ "$(vnd_units)" -eq 1 ]
}

@test "concurrent adds of different images get different vnds" {
	local d
	for d in 3 4 5 6; do
		mkimage "$XHP_TMP/$d.img"
		guest "$d" "$XHP_TMP/$d.img" w
	done
	adds_at_once 3 4 5 6
	run sh -c 'for d in 3 4 5 6; do xenstore-read "$1/$d/768/vnd"; done' sh "$BE"
	echo "$output"
	[ "$(printf '%s\n' "$output" | sort -u | wc -l)" -eq 4 ]
	[ "$(vnd_units)" -eq 4 ]
}

# lib SNIPPET ARGS...: run SNIPPET in a script beside block that sources
# block-common.sh, as a third-party block-* script does; XENBUS_PATH=$B.
lib() {
	local s=$XHP_TOP/scripts/NetBSD/test-lib.$$
	# shellcheck disable=SC2016 # expanded by the script it becomes
	printf '%s\n' '. "${0%/*}/block-common.sh"' "XENBUS_PATH=$B" "$1" >"$s"
	shift
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr $HOTPLUG_SH "$s" "$@"
	rm -f "$s"
}

@test "block-common.sh: canonicalise_mode prints r, w or ! as upstream's" {
	guest 3 "$DEV/sd1d" w
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'for m in r ro w rw "w!" "rw!" x; do canonicalise_mode "$m"; done'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'r\nr\nw\nw\n!\n!\nr')" ]
}

@test "block-common.sh: check_sharing sees other guests, dom0's mounts and the raw partition" {
	attach 3 "$DEV/sd1d" w
	mknod "$DEV/sd0d" b 4 3
	guest 4 "$DEV/sd1d" w
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'check_sharing "$1" w && echo free; echo "$xhp_sharing"' "$DEV/sd1d"
	[ "$status" -eq 0 ]
	[[ "$output" == "guest 1043 "*"vbd/3/768" ]]
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'check_sharing "$1" r && echo free; echo "$xhp_sharing"' "$DEV/sd0d"
	echo "$output $stderr"
	[ "$output" = "local 1024 /" ] # the mount of sd0a, over sd0d
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'check_sharing "$1" w && echo free; echo "$xhp_sharing"' "$DEV/sd0e"
	[ "$output" = "$(printf 'free\nok')" ]
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'check_sharing "$1" w && echo free; echo "$xhp_sharing"' "$IMG"
	[ "$output" = "$(printf 'free\nok')" ]
}

@test "block-common.sh: check_sharing sees an image through the vnd of another guest" {
	attach 3 "$IMG" w
	guest 4 "$IMG" r
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'check_sharing "$1" r && echo free; echo "$xhp_sharing"' "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == "guest 3587 "*"vbd/3/768" ]]
}

@test "block-common.sh: write_dev publishes a device in one transaction with connected" {
	guest 3 "$DEV/sd1d" w
	# shellcheck disable=SC2016 # expanded by the script it becomes
	lib 'write_dev "$1" extra=1 && echo written' "$DEV/sd1d"
	[ "$status" -eq 0 ]
	[ "$output" = written ]
	[ "$(xsr "$B/physical-device")" = 1043 ]
	[ "$(xsr "$B/extra")" = 1 ]
	[ "$(xsr "$B/hotplug-status")" = connected ]
}
