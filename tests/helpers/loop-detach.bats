#!/usr/bin/env bats
# loop-detach: verified detach of real loop devices. Every device a test
# creates carries the test's own tag and is backed by a file in the test's
# own directory; teardown frees exactly those (other suites run at the same
# time).

load ../test_helper

bats_require_minimum_version 1.5.0

setup() {
	loop_setup
	OPENERS=
}

teardown() {
	local p
	[ -n "${XHP_TMP:-}" ] || return 0
	for p in $OPENERS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	free_loops
	rm -rf "$XHP_TMP"
}

# attach [FILE [TAG]]: sets DEV and ID.
attach() {
	local out
	out=$(loop-attach -t "${2:-$TAG}" "${1:-$IMG}") || return 1
	DEV=${out% *}
	ID=${out#* }
}

# wait_unbound DEV: the last close clears an autoclear device; give the
# kernel a moment.
wait_unbound() {
	local i
	for i in $(seq 1 100); do
		bound "$1" || return 0
		sleep 0.05
	done
	return 1
}

# ---- usage and misuse -------------------------------------------------

@test "no arguments is a usage error with the usage on stderr" {
	usage_refused loop-detach
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown loop-detach "usage: loop-detach [-i DEV:INO] [-t TAG] /dev/loopN"
}

@test "-a needs -t and takes neither a device nor -i" {
	attach
	run --separate-stderr loop-detach -a
	[ "$status" -eq 100 ]
	run --separate-stderr loop-detach -a -t "$TAG" "$DEV"
	[ "$status" -eq 100 ]
	run --separate-stderr loop-detach -a -t "$TAG" -i "$ID"
	[ "$status" -eq 100 ]
	bound "$DEV"
}

@test "a malformed identity or tag is a usage error and detaches nothing" {
	attach
	long=$(printf 'x%.0s' $(seq 1 64))
	for i in '' 1 :1 1: a:b 1:2:3 -1:2 1:+2 ' 1:2' 99999999999999999999999:1; do
		run --separate-stderr loop-detach -i "$i" "$DEV"
		[ "$status" -eq 100 ] || { echo "accepted -i '$i'"; return 1; }
		[[ "$stderr" == usage:* ]]
	done
	run --separate-stderr loop-detach -t '' "$DEV"
	[ "$status" -eq 100 ]
	run --separate-stderr loop-detach -t "$long" "$DEV"
	[ "$status" -eq 100 ]
	run --separate-stderr loop-detach -a -t "$IMG"
	[ "$status" -eq 100 ]
	run --separate-stderr loop-detach "$DEV" "$DEV"
	[ "$status" -eq 100 ]
	bound "$DEV"
}

@test "something that is not a loop device is refused" {
	run --separate-stderr loop-detach /dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-detach: fatal: unable to detach /dev/null: not a loop device" ]
	run --separate-stderr loop-detach "$IMG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-detach: fatal: unable to detach $IMG: not a loop device" ]
	run --separate-stderr loop-detach "$XHP_TMP/no-such-device"
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-detach: fatal: unable to open $XHP_TMP/no-such-device: No such file or directory" ]
}

# ---- verified detach -------------------------------------------------------

@test "attach then verified detach frees the device and prints nothing" {
	attach
	bound "$DEV"
	run --separate-stderr loop-detach -i "$ID" -t "$TAG" "$DEV"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	wait_unbound "$DEV"
	[ -z "$(losetup -j "$IMG")" ]
}

@test "a device bound to another file is left alone" {
	attach
	cp "$IMG" "$XHP_TMP/other.img"
	other=$(stat -c '%d:%i' "$XHP_TMP/other.img")
	run --separate-stderr loop-detach -i "$other" "$DEV"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-detach: fatal: unable to detach $DEV: bound to $ID, not $other" ]
	bound "$DEV"
	[ "$(cat "/sys/block/${DEV#/dev/}/loop/backing_file")" = "$IMG" ]
}

@test "a device with another tag is left alone" {
	attach
	run --separate-stderr loop-detach -i "$ID" -t "$TAG-x" "$DEV"
	[ "$status" -eq 1 ]
	[ "$stderr" = "loop-detach: fatal: unable to detach $DEV: tagged \"$TAG\", not \"$TAG-x\"" ]
	bound "$DEV"
}

@test "a second detach says not attached and harms nothing" {
	attach
	run loop-detach -t "$TAG" "$DEV"
	[ "$status" -eq 0 ]
	wait_unbound "$DEV"
	run --separate-stderr loop-detach -t "$TAG" "$DEV"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-detach: fatal: unable to detach $DEV: not attached" ]
	# The freed device is usable again.
	[ -b "$DEV" ]
}

@test "the identity still verifies after the image file was deleted" {
	# Upstream leaked the device here: it re-derived "file or device"
	# from the vanished path.
	attach
	rm "$IMG"
	run --separate-stderr loop-detach -i "$ID" -t "$TAG" "$DEV"
	[ "$status" -eq 0 ]
	wait_unbound "$DEV"
}

@test "a device still open is detached lazily and freed at its last close" {
	attach
	# A reader standing in for blkback keeps the device open.
	sleep 30 8< "$DEV" 3>&- &
	OPENERS=$!
	run --separate-stderr loop-detach -i "$ID" -t "$TAG" "$DEV"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	bound "$DEV"
	[ "$(cat "/sys/block/${DEV#/dev/}/loop/autoclear")" = 1 ]
	kill "$OPENERS"
	wait "$OPENERS" 2>/dev/null || true
	OPENERS=
	wait_unbound "$DEV"
}

# ---- -a: orphans by tag ------------------------------------------------------

@test "-a frees every device carrying the tag, prints them, and spares the rest" {
	for i in 1 2 3; do
		truncate -s 1M "$XHP_TMP/o$i.img"
		attach "$XHP_TMP/o$i.img"
		echo "$DEV"
	done | sort > "$XHP_TMP/expected"
	truncate -s 1M "$XHP_TMP/keep.img"
	attach "$XHP_TMP/keep.img" "$TAG-keep"
	keep=$DEV
	truncate -s 1M "$XHP_TMP/prefix.img"
	attach "$XHP_TMP/prefix.img" "${TAG%?}"
	prefix=$DEV
	run --separate-stderr loop-detach -a -t "$TAG"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(cat "$XHP_TMP/expected")" ]
	for i in 1 2 3; do
		[ -z "$(losetup -j "$XHP_TMP/o$i.img")" ]
	done
	bound "$keep"
	bound "$prefix"
}

@test "-a never frees a device set up by losetup" {
	# losetup keeps the backing path in the field we use for tags; tags
	# may not start with '/', so no tag can name it.
	d=$(losetup -f --show "$IMG")
	run --separate-stderr loop-detach -a -t "$TAG"
	[ "$status" -eq 0 ]
	bound "$d"
	run --separate-stderr loop-detach -a -t "${IMG:0:63}"
	[ "$status" -eq 100 ]
	bound "$d"
}

@test "-a with no device carrying the tag prints nothing and exits 0" {
	run --separate-stderr loop-detach -a -t "$TAG-none"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "-a frees an orphan whose image file is gone" {
	attach
	rm "$IMG"
	run --separate-stderr loop-detach -a -t "$TAG"
	[ "$status" -eq 0 ]
	[ "$output" = "$DEV" ]
	wait_unbound "$DEV"
}
