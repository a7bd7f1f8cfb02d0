#!/usr/bin/env bats
# The short version of `make stress` (tests/stress/concurrency.sh): a few
# rounds of many simultaneous adds, the sharing invariant checked from the
# outside after each. The long run is `make stress`. The checker itself is
# tested against deliberately broken copies of the block script, so that a
# regression cannot pass unnoticed.

load ../test_helper

setup() {
	require_root
	xhp_tmp
	STRESS=$XHP_TOP/tests/stress/concurrency.sh
	# Our scripts alone: a private lock directory, so this never waits
	# for other suites. The mixed test below uses the real one.
	export ST_LOCKDIR=$XHP_TMP/lock
	export ST_BLOCK=$XHP_SCRIPTDIR/block
	# The runs' scratch directories (images) under ours.
	export TMPDIR=$XHP_TMP
}

teardown() {
	[ -z "${WATCH:-}" ] || kill "$WATCH" 2>/dev/null
	free_my_loops
	xhp_teardown
}

# fig NAME: the figure NAME=N from the final "stress:" line.
fig() {
	printf '%s\n' "$output" | grep '^stress: rounds=' | tr ' ' '\n' |
	    sed -n "s/^$1=//p"
}

# ---- usage ----

@test "the stress run refuses a non-numeric round count with a usage error" {
	only_dash
	run sh "$STRESS" -r many
	[ "$status" -eq 100 ]
	[ "$output" = "concurrency.sh: fatal: not a number: many" ]
}

# ---- runs ----

@test "concurrent adds by our script, path-only mode included, never break the sharing invariant" {
	run sh "$STRESS" -r 4 -w 12 -u no -s 11
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fig violations)" -eq 0 ]
	[ "$(fig spurious_refusals)" -eq 0 ]
	[ "$(fig errors)" -eq 0 ]
	[ "$(fig half_written)" -eq 0 ]
	[ "$(fig loop_leaks)" -eq 0 ]
	# Not vacuous: the plan makes conflicts, and they were refused.
	[ "$(fig conflicts_caught)" -gt 0 ]
	[ "$(fig grants)" -gt 0 ]
	[ "$(fig path_conversions)" -gt 0 ]
}

@test "mixed with upstream's stock scripts on the real lock file, our adds still refuse every conflict" {
	if ! sh "$XHP_TOP/tests/fetch-upstream.sh" >/dev/null 2>"$XHP_TMP/fetch.err"; then
		skip "upstream's scripts unavailable: $(cat "$XHP_TMP/fetch.err")"
	fi
	unset ST_LOCKDIR
	run sh "$STRESS" -r 4 -w 12 -u yes -s 23
	echo "$output"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | grep -q '^stress: .*upstream=xen-utils-common'
	[ "$(fig violations)" -eq 0 ]
	[ "$(fig spurious_refusals)" -eq 0 ]
	[ "$(fig errors)" -eq 0 ]
	[ "$(fig half_written)" -eq 0 ]
	[ "$(fig loop_leaks)" -eq 0 ]
	[ "$(fig conflicts_caught)" -gt 0 ]
}

# first_then IMPL TARGET N: backend 1/51712 is granted TARGET read-write
# by IMPL; then N adds of ours (every other one path-only, modes r and w
# alternately) race for it from unrelated domains, under a watch whose
# log ($XHP_TMP/watch) gives st_check the order of the grants.
first_then() {
	local d pids=
	st_mkbe 1 51712 "$2" w
	st_block "$1" add 1 51712 >/dev/null 2>&1
	[ "$(xenstore-read "$ST_BE/1/51712/hotplug-status")" = connected ]
	echo "1/51712 $1" >"$XHP_TMP/impl"
	: >"$XHP_TMP/pathonly"
	for d in $(seq 2 $(($3 + 1))); do
		st_mkdom "$d"
		if [ $((d % 2)) -eq 0 ]; then
			st_mkbe "$d" 51712 "$2" r
			echo "$d/51712 path" >>"$XHP_TMP/impl"
		else
			st_mkbe "$d" 51712 "$2" w
			echo "$d/51712 ours" >>"$XHP_TMP/impl"
		fi
	done
	st_watch_start "$XHP_TMP/watch"
	WATCH=$ST_WATCH
	for d in $(seq 2 $(($3 + 1))); do
		st_block "$(sed -n "s|^$d/51712 ||p" "$XHP_TMP/impl")" add "$d" 51712 \
		    >/dev/null 2>&1 3>&- &
		pids="$pids $!"
	done
	for d in $pids; do wait "$d" || :; done
	xenstore-write /local/domain/0/backend/sentinel 1
	while ! grep -q sentinel "$XHP_TMP/watch"; do sleep 0.01; done
	kill "$WATCH"
	wait "$WATCH" || :
	WATCH=
}

# mixed_setup: a private xenstore and the library, as tests/scripts/faults.bats.
mixed_setup() {
	xsd_start
	export ST_DIR=$XHP_TMP
	export XHP_TOP HOTPLUG_SH
	# shellcheck source=/dev/null # tests/stress/lib.sh
	. "$XHP_TOP/tests/stress/lib.sh"
	st_env
	st_mkdom 1
}

@test "an image granted read-write by upstream's stock script is refused to every racing add of ours" {
	if ! ST_UPSTREAM=$(sh "$XHP_TOP/tests/fetch-upstream.sh" 2>"$XHP_TMP/fetch.err"); then
		skip "upstream's scripts unavailable: $(cat "$XHP_TMP/fetch.err")"
	fi
	export ST_UPSTREAM
	unset ST_LOCKDIR
	mixed_setup
	truncate -s 4M "$XHP_TMP/img"
	first_then upstream "$XHP_TMP/img" 6
	run st_check "$XHP_TMP/watch" "$XHP_TMP/impl"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "grants=1 refused=6 errors=0 violations=0 upstream_misses=0 spurious=0 vs_upstream=6 vs_pathonly=0" ]
}

@test "a device granted path-only (no physical-device yet) is refused to every racing add of ours" {
	mixed_setup
	mknod "$XHP_TMP/disk" b 240 180
	first_then path "$XHP_TMP/disk" 6
	run st_check "$XHP_TMP/watch" "$XHP_TMP/impl"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(xenstore-read "$ST_BE/1/51712/physical-device" 2>/dev/null)" ]
	[ "${lines[-1]}" = "grants=1 refused=6 errors=0 violations=0 upstream_misses=0 spurious=0 vs_upstream=0 vs_pathonly=6" ]
}

@test "the checker calls a conflict granted later by upstream's script an upstream miss, not a violation" {
	if ! ST_UPSTREAM=$(sh "$XHP_TOP/tests/fetch-upstream.sh" 2>"$XHP_TMP/fetch.err"); then
		skip "upstream's scripts unavailable: $(cat "$XHP_TMP/fetch.err")"
	fi
	export ST_UPSTREAM
	unset ST_LOCKDIR
	mixed_setup
	mknod "$XHP_TMP/disk" b 240 181
	# Our path-only grant first: upstream compares only physical-device
	# text, so it cannot see it and grants the device again.
	st_mkbe 1 51712 "$XHP_TMP/disk" w
	st_mkdom 2
	st_mkbe 2 51712 "$XHP_TMP/disk" w
	st_watch_start "$XHP_TMP/watch"
	WATCH=$ST_WATCH
	st_block path add 1 51712
	st_block upstream add 2 51712
	xenstore-write /local/domain/0/backend/sentinel 1
	while ! grep -q sentinel "$XHP_TMP/watch"; do sleep 0.01; done
	kill "$WATCH"
	wait "$WATCH" || :
	WATCH=
	printf '%s\n' "1/51712 path" "2/51712 upstream" >"$XHP_TMP/impl"
	echo 1/51712 >"$XHP_TMP/pathonly"
	run st_check "$XHP_TMP/watch" "$XHP_TMP/impl"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "upstream-miss dev f0:b5 "*" later 2/51712" ]]
	[ "${lines[-1]}" = "grants=2 refused=0 errors=0 violations=0 upstream_misses=1 spurious=0 vs_upstream=0 vs_pathonly=0" ]
	# Had ours been the later one, the same pair is a violation.
	printf '%s\n' "1/51712 upstream" "2/51712 ours" >"$XHP_TMP/impl"
	run st_check "$XHP_TMP/watch" "$XHP_TMP/impl"
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "violation dev f0:b5 "* ]]
}

@test "adds killed at random moments in the middle of a storm leave no stuck lock, nothing half-written, no loop device" {
	# A 1 ms stall per xenstore request stretches each add beyond the
	# first few ms, so the random kills (0-60 ms) land while adds run,
	# even on an idle machine where an add takes 7 ms.
	ST_XSD_OPTS="-D 1" run sh "$STRESS" -r 3 -w 12 -u no -s 31 -k 30
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(fig killed_mid_run)" -gt 0 ]
	[ "$(fig kills_stuck)" -eq 0 ]
	[ "$(fig violations)" -eq 0 ]
	[ "$(fig errors)" -eq 0 ]
	[ "$(fig half_written)" -eq 0 ]
	[ "$(fig loop_leaks)" -eq 0 ]
}

@test "the invariant check reports violations when the sharing check is skipped" {
	only_dash
	# Mode w! tells xs-publish to skip the sharing check: every add of
	# the broken copy asks for it, naming params as its TARGET.
	# shellcheck disable=SC2016 # sed script
	broken nocheck 's/^\tset -- "\$@" -B "\$_xhp_base"$/&\n\tset -- "$@" -m "w!"; _blk_tgt=$(xenstore-read "$XENBUS_PATH\/params")/; s/^    -- "\$XENBUS_PATH" 2>&1) || _blk_rc=\$?$/    -- "$XENBUS_PATH" ${_blk_tgt:+"$_blk_tgt"} 2>\&1) || _blk_rc=$?/'
	grep -qF -- '-m "w!"' "$ST_BLOCK"
	# shellcheck disable=SC2016 # the text of the broken copy
	grep -qF -- '${_blk_tgt:+"$_blk_tgt"}' "$ST_BLOCK"
	run sh "$STRESS" -r 2 -w 12 -u no -s 11
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(fig violations)" -gt 0 ]
	printf '%s\n' "$output" | grep -q '^round [0-9]*: violation '
}

@test "the invariant check reports refusals that no conflicting grant explains" {
	only_dash
	# Every add refuses as busy, naming a guest that does not exist.
	# shellcheck disable=SC2016 # sed script, expanded by the broken copy
	broken allbusy 's/^add)$/&\n\txenstore-write "$XENBUS_PATH\/hotplug-error" "used by guest nowhere" "$XENBUS_PATH\/hotplug-status" busy; exit 1/'
	grep -q 'nowhere' "$ST_BLOCK"
	run sh "$STRESS" -r 1 -w 8 -u no -s 11
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(fig spurious_refusals)" -gt 0 ]
	[ "$(fig violations)" -eq 0 ]
}

@test "the stress run reports loop devices that remove leaves behind" {
	only_dash
	# shellcheck disable=SC2016 # sed script
	broken noremove 's|^remove) set -- "$_xhp_h/loop-detach" -b ;;$|remove) exit 0 ;;|'
	run sh "$STRESS" -r 1 -w 8 -u no -s 11
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(fig loop_leaks)" -gt 0 ]
	# Its own clean-up still freed them.
	run losetup -l -n -O BACK-FILE
	[ "$status" -eq 0 ]
	run grep -c "^$XHP_TMP/" <<<"$output"
	[ "$output" = 0 ]
}
