#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# scripts/NetBSD/block on Linux CI: the real helpers, the test xenstore, real
# locks, block nodes made with mknod, and stubs (tests/stubs/netbsd) for the
# NetBSD-only commands vnconfig, sysctl and mount. Runs under $HOTPLUG_SH.
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
	export PATH="$XHP_TOP/tests/stubs/netbsd:$PATH"
	SCRIPT=$XHP_TOP/scripts/NetBSD/block
	mknod "$DEV/sd0a" b 4 0
	mknod "$DEV/sd0e" b 4 4
	mknod "$DEV/sd1d" b 4 19
	mknod "$DEV/sd16d" b 4 259
	make_vnds 4
	printf '%s on / type ffs (local)\n' "$DEV/sd0a" >"$XHP_TMP/mount.out"
	IMG=$XHP_TMP/disk.img
	: >"$IMG"
}

teardown() {
	xhp_teardown
}

# make_vnds N: vnd0d..vnd(N-1)d, as MAKEDEV makes them.
make_vnds() {
	local i
	for i in $(seq 0 $(($1 - 1))); do
		mknod "$DEV/vnd${i}d" b 14 $((i * 16 + 3))
	done
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

# vnd_state UNIT: the vnconfig stub's record of UNIT ("" when free).
vnd_state() {
	grep "^$1	" "$XHP_TMP/vnconfig.state" || true
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
	run vnd_state vnd0
	[[ "$output" == "vnd0	rw	"*"	$IMG" ]]
	run vnconfig -l vnd0
	[[ "$output" == "vnd0: "*" inode $(stat -c %i "$IMG")" ]]
}

@test "an image file in mode r gets a read-only vnd" {
	guest 3 "$IMG" r
	block "$B" 2
	[ "$status" -eq 0 ]
	run vnd_state vnd0
	[[ "$output" == "vnd0	ro	"* ]]
}

@test "the next image takes the next free vnd" {
	attach 3 "$IMG" w
	: >"$XHP_TMP/other.img"
	attach 4 "$XHP_TMP/other.img" w
	[ "$(xsr "$BE/4/768/vnd")" = "$DEV/vnd1d" ]
	[ "$(xsr "$BE/4/768/physical-device")" = "$(nbsd_dev 14 19)" ]
}

@test "a vnd that sysctl hw.disknames lists is not taken" {
	echo vnd0 >"$XHP_TMP/sysctl.disknames"
	attach 3 "$IMG" w
	[ "$(xsr "$B/vnd")" = "$DEV/vnd1d" ]
	[ "$(vnd_state vnd0)" = "" ]
}

@test "a vnd taken by another vnconfig user after the scan is skipped" {
	# The race upstream also tolerates: vnd0 looked free, then someone
	# else's vnconfig got it first, so VNDIOCSET says busy.
	mkdir "$XHP_TMP/wrap"
	: >"$XHP_TMP/other.img"
	cat >"$XHP_TMP/wrap/vnconfig" <<EOF
#!/bin/sh
case "\$1" in
-*) ;;
*) [ -e "$XHP_TMP/raced" ] || { : >"$XHP_TMP/raced"
	"$XHP_TOP/tests/stubs/netbsd/vnconfig" "$DEV/vnd0d" "$XHP_TMP/other.img"; } ;;
esac
exec "$XHP_TOP/tests/stubs/netbsd/vnconfig" "\$@"
EOF
	chmod +x "$XHP_TMP/wrap/vnconfig"
	guest 3 "$IMG" w
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd1d" ]
	[[ "$(vnd_state vnd0)" == *"	$XHP_TMP/other.img" ]]
	[[ "$(vnd_state vnd1)" == *"	$IMG" ]]
}

@test "removing an image file unconfigures its vnd and deletes the backend" {
	attach 3 "$IMG" w
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(vnd_state vnd0)" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "remove frees the recorded vnd even when params and the image are gone" {
	attach 3 "$IMG" w
	xenstore-rm "$B/params"
	rm -f "$IMG"
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state vnd0)" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "remove frees exactly the recorded vnd, not another one backing the same image" {
	attach 3 "$IMG" r
	attach 4 "$IMG" r
	[ "$(xsr "$BE/4/768/vnd")" = "$DEV/vnd1d" ]
	block "$BE/3/768" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state vnd0)" = "" ]
	[ -n "$(vnd_state vnd1)" ]
}

@test "remove of an already unconfigured vnd succeeds" {
	attach 3 "$IMG" w
	vnconfig -u vnd0
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "add records the image's identity so that remove can check the vnd" {
	attach 3 "$IMG" w
	[[ "$(xsr "$B/vnd-file-id")" == "$(stat -c %i "$IMG"):"?* ]]
}

@test "remove leaves alone a vnd that now backs another file" {
	attach 3 "$IMG" w
	# vnd0 freed behind the script's back and taken for another image
	vnconfig -u vnd0
	: >"$XHP_TMP/other.img"
	vnconfig "$DEV/vnd0d" "$XHP_TMP/other.img"
	block "$B" 6
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"$DEV/vnd0d now backs another file"*"left alone"* ]]
	[[ "$(vnd_state vnd0)" == *"	$XHP_TMP/other.img" ]]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "remove frees a vnd recorded without an identity, as by an older script" {
	attach 3 "$IMG" w
	xenstore-rm "$B/vnd-file-id"
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state vnd0)" = "" ]
}

@test "remove keeps the backend and reports when the vnd is still open" {
	attach 3 "$IMG" w
	mkdir "$XHP_TMP/vnconfig.open"
	: >"$XHP_TMP/vnconfig.open/vnd0"
	block "$B" 6
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unable to unconfigure $DEV/vnd0d"*"Device busy"* ]]
	[ -n "$(vnd_state vnd0)" ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"Device busy"* ]]
}

@test "remove refuses a vnd node that does not name a vnd device" {
	guest 3 "$DEV/sd1d" w
	xenstore-write "$B/vnd" "$DEV/sd1d"
	block "$B" 6
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"refusing to unconfigure $DEV/sd1d: not a vnd device"* ]]
}

@test "vnd exhaustion fails with a clear error and leaves nothing configured" {
	rm -f "$DEV"/vnd*d
	make_vnds 2
	attach 3 "$IMG" w
	: >"$XHP_TMP/b.img"
	attach 4 "$XHP_TMP/b.img" w
	: >"$XHP_TMP/c.img"
	guest 5 "$XHP_TMP/c.img" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"no free vnd device for $XHP_TMP/c.img: all in use (vnd0 vnd1)"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == "no free vnd device for $XHP_TMP/c.img: all in use (vnd0 vnd1)" ]]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
	[ "$(wc -l <"$XHP_TMP/vnconfig.state")" -eq 2 ]
}

@test "with no vnd nodes at all the error says so" {
	rm -f "$DEV"/vnd*d
	guest 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == "no free vnd device for $IMG: no vnd nodes in $DEV" ]]
}

@test "a device given read-write to another guest is busy for a writer" {
	attach 3 "$DEV/sd1d" w
	guest 4 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == *"$DEV/sd1d (device 1043) is already given to another guest by "*"vbd/3/768" ]]
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
	[[ "$(xsr "$B/hotplug-error")" == *"$IMG (device 3587) is already given to another guest by "*"vbd/3/768" ]]
	[ "$(vnd_state vnd1)" = "" ]
}

@test "an image reached through a symlink is still recognised as in use" {
	attach 3 "$IMG" w
	ln -s "$IMG" "$XHP_TMP/link.img"
	guest 4 "$XHP_TMP/link.img" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "an image read-only on another guest can be shared read-only on a second vnd" {
	attach 3 "$IMG" r
	attach 4 "$IMG" r
	[ "$(xsr "$BE/3/768/vnd")" = "$DEV/vnd0d" ]
	[ "$(xsr "$BE/4/768/vnd")" = "$DEV/vnd1d" ]
	[[ "$(vnd_state vnd1)" == "vnd1	ro	"* ]]
}

@test "a different image with the same name elsewhere is not a conflict" {
	attach 3 "$IMG" w
	mkdir "$XHP_TMP/b"
	: >"$XHP_TMP/b/disk.img"
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
	[[ "$(xsr "$B/hotplug-error")" == *"vbd/3/768" ]]
}

@test "a path-only writer's vnd is found when the same image is asked for" {
	vnconfig "$DEV/vnd2d" "$IMG"
	guest 3 "$IMG" w
	xenstore-write "$B/physical-device-path" "$DEV/vnd2d"
	guest 4 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "a stubdomain and its guest may share a device read-write" {
	attach 3 "$DEV/sd1d" w
	# domain 7 is the device model stubdomain of guest 3
	xenstore-write /local/domain/7/target 3 /local/domain/7/vm /vm/uuid-7
	B=$BE/7/768
	xenstore-write "$B/params" "$DEV/sd1d" "$B/mode" w "$B/frontend-id" 7 "$B/state" 2
	block "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "a device mounted read-write in dom0 is busy, even for a reader" {
	printf '%s on /data type ffs (log, local)\n' "$DEV/sd0e" >>"$XHP_TMP/mount.out"
	guest 3 "$DEV/sd0e" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == "$DEV/sd0e (device 1028) is mounted in dom0 on /data" ]]
}

@test "a device mounted read-only in dom0 can be given read-only but not read-write" {
	printf '%s on /data type ffs (read-only, local)\n' "$DEV/sd0e" >>"$XHP_TMP/mount.out"
	attach 3 "$DEV/sd0e" r
	guest 4 "$DEV/sd0e" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
}

@test "a mount point with blanks is reported whole" {
	printf '%s on /my data type ffs (local)\n' "$DEV/sd0e" >>"$XHP_TMP/mount.out"
	guest 3 "$DEV/sd0e" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == *"mounted in dom0 on /my data" ]]
}

@test "a whole disk is busy while one of its partitions is mounted in dom0" {
	mknod "$DEV/sd0d" b 4 3
	guest 3 "$DEV/sd0d" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == "$DEV/sd0d (device 1027) is mounted in dom0 on /" ]]
}

@test "the raw partition letter follows sysctl kern.rawpartition" {
	mknod "$DEV/sd0c" b 4 2
	mknod "$DEV/sd0d" b 4 3
	export XHP_RAWPARTITION=2
	guest 3 "$DEV/sd0c" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	attach 4 "$DEV/sd0d" w
}

@test "an image whose vnd partition is mounted in dom0 is busy" {
	mknod "$DEV/vnd0a" b 14 0
	vnconfig "$DEV/vnd0d" "$IMG"
	printf '%s on /mnt type ffs (local)\n' "$DEV/vnd0a" >>"$XHP_TMP/mount.out"
	guest 3 "$IMG" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == *"mounted in dom0 on /mnt" ]]
}

@test "mounts of non-device sources are ignored" {
	printf 'tmpfs on /tmp type tmpfs (local)\nkernfs on /kern type kernfs (local)\n' \
		>>"$XHP_TMP/mount.out"
	attach 3 "$DEV/sd1d" w
}

@test "an image whose vnd is mounted read-write in dom0 is busy" {
	vnconfig "$DEV/vnd0d" "$IMG"
	printf '%s on /mnt type ffs (local)\n' "$DEV/vnd0d" >>"$XHP_TMP/mount.out"
	guest 3 "$IMG" r
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = busy ]
	[[ "$(xsr "$B/hotplug-error")" == *"mounted in dom0 on /mnt" ]]
}

@test "a second add for the same backend changes nothing and spends no vnd" {
	attach 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"already has physical-device 3587, nothing to do"* ]]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	[ "$(vnd_state vnd1)" = "" ]
}

# killer_vnconfig: a vnconfig that configures, then SIGKILLs the script
# that ran it, as libxl does after 40 s: the outermost ancestor running
# the script (bash runs the command substitution in a forked copy).
killer_vnconfig() {
	mkdir -p "$XHP_TMP/wrap"
	cat >"$XHP_TMP/wrap/vnconfig" <<EOF
#!/bin/sh
"$XHP_TOP/tests/stubs/netbsd/vnconfig" "\$@" || exit
case "\$1" in -*) exit 0 ;; esac
p=\$PPID victim=
while [ "\$p" -gt 1 ]; do
	if tr '\\0' ' ' </proc/\$p/cmdline | grep -q "$SCRIPT"; then victim=\$p; fi
	p=\$(cut -d' ' -f4 </proc/\$p/stat)
done
kill -9 "\$victim"
EOF
	chmod +x "$XHP_TMP/wrap/vnconfig"
}

@test "a vnd configured by an add killed before it published is freed by remove" {
	killer_vnconfig
	guest 3 "$IMG" w
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	[ "$status" -eq 137 ]
	[ -n "$(vnd_state vnd0)" ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
	block "$B" 6
	[ "$status" -eq 0 ]
	[ "$(vnd_state vnd0)" = "" ]
}

@test "an add after a killed add frees the half-configured vnd first" {
	killer_vnconfig
	guest 3 "$IMG" w
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	[ "$status" -eq 137 ]
	block "$B" 2
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
	[ "$(xsr "$B/physical-device")" = 3587 ]
	[ "$(wc -l <"$XHP_TMP/vnconfig.state")" -eq 1 ]
}

@test "vnd exhaustion leaves no reservation behind" {
	rm -f "$DEV"/vnd*d
	make_vnds 1
	: >"$XHP_TMP/other.img"
	vnconfig "$DEV/vnd0d" "$XHP_TMP/other.img"
	guest 3 "$IMG" w
	block "$B" 2
	[ "$status" -eq 1 ]
	run xenstore-exists "$B/vnd"
	[ "$status" -ne 0 ]
	run xenstore-exists "$B/physical-device-path"
	[ "$status" -ne 0 ]
}

@test "a backend without mode is an error" {
	guest 3 "$DEV/sd1d" w
	xenstore-rm "$B/mode"
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == "xs-readv: fatal: unable to read $B/mode: No such file or directory" ]]
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

@test "block finds the system tools with a PATH that lacks the system directories" {
	# libxl adds no environment: only the stubs and helpers are in PATH
	# here, xenstore-*, ls and df must come from the standard directories.
	local sh_path
	sh_path=$(command -v "${HOTPLUG_SH%% *}")
	guest 3 "$IMG" w
	# shellcheck disable=SC2086 # the shell's own arguments ("sh" of busybox)
	run --separate-stderr env PATH="$XHP_TOP/tests/stubs/netbsd:$XHP_BIN" \
		"$sh_path" ${HOTPLUG_SH#"${HOTPLUG_SH%% *}"} "$SCRIPT" "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
}

@test "in the source tree block finds the helpers in build/bin by itself" {
	guest 3 "$DEV/sd1d" w
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -u XEN_HOTPLUG_HELPERDIR \
		PATH="$XHP_TOP/tests/stubs/netbsd:/usr/bin:/bin" $HOTPLUG_SH "$SCRIPT" "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xsr "$B/physical-device")" = 1043 ]
}

@test "params that is neither a device nor a file is an error" {
	guest 3 "$XHP_TMP" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == "$XHP_TMP is not a block device or a regular file" ]]
}

@test "empty params is an error" {
	guest 3 "" w
	block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$(xsr "$B/hotplug-error")" == *"params is empty"* ]]
}

@test "add after the backend was removed recreates nothing and frees its vnd" {
	guest 3 "$IMG" w
	# xs-majmin finds the backend gone only after vnconfig: simulate a
	# remove racing the add by deleting the directory from a vnconfig
	# wrapper.
	mkdir "$XHP_TMP/wrap"
	cat >"$XHP_TMP/wrap/vnconfig" <<EOF
#!/bin/sh
"$XHP_TOP/tests/stubs/netbsd/vnconfig" "\$@" || exit
case "\$1" in -*) ;; *) xenstore-rm "$B" ;; esac
EOF
	chmod +x "$XHP_TMP/wrap/vnconfig"
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	[ "$status" -eq 1 ]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
	[ "$(vnd_state vnd0)" = "" ]
}

@test "a block device add takes the shared lock file and leaves it free" {
	attach 3 "$DEV/sd1d" w
	# xs-publish releases by closing: the file stays, unlocked.
	[ -f "$XHP_TMP/lock/block" ]
	run flock-wrap -w 0 "$XHP_TMP/lock/block" true
	[ "$status" -eq 0 ]
}

@test "an image add takes the shared lock and removes it on release" {
	attach 3 "$IMG" w
	[ -d "$XHP_TMP/lock" ]
	[ ! -e "$XHP_TMP/lock/block" ]
}

@test "a block device add gives up within XEN_HOTPLUG_LOCK_TIMEOUT naming the holder" {
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # $1 is for the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c ': >"$1"; sleep 5' sh \
		"$XHP_TMP/held" 3>&- &
	holder=$!
	for _ in $(seq 1 250); do
		[ -e "$XHP_TMP/held" ] && break
		sleep 0.02
	done
	guest 3 "$DEV/sd1d" w
	XEN_HOTPLUG_LOCK_TIMEOUT=0.3 block "$B" 2
	kill "$holder"
	wait "$holder" || true
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"xs-publish: fatal: unable to lock $XHP_TMP/lock/block within 0.3 s: held by pid"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"held by pid"* ]]
	run xenstore-exists "$B/physical-device"
	[ "$status" -ne 0 ]
}

@test "a block device add whose backend is removed meanwhile recreates nothing" {
	guest 3 "$DEV/sd1d" w
	# mount runs between the read and xs-publish: remove the backend there.
	mkdir "$XHP_TMP/wrap"
	cat >"$XHP_TMP/wrap/mount" <<EOF
#!/bin/sh
xenstore-rm "$B"
exec "$XHP_TOP/tests/stubs/netbsd/mount" "\$@"
EOF
	chmod +x "$XHP_TMP/wrap/mount"
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"gone before $DEV/sd1d was published"*" is gone"* ]]
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}

@test "a block device add does not hold the lock while it lists dom0's mounts" {
	guest 3 "$DEV/sd1d" w
	mkdir -p "$XHP_TMP/wrap" "$XHP_TMP/lock"
	# try the lock from inside mount, which runs before xs-publish
	cat >"$XHP_TMP/wrap/mount" <<EOF
#!/bin/sh
flock-wrap -w 0 "$XHP_TMP/lock/block" true >"$XHP_TMP/lockfree" 2>&1 &&
    echo free >>"$XHP_TMP/lockfree"
exec "$XHP_TOP/tests/stubs/netbsd/mount" "\$@"
EOF
	chmod +x "$XHP_TMP/wrap/mount"
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	[ "$status" -eq 0 ]
	[ "$(cat "$XHP_TMP/lockfree")" = free ]
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "an image add holds the lock while it lists dom0's mounts" {
	guest 3 "$IMG" w
	mkdir -p "$XHP_TMP/wrap" "$XHP_TMP/lock"
	cat >"$XHP_TMP/wrap/mount" <<EOF
#!/bin/sh
flock-wrap -w 0 "$XHP_TMP/lock/block" true >/dev/null 2>&1 ||
    echo held >"$XHP_TMP/lockheld"
exec "$XHP_TOP/tests/stubs/netbsd/mount" "\$@"
EOF
	chmod +x "$XHP_TMP/wrap/mount"
	PATH=$XHP_TMP/wrap:$PATH block "$B" 2
	[ "$status" -eq 0 ]
	[ "$(cat "$XHP_TMP/lockheld")" = held ]
	[ "$(xsr "$B/vnd")" = "$DEV/vnd0d" ]
}

@test "with XEN_HOTPLUG_DEBUG a block device add logs the path and the lock timings" {
	guest 3 "$DEV/sd1d" w
	XEN_HOTPLUG_DEBUG=1 block "$B" 2
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	# one line: the published path and xs-publish's timings, in the order
	# the helper's stderr and buffered stdout reach the pipe
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ "$stderr" == "block: debug: add $B: "*"$DEV/sd1d"* ]]
	[[ "$stderr" =~ xs-publish:\ check\ [0-9]+\ us,.*under\ lock\ [0-9]+\ us ]]
	[ "$(xsr "$B/hotplug-status")" = connected ]
}

@test "without XEN_HOTPLUG_DEBUG a block device add logs nothing" {
	guest 3 "$DEV/sd1d" w
	block "$B" 2
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
}

# forks TRACE: the processes the script started in an strace -f -e
# trace=process log: every fork, vfork or clone that returned a pid, except
# those of the stubs (a real NetBSD mount or sysctl is one process; the stub
# scripts are more). A call counts by its return, which strace prints on the
# call's line or, when another process's line came in between, on its
# "<... clone resumed>" line. A call that made no process is not counted:
# one interrupted by a signal is restarted by the kernel and strace logs it
# twice, first as "= ? ERESTARTNOINTR (To be restarted)".
forks() {
	awk -v stubs="$XHP_TOP/tests/stubs/" '
		$2 ~ /^execve\(/ && index($2, "\"" stubs) == 8 { stub[$1] = 1 }
		($2 ~ /^(clone|clone3|fork|vfork)\(/ ||
		    ($2 == "<..." && $3 ~ /^(clone|clone3|fork|vfork)$/)) &&
		    $(NF - 1) == "=" && $NF ~ /^[0-9]+$/ && !($1 in stub) { n++ }
		END { print n + 0 }' "$1"
}

@test "a block device add starts at most 8 processes, as many with 50 other backends and 50 mounts as with one" {
	command -v strace >/dev/null || skip "strace not installed"
	local d n1 n50
	guest 3 "$DEV/sd1d" w
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	strace -f -e trace=process -o "$XHP_TMP/trace1" $HOTPLUG_SH "$SCRIPT" "$B" 2
	[ "$(xsr "$B/hotplug-status")" = connected ]
	n1=$(forks "$XHP_TMP/trace1")
	set --
	for d in $(seq 100 149); do
		mknod "$DEV/sd${d}e" b 4 $((d * 16 + 4))
		printf '%s on /m%s type ffs (local)\n' "$DEV/sd${d}e" "$d" \
		    >>"$XHP_TMP/mount.out"
		set -- "$@" "$BE/$d/768/physical-device" \
		    "$(nbsd_dev 4 $((d * 16 + 4)))" "$BE/$d/768/mode" w \
		    "$BE/$d/768/frontend-id" "$d"
	done
	xenstore-write "$@"
	guest 4 "$DEV/sd0e" w
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	strace -f -e trace=process -o "$XHP_TMP/trace50" $HOTPLUG_SH "$SCRIPT" "$B" 2
	[ "$(xsr "$B/hotplug-status")" = connected ]
	n50=$(forks "$XHP_TMP/trace50")
	echo "processes: $n1 with one mount and no other backend, $n50 with 50 of each" >&3
	[ "$n1" -ge 3 ] # xs-readv, mount, xs-publish at least: the count works
	[ "$n1" -le 8 ]
	[ "$n1" -eq "$n50" ]
}

@test "add waits for the hotplug lock held by another script" {
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # $1 is for the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c ': >"$1"; sleep 1' sh \
		"$XHP_TMP/held" 3>&- &
	holder=$!
	for _ in $(seq 1 250); do
		[ -e "$XHP_TMP/held" ] && break
		sleep 0.02
	done
	[ -e "$XHP_TMP/held" ]
	guest 3 "$DEV/sd1d" w
	start=$(date +%s%N)
	block "$B" 2
	end=$(date +%s%N)
	wait "$holder"
	[ "$status" -eq 0 ]
	[ $(((end - start) / 1000000)) -ge 500 ]
}

@test "add gives up within XEN_HOTPLUG_LOCK_TIMEOUT naming the holder, and changes nothing" {
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # $1 is for the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c ': >"$1"; sleep 5' sh \
		"$XHP_TMP/held" 3>&- &
	holder=$!
	for _ in $(seq 1 250); do
		[ -e "$XHP_TMP/held" ] && break
		sleep 0.02
	done
	guest 3 "$IMG" w
	XEN_HOTPLUG_LOCK_TIMEOUT=0.3 block "$B" 2
	kill "$holder"
	wait "$holder" || true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unable to lock $XHP_TMP/lock/block within"*"held by pid"* ]]
	[ "$(xsr "$B/hotplug-status")" = error ]
	[[ "$(xsr "$B/hotplug-error")" == *"held by pid"* ]]
	[ ! -s "$XHP_TMP/vnconfig.state" ]
}

@test "concurrent adds of one device read-write: exactly one guest gets it" {
	local d pids=
	for d in 3 4 5 6; do
		guest "$d" "$DEV/sd1d" w
	done
	for d in 3 4 5 6; do
		# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
		$HOTPLUG_SH "$SCRIPT" "$BE/$d/768" 2 2>/dev/null 3>&- &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || true; done
	run sh -c 'for d in 3 4 5 6; do xenstore-read "$1/$d/768/hotplug-status"; done' sh "$BE"
	echo "$output"
	[ "$(printf '%s\n' "$output" | grep -c '^connected$')" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c '^busy$')" -eq 3 ]
}

@test "concurrent adds of different images get different vnds" {
	local d pids=
	for d in 3 4 5 6; do
		: >"$XHP_TMP/$d.img"
		guest "$d" "$XHP_TMP/$d.img" w
	done
	for d in 3 4 5 6; do
		# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
		$HOTPLUG_SH "$SCRIPT" "$BE/$d/768" 2 2>/dev/null 3>&- &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || true; done
	run sh -c 'for d in 3 4 5 6; do xenstore-read "$1/$d/768/vnd"; done' sh "$BE"
	echo "$output"
	[ "$(printf '%s\n' "$output" | sort -u | wc -l)" -eq 4 ]
	[ "$(wc -l <"$XHP_TMP/vnconfig.state")" -eq 4 ]
}
