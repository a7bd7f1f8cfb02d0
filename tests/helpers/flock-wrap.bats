#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# flock-wrap: the hotplug lock. Real flock locks, real processes, and
# upstream's own locking.sh (downloaded by tests/fetch-upstream.sh) for the
# interlock with old scripts.
# SC2016: the sh -c/bash -c bodies take their arguments as $1.., unexpanded
# on purpose. SC2030/SC2031: bats runs each test in its own subshell and the
# holder variables are meant to live only there (teardown runs in it too).
# shellcheck disable=SC2016,SC2030,SC2031

load ../test_helper

bats_require_minimum_version 1.5.0

setup() {
	xhp_tmp
	LOCK=$XHP_TMP/locks/block
	HOLDERS=
}

teardown() {
	for p in $HOLDERS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$XHP_TMP"
}

# now_ms: wall clock in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# locks_key FILE: the "MAJ:MIN:INO" /proc/locks shows for FILE.
locks_key() {
	local d
	d=$((0x$(stat -c %D "$1")))
	printf '%02x:%02x:%s' $(((d >> 8) & 0xfff)) \
		$(((d & 0xff) | ((d >> 12) & 0xfff00))) "$(stat -c %i "$1")"
}

# wait_held FILE: wait (up to 5 s) until a granted flock on FILE shows in
# /proc/locks, so that contention tests start from a really held lock.
wait_held() {
	local i key
	for i in $(seq 1 250); do
		if [ -f "$1" ]; then
			key=$(locks_key "$1")
			grep -v -- '->' /proc/locks | grep -q " FLOCK .* $key " && return 0
		fi
		sleep 0.02
	done
	echo "lock on $1 never became held" >&2
	return 1
}

# hold SECS: hold $LOCK in the background through flock-wrap's chainload;
# sets HOLDER (the holder's pid: flock-wrap execs sleep in place).
hold() {
	flock-wrap "$LOCK" sleep "$1" 3>&- &
	HOLDER=$!
	HOLDERS="$HOLDERS $HOLDER"
	wait_held "$LOCK"
}

# ---- usage and misuse -------------------------------------------------

@test "no arguments is a usage error with the usage on stderr" {
	usage_refused flock-wrap
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown flock-wrap "usage:"
	[[ "$output" == *"-F FD LOCKFILE"* ]]
}

@test "an unknown option is a usage error" {
	run --separate-stderr flock-wrap -x "$LOCK" true
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
}

@test "a malformed wait is a usage error and nothing is created" {
	for w in '' abc -1 +1 ' 1' 1. .5 1.2345 0x10 1e3 99999999999 '1 '; do
		run --separate-stderr flock-wrap -w "$w" "$LOCK" true
		[ "$status" -eq 100 ] || { echo "accepted -w '$w'"; return 1; }
		[[ "$stderr" == usage:* ]]
	done
	[ ! -e "$XHP_TMP/locks" ]
}

@test "a malformed descriptor number is a usage error" {
	for fd in '' x -1 3x 99999999999; do
		run --separate-stderr flock-wrap -F "$fd" "$LOCK"
		[ "$status" -eq 100 ] || { echo "accepted -F '$fd'"; return 1; }
	done
}

@test "-F takes exactly one lock file" {
	run --separate-stderr flock-wrap -F 0
	[ "$status" -eq 100 ]
	run --separate-stderr flock-wrap -F 0 "$LOCK" extra
	[ "$status" -eq 100 ]
}

@test "-u needs -F and refuses -w" {
	run --separate-stderr flock-wrap -u "$LOCK"
	[ "$status" -eq 100 ]
	run --separate-stderr flock-wrap -u -w 1 -F 0 "$LOCK"
	[ "$status" -eq 100 ]
}

@test "chainload without a command is a usage error" {
	run --separate-stderr flock-wrap "$LOCK"
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
	[ ! -e "$LOCK" ]
}

@test "-F on a descriptor that is not open is a system failure" {
	run --separate-stderr flock-wrap -F 7 "$LOCK" 7<&-
	[ "$status" -eq 111 ]
	[ "$stderr" = "flock-wrap: fatal: unable to stat descriptor 7: Bad file descriptor" ]
}

# ---- chainload --------------------------------------------------------

@test "chainload creates the missing lock directory 0755 and runs the command holding the lock" {
	umask 077
	run --separate-stderr flock-wrap "$LOCK" sh -c \
		'flock-wrap -w 0 "$1" true 2>/dev/null; echo "inner=$?"' sh "$LOCK"
	[ "$status" -eq 0 ]
	[ "$output" = "inner=5" ]
	[ -z "$stderr" ]
	[ "$(stat -c %a "$XHP_TMP/locks")" = 755 ]
	# The lock file stays; the next locker reuses it.
	[ -f "$LOCK" ]
}

@test "chainload passes the command's own options and exit status through" {
	run --separate-stderr flock-wrap -w 2 "$LOCK" sh -c 'echo "$1 $2"; exit 7' sh -w -F
	[ "$status" -eq 7 ]
	[ "$output" = "-w -F" ]
	[ -z "$stderr" ]
}

@test "chainload gives the command no pending alarm" {
	# A leftover timer would kill the command (SIGALRM) after the wait.
	run --separate-stderr flock-wrap -w 0.1 "$LOCK" sh -c 'sleep 0.4; echo alive'
	[ "$status" -eq 0 ]
	[ "$output" = alive ]
}

@test "an ignored SIGALRM still times out, and chainload hands the command the caller's disposition" {
	hold 30
	run --separate-stderr bash -c 'trap "" ALRM; flock-wrap -w 0.3 "$1" true' bash "$LOCK"
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"within 0.3 s: held by pid $HOLDER (sleep 30)" ]]
	kill -9 "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	# SIGALRM is signal 14: bit 0x2000 of SigIgn.
	ign='grep "^SigIgn:" /proc/$$/status'
	run bash -c 'trap "" ALRM; flock-wrap -w 1 "$1" sh -c "$2"' bash "$LOCK" "$ign"
	[ "$status" -eq 0 ]
	[ $((0x${output##*:[[:space:]]} & 0x2000)) -ne 0 ]
	run flock-wrap -w 1 "$LOCK" sh -c "$ign"
	[ "$status" -eq 0 ]
	[ $((0x${output##*:[[:space:]]} & 0x2000)) -eq 0 ]
}

@test "chainload of a missing command exits 127" {
	run -127 --separate-stderr flock-wrap "$LOCK" "$XHP_TMP/no-such-command"
	[ "$status" -eq 127 ]
	[ -z "$output" ]
	[ "$stderr" = "flock-wrap: fatal: unable to exec $XHP_TMP/no-such-command: No such file or directory" ]
}

@test "chainload of a file that is not executable exits 126" {
	printf 'echo hi\n' > "$XHP_TMP/noexec"
	chmod 0644 "$XHP_TMP/noexec"
	run -126 --separate-stderr flock-wrap "$LOCK" "$XHP_TMP/noexec"
	[ "$status" -eq 126 ]
	[[ "$stderr" == "flock-wrap: fatal: unable to exec $XHP_TMP/noexec: Permission denied" ]]
}

@test "a symlink lock file is refused and its target is left alone" {
	mkdir -p "$XHP_TMP/locks"
	: > "$XHP_TMP/target"
	ln -s "$XHP_TMP/target" "$LOCK"
	run --separate-stderr flock-wrap "$LOCK" true
	[ "$status" -eq 111 ]
	[ "$stderr" = "flock-wrap: fatal: unable to use $LOCK: lock file is a symlink" ]
	exec 8<>"$XHP_TMP/target"
	run --separate-stderr flock-wrap -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 111 ]
	[ "$stderr" = "flock-wrap: fatal: unable to use $LOCK: lock file is a symlink" ]
	[ -f "$XHP_TMP/target" ]
	[ -L "$LOCK" ]
}

@test "a directory or fifo lock file is refused" {
	mkdir -p "$LOCK"
	run --separate-stderr flock-wrap "$LOCK" true
	[ "$status" -eq 111 ]
	[ "$stderr" = "flock-wrap: fatal: unable to use $LOCK: lock file is not a regular file" ]
	rmdir "$LOCK"
	mkfifo "$LOCK"
	run --separate-stderr flock-wrap -w 1 "$LOCK" true
	[ "$status" -eq 111 ]
	[ "$stderr" = "flock-wrap: fatal: unable to use $LOCK: lock file is not a regular file" ]
}

# ---- -F and -u: the lock of a calling shell -----------------------------

@test "-F locks the shell's descriptor and the lock outlives the helper" {
	mkdir -p "$XHP_TMP/locks"
	exec 8<>"$LOCK"
	run --separate-stderr flock-wrap -F 8 "$LOCK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# Another open file cannot take it while fd 8 is open...
	run --separate-stderr flock-wrap -w 0 "$LOCK" true
	[ "$status" -eq 5 ]
	[[ "$stderr" == "flock-wrap: fatal: unable to lock $LOCK within 0 s: held by pid "* ]]
	# ...and can once the shell closes it.
	exec 8<&-
	run flock-wrap -w 0 "$LOCK" true
	[ "$status" -eq 0 ]
}

@test "-u releases: the lock file is unlinked and the next locker gets the lock at once" {
	mkdir -p "$XHP_TMP/locks"
	exec 8<>"$LOCK"
	flock-wrap -F 8 "$LOCK"
	run --separate-stderr flock-wrap -u -F 8 "$LOCK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ ! -e "$LOCK" ]
	run flock-wrap -w 0 "$LOCK" true
	exec 8<&-
	[ "$status" -eq 0 ]
}

@test "-u by a descriptor that does not hold the lock leaves the lock file in place" {
	hold 30
	exec 8<>"$LOCK"
	run --separate-stderr flock-wrap -u -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "flock-wrap: fatal: unable to release $LOCK: descriptor 8 does not hold the lock" ]
	[ -f "$LOCK" ]
	kill -0 "$HOLDER"
}

@test "-u by a descriptor on another file does not unlink the lock file" {
	mkdir -p "$XHP_TMP/locks"
	: > "$LOCK"
	exec 8<>"$XHP_TMP/other"
	run --separate-stderr flock-wrap -u -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 1 ]
	[ "$stderr" = "flock-wrap: fatal: unable to release $LOCK: descriptor 8 is not the lock file" ]
	[ -f "$LOCK" ]
}

@test "-F on a lock file unlinked by its holder reports stale (2) and keeps no lock" {
	mkdir -p "$XHP_TMP/locks"
	exec 8<>"$LOCK"
	rm "$LOCK"
	run --separate-stderr flock-wrap -F 8 "$LOCK"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# Replaced by a new file: still stale, and the old file is not locked.
	: > "$LOCK"
	run flock-wrap -F 8 "$LOCK"
	[ "$status" -eq 2 ]
	run flock-wrap -w 0 "$LOCK" true
	exec 8<&-
	[ "$status" -eq 0 ]
}

@test "-F that waits while the holder releases reports stale, and a retry locks" {
	mkdir -p "$XHP_TMP/locks"
	# The holder locks through -F, then releases with -u after 0.5 s.
	sh -c 'exec 8<>"$1"; flock-wrap -F 8 "$1" || exit 9
		sleep 0.5; flock-wrap -u -F 8 "$1"' sh "$LOCK" 3>&- &
	HOLDERS="$HOLDERS $!"
	wait_held "$LOCK"
	exec 8<>"$LOCK"
	run flock-wrap -w 5 -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 2 ]
	exec 8<>"$LOCK"
	run flock-wrap -w 5 -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 0 ]
}

# ---- contention and the bounded wait -------------------------------------

@test "a held lock makes a second locker give up after exactly the wait, naming the holder" {
	hold 30
	t0=$(now_ms)
	run --separate-stderr flock-wrap -w 1 "$LOCK" touch "$XHP_TMP/ran"
	t1=$(now_ms)
	[ "$status" -eq 5 ]
	[ -z "$output" ]
	[ "$stderr" = "flock-wrap: fatal: unable to lock $LOCK within 1 s: held by pid $HOLDER (sleep 30)" ]
	[ ! -e "$XHP_TMP/ran" ]
	echo "elapsed $((t1 - t0)) ms"
	[ $((t1 - t0)) -ge 1000 ]
	[ $((t1 - t0)) -lt 3000 ]
}

@test "a fractional wait is honoured" {
	hold 30
	t0=$(now_ms)
	run --separate-stderr flock-wrap -w 0.5 "$LOCK" true
	t1=$(now_ms)
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"within 0.5 s: held by pid $HOLDER (sleep 30)" ]]
	echo "elapsed $((t1 - t0)) ms"
	[ $((t1 - t0)) -ge 500 ]
	[ $((t1 - t0)) -lt 2500 ]
}

@test "-w 0 tries once and does not wait" {
	hold 30
	t0=$(now_ms)
	run --separate-stderr flock-wrap -w 0 "$LOCK" true
	t1=$(now_ms)
	[ "$status" -eq 5 ]
	[ $((t1 - t0)) -lt 1000 ]
}

# ---- -s: the wait counted from the start of an ancestor -------------------
# The deadline is SECS after PID started; a deadline already passed means
# one try.

# sh -c "$TIMED" sh LOCK SLEEP CMD [ARG...]: a shell that sleeps SLEEP s,
# then evals CMD ($1 the lock, $$ this shell, $4.. the ARGs) and prints
# "rc=N ms=M", the time CMD took.
TIMED='sleep "$2"; t0=$(date +%s%N); eval "$3"; rc=$?
t1=$(date +%s%N); echo "rc=$rc ms=$(((t1 - t0) / 1000000))"'

# The ms of a TIMED output "rc=RC ms=M" with RC as expected, in MS.
timed() {
	[[ "$output" =~ ^rc=$1\ ms=([0-9]+)$ ]] || return 1
	MS=${BASH_REMATCH[1]}
}

@test "-s without -w is a usage error" {
	usage_refused flock-wrap -s $$ "$LOCK" true
	mkdir -p "$XHP_TMP/locks"
	exec 8<>"$LOCK"
	usage_refused flock-wrap -s $$ -F 8 "$LOCK"
	usage_refused flock-wrap -u -s $$ -F 8 "$LOCK"
	exec 8<&-
	[ -f "$LOCK" ]
}

@test "-s 0, or a pid that does not parse, is a usage error and nothing is created" {
	for p in 0 '' abc -1 +1 ' 1' 1x 0x10 99999999999; do
		run --separate-stderr flock-wrap -w 1 -s "$p" "$LOCK" true
		[ "$status" -eq 100 ] || { echo "accepted -s '$p'"; return 1; }
		[ -z "$output" ]
		[[ "$stderr" == usage:* ]]
	done
	[ ! -e "$XHP_TMP/locks" ]
}

@test "-h mentions -s" {
	usage_shown flock-wrap "usage:"
	[[ "$output" == *"-s PID"* ]]
}

@test "-s of a parent whose deadline passed fails at once with 5, naming the holder" {
	hold 30
	run --separate-stderr sh -c "$TIMED" sh "$LOCK" 1.2 \
		'flock-wrap -w 1 -s $$ "$1" touch "$1.ran"'
	echo "$output / $stderr"
	timed 5
	[ "$MS" -lt 500 ]
	[ "$stderr" = "flock-wrap: fatal: unable to lock $LOCK within 1 s: held by pid $HOLDER (sleep 30)" ]
	[ ! -e "$LOCK.ran" ]
}

@test "without -s the same late shell still waits the whole SECS" {
	hold 30
	run --separate-stderr sh -c "$TIMED" sh "$LOCK" 1.2 \
		'flock-wrap -w 1 "$1" true'
	echo "$output / $stderr"
	timed 5
	[ "$MS" -ge 1000 ]
	[ "$MS" -lt 3000 ]
}

@test "-s of a grandparent counts from its start, not the parent's (-F too)" {
	hold 30
	# flock-wrap's parent, the inner sh, is new; the outer one, whose
	# pid is passed, started 1.2 s ago.
	run --separate-stderr sh -c "$TIMED" sh "$LOCK" 1.2 \
		'sh -c "$4" inner "$1" $$' \
		'flock-wrap -w 1 -s "$2" -F 8 "$1" 8<>"$1"; exit $?'
	echo "$output / $stderr"
	timed 5
	[ "$MS" -lt 500 ]
	[[ "$stderr" == "flock-wrap: fatal: unable to lock $LOCK within 1 s: held by pid $HOLDER "* ]]
}

@test "-s leaves what is left of the deadline: -w 1.5 after 0.5 s waits about 1 s" {
	hold 30
	run --separate-stderr sh -c "$TIMED" sh "$LOCK" 0.5 \
		'flock-wrap -w 1.5 -s $$ "$1" true'
	echo "$output / $stderr"
	timed 5
	[ "$MS" -ge 800 ]
	[ "$MS" -lt 1400 ]
	[[ "$stderr" == *"within 1.5 s: held by pid $HOLDER (sleep 30)" ]]
}

@test "a deadline already passed still tries once: a free lock is taken" {
	run --separate-stderr sh -c "$TIMED" sh "$LOCK" 1.2 \
		'flock-wrap -w 1 -s $$ "$1" touch "$1.ran"'
	echo "$output / $stderr"
	timed 0
	[ -z "$stderr" ]
	[ -e "$LOCK.ran" ]
	run --separate-stderr sh -c "$TIMED" sh "$LOCK" 1.2 \
		'flock-wrap -w 1 -s $$ -F 8 "$1" 8<>"$1"'
	echo "$output / $stderr"
	timed 0
	[ -z "$stderr" ]
}

@test "-s of a process that is not an ancestor is not believed" {
	hold 30
	# An old process that is not an ancestor, then a pid that does not
	# exist: the wait counts from the start of the parent, a new shell.
	sleep 30 3>&- &
	old=$!
	HOLDERS="$HOLDERS $old"
	sleep 1.2
	for p in "$old" 2147483647; do
		run --separate-stderr sh -c "$TIMED" sh "$LOCK" 0 \
			'flock-wrap -w 1 -s "$4" "$1" true' "$p"
		echo "-s $p: $output / $stderr"
		timed 5
		[ "$MS" -ge 800 ]
		[ "$MS" -lt 3000 ]
	done
}

@test "a busy -F names the shell that holds the lock, not the helper that took it" {
	mkdir -p "$XHP_TMP/locks"
	# The helper that locked for the shell has exited; the shell (and
	# only the shell: sleep does not inherit fd 8) holds the lock.
	sh -c 'exec 8<>"$1"; flock-wrap -F 8 "$1" || exit 9
		sleep 30 8<&-' xhp-holder "$LOCK" 3>&- &
	HOLDER=$!
	HOLDERS="$HOLDERS $HOLDER"
	wait_held "$LOCK"
	exec 8<>"$LOCK"
	run --separate-stderr flock-wrap -w 0.2 -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 5 ]
	[[ "$stderr" == "flock-wrap: fatal: unable to lock $LOCK within 0.2 s: held by pid $HOLDER (sh -c exec 8<>"* ]]
}

@test "a holder that cannot be seen is reported as unknown" {
	require_root
	unshare --pid --fork --mount-proc true 2>/dev/null ||
		skip "cannot make a pid namespace here"
	hold 30
	# In a new pid namespace with its own /proc the holder is invisible.
	run --separate-stderr unshare --pid --fork --mount-proc \
		"$XHP_BIN/flock-wrap" -w 0.2 "$LOCK" true
	[ "$status" -eq 5 ]
	[ "$stderr" = "flock-wrap: fatal: unable to lock $LOCK within 0.2 s: held by an unknown process" ]
}

@test "a long holder command line is truncated" {
	long=$(printf 'x%.0s' $(seq 1 300))
	flock-wrap "$LOCK" sh -c 'sleep 30' "$long" 3>&- &
	HOLDER=$!
	HOLDERS="$HOLDERS $HOLDER"
	wait_held "$LOCK"
	run --separate-stderr flock-wrap -w 0 "$LOCK" true
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"held by pid $HOLDER (sh -c sleep 30 xxx"*"...)" ]]
	[ "${#stderr}" -lt 300 ]
}

@test "SIGKILL of the holder frees the lock immediately" {
	hold 30
	run flock-wrap -w 0 "$LOCK" true
	[ "$status" -eq 5 ]
	kill -9 "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	t0=$(now_ms)
	run --separate-stderr flock-wrap -w 5 "$LOCK" echo got it
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	[ "$output" = "got it" ]
	[ $((t1 - t0)) -lt 1000 ]
}

@test "a waiter takes the lock as soon as the holder exits" {
	flock-wrap "$LOCK" sleep 0.5 3>&- &
	HOLDERS="$HOLDERS $!"
	wait_held "$LOCK"
	run --separate-stderr flock-wrap -w 10 "$LOCK" echo got it
	[ "$status" -eq 0 ]
	[ "$output" = "got it" ]
}

@test "concurrent lockers never overlap" {
	# Each locker appends "in" then "out" with a pause between; overlap
	# would interleave them.
	for i in 1 2 3 4 5 6; do
		flock-wrap -w 20 "$LOCK" sh -c \
			'echo in >> "$1"; sleep 0.05; echo out >> "$1"' sh \
			"$XHP_TMP/log" 3>&- &
	done
	wait
	run cat "$XHP_TMP/log"
	[ "${#lines[@]}" -eq 12 ]
	for i in 0 2 4 6 8 10; do
		[ "${lines[$i]}" = in ]
		[ "${lines[$((i + 1))]}" = out ]
	done
}

# ---- interlock with upstream's locking.sh ------------------------------------

@test "flock-wrap waits while upstream's claim_lock holds the lock" {
	upstream_dir
	mkdir -p "$XHP_TMP/locks"
	bash -c '. "$1/locking.sh"; LOCK_BASEDIR=$2
		claim_lock block; sleep 1.5; release_lock block' \
		bash "$UPSTREAM" "$XHP_TMP/locks" 3>&- &
	up=$!
	HOLDERS="$HOLDERS $up"
	wait_held "$LOCK"
	run --separate-stderr flock-wrap -w 0.3 "$LOCK" true
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"held by pid $up (bash -c "* ]]
	# Upstream's release (unlink while holding) lets us in, on a new file.
	run --separate-stderr flock-wrap -w 10 "$LOCK" echo got it
	[ "$status" -eq 0 ]
	[ "$output" = "got it" ]
}

@test "upstream's claim_lock waits while flock-wrap holds the lock" {
	upstream_dir
	hold 30
	run timeout 1 bash -c '. "$1/locking.sh"; LOCK_BASEDIR=$2
		claim_lock block; echo claimed' bash "$UPSTREAM" "$XHP_TMP/locks"
	[ "$status" -eq 124 ]
	[ -z "$output" ]
	kill -9 "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	run timeout 5 bash -c '. "$1/locking.sh"; LOCK_BASEDIR=$2
		claim_lock block; echo claimed' bash "$UPSTREAM" "$XHP_TMP/locks"
	[ "$status" -eq 0 ]
	[ "$output" = claimed ]
}

@test "upstream's claim_lock waiting on our -F lock gets it after our -u release" {
	upstream_dir
	mkdir -p "$XHP_TMP/locks"
	exec 8<>"$LOCK"
	flock-wrap -F 8 "$LOCK"
	bash -c '. "$1/locking.sh"; LOCK_BASEDIR=$2
		claim_lock block; echo claimed > "$3"; release_lock block' \
		bash "$UPSTREAM" "$XHP_TMP/locks" "$XHP_TMP/up.out" 3>&- &
	up=$!
	HOLDERS="$HOLDERS $up"
	sleep 0.3
	[ ! -e "$XHP_TMP/up.out" ]
	run flock-wrap -u -F 8 "$LOCK"
	exec 8<&-
	[ "$status" -eq 0 ]
	wait "$up"
	[ "$(cat "$XHP_TMP/up.out")" = claimed ]
	[ ! -e "$LOCK" ]
}

# ---- the shell pattern of docs/flock-wrap.md ---------------------------------

# claim/critical section/release, ROUNDS times, as locking.sh would do it.
SHELL_LOOP='lock=$1 log=$2 rounds=$3
i=0
while [ "$i" -lt "$rounds" ]; do
	while :; do
		exec 9<>"$lock" || exit 10
		flock-wrap -w 20 -F 9 "$lock" && break
		rc=$?
		[ "$rc" -eq 2 ] || exit "$rc"
	done
	echo in >> "$log"; sleep 0.02; echo out >> "$log"
	flock-wrap -u -F 9 "$lock" || exit 11
	exec 9<&-
	i=$((i + 1))
done'

@test "the documented claim and release loop excludes under dash, bash and busybox sh" {
	mkdir -p "$XHP_TMP/locks"
	shells=
	for s in dash bash "busybox sh"; do
		command -v "${s%% *}" >/dev/null && shells="$shells ${s// /_}"
	done
	pids=
	for s in $shells; do
		${s//_/ } -c "$SHELL_LOOP" sh "$LOCK" "$XHP_TMP/log" 5 3>&- &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p"
	done
	run cat "$XHP_TMP/log"
	n=$(echo "$shells" | wc -w)
	[ "${#lines[@]}" -eq $((n * 10)) ]
	for ((i = 0; i < ${#lines[@]}; i += 2)); do
		[ "${lines[$i]}" = in ]
		[ "${lines[$((i + 1))]}" = out ]
	done
	# Every round released: the lock file is gone.
	[ ! -e "$LOCK" ]
}
