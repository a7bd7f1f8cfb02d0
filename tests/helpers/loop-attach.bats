#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# loop-attach: real loop devices. Every device a test creates carries the
# test's own tag and is backed by a file in the test's own directory;
# teardown frees exactly those (other suites run at the same time).
# SC2016: sh -c bodies take their arguments as $1.., unexpanded on purpose.
# shellcheck disable=SC2016

load ../test_helper

bats_require_minimum_version 1.5.0

setup() {
	loop_setup
	ROMNT=
}

teardown() {
	[ -n "${XHP_TMP:-}" ] || return 0
	[ -z "${ROMNT:-}" ] || umount "$ROMNT" 2>/dev/null
	free_loops
	[ -z "${ROMNT:-}" ] || umount "$ROMNT" 2>/dev/null
	rm -rf "$XHP_TMP"
}

# sys DEV ATTR: /sys/block/loopN/loop/ATTR of a bound device.
sys() {
	cat "/sys/block/${1#/dev/}/loop/$2"
}

# ---- usage and misuse -------------------------------------------------

@test "no arguments is a usage error with the usage on stderr" {
	usage_refused loop-attach
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown loop-attach "usage: loop-attach [-r] -t TAG FILE"
}

@test "a tag is required, and two files are a usage error" {
	run --separate-stderr loop-attach "$IMG"
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
	run --separate-stderr loop-attach -t "$TAG" "$IMG" "$IMG"
	[ "$status" -eq 100 ]
	run --separate-stderr loop-attach -x -t "$TAG" "$IMG"
	[ "$status" -eq 100 ]
	[ -z "$(losetup -j "$IMG")" ]
}

@test "an empty, too long or unprintable tag is a usage error and attaches nothing" {
	long=$(printf 'x%.0s' $(seq 1 64))
	for t in '' "$long" /tmp/x.img "$(printf 'a\tb')" "$(printf 'a\nb')" "$(printf 'caf\303\251')"; do
		run --separate-stderr loop-attach -t "$t" "$IMG"
		[ "$status" -eq 100 ] || { echo "accepted tag '$t'"; return 1; }
		[[ "$stderr" == usage:* ]]
	done
	[ -z "$(losetup -j "$IMG")" ]
}

@test "a directory, a fifo, a character device or a missing file is refused" {
	mkdir "$XHP_TMP/dir"
	run --separate-stderr loop-attach -t "$TAG" "$XHP_TMP/dir"
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-attach: fatal: unable to attach $XHP_TMP/dir: not a regular file" ]
	mkfifo "$XHP_TMP/fifo"
	run --separate-stderr timeout 5 loop-attach -t "$TAG" "$XHP_TMP/fifo"
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-attach: fatal: unable to attach $XHP_TMP/fifo: not a regular file" ]
	run --separate-stderr loop-attach -r -t "$TAG" /dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-attach: fatal: unable to attach /dev/null: not a regular file" ]
	run --separate-stderr loop-attach -t "$TAG" "$XHP_TMP/missing.img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-attach: fatal: unable to open $XHP_TMP/missing.img: No such file or directory" ]
	run loop-detach -a -t "$TAG"
	[ "$output" = "" ]
}

# ---- attach -----------------------------------------------------------

@test "attach prints the device and the file's identity, and binds it read-write" {
	run --separate-stderr loop-attach -t "$TAG" "$IMG"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" =~ ^/dev/loop[0-9]+\ [0-9]+:[0-9]+$ ]]
	dev=${output% *}
	[ "${output#* }" = "$(stat -c '%d:%i' "$IMG")" ]
	[ -b "$dev" ]
	bound "$dev"
	[ "$(sys "$dev" backing_file)" = "$IMG" ]
	[ "$(blockdev --getro "$dev")" = 0 ]
	[ "$(sys "$dev" autoclear)" = 0 ]
	# The device outlives loop-attach: nothing holds it but the binding.
	[ "$(losetup -j "$IMG" -O NAME -n)" = "$dev" ]
}

@test "data written to the device lands in the file" {
	run loop-attach -t "$TAG" "$IMG"
	[ "$status" -eq 0 ]
	dev=${output% *}
	printf 'xen-hotplug-was-here' | dd of="$dev" bs=512 seek=3 conv=sync,fsync status=none
	run dd if="$IMG" bs=512 skip=3 count=1 status=none
	[[ "$output" == xen-hotplug-was-here* ]]
}

@test "-r gives a read-only device" {
	run --separate-stderr loop-attach -r -t "$TAG" "$IMG"
	[ "$status" -eq 0 ]
	dev=${output% *}
	[ "$(blockdev --getro "$dev")" = 1 ]
	[ "$(cat "/sys/block/${dev#/dev/}/ro")" = 1 ]
	run dd if=/dev/zero of="$dev" bs=512 count=1 conv=fsync status=none
	[ "$status" -ne 0 ]
}

@test "the tag is stored in the device and a 63-byte tag is kept whole" {
	run loop-attach -t "$TAG" "$IMG"
	[ "$status" -eq 0 ]
	dev=${output% *}
	run loop-detach -t "$TAG-other" "$dev"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tagged \"$TAG\""* ]]
	long=$TAG-$(printf 'y%.0s' $(seq 1 63))
	long=${long:0:63}
	cp "$IMG" "$XHP_TMP/b.img"
	run loop-attach -t "$long" "$XHP_TMP/b.img"
	[ "$status" -eq 0 ]
	dev2=${output% *}
	run loop-detach -a -t "$long"
	[ "$status" -eq 0 ]
	[ "$output" = "$dev2" ]
	bound "$dev"
}

@test "a path with spaces is attached" {
	mkdir "$XHP_TMP/my disks"
	truncate -s 1M "$XHP_TMP/my disks/a b.img"
	run --separate-stderr loop-attach -t "$TAG" "$XHP_TMP/my disks/a b.img"
	[ "$status" -eq 0 ]
	dev=${output% *}
	[ "$(sys "$dev" backing_file)" = "$XHP_TMP/my disks/a b.img" ]
	losetup -d "$dev"
}

@test "the old-kernel path (LOOP_SET_FD and LOOP_SET_STATUS64) binds, tags and honours -r" {
	run --separate-stderr env XHP_TEST_NO_LOOP_CONFIGURE=1 loop-attach -r -t "$TAG" "$IMG"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	dev=${output% *}
	[ "${output#* }" = "$(stat -c '%d:%i' "$IMG")" ]
	[ "$(blockdev --getro "$dev")" = 1 ]
	run loop-detach -t "$TAG" "$dev"
	[ "$status" -eq 0 ]
	[ ! -d "/sys/block/${dev#/dev/}/loop" ]
}

@test "a file on a read-only filesystem is refused read-write and attached with -r" {
	mkdir "$XHP_TMP/ro"
	cp "$IMG" "$XHP_TMP/ro/disk.img"
	mount --bind "$XHP_TMP/ro" "$XHP_TMP/ro" 2>/dev/null || skip "cannot bind-mount here"
	ROMNT=$XHP_TMP/ro
	mount -o remount,bind,ro "$ROMNT" || skip "cannot remount read-only here"
	run --separate-stderr loop-attach -t "$TAG" "$ROMNT/disk.img"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-attach: fatal: unable to attach $ROMNT/disk.img: $ROMNT/disk.img is on a read-only filesystem" ]
	run --separate-stderr loop-attach -r -t "$TAG" "$ROMNT/disk.img"
	[ "$status" -eq 0 ]
	dev=${output% *}
	[ "$(blockdev --getro "$dev")" = 1 ]
	run loop-detach -t "$TAG" "$dev"
	[ "$status" -eq 0 ]
}

@test "a result that cannot be written frees the device again" {
	run --separate-stderr sh -c 'loop-attach -t "$1" "$2" > /dev/full' sh "$TAG" "$IMG"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "loop-attach: fatal: unable to write to stdout (/dev/loop"*" detached): No space left on device" ]]
	[ -z "$(losetup -j "$IMG")" ]
}

@test "8 parallel attaches of distinct files get 8 distinct devices, each bound to its file" {
	for i in 1 2 3 4 5 6 7 8; do
		truncate -s 1M "$XHP_TMP/p$i.img"
	done
	for i in 1 2 3 4 5 6 7 8; do
		loop-attach -t "$TAG" "$XHP_TMP/p$i.img" > "$XHP_TMP/out$i" 2>&1 3>&- &
	done
	wait
	for i in 1 2 3 4 5 6 7 8; do
		read -r dev id < "$XHP_TMP/out$i"
		[[ "$dev" == /dev/loop* ]] || { cat "$XHP_TMP/out$i"; return 1; }
		[ "$(sys "$dev" backing_file)" = "$XHP_TMP/p$i.img" ]
		[ "$id" = "$(stat -c '%d:%i' "$XHP_TMP/p$i.img")" ]
		echo "$dev"
	done > "$XHP_TMP/devs"
	[ "$(sort -u "$XHP_TMP/devs" | wc -l)" -eq 8 ]
}

# ---- the shared lookups xs-stat-path uses (helpers/lib/loop_*.c) ----------

probe() {
	"$XHP_TOP/build/tests/loop-probe" "$@"
}

@test "the library finds the backing file of an attached device, as loop-attach printed it" {
	run loop-attach -t "$TAG" "$IMG"
	[ "$status" -eq 0 ]
	dev=${output% *}
	id=${output#* }
	majmin=$(cat "/sys/block/${dev#/dev/}/dev")
	run probe backing "${majmin%:*}" "${majmin#*:}"
	[ "$status" -eq 0 ]
	[ "$output" = "0 $id" ]
	# After detach it is a loop device that is not bound.
	losetup -d "$dev"
	run probe backing "${majmin%:*}" "${majmin#*:}"
	[ "$output" = 1 ]
}

@test "the library says not a loop device for other block devices and unknown numbers" {
	run probe backing 1 3
	[ "$output" = 1 ]
	run probe backing 4095 1048575
	[ "$output" = 1 ]
	other=$(for d in /sys/block/*; do case ${d##*/} in loop*) ;; *) cat "$d/dev"; break ;; esac; done)
	[ -n "$other" ] || skip "no non-loop block device here"
	run probe backing "${other%:*}" "${other#*:}"
	[ "$output" = 1 ]
}

@test "the library lists every loop device over a file, and only those" {
	run loop-attach -t "$TAG" "$IMG"
	d1=${output% *}
	run loop-attach -r -t "$TAG" "$IMG"
	d2=${output% *}
	cp "$IMG" "$XHP_TMP/other.img"
	run loop-attach -t "$TAG" "$XHP_TMP/other.img"
	d3=${output% *}
	expected=$(for d in "$d1" "$d2"; do cat "/sys/block/${d#/dev/}/dev"; done | sort)
	run probe users "$IMG"
	[ "$status" -eq 0 ]
	[ "${lines[${#lines[@]}-1]}" = 0 ]
	unset 'lines[${#lines[@]}-1]'
	[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$expected" ]
	run probe users "$XHP_TMP/other.img"
	[ "${lines[0]}" = "$(cat "/sys/block/${d3#/dev/}/dev")" ]
	[ "${lines[1]}" = 0 ]
	# A non-zero callback result stops the scan and is returned.
	run probe users "$IMG" 1
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = 7 ]
	# A file with no loop device: no call, 0.
	truncate -s 1M "$XHP_TMP/unused.img"
	run probe users "$XHP_TMP/unused.img"
	[ "$output" = 0 ]
}

@test "the kernel's device encoding is decoded, large majors and minors included" {
	for mm in 7:0 254:0 8:17 259:1000 4095:1048575 0:300; do
		maj=${mm%:*} min=${mm#*:}
		k=$(((min & 0xff) | (maj << 8) | ((min & ~0xff) << 12)))
		run probe decode "$k"
		[ "$output" = "$mm" ] || { echo "$k -> $output, want $mm"; return 1; }
	done
}

@test "a file after -- is taken literally, even one named like an option" {
	cd "$XHP_TMP"
	truncate -s 1M ./-r.img
	run --separate-stderr loop-attach -t "$TAG" -- -r.img
	[ "$status" -eq 0 ]
	dev=${output% *}
	[ "$(sys "$dev" backing_file)" = "$XHP_TMP/-r.img" ]
	[ "$(blockdev --getro "$dev")" = 0 ]
	run --separate-stderr loop-detach -t "$TAG" -- "$dev"
	[ "$status" -eq 0 ]
	[ ! -d "/sys/block/${dev#/dev/}/loop" ]
}
