#!/usr/bin/env bats
# scripts/Linux/locking.sh: claim_lock/release_lock on the shell's own
# descriptors, the upstream-compatible protocol, bounded waits. Runs under
# $HOTPLUG_SH; upstream's bash locking.sh (from tests/fetch-upstream.sh) is
# the other party where needed.
# XHP_LOCKING=FILE tests another locking.sh.
# shellcheck disable=SC2016 # test bodies are expanded by the shell under test

load ../test_helper

setup() {
	xhp_setup
	mkdir "$XHP_TMP/s"
	ln -s "${XHP_LOCKING:-$(our_files locking.sh)}" "$XHP_TMP/s/locking.sh"
	export XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock
	LOCKF=$XHP_TMP/lock/block
	unset XEN_HOTPLUG_LOCK_TIMEOUT
}

teardown() {
	local p
	for p in ${BG:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	xhp_teardown
}

# lk BODY...: run BODY in $HOTPLUG_SH after sourcing our locking.sh.
lk() {
	printf '. "%s/s/locking.sh"\n%s\n' "$XHP_TMP" "$1" > "$XHP_TMP/s/t.sh"
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run $HOTPLUG_SH "$XHP_TMP/s/t.sh" </dev/null
}

# hold_upstream SECS: upstream's bash claim_lock holds "block" for SECS,
# touching held before and released just before it lets go.
hold_upstream() {
	upstream_dir
	# shellcheck disable=SC2016 # expanded by the inner bash
	bash -c '. "$1"; LOCK_BASEDIR=$2; claim_lock block; touch "$3/held"
		sleep "$4"; touch "$3/released"; release_lock block' \
	    _ "$UPSTREAM/locking.sh" "$XHP_TMP/lock" "$XHP_TMP" "$1" 3>&- &
	BG="${BG:-} $!"
	while [ ! -e "$XHP_TMP/held" ]; do sleep 0.05; done
}

@test "an invalid lock name is refused with a message and status 1" {
	lk 'claim_lock "../etc"; echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$XHP_TMP/s/t.sh: invalid lock name '../etc'" ]
	[ "${lines[1]}" = "rc=1" ]
	[ ! -e "$XHP_TMP/etc" ]
}

@test "a symbolic link planted as the lock file is refused and its target never created" {
	mkdir -p "$XHP_TMP/lock"
	ln -s "$XHP_TMP/victim" "$LOCKF"
	lk 'claim_lock block; echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$XHP_TMP/s/t.sh: lock file $LOCKF is a symlink: not following it" ]
	[ "${lines[1]}" = rc=1 ]
	[ ! -e "$XHP_TMP/victim" ]
	[ -L "$LOCKF" ]
}

@test "a fifo planted as the lock file is refused" {
	mkdir -p "$XHP_TMP/lock"
	mkfifo "$LOCKF"
	lk 'claim_lock block; echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$XHP_TMP/s/t.sh: lock file $LOCKF is not a regular file" ]
	[ "${lines[1]}" = rc=1 ]
}

@test "a lock file made and unlinked by others over and over is never taken for a non-regular one" {
	# For two seconds others claim and release (unlink while holding,
	# as upstream's release_lock) in a tight loop: "exists, and not a
	# regular file" used to take two tests, and an unlink between them
	# was refused as a planted file (seen by the stress run as a remove
	# that failed and left its loop device). A claim may have to wait
	# out the two seconds (a slow flock-wrap can lose every race), never
	# fail.
	mkdir -p "$XHP_TMP/lock"
	perl -e 'use Fcntl ":flock"; use Time::HiRes "time";
		my $end = time + 2;
		while (time < $end) {
			open(my $f, ">>", $ARGV[0]) or next;
			unlink($ARGV[0]) if flock($f, LOCK_EX | LOCK_NB);
			close($f);
		}' "$LOCKF" 3>&- &
	BG=$!
	lk 'n=0 bad=0
		while [ "$n" -lt 100 ]; do
			if claim_lock block 2>>"$0.err"; then release_lock block; else bad=$((bad + 1)); fi
			n=$((n + 1))
		done
		echo "refused=$bad"; sort -u "$0.err"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = refused=0 ]
}

@test "claim_lock holds the lock on descriptor 9 of the shell, on the file at the path" {
	lk 'claim_lock block || exit 1
		echo "fd=$_lockfd file=$_lockfile"
		flock -n "$_lockfile" true && echo free || echo held
		[ "$(stat -L -c %d:%i /proc/$$/fd/9)" = "$(stat -c %d:%i "$_lockfile")" ] && echo same'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "fd=9 file=$LOCKF" ]
	[ "${lines[1]}" = held ]
	[ "${lines[2]}" = same ]
}

@test "release_lock unlinks the lock file and closes the descriptor" {
	lk 'claim_lock block || exit 1
		release_lock block; echo "rc=$?"
		[ -e "$_lockfile" ] && echo exists || echo gone
		[ -e /proc/$$/fd/9 ] && echo open || echo closed'
	[ "$status" -eq 0 ]
	[ "$output" = "rc=0
gone
closed" ]
}

@test "lock names get descriptors 9, 8, 7 and keep them" {
	lk 'claim_lock block; a=$_lockfd; claim_lock iptables; b=$_lockfd
		release_lock block; claim_lock other; c=$_lockfd; claim_lock block
		echo "$a $b $c $_lockfd"'
	[ "$status" -eq 0 ]
	[ "$output" = "9 8 7 9" ]
}

@test "release_lock of a lock this shell does not hold leaves the file alone" {
	hold_upstream 2
	lk 'release_lock block; echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "$output" = rc=0 ]
	[ -e "$LOCKF" ]
	[ ! -e "$XHP_TMP/released" ]
}

@test "claim_lock waits for upstream's bash holder, then locks the new file, even under set -e" {
	hold_upstream 1.5
	# The holder unlinks the file as it lets go: flock-wrap says stale (2).
	lk 'set -e; claim_lock block
		[ -e "$XHP_TMP/released" ] && echo after
		[ "$(stat -L -c %d:%i /proc/$$/fd/9)" = "$(stat -c %d:%i "$_lockfile")" ] && echo same'
	[ "$status" -eq 0 ]
	[ "$output" = "after
same" ]
}

@test "upstream's bash claim_lock waits while our shell holds the lock" {
	upstream_dir
	printf '. "%s/s/locking.sh"\nclaim_lock block\ntouch "%s/held"\nsleep 1.5\ntouch "%s/released"\nrelease_lock block\n' \
	    "$XHP_TMP" "$XHP_TMP" "$XHP_TMP" > "$XHP_TMP/s/hold.sh"
	# shellcheck disable=SC2086
	$HOTPLUG_SH "$XHP_TMP/s/hold.sh" 3>&- &
	BG=$!
	while [ ! -e "$XHP_TMP/held" ]; do sleep 0.05; done
	# shellcheck disable=SC2016
	run bash -c '. "$1"; LOCK_BASEDIR=$2; claim_lock block
		[ -e "$3/released" ] && echo after; release_lock block' \
	    _ "$UPSTREAM/locking.sh" "$XHP_TMP/lock" "$XHP_TMP"
	[ "$status" -eq 0 ]
	[ "$output" = after ]
}

@test "a lock held past XEN_HOTPLUG_LOCK_TIMEOUT gives up naming the holder's pid" {
	mkdir -p "$XHP_TMP/lock"
	flock-wrap "$LOCKF" sleep 10 3>&- &
	BG=$!
	while ! [ -e "$LOCKF" ] || flock -n "$LOCKF" true; do sleep 0.05; done
	start=$(date +%s)
	lk 'XEN_HOTPLUG_LOCK_TIMEOUT=1; claim_lock block; echo "rc=$?"'
	end=$(date +%s)
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"unable to lock $LOCKF within 1 s: held by pid $BG"* ]]
	[ "${lines[1]}" = rc=1 ]
	[ $((end - start)) -le 3 ]
}

@test "a lock whose holder was SIGKILLed is free at once" {
	# The child does not inherit the descriptor: only the shell holds it.
	printf '. "%s/s/locking.sh"\nclaim_lock block\nsleep 30 9>&- &\necho $! > "%s/held"\nwait\n' \
	    "$XHP_TMP" "$XHP_TMP" > "$XHP_TMP/s/hold.sh"
	# shellcheck disable=SC2086
	$HOTPLUG_SH "$XHP_TMP/s/hold.sh" 3>&- &
	pid=$!
	while [ ! -s "$XHP_TMP/held" ]; do sleep 0.05; done
	BG=$(cat "$XHP_TMP/held")
	kill -KILL "$pid"
	wait "$pid" || true
	lk 'XEN_HOTPLUG_LOCK_TIMEOUT=1; claim_lock block; echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "$output" = rc=0 ]
}

@test "LOCK_BASEDIR changed after sourcing is honoured, as with upstream" {
	lk 'LOCK_BASEDIR=$XHP_TMP/elsewhere; claim_lock block; echo "$_lockfile"
		[ -e "$XHP_TMP/elsewhere/block" ] && echo created'
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/elsewhere/block
created" ]
}

@test "the default lock directory is /var/run/xen-hotplug" {
	unset XEN_HOTPLUG_LOCK_BASEDIR
	# shellcheck disable=SC2016
	lk 'unset LOCK_BASEDIR; . "$XHP_TMP/s/locking.sh"; echo "$LOCK_BASEDIR"'
	[ "$status" -eq 0 ]
	[ "$output" = /var/run/xen-hotplug ]
}
