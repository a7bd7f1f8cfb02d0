#!/usr/bin/env bats
# Many block scripts at once: the lock covers check and write, so of N
# conflicting adds exactly one wins, whoever writes physical-device and
# whenever. Runs under $HOTPLUG_SH with real loop devices.

load ../test_helper

BE=/local/domain/0/backend/vbd
N=12

setup() {
	require_root
	xhp_setup
	script_env
}

teardown() {
	free_my_loops
	xhp_teardown
}

# storm CMD DOMS...: run `block CMD` for backend DOM/1 of every DOM at once
# (odd domains in path-only mode when PATHONLY_ODD is set); wait for all.
storm() {
	local cmd=$1 d pids=
	shift
	for d in "$@"; do
		if [ -n "${PATHONLY_ODD:-}" ] && [ $((d % 2)) -eq 1 ]; then
			export XEN_BLOCK_PATH_ONLY=1
		else
			unset XEN_BLOCK_PATH_ONLY
		fi
		# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
		XENBUS_PATH="backend/vbd/$d/1" $HOTPLUG_SH "$BLOCK" "$cmd" \
		    </dev/null 3>&- &
		pids="$pids $!"
	done
	unset XEN_BLOCK_PATH_ONLY
	for d in $pids; do wait "$d" || true; done
}

# tally DOMS...: "connected=X busy=Y other=Z" over the backends' status.
tally() {
	local d s c=0 b=0 o=0
	for d in "$@"; do
		s=$(xenstore-read "$BE/$d/1/hotplug-status" 2>/dev/null) || s=none
		case $s in
		connected) c=$((c + 1)) ;;
		busy) b=$((b + 1)) ;;
		*) o=$((o + 1)) ;;
		esac
	done
	echo "connected=$c busy=$b other=$o"
}

@test "$N simultaneous read-write adds of one device: exactly one is connected, the rest busy" {
	mknod "$XHP_TMP/disk" b 240 90
	doms=$(seq 1 "$N")
	for d in $doms; do mkbe "$d" 1 "$XHP_TMP/disk" w; done
	# shellcheck disable=SC2086
	storm add $doms
	# shellcheck disable=SC2086
	[ "$(tally $doms)" = "connected=1 busy=$((N - 1)) other=0" ]
}

@test "$N simultaneous read-write adds of one image: one loop device, one winner" {
	truncate -s 4M "$XHP_TMP/img"
	doms=$(seq 1 "$N")
	for d in $doms; do mkbe "$d" 1 "$XHP_TMP/img" w; done
	# shellcheck disable=SC2086
	storm add $doms
	# shellcheck disable=SC2086
	[ "$(tally $doms)" = "connected=1 busy=$((N - 1)) other=0" ]
	[ "$(losetup -j "$XHP_TMP/img" | wc -l)" -eq 1 ]
}

@test "path-only writers racing normal writers: still exactly one winner" {
	mknod "$XHP_TMP/disk" b 240 91
	doms=$(seq 1 "$N")
	for d in $doms; do mkbe "$d" 1 "$XHP_TMP/disk" w; done
	# shellcheck disable=SC2086
	PATHONLY_ODD=1 storm add $doms
	# shellcheck disable=SC2086
	[ "$(tally $doms)" = "connected=1 busy=$((N - 1)) other=0" ]
}

@test "readers racing one writer: either the writer alone or all the readers" {
	mknod "$XHP_TMP/disk" b 240 92
	doms=$(seq 1 "$N")
	mkbe 1 1 "$XHP_TMP/disk" w
	for d in $(seq 2 "$N"); do mkbe "$d" 1 "$XHP_TMP/disk" r; done
	# shellcheck disable=SC2086
	storm add $doms
	w=$(xenstore-read "$BE/1/1/hotplug-status")
	# shellcheck disable=SC2086
	if [ "$w" = connected ]; then
		[ "$(tally $doms)" = "connected=1 busy=$((N - 1)) other=0" ]
	else
		[ "$(tally $doms)" = "connected=$((N - 1)) busy=1 other=0" ]
	fi
}

@test "simultaneous adds then removes of $N images leave no loop device behind" {
	doms=$(seq 1 "$N")
	for d in $doms; do
		truncate -s 1M "$XHP_TMP/img$d"
		mkbe "$d" 1 "$XHP_TMP/img$d" w
	done
	# shellcheck disable=SC2086
	storm add $doms
	# shellcheck disable=SC2086
	[ "$(tally $doms)" = "connected=$N busy=0 other=0" ]
	[ "$(losetup -l -n -O BACK-FILE | grep -c "^$XHP_TMP/img")" -eq "$N" ]
	# shellcheck disable=SC2086
	storm remove $doms
	[ "$(losetup -l -n -O BACK-FILE | grep -c "^$XHP_TMP/img")" -eq 0 ]
}
