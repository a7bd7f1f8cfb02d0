#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# The sharing check through the block-device stack (docs/block-scripts.md,
# "In use"): xs-publish against real loop devices with a real DOS
# partition table (two primaries, an extended one and a logical one in
# it), a loop device stacked over a partition, real swap, real ext4
# mounts, a mount made in another mount namespace, and a process holding
# an exclusive open. Device-mapper, md and LVM are not in this machine's
# kernel: the e2e tier runs them (tests/e2e/scenarios.bats).
# SC2016: the sh -c bodies take their arguments as $1.., on purpose.
# shellcheck disable=SC2016

load ../test_helper
bats_require_minimum_version 1.5.0

setup() {
	require_root
	[ -c /dev/loop-control ] || skip "no /dev/loop-control"
	xhp_setup
	TAG="xhp-stk-${XHP_TMP##*.}"
	LOCK=$XHP_TMP/locks/block
	MNT=$XHP_TMP/mnt
	mkdir "$MNT"
	HOLDERS=
	SWAP=
	B=backend/vbd/3/51712
	O=backend/vbd/4/51712
	DIMG=$XHP_TMP/disk.img
	part_disk "$DIMG"
}

teardown() {
	for p in $HOLDERS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$SWAP" ] || swapoff "$SWAP" 2>/dev/null
	umount "$MNT" 2>/dev/null
	[ -z "${STACKED:-}" ] || losetup -d "$STACKED" 2>/dev/null
	free_loops
	xhp_teardown
}

# pub ARGS...: xs-publish on our lock, loop tag prefix and the real
# mount table.
pub() {
	xs-publish -l "$LOCK" -T "$TAG" "$@"
}

# ours TARGET MODE: our backend B asks for TARGET in MODE.
ours() {
	mkbe 3 51712 "$1" "$2"
}

# theirs TARGET MODE: guest 4 has TARGET in MODE, published.
theirs() {
	mkbe 4 51712 "$1" "$2"
	xenstore-write "$O/state" 4 "$O/physical-device" "$(majmin "$1")" \
	    "$O/physical-device-path" "$1"
}

# try TARGET MODE: our backend, written afresh, asks for TARGET in MODE.
try() {
	xenstore-rm "$B" 2>/dev/null || :
	ours "$1" "$2"
	run --separate-stderr pub "$B"
}

# granted: the add published the device.
granted() {
	echo "status=$status stderr=${stderr:-}"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/hotplug-status")" = connected ]
	[ -n "$(rd "$B/physical-device")" ]
}

# busy MSG: the add refused with MSG, written into B, nothing published.
busy() {
	echo "status=$status stderr=$stderr"
	echo "want: xs-publish: fatal: $1"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-publish: fatal: $1" ]
	[ "$(rd "$B/hotplug-status")" = busy ]
	[ "$(rd -R "$B/hotplug-error")" = "$1" ]
	absent "$B/physical-device"
	absent "$B/physical-device-path"
}

# name DEV: how the refusal names DEV: "/dev/NAME (device MAJ:MIN)".
name() {
	printf '%s (device %s)' "$1" "$(majmin "$1")"
}

# ---- other guests, through the partition table -------------------------------

@test "a partition against its whole disk: refused both ways, the partition named" {
	theirs "$P1" w
	try "$D" w
	busy "Device $D is the whole disk of the partition $(name "$P1"), already used by another guest through $O, and so cannot be attached read-write now."
	# The other way round, and a reader beside a writer.
	xenstore-rm "$B" "$O"
	theirs "$D" w
	try "$P2" r
	busy "Device $P2 is a partition of $(name "$D"), already used read-write by another guest through $O, and so cannot be attached read-only now."
}

@test "two disjoint partitions of one disk go to two writers; readers share a disk and its partition" {
	theirs "$P1" w
	try "$P2" w
	granted
	xenstore-rm "$B" "$O"
	theirs "$D" r
	try "$P1" r
	granted
}

@test "an extended partition overlaps its logical ones, and not the primaries" {
	theirs "$P5" w
	try "$P3" w
	busy "Device $P3 overlaps $(name "$P5"), already used by another guest through $O, and so cannot be attached read-write now."
	try "$P1" w
	granted
}

@test "a loop device stacked on a partition conflicts with the partition and the disk, not with a sibling" {
	STACKED=$(losetup -f --show "$P1")
	theirs "$STACKED" w
	try "$P1" w
	busy "Device $P1 lies under $(name "$STACKED"), already used by another guest through $O, and so cannot be attached read-write now."
	try "$D" w
	busy "Device $D lies under $(name "$STACKED"), already used by another guest through $O, and so cannot be attached read-write now."
	try "$P2" w
	granted
}

@test "an image file conflicts with a partition of a loop device over it, under any name" {
	theirs "$P1" w
	ln "$DIMG" "$XHP_TMP/hardlink.img"
	try "$XHP_TMP/hardlink.img" w
	busy "File $XHP_TMP/hardlink.img lies under $(name "$P1"), already used by another guest through $O, and so cannot be attached read-write now."
	# No loop device over the image but the disk itself.
	[ "$(losetup -j "$DIMG" | cut -d: -f1)" = "$D" ]
}

@test "qdisk and vbd3 backends are known by their params, FORMAT:PATH, in the same scan" {
	# QEMU serves the image itself: a partition of a loop device over it
	# is the same sectors.
	mkbe 4 51712 "raw:$DIMG" w qdisk
	try "$P1" w
	# A file is named with the device of its filesystem.
	fsdev=$(printf '%x:%x' "$(stat -c %Hd "$DIMG")" "$(stat -c %Ld "$DIMG")")
	busy "Device $P1 is stacked on the image $DIMG (device $fsdev), already used by another guest through backend/qdisk/4/51712, and so cannot be attached read-write now."
	xenstore-rm "$B" backend/qdisk
	# tapdisk (vbd3) opens its image by params too; a reader beside it
	# is refused, under a hard link's name.
	mkimg "$XHP_TMP/tap.img"
	ln "$XHP_TMP/tap.img" "$XHP_TMP/tap-link.img"
	mkbe 4 51712 "aio:$XHP_TMP/tap-link.img" w vbd3
	try "$XHP_TMP/tap.img" r
	[ "$status" -eq 1 ]
	[[ "$stderr" == *" is already used read-write by another guest through backend/vbd3/4/51712, and so cannot be attached read-only now." ]]
	[ "$(rd "$B/hotplug-status")" = busy ]
	# A reader beside a reader shares.
	xenstore-write backend/vbd3/4/51712/mode r
	try "$XHP_TMP/tap.img" r
	granted
}

# ---- dom0's own use, from the kernel's claims --------------------------------

@test "dom0 swaps on a device: refused read-write and read-only, the swap named" {
	mkswap -q "$P2" >/dev/null
	swapon "$P2"
	SWAP=$P2
	try "$P2" w
	busy "Device $P2 (device $(majmin "$P2")) is active swap in the privileged domain, and so cannot be attached read-write to a guest."
	lock_free "$LOCK"
	try "$D" r
	busy "Device $D is the whole disk of the partition $(name "$P2"), which is active swap in the privileged domain, and so cannot be attached read-only to a guest."
}

@test "dom0 has a partition mounted: its whole disk is refused, a sibling is not; a reader may sit beside a read-only mount" {
	command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4 (e2fsprogs)"
	mkfs.ext4 -q "$P1"
	mount "$P1" "$MNT"
	try "$D" w
	busy "Device $D is the whole disk of the partition $(name "$P1"), which is mounted in the privileged domain at $MNT, and so cannot be attached read-write to a guest."
	try "$P2" w
	granted
	umount "$MNT"
	mount -o ro "$P1" "$MNT"
	try "$D" r
	granted
	try "$D" w
	busy "Device $D is the whole disk of the partition $(name "$P1"), which is mounted in the privileged domain at $MNT, and so cannot be attached read-write to a guest."
}

@test "a mount made in another mount namespace is found, and named with a process of that namespace" {
	command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4 (e2fsprogs)"
	mkfs.ext4 -q "$P1"
	unshare -m --propagation private sh -c 'mount "$1" "$2" && : >"$3" && exec sleep 60' \
	    sh "$P1" "$MNT" "$XHP_TMP/ready" 3>&- &
	HOLDERS=$!
	retry 250 test -e "$XHP_TMP/ready"
	# Not in our mount table.
	run ! grep -q " $MNT " /proc/self/mountinfo
	try "$P1" w
	busy "Device $P1 (device $(majmin "$P1")) is mounted in the privileged domain at $MNT, in the mount namespace of process $HOLDERS, and so cannot be attached read-write to a guest."
	try "$P2" w
	granted
}

@test "an exclusive open that nothing else explains is a use, in both modes" {
	perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_RDONLY | O_EXCL) or die "$!\n";
		open(my $r, ">", $ARGV[1]) or die; close($r); sleep 60' "$P2" "$XHP_TMP/ready" 3>&- &
	HOLDERS=$!
	retry 250 test -e "$XHP_TMP/ready"
	try "$P2" r
	busy "Device $P2 (device $(majmin "$P2")) is in exclusive use in the privileged domain (opened with O_EXCL, by a process or by the kernel), and so cannot be attached read-only to a guest."
	try "$D" w
	busy "Device $D is the whole disk of the partition $(name "$P2"), which is in exclusive use in the privileged domain (opened with O_EXCL, by a process or by the kernel), and so cannot be attached read-write to a guest."
	# Released: granted.
	kill "$HOLDERS"
	wait "$HOLDERS" || :
	HOLDERS=
	try "$D" w
	granted
}
