#!/usr/bin/env bats
# The add against libxl's lifecycle: an add that libxl has given up on
# (its script SIGKILLed at 40 s, or the device torn down by another xl
# while the add waits) never publishes and leaves no loop device; one
# deadline per script run. Deterministic: the helper stops itself at a
# named point (XEN_HOTPLUG_TEST_PAUSE=POINT:PIDFILE) and the test moves
# libxl's steps in between. Runs under $HOTPLUG_SH.
# shellcheck disable=SC2030,SC2031 # ADD, HOLDER: one test's, and teardown's

load ../test_helper

BE=/local/domain/0/backend/vbd

setup() {
	script_setup
	mkdir -p "$XHP_TMP/lock"
	LOCK=$XHP_TMP/lock/block
	IMG=$XHP_TMP/disk.img
	mkimg "$IMG"
	mkbe 1 51712 "$IMG" w
}

teardown() {
	local p
	for p in ${HOLDER:-} ${ADD:-}; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	free_my_loops
	xhp_teardown
}

# hold_lock: a process holds the hotplug lock, with upstream's protocol,
# until $XHP_TMP/release appears; HOLDER is its pid.
hold_lock() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	flock-wrap "$LOCK" sh -c 'touch "$1/held"
		while [ ! -e "$1/release" ]; do sleep 0.05; done' _ "$XHP_TMP" 3>&- &
	HOLDER=$!
	until [ -e "$XHP_TMP/held" ]; do sleep 0.02; done
}

release_lock_holder() {
	touch "$XHP_TMP/release"
	wait "$HOLDER"
	HOLDER=
}

# add_paused POINT: `block add` in the background, paused at POINT
# (start_paused).
add_paused() {
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	start_paused "$1" env XENBUS_PATH=backend/vbd/1/51712 $HOTPLUG_SH \
	    "$BLOCK" add
}

# teardown_as_libxl: what libxl_device.c does to remove the device: online=0
# and state=5 in one transaction (here: one write), then the remove script.
teardown_as_libxl() {
	xenstore-write "$BE/1/51712/online" 0 "$BE/1/51712/state" 5
}

nothing_published() {
	absent 1/51712/physical-device
	absent 1/51712/physical-device-path
	absent 1/51712/node
	[ "$(loops_of "$IMG")" -eq 0 ]
}

@test "the add's script SIGKILLed while it waits for the lock: remove runs, the orphan never publishes" {
	hold_lock
	add_paused wait
	kill -9 "$ADD"
	wait "$ADD" || true
	ADD=
	teardown_as_libxl
	release_lock_holder
	blk_remove
	[ "$status" -eq 0 ]
	kill -CONT "$HELPER"
	gone_wait "$HELPER"
	nothing_published
	lock_free
}

@test "the add's script SIGKILLed after the attach: the orphan frees its loop device before the commit" {
	add_paused attached
	[ "$(loops_of "$IMG")" -eq 1 ]
	kill -9 "$ADD"
	wait "$ADD" || true
	ADD=
	teardown_as_libxl
	kill -CONT "$HELPER"
	gone_wait "$HELPER"
	nothing_published
	# The remove runs after the orphan let go of the lock.
	blk_remove
	[ "$status" -eq 0 ]
	nothing_published
	lock_free
}

@test "the script SIGKILLed with the helper about to commit: nothing is published" {
	add_paused commit
	kill -9 "$ADD"
	wait "$ADD" || true
	ADD=
	kill -CONT "$HELPER"
	gone_wait "$HELPER"
	nothing_published
	absent 1/51712/hotplug-status
	lock_free
}

@test "no kill: the device torn down and the remove run while the add waits for the lock: the add refuses" {
	hold_lock
	# shellcheck disable=SC2086
	XENBUS_PATH=backend/vbd/1/51712 $HOTPLUG_SH "$BLOCK" add </dev/null \
	    >/dev/null 2>&1 3>&- &
	ADD=$!
	# Queued on the lock: the helper's flock is in /proc/locks' waiters.
	until grep -q -- '->' /proc/locks; do sleep 0.02; done
	teardown_as_libxl
	# shellcheck disable=SC2086
	XENBUS_PATH=backend/vbd/1/51712 $HOTPLUG_SH "$BLOCK" remove </dev/null \
	    >/dev/null 2>&1 3>&- &
	rm_pid=$!
	release_lock_holder
	rc=0
	wait "$ADD" || rc=$?
	ADD=
	[ "$rc" -eq 1 ]
	wait "$rm_pid"
	nothing_published
	absent 1/51712/hotplug-status
	grep -Eq "being torn down|Path closed or removed during hotplug add" "$XEN_HOTPLUG_LOGFILE"
	lock_free
}

@test "online=0 written between the helper's reads and its commit: the commit sees it" {
	add_paused commit
	xenstore-write "$BE/1/51712/online" 0
	kill -CONT "$HELPER"
	wait "$ADD" || rc=$?
	ADD=
	[ "${rc:-0}" -eq 1 ]
	nothing_published
	lock_free
}

@test "one deadline per run: a lock held past it fails within it, with the holder named" {
	hold_lock
	start=$(date +%s%N)
	XEN_HOTPLUG_DEADLINE=1 blk add
	end=$(date +%s%N)
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-status)" = error ]
	[[ "$(rd 1/51712/hotplug-error)" == *"held by pid $HOLDER"* ]]
	# One wait of at most the deadline (plus start-up), not one per step.
	[ $(((end - start) / 1000000)) -lt 3000 ]
	nothing_published
	release_lock_holder
}

@test "claim_lock late in a run gets what is left of the deadline, not a fresh wait" {
	hold_lock
	# A third-party script, installed next to ours.
	mkdir "$XHP_TMP/s"
	# shellcheck disable=SC2046 # a list of paths without blanks
	cp $(our_files) "$XHP_TMP/s/"
	cat >"$XHP_TMP/s/late" <<'EOF'
#!/bin/sh
. "${0%/*}/block-common.sh"
sleep 1.2
claim_lock block
EOF
	start=$(date +%s%N)
	# shellcheck disable=SC2086
	run env XENBUS_PATH=backend/vbd/1/51712 XEN_HOTPLUG_DEADLINE=1 \
	    XEN_HOTPLUG_HELPERDIR="$XHP_BIN" $HOTPLUG_SH "$XHP_TMP/s/late" add
	end=$(date +%s%N)
	[ "$status" -eq 1 ]
	[[ "$(rd 1/51712/hotplug-error)" == *"held by pid $HOLDER"* ]]
	# The deadline had passed: one try, no second second of waiting.
	[ $(((end - start) / 1000000)) -lt 2000 ]
	release_lock_holder
}

# blk_remove: the remove, as libxl runs it.
blk_remove() { run_script "$BLOCK" remove backend/vbd/1/51712; }
blk() { run_script "$BLOCK" "$1" backend/vbd/1/51712; }
