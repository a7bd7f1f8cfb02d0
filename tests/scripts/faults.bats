#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# Faults: SIGKILL of `block add` and `block remove` (the short version of
# tests/stress/faults.sh, which `make stress` runs longer), a test xenstore
# that stops or restarts mid-operation, a missing or read-only lock
# directory, no free loop device, a failing loop attach or detach, and an
# image on a read-only filesystem. Each time: a clear error, a non-zero
# exit, nothing half-written, no loop device left. Runs under $HOTPLUG_SH
# with real loop devices, locks and the real wire protocol; only the loop
# helpers' failures are stubbed.

load ../test_helper

setup() {
	require_root
	xhp_setup
	export ST_DIR=$XHP_TMP
	export ST_LOCKDIR=$XHP_TMP/lock
	export XHP_TOP HOTPLUG_SH
	unset ST_HELPERDIR
	export ST_BLOCK=$XHP_SCRIPTDIR/block
	# shellcheck source=/dev/null # tests/stress/lib.sh
	. "$XHP_TOP/tests/stress/lib.sh"
	st_env
	st_mkdom 1
	st_mkdom 2
	truncate -s 4M "$XHP_TMP/img"
	B1=$ST_BE/1/51712
	FAULTS=$XHP_TOP/tests/stress/faults.sh
}

teardown() {
	local m
	[ -z "${BG:-}" ] || { kill "$BG" 2>/dev/null; wait "$BG" 2>/dev/null; }
	[ ! -d "$XHP_TMP/pause" ] || : >"$XHP_TMP/pause/go"
	for m in "$XHP_TMP"/ro*; do
		[ -d "$m" ] && umount "$m" 2>/dev/null
	done
	st_free_loops
	xhp_teardown
}

# fig NAME: the figure NAME=N from the final "faults:" line.
fig() {
	printf '%s\n' "$output" | grep '^faults: kills_tried=' | tr ' ' '\n' |
	    sed -n "s/^$1=//p"
}

# bg_add HELPER: start `block add` of backend 1/51712 in the background,
# HELPER paused before it runs (st_pausewrap); wait until it is there.
bg_add() {
	st_pausewrap "$1"
	# exec: $! is then the script itself, as libxl's child is.
	XEN_HOTPLUG_HELPERDIR=$ST_HELPERDIR ST_EXEC=exec st_block ours add 1 51712 \
	    >"$XHP_TMP/bg.out" 2>&1 3>&- &
	BG=$!
	st_wait_file "$XHP_TMP/pause/$1.ready" 20
}

# bg_status: release the paused helper, wait, set status.
bg_status() {
	: >"$XHP_TMP/pause/go"
	status=0
	wait "$BG" || status=$?
	BG=
}

# stub HELPER MESSAGE: a helper directory where HELPER fails the way the
# real one reports a system error (exit 111, one line on stderr).
stub() {
	mkdir -p "$XHP_TMP/stub"
	for h in "$XHP_BIN"/*; do ln -sf "$h" "$XHP_TMP/stub/"; done
	rm -f "$XHP_TMP/stub/$1"
	printf '#!/bin/sh\necho "%s: fatal: %s" >&2\nexit 111\n' "$1" "$2" >"$XHP_TMP/stub/$1"
	chmod 0755 "$XHP_TMP/stub/$1"
}

no_loops() {
	[ -z "$(st_our_loops)" ]
}

# ---- usage ----

@test "the fault run refuses a non-numeric kill count with a usage error" {
	only_dash
	run sh "$FAULTS" -n some
	[ "$status" -eq 100 ]
	[ "$output" = "faults.sh: fatal: not a number: some" ]
}

# ---- SIGKILL ----

@test "SIGKILL at every fixed kill point of add and remove leaves nothing half-written, no stuck lock, no loop device" {
	run sh "$FAULTS" -n 0 -d 1 -s 1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fig kills_tried)" -eq 6 ]
	[ "$(fig killed_mid_run)" -eq 6 ]
	[ "$(fig half_written)" -eq 0 ]
	[ "$(fig failed)" -eq 0 ]
	[ "$(fig leaks)" -eq 0 ]
}

@test "SIGKILL at random moments of add and remove leaves nothing half-written, no stuck lock, no loop device" {
	# A 1 ms stall per xenstore request stretches each run so the random
	# kills land while it runs, even on an idle machine.
	ST_XSD_OPTS="-D 1" run sh "$FAULTS" -n 16 -d 0
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fig kills_tried)" -eq 16 ]
	[ "$(fig killed_mid_run)" -gt 0 ]
	[ "$(fig half_written)" -eq 0 ]
	[ "$(fig failed)" -eq 0 ]
	[ "$(fig leaks)" -eq 0 ]
}

@test "the kill checks report the loop devices leaked when remove frees nothing" {
	only_dash
	# shellcheck disable=SC2016 # sed script
	broken nosweep 's|^remove) set -- "$_xhp_h/loop-detach" -b ;;$|remove) exit 0 ;;|'
	# Killed inside xs-publish's transaction; the other backend's add
	# completes; a remove that frees nothing leaves its loop device.
	run st_kill_cycle 1 txn:60 add
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "${lines[-1]}" != *" leaks=0" ]]
	[[ "${lines[-1]}" == *" leaks="[1-9]* ]]
}

@test "the kill checks report a physical-device written ahead of its path" {
	only_dash
	# shellcheck disable=SC2016 # sed script
	broken ahead 's#^_blk_rc=0$#[ "$command" != add ] || xenstore-write "$XENBUS_PATH/physical-device" 7:99\n&#'
	run st_kill_cycle 1 nopublish add
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "${lines[-1]}" == *" half=1 "* ]]
	[[ "$output" == *"half-written: 1/1 physical-device without physical-device-path"* ]]
}

@test "a remove killed while its helper holds the lock does not hold it beyond the helper" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	run st_block ours add 1 51712
	[ "$status" -eq 0 ]
	XEN_HOTPLUG_TEST_PAUSE=locked:$XHP_TMP/helper.pid ST_EXEC=exec \
	    st_block ours remove 1 51712 >/dev/null 2>&1 3>&- &
	BG=$!
	st_wait_file "$XHP_TMP/helper.pid" 20
	child=$(cat "$XHP_TMP/helper.pid")
	until [ "$(cut -d' ' -f3 "/proc/$child/stat")" = T ]; do sleep 0.02; done
	# The helper holds the lock, stopped.
	run "$XHP_BIN/flock-wrap" -w 0 "$ST_LOCKDIR/block" true
	[ "$status" -eq 5 ]
	kill -KILL "$BG"
	status=0
	wait "$BG" || status=$?
	BG=
	[ "$status" -eq 137 ]
	# As with libxl, only the script was killed: its helper finishes the
	# remove and lets go.
	kill -CONT "$child"
	st_wait_pid "$child"
	run "$XHP_BIN/flock-wrap" -w 0 "$ST_LOCKDIR/block" true
	[ "$status" -eq 0 ]
	no_loops
	# A following remove has nothing left to do.
	run st_block ours remove 1 51712
	[ "$status" -eq 0 ]
}

# ---- the test xenstore stops or restarts ----

@test "the xenstore stopping before the write: exit 1, a clear error in the log, the loop device freed" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	bg_add xs-publish
	xsd_stop
	bg_status
	[ "$status" -eq 1 ]
	run cat "$XEN_HOTPLUG_LOGFILE"
	[[ "$output" == *"xs-publish: fatal: unable to connect to xenstore"* ]]
	no_loops
}

@test "the xenstore restarting before the write: exit 1, the new store untouched, the loop device freed" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	bg_add xs-publish
	xsd_stop
	xsd_start
	bg_status
	[ "$status" -eq 1 ]
	run cat "$XEN_HOTPLUG_LOGFILE"
	echo "$output"
	# Said by xs-publish (under the lock) or by the script's full check
	# (when xs-publish -A found no backend to read).
	[[ "$output" == *"backend gone"* ]] || [[ "$output" == *"$B1"* ]] ||
	    [[ "$output" == *"backend ${B1#/local/domain/0/} is gone"* ]]
	run xenstore-ls /local/domain/0/backend
	echo "$output"
	[ "$status" -ne 0 ]
	no_loops
}

@test "a backend removed while add waits to write is not recreated, and its loop device is freed" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	bg_add xs-publish
	# libxl gave up on the device (timeout, domain destroyed).
	xenstore-rm "$B1"
	bg_status
	[ "$status" -eq 1 ]
	run xenstore-ls "$B1"
	echo "$output"
	[ "$status" -ne 0 ]
	no_loops
}

@test "the xenstore restarting before the add reads the backend: exit 1, the new store untouched" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	bg_add xs-publish
	xsd_stop
	xsd_start
	bg_status
	[ "$status" -eq 1 ]
	no_loops
	run xenstore-ls /local/domain/0/backend
	echo "$output"
	[ "$status" -ne 0 ]
}

@test "the xenstore stopping while remove runs: exit 1, a clear error, nothing detached on a guess" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	run st_block ours add 1 51712
	[ "$status" -eq 0 ]
	node=$(xenstore-read "$B1/node")
	st_pausewrap loop-detach
	XEN_HOTPLUG_HELPERDIR=$ST_HELPERDIR ST_EXEC=exec st_block ours remove 1 51712 \
	    >/dev/null 2>&1 3>&- &
	BG=$!
	st_wait_file "$XHP_TMP/pause/loop-detach.ready" 20
	xsd_stop
	bg_status
	[ "$status" -eq 1 ]
	run cat "$XEN_HOTPLUG_LOGFILE"
	[[ "$output" == *"loop-detach: fatal: unable to connect to xenstore"* ]]
	# Nothing was freed on a guess: the device is still attached.
	run losetup -n -O BACK-FILE "$node"
	[ "$output" = "$XHP_TMP/img" ]
}

@test "a transaction that never commits: exit 1, the reason in hotplug-error, nothing written, the loop device freed" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	st_xsd_control fault-eagain 1000
	run st_block ours add 1 51712
	[ "$status" -eq 1 ]
	st_xsd_control fault-eagain 0
	run xenstore-read "$B1/hotplug-error"
	[[ "$output" == *"unable to commit the transaction"* ]]
	run xenstore-read "$B1/physical-device"
	[ "$status" -ne 0 ]
	run xenstore-read "$B1/physical-device-path"
	[ "$status" -ne 0 ]
	no_loops
}

@test "the xenstore hanging up in the middle of publishing: exit 1, nothing half-written, the loop device freed" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	bg_add xs-publish
	# From now on every connection is dropped at its third request: for
	# xs-publish that is after it took the lock, in the middle of its
	# reads and writes.
	st_xsd_control fault-drop 3
	bg_status
	st_xsd_control fault-drop 0
	[ "$status" -eq 1 ]
	run cat "$XEN_HOTPLUG_LOGFILE"
	echo "$output"
	[[ "$output" == *"xs-publish: fatal: unable to "* ]]
	run xenstore-read "$B1/physical-device"
	[ "$status" -ne 0 ]
	run xenstore-read "$B1/physical-device-path"
	[ "$status" -ne 0 ]
	run xenstore-read "$B1/node"
	[ "$status" -ne 0 ]
	[ "$(xenstore-read "$B1/state")" = 2 ]
	no_loops
}

# ---- the lock directory ----

@test "a missing lock directory is created and the add succeeds" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/no/such/dir run st_block ours add 1 51712
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B1/hotplug-status")" = connected ]
	[ -d "$XHP_TMP/no/such/dir" ]
}

@test "a lock directory that cannot be created (read-only filesystem): exit 1, a clear error, nothing attached" {
	mkdir "$XHP_TMP/ro"
	mount -t tmpfs -o ro,size=1m tmpfs "$XHP_TMP/ro"
	st_mkbe 1 51712 "$XHP_TMP/img" w
	XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/ro/xen-hotplug run st_block ours add 1 51712
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$B1/hotplug-status")" = error ]
	[ "$(xenstore-read "$B1/hotplug-error")" = "xs-publish: fatal: unable to create directory $XHP_TMP/ro/xen-hotplug: Read-only file system" ]
	run xenstore-read "$B1/physical-device"
	[ "$status" -ne 0 ]
	no_loops
}

@test "a read-only lock directory: exit 1, a clear error, nothing attached" {
	mkdir "$XHP_TMP/ro"
	mount -t tmpfs -o size=1m tmpfs "$XHP_TMP/ro"
	mkdir "$XHP_TMP/ro/xen-hotplug"
	mount -o remount,ro "$XHP_TMP/ro"
	st_mkbe 1 51712 "$XHP_TMP/img" w
	XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/ro/xen-hotplug run st_block ours add 1 51712
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$B1/hotplug-status")" = error ]
	[ "$(xenstore-read "$B1/hotplug-error")" = "xs-publish: fatal: unable to open $XHP_TMP/ro/xen-hotplug/block: Read-only file system" ]
	run xenstore-read "$B1/physical-device-path"
	[ "$status" -ne 0 ]
	no_loops
}

# ---- loop devices ----

@test "no free loop device: exit 1, the kernel's reason in hotplug-error, nothing written; a later add succeeds" {
	# xs-publish attaches the loop device itself: it fails as it reports
	# LOOP_CTL_GET_FREE failing.
	stub xs-publish "unable to get a free loop device: No such device"
	st_mkbe 1 51712 "$XHP_TMP/img" w
	XEN_HOTPLUG_HELPERDIR=$XHP_TMP/stub run st_block ours add 1 51712
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$B1/hotplug-status")" = error ]
	[ "$(xenstore-read "$B1/hotplug-error")" = "xs-publish: fatal: unable to get a free loop device: No such device" ]
	run xenstore-read "$B1/physical-device"
	[ "$status" -ne 0 ]
	run xenstore-read "$B1/physical-device-path"
	[ "$status" -ne 0 ]
	# libxl runs remove after the failed add; then a new add works.
	run st_block ours remove 1 51712
	[ "$status" -eq 0 ]
	st_mkbe 2 51712 "$XHP_TMP/img" w
	run st_block ours add 2 51712
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$ST_BE/2/51712/hotplug-status")" = connected ]
}

@test "a failing loop attach (losetup's job): exit 1, its message in hotplug-error, no loop device" {
	stub xs-publish "unable to attach $XHP_TMP/img to /dev/loop7: Device or resource busy"
	st_mkbe 1 51712 "$XHP_TMP/img" r
	XEN_HOTPLUG_HELPERDIR=$XHP_TMP/stub run st_block ours add 1 51712
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$B1/hotplug-status")" = error ]
	[[ "$(xenstore-read "$B1/hotplug-error")" == *"Device or resource busy" ]]
	no_loops
}

@test "a failing loop detach: remove exits 1 with its message, and a second remove frees the device" {
	st_mkbe 1 51712 "$XHP_TMP/img" w
	run st_block ours add 1 51712
	[ "$status" -eq 0 ]
	stub loop-detach "unable to detach /dev/loop7: Device or resource busy"
	XEN_HOTPLUG_HELPERDIR=$XHP_TMP/stub run st_block ours remove 1 51712
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$B1/hotplug-status")" = error ]
	[[ "$(xenstore-read "$B1/hotplug-error")" == *"Device or resource busy" ]]
	[ -n "$(st_our_loops)" ]
	run st_block ours remove 1 51712
	[ "$status" -eq 0 ]
	no_loops
}

@test "an image on a read-only filesystem is refused read-write with a clear error, and attached read-only" {
	mkdir "$XHP_TMP/ro"
	mount -t tmpfs -o size=8m tmpfs "$XHP_TMP/ro"
	truncate -s 4M "$XHP_TMP/ro/img"
	mount -o remount,ro "$XHP_TMP/ro"
	st_mkbe 1 51712 "$XHP_TMP/ro/img" w
	run st_block ours add 1 51712
	[ "$status" -eq 1 ]
	[[ "$(xenstore-read "$B1/hotplug-status")" =~ ^(error|busy)$ ]]
	[[ "$(xenstore-read "$B1/hotplug-error")" == *"read-only"* ]]
	run xenstore-read "$B1/physical-device"
	[ "$status" -ne 0 ]
	no_loops
	st_mkbe 2 51712 "$XHP_TMP/ro/img" r
	run st_block ours add 2 51712
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$ST_BE/2/51712/hotplug-status")" = connected ]
	run st_block ours remove 2 51712
	[ "$status" -eq 0 ]
	no_loops
}
