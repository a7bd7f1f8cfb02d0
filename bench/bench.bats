#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# The tools behind `make bench`: the floor program, timerun, populate, the
# lock-wait shim and the report. A benchmark whose yardstick is wrong says
# nothing, so the floor is held to the same results as the scripts.
# Run: make bench-check (or bats bench/bench.bats).

bats_require_minimum_version 1.5.0
load ../tests/test_helper

BB=$XHP_TOP/build/bench
BE=/local/domain/0/backend/vbd

setup() {
	xhp_setup
	LOCK=$XHP_TMP/lock
}
teardown() {
	if [ -n "${IMG:-}" ]; then
		losetup -j "$IMG" | while IFS=: read -r l _; do losetup -d "$l"; done
	fi
	xhp_teardown
}

# target DOM PARAMS MODE [VM]: a backend as libxl leaves it before the script.
target() {
	xenstore-write "/local/domain/$1/vm" "${4:-/vm/t$1}" \
	    "$BE/$1/51712/params" "$2" "$BE/$1/51712/mode" "$3" \
	    "$BE/$1/51712/frontend-id" "$1" "$BE/$1/51712/state" 2
}

@test "floor without arguments prints its usage and exits 100" {
	run --separate-stderr "$BB/floor"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ "$stderr" == "usage: floor"* ]]
}

@test "floor -h prints the usage on stdout and exits 0" {
	run --separate-stderr "$BB/floor" -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: floor"* ]]
	[ -z "$stderr" ]
}

@test "floor publishes a block device as blkback wants it, in one go" {
	require_root
	mknod "$XHP_TMP/d" b 240 7
	target 5 "$XHP_TMP/d" w
	run --separate-stderr "$BB/floor" -l "$LOCK" add backend/vbd/5/51712
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	run xenstore-read "$BE/5/51712/physical-device" "$BE/5/51712/physical-device-path" "$BE/5/51712/hotplug-status"
	[ "$output" = "f0:7
$XHP_TMP/d
connected" ]
	# released: the file stays (cheaper for the next locker), unlocked
	[ -f "$LOCK" ]
	flock -n "$LOCK" true
}

@test "floor never recreates a backend that was removed meanwhile" {
	require_root
	mknod "$XHP_TMP/d" b 240 7
	target 5 "$XHP_TMP/d" w
	xenstore-rm "$BE/5/51712/state"
	run --separate-stderr "$BB/floor" -l "$XHP_TMP/sub/lock" add backend/vbd/5/51712
	[ "$status" -eq 1 ]
	[ "$stderr" = "floor: fatal: backend backend/vbd/5/51712 gone" ]
	run xenstore-read "$BE/5/51712/physical-device"
	[ "$status" -ne 0 ]
	# the missing lock directory was created, the lock released
	[ -f "$XHP_TMP/sub/lock" ]
	flock -n "$XHP_TMP/sub/lock" true
}

@test "floor frees its loop device when the backend went away meanwhile" {
	require_root
	IMG=$XHP_TMP/disk.img
	dd if=/dev/zero of="$IMG" bs=1024 count=0 seek=1024 2>/dev/null
	target 6 "$IMG" w
	xenstore-rm "$BE/6/51712/state"
	run "$BB/floor" -l "$LOCK" add backend/vbd/6/51712
	[ "$status" -eq 1 ]
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(losetup -j "$IMG")" ] && break
		sleep 0.1
	done
	[ -z "$(losetup -j "$IMG")" ]
}

@test "floor writes a decimal dev_t with -o netbsd" {
	require_root
	mknod "$XHP_TMP/d" b 240 300
	target 5 "$XHP_TMP/d" w
	run "$BB/floor" -o netbsd -l "$LOCK" add "$BE/5/51712"
	[ "$status" -eq 0 ]
	run xenstore-read "$BE/5/51712/physical-device"
	# ((240 << 8) & 0xfff00) | ((300 << 12) & 0xfff00000) | (300 & 0xff)
	[ "$output" = "$(((240 << 8) | ((300 << 12) & 0xfff00000) | (300 & 255)))" ]
}

@test "floor lets a stubdomain share its guest's device" {
	require_root
	mknod "$XHP_TMP/d" b 240 9
	"$BB/populate" -V 3 -D 3
	xenstore-write "$BE/2/51712/physical-device" f0:9
	target 5 "$XHP_TMP/d" w
	xenstore-write /local/domain/5/target 2
	run "$BB/floor" -l "$LOCK" add backend/vbd/5/51712
	[ "$status" -eq 0 ]
	run xenstore-read "$BE/5/51712/physical-device"
	[ "$output" = f0:9 ]
}

@test "floor refuses a device another guest already has, and says busy" {
	require_root
	mknod "$XHP_TMP/d" b 240 9
	"$BB/populate" -V 3 -D 3
	xenstore-write "$BE/2/51712/physical-device" f0:9
	target 5 "$XHP_TMP/d" r
	run --separate-stderr "$BB/floor" -l "$LOCK" add backend/vbd/5/51712
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "floor: fatal: device in use by backend/vbd/2/51712" ]
	run xenstore-read "$BE/5/51712/hotplug-status"
	[ "$output" = busy ]
	run xenstore-read "$BE/5/51712/physical-device"
	[ "$status" -ne 0 ]
}

@test "floor lets backends of the same VM share a device" {
	require_root
	mknod "$XHP_TMP/d" b 240 9
	"$BB/populate" -V 3 -D 3
	xenstore-write "$BE/2/51712/physical-device" f0:9
	target 5 "$XHP_TMP/d" w "$(xenstore-read /local/domain/2/vm)"
	run "$BB/floor" -l "$LOCK" add backend/vbd/5/51712
	[ "$status" -eq 0 ]
	run xenstore-read "$BE/5/51712/physical-device"
	[ "$output" = f0:9 ]
}

@test "floor attaches an image file to a loop device and frees it on remove" {
	require_root
	IMG=$XHP_TMP/disk.img
	dd if=/dev/zero of="$IMG" bs=1024 count=0 seek=1024 2>/dev/null
	target 6 "$IMG" w
	run "$BB/floor" -l "$LOCK" add backend/vbd/6/51712
	[ "$status" -eq 0 ]
	node=$(xenstore-read "$BE/6/51712/node")
	[[ "$node" == /dev/loop* ]]
	run xenstore-read "$BE/6/51712/physical-device"
	[ "$output" = "7:$(printf %x "${node#/dev/loop}")" ]
	run losetup -j "$IMG"
	[[ "$output" == "$node:"* ]]
	run "$BB/floor" remove backend/vbd/6/51712
	[ "$status" -eq 0 ]
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(losetup -j "$IMG")" ] && break
		sleep 0.1
	done
	[ -z "$(losetup -j "$IMG")" ]
}

@test "timerun runs N copies with their own @N@ and reports each status" {
	# shellcheck disable=SC2016 # expanded by the child shell, per copy
	run --separate-stderr "$BB/timerun" -n 3 -f 7 -e X=a@N@ sh -c 'exit $((${X#a} - 7 + BENCH_ADD))'
	[ "$status" -eq 1 ]
	[ -z "$stderr" ]
	[ "$(echo "$output" | awk '$1 == "run" { print $2, $3 }')" = "0 0
1 2
2 4" ]
	[[ "$(echo "$output" | tail -n 1)" == "wall "[0-9]*.[0-9]* ]]
}

@test "timerun times a copy to the millisecond and exits 0 when all succeed" {
	run "$BB/timerun" -n 2 sleep 0.2
	[ "$status" -eq 0 ]
	echo "$output" | awk '$1 == "run" && ($4 < 0.19 || $4 > 1.5) { exit 1 }'
	echo "$output" | awk '$1 == "wall" && ($2 < 0.19 || $2 > 1.5) { exit 1 }'
}

@test "timerun refuses a zero count with a usage error" {
	run --separate-stderr "$BB/timerun" -n 0 true
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
}

@test "populate writes V connected backends spread over D domains" {
	run "$BB/populate" -V 25 -D 10 -f 1
	[ "$status" -eq 0 ]
	run xenstore-list backend/vbd
	[ "$(echo "$output" | wc -l)" -eq 10 ]
	n=0
	for d in $(xenstore-list backend/vbd); do
		n=$((n + $(xenstore-list "backend/vbd/$d" | wc -l)))
	done
	[ "$n" -eq 25 ]
	run xenstore-read "$BE/1/51712/physical-device" "$BE/1/51712/hotplug-status" /local/domain/1/vm
	[ "$output" = "f1:0
connected
/vm/00000000-0000-0000-0000-000000000001" ]
	run xenstore-read "$BE/1/51728/physical-device"
	[ "$output" = f1:a ]
}

@test "the lock shim records how long a contended flock waited" {
	: >"$LOCK"
	flock "$LOCK" sleep 0.6 3>&- &
	holder=$!
	# wait until the holder really has it
	for _ in $(seq 1 100); do
		flock -n "$LOCK" true || break
		sleep 0.01
	done
	BENCH_LOCKLOG=$XHP_TMP/log BENCH_ADD=4 LD_PRELOAD=$BB/lockshim.so flock "$LOCK" true
	wait "$holder"
	run awk '{ print $1, ($4 - $3 > 0.3), $5 }' "$XHP_TMP/log"
	[ "$output" = "4 1 0" ]
}

@test "the report takes medians, ratios and marks failed runs" {
	printf '%s\n' "linux-phy-add 0 upstream secs 1.0" "linux-phy-add 0 upstream secs 3.0" \
	    "linux-phy-add 0 upstream secs 2.0" "linux-phy-add 0 ours secs 0.1" \
	    "linux-phy-add 0 floor secs 0.05" "linux-phy-add 100 ours fail 1" >"$XHP_TMP/s"
	run awk -v fmt=table -v meta=a=b -f "$XHP_TOP/bench/report.awk" "$XHP_TMP/s"
	[ "$status" -eq 0 ]
	[[ "$output" == *"phy add (s)                        0                2.0000     0.1000     0.0500     20.0x       2.0x"* ]]
	[[ "$output" == *"phy add (s)                        100                   -       FAIL          -"* ]]
	[[ "$output" == *"PASS  linux V=0 phy add: upstream/ours >= 10"*"20.0x"* ]]
	[[ "$output" == *"linux phy add, min (s)             0                1.0000     0.1000     0.0500     10.0x       2.0x"* ]]
	[[ "$output" != *"MISS  linux V=0 phy add"* ]]
	run awk -v fmt=json -v meta=a=b -f "$XHP_TOP/bench/report.awk" "$XHP_TMP/s"
	[[ "$output" == *'"median": 2.000000, "runs": 3, "min": 1.000000, "max": 3.000000'* ]]
	[[ "$output" == *'"upstream_over_ours": 20.0, "ours_over_floor": 2.0'* ]]
}
