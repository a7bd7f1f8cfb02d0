#!/usr/bin/env bats
# loop-detach: verified detach of real loop devices. Every device a test
# creates carries the test's own tag and is backed by a file in the test's
# own directory; teardown frees exactly those (other suites run at the same
# time).

# shellcheck disable=SC2030,SC2031 # OPENERS: one test's, and teardown's
load ../test_helper

bats_require_minimum_version 1.5.0

setup() {
	loop_setup
	OPENERS=
}

teardown() {
	local p
	[ -n "${XHP_TMP:-}" ] || return 0
	xsd_stop
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

# ---- -b: the whole remove of a backend --------------------------------------
# A test xenstore, our lock, and the loop tag prefix of this test (-T), so
# that the derived tag $TAG:vbd/3/51712 is ours alone.

# be_setup: xenstore, LOCK, B (a backend as libxl writes it, params the
# image) and BTAG, the tag -b derives for B.
be_setup() {
	xsd_start
	LOCK=$XHP_TMP/locks/block
	B=backend/vbd/3/51712
	BTAG=$TAG:vbd/3/51712
	mkbe 3 51712 "$IMG" w
}

# published DEV ID: B as an add that attached DEV (the file ID) left it.
published() {
	xenstore-write "$B/node" "$1" "$B/loop-file-id" "$2" \
	    "$B/loop-tag" "$BTAG" "$B/physical-device-path" "$1" \
	    "$B/physical-device" "$(majmin "$1")" "$B/hotplug-status" connected
}

# rmb ARGS...: loop-detach -b on our lock and prefix.
rmb() {
	loop-detach -b -l "$LOCK" -T "$TAG" "$@"
}

@test "-b frees the recorded device, verified by loop-file-id and loop-tag, and prints it" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$DEV" ]
	[ -z "$stderr" ]
	wait_unbound "$DEV"
	[ -z "$(losetup -j "$IMG")" ]
	# The remove writes nothing into the backend, and the lock is free.
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	absent "$B/hotplug-error"
	lock_free
}

@test "-b frees the recorded device when the image and params are gone" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	rm "$IMG"
	xenstore-rm "$B/params"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$DEV" ]
	wait_unbound "$DEV"
}

@test "-b with a node rewritten to another device leaves that device alone and sweeps by the derived tag" {
	be_setup
	attach "$IMG" "$BTAG"
	ours=$DEV
	ourid=$ID
	truncate -s 1M "$XHP_TMP/other.img"
	attach "$XHP_TMP/other.img" "$TAG-other"
	other=$DEV
	published "$other" "$ourid"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$ours" ]
	[ -z "$stderr" ]
	wait_unbound "$ours"
	bound "$other"
	[ "$(cat "/sys/block/${other#/dev/}/loop/backing_file")" = "$XHP_TMP/other.img" ]
}

@test "-b: a loop-tag rewritten to another's tag does not move the sweep off the derived tag" {
	be_setup
	attach "$IMG" "$BTAG"
	ours=$DEV
	truncate -s 1M "$XHP_TMP/other.img"
	attach "$XHP_TMP/other.img" "$TAG:vbd/4/51712"
	other=$DEV
	# node names a device that is already free: not ours any more.
	attach "$XHP_TMP/other.img" "$TAG-free"
	free=$DEV
	loop-detach "$free"
	wait_unbound "$free"
	xenstore-write "$B/node" "$free" "$B/loop-file-id" "$ID" \
	    "$B/loop-tag" "$TAG:vbd/4/51712" "$B/physical-device" 7:0
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$ours" ]
	wait_unbound "$ours"
	bound "$other"
}

@test "-b with a malformed loop-file-id treats the node as not ours and sweeps by tag" {
	be_setup
	attach "$IMG" "$BTAG"
	ours=$DEV
	truncate -s 1M "$XHP_TMP/other.img"
	attach "$XHP_TMP/other.img" "$TAG-other"
	other=$DEV
	for bad in garbage 1: :1 1:2:3 x:1 1:+2; do
		xenstore-write "$B/node" "$other" "$B/loop-file-id" "$bad" \
		    "$B/loop-tag" "$TAG-other" "$B/physical-device" 7:0
		run --separate-stderr rmb "$B"
		echo "loop-file-id $bad: $status $output / $stderr"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		bound "$other"
	done
	# The first pass swept ours.
	wait_unbound "$ours"
}

@test "-b with no record (an add killed before its commit) sweeps by the derived tag" {
	be_setup
	attach "$IMG" "$BTAG"
	ours=$DEV
	truncate -s 1M "$XHP_TMP/keep.img"
	attach "$XHP_TMP/keep.img" "$TAG:vbd/3/517120"
	keep=$DEV
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$ours" ]
	[ -z "$stderr" ]
	wait_unbound "$ours"
	bound "$keep"
	absent "$B/hotplug-status"
}

@test "-b on a backend directory that is gone sweeps by tag, exits 0 and recreates nothing" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	xenstore-rm "$B"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$DEV" ]
	[ -z "$stderr" ]
	wait_unbound "$DEV"
	absent "$B"
	# Nothing of ours at all: still 0, nothing printed.
	run --separate-stderr rmb backend/vbd/9/1
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	absent backend/vbd/9/1
}

@test "-b on a phy backend frees nothing and exits 0" {
	be_setup
	mkblk "$XHP_TMP/blk" 17
	xenstore-write "$B/params" "$XHP_TMP/blk" \
	    "$B/physical-device-path" "$XHP_TMP/blk" "$B/physical-device" f0:11
	attach "$IMG" "$TAG-keep"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	bound "$DEV"
	[ "$(xenstore-read "$B/physical-device")" = f0:11 ]
}

@test "-b is idempotent: a second remove frees nothing and exits 0" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$DEV" ]
	wait_unbound "$DEV"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# Another add may take the freed number meanwhile: not ours.
	truncate -s 1M "$XHP_TMP/new.img"
	attach "$XHP_TMP/new.img" "$TAG-new"
	xenstore-write "$B/node" "$DEV"
	run --separate-stderr rmb "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	bound "$DEV"
}

@test "-b of another backend type prints it and exits 64, freeing nothing" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	xenstore-write "$B/type" foo
	run --separate-stderr rmb "$B"
	[ "$status" -eq 64 ]
	[ "$output" = foo ]
	[ -z "$stderr" ]
	bound "$DEV"
	lock_free
}

@test "-b: a type that is not a plain name is refused (3) and written" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	xenstore-write "$B/type" ../x
	run --separate-stderr rmb "$B"
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-detach: fatal: invalid backend type '../x'" ]
	[ "$(xenstore-read "$B/hotplug-status")" = error ]
	[ "$(xenstore-read "$B/hotplug-error")" = "invalid backend type '../x'" ]
	bound "$DEV"
}

@test "-b: a recorded node that is not text is refused (3), written, and nothing freed" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	xenstore-write "$B/loop-tag" "$(printf '%s\001' "$BTAG")"
	run --separate-stderr rmb "$B"
	msg="the value of $B/loop-tag has a control character or is not UTF-8"
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-detach: fatal: $msg" ]
	[ "$(xenstore-read "$B/hotplug-status")" = error ]
	[ "$(xenstore-read "$B/hotplug-error")" = "$msg" ]
	bound "$DEV"
}

@test "-b with a prefix that makes the tag longer than 63 bytes is refused (3)" {
	be_setup
	long=$(printf 'x%.0s' $(seq 1 60))
	run --separate-stderr loop-detach -b -l "$LOCK" -T "$long" "$B"
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$stderr" = "loop-detach: fatal: loop tag '$long:$B' is longer than 63 bytes" ]
}

@test "-b on a held lock gives up with 5 within the deadline, naming the holder, and writes the failure" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	mkdir -p "$XHP_TMP/locks"
	flock-wrap "$LOCK" sleep 30 3>&- &
	holder=$!
	OPENERS="$OPENERS $holder"
	until ! flock -n "$LOCK" true 2>/dev/null; do sleep 0.02; done
	t0=$(date +%s%N)
	run --separate-stderr rmb -w 0.5 "$B"
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "$ms ms: $stderr"
	[ "$status" -eq 5 ]
	[ -z "$output" ]
	msg="unable to lock $LOCK within 0.5 s: held by pid $holder (sleep 30)"
	[ "$stderr" = "loop-detach: fatal: $msg" ]
	[ "$ms" -ge 500 ]
	[ "$ms" -lt 2500 ]
	bound "$DEV"
	[ "$(xenstore-read "$B/hotplug-status")" = error ]
	[ "$(xenstore-read "$B/hotplug-error")" = "$msg" ]
	# -s: the deadline counted from the script's start.
	# shellcheck disable=SC2016 # expanded by the inner sh
	run --separate-stderr sh -c 'sleep 1.2; t0=$(date +%s%N)
		loop-detach -b -l "$1" -T "$2" -w 1 -s $$ "$3"; rc=$?
		echo "rc=$rc ms=$((($(date +%s%N) - t0) / 1000000))"' sh \
		"$LOCK" "$TAG" "$B"
	echo "$output"
	[[ "$output" =~ ^rc=5\ ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -lt 500 ]
	bound "$DEV"
}

@test "-b usage errors: no -l, with -a, -i or -t, not one backend" {
	be_setup
	attach "$IMG" "$BTAG"
	published "$DEV" "$ID"
	usage_refused loop-detach -b "$B"
	usage_refused loop-detach -b -l "$LOCK" -a "$B"
	usage_refused loop-detach -b -l "$LOCK" -i "$ID" "$B"
	usage_refused loop-detach -b -l "$LOCK" -t "$BTAG" "$B"
	usage_refused loop-detach -b -l "$LOCK" "$B" "$B"
	usage_refused loop-detach -b -l "$LOCK"
	usage_refused loop-detach -b -l "$LOCK" ""
	usage_refused loop-detach -b -l "" "$B"
	usage_refused loop-detach -b -l "$LOCK" -w x "$B"
	usage_refused loop-detach -b -l "$LOCK" -s x "$B"
	# -l and -s belong to -b.
	usage_refused loop-detach -l "$LOCK" "$DEV"
	usage_refused loop-detach -s 1 "$DEV"
	bound "$DEV"
	[ ! -e "$XHP_TMP/locks" ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
}
