#!/usr/bin/env bats
# xs-publish: check, attach and publish under the hotplug lock in one
# process (docs/xs-publish.md). Real test xenstore (-E N: the next N commits
# fail with EAGAIN), real flock locks, real loop devices (each carries this
# test's tag and is freed by it), mknod'ed device nodes and -M mountinfo
# files.
# SC2016: the bash -c bodies take their arguments as $1.., on purpose.
# SC2030/SC2031: holder pids live in each test's subshell (teardown too).
# shellcheck disable=SC2016,SC2030,SC2031

load ../test_helper
bats_require_minimum_version 1.5.0

# The scan tests fill the store with bench/populate (make check builds it).
setup_file() {
	need_built "$XHP_TOP/build/bench/populate"
}

setup() {
	require_root
	[ -c /dev/loop-control ] || skip "no /dev/loop-control"
	xhp_setup
	TAG="xhp-pub-${XHP_TMP##*.}"
	LOCK=$XHP_TMP/locks/block
	MI=$XHP_TMP/mountinfo
	: > "$MI"
	mknod "$XHP_TMP/sdb1" b 8 17
	IMG=$XHP_TMP/disk.img
	truncate -s 4M "$IMG"
	B=backend/vbd/3/51712
	O=backend/vbd/4/51712
	HOLDERS=
	xenstore-write "$B/state" 2 "$B/frontend-id" 3 "$B/mode" w \
	    /local/domain/3/vm /vm/three \
	    "$O/state" 4 "$O/frontend-id" 4 "$O/mode" w /local/domain/4/vm /vm/four
}

teardown() {
	for p in $HOLDERS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	free_loops
	xhp_teardown
}

# pub ARGS...: xs-publish on our lock, with an empty mountinfo.
pub() {
	xs-publish -l "$LOCK" -M "$MI" "$@"
}

# nothing_written: B got none of the nodes xs-publish writes.
nothing_written() {
	absent "$B/physical-device-path" && absent "$B/physical-device" &&
	    absent "$B/hotplug-status" && absent "$B/node"
}

# tagged: the loop devices carrying our tag, freed as they are listed.
tagged() {
	"$XHP_BIN/loop-detach" -a -t "$TAG"
}

# hold: hold $LOCK in the background (flock-wrap execs sleep in place, so
# HOLDER is the holder's pid) and wait until it is really held.
hold() {
	flock-wrap "$LOCK" sleep 30 3>&- &
	HOLDER=$!
	HOLDERS="$HOLDERS $HOLDER"
	wait_held
}

wait_held() {
	appears "$LOCK" && retry 250 eval '! flock -n "$LOCK" true'
}

# retry N CMD...: run CMD every 20 ms until it succeeds, N times at most.
retry() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		n=$((n - 1))
		sleep 0.02
	done
	return 1
}

# appears FILE: wait (up to 5 s) until FILE exists.
appears() {
	retry 250 test -e "$1"
}

# ---- usage ---------------------------------------------------------------

# lock_free (test_helper, on $LOCK): xs-publish releases by closing and
# leaves the file, which the protocol allows.

@test "no arguments is a usage error with the usage on stderr" {
	usage_refused xs-publish
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown xs-publish "usage: xs-publish -l LOCKFILE"
}

@test "a missing -l or -m, a bad -w, -t, -i or -e is a usage error and writes nothing" {
	for args in "-m w" "-l $LOCK" "-l $LOCK -m w -w x" "-l $LOCK -m w -w 1.2345" \
	    "-l $LOCK -m w -t /abs" "-l $LOCK -m w -i physical-device" \
	    "-l $LOCK -m w -i node" "-l $LOCK -m w -i a=b" "-l $LOCK -m w -e physical-device=8:0" \
	    "-l $LOCK -m w -e noequals" "-l $LOCK -m w -o bsd"; do
		# shellcheck disable=SC2086 # ARGS are words on purpose
		usage_refused xs-publish $args "$B" "$XHP_TMP/sdb1"
	done
	run --separate-stderr pub -m w "$B"
	[ "$status" -eq 100 ]
	nothing_written
	lock_free
}

@test "a file without a loop tag is a usage error before any lock or attach" {
	run --separate-stderr pub -m w "$B" "$IMG"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: $IMG is a file: a loop device tag (-t) is needed" ]
	lock_free
	[ -z "$(losetup -j "$IMG")" ]
}

@test "a missing target or one that is neither block device nor file is exit 1" {
	run --separate-stderr pub -m w "$B" "$XHP_TMP/nope"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-publish: fatal: unable to stat $XHP_TMP/nope: No such file or directory" ]
	run --separate-stderr pub -m w "$B" "$XHP_TMP"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-publish: fatal: $XHP_TMP is not a block device or a regular file" ]
	nothing_written
}

# ---- phy -----------------------------------------------------------------

@test "a block device is published with every node and hotplug-status, and the lock is free again" {
	run --separate-stderr pub -m w -e extra/x=1 "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	[ "$(xenstore-read "$B/extra/x")" = 1 ]
	absent "$B/node"
	lock_free
	[ -d "$XHP_TMP/locks" ]
}

@test "a watcher that sees physical-device sees every other node too (one transaction)" {
	(
		timeout 5 xenstore-watch "$B/physical-device" |
		while read -r _; do
			if xenstore-exists "$B/physical-device"; then
				xs-readv "$B/physical-device-path=" \
				    "$B/hotplug-status=" "$B/node=" "$B/loop-id=" \
				    > "$XHP_TMP/seen.tmp"
				mv "$XHP_TMP/seen.tmp" "$XHP_TMP/seen"
				break
			fi
			: > "$XHP_TMP/armed"
		done
	) 3>&- &
	wpid=$!
	appears "$XHP_TMP/armed"
	run --separate-stderr pub -m w -t "$TAG" -i loop-id "$B" "$IMG"
	[ "$status" -eq 0 ]
	appears "$XHP_TMP/seen"
	xsd_stop
	wait "$wpid" || true
	loop=${output%% *}
	[ "$(cat "$XHP_TMP/seen")" = "$loop
connected
$loop
$(stat -c %d:%i "$IMG")" ]
}

@test "a symbolic link to a block device publishes the device node itself" {
	ln -s sdb1 "$XHP_TMP/alias"
	run --separate-stderr pub -m w "$B" "$XHP_TMP/alias"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
}

@test "-p publishes the path only and leaves physical-device to the toolstack" {
	run --separate-stderr pub -p -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	absent "$B/physical-device"
}

@test "-o netbsd writes the decimal dev_t" {
	run --separate-stderr pub -o netbsd -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 2065 ]
}

@test "-v reports the check, attach, write and lock hold times on stderr" {
	run --separate-stderr pub -v -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[[ "$stderr" =~ ^xs-publish:\ check\ [0-9]+\ us,\ attach\ [0-9]+\ us,\ write\ [0-9]+\ us\ \(1\ tries\),\ under\ lock\ [0-9]+\ us$ ]]
}

# ---- file ----------------------------------------------------------------

@test "a file is attached to a tagged loop device under the lock and published with its identity" {
	run --separate-stderr pub -m w -t "$TAG" -i loop-file-id -e loop-tag="$TAG" "$B" "$IMG"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	loop=${output%% *}
	id=$(stat -c %d:%i "$IMG")
	[ "$output" = "$loop $id" ]
	[[ "$loop" == /dev/loop[0-9]* ]]
	[ "$(cat "/sys/block/${loop#/dev/}/loop/backing_file")" = "$IMG" ]
	[ "$(cat "/sys/block/${loop#/dev/}/ro")" = 0 ]
	[ "$(xenstore-read "$B/node")" = "$loop" ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$loop" ]
	[ "$(xenstore-read "$B/physical-device")" = "$(printf '%x:%x' \
	    "$(stat -c '0x%t' "$loop")" "$(stat -c '0x%T' "$loop")")" ]
	[ "$(xenstore-read "$B/loop-file-id")" = "$id" ]
	[ "$(xenstore-read "$B/loop-tag")" = "$TAG" ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	lock_free
	[ "$(tagged)" = "$loop" ]
}

@test "a second publish of an already published backend changes nothing and frees its own loop device" {
	run --separate-stderr pub -m w -t "$TAG" -i loop-file-id "$B" "$IMG"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	run --separate-stderr pub -m w -t "$TAG" -i loop-file-id "$B" "$IMG"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/node")" = "$loop" ]
	[ "$(tagged)" = "$loop" ]
	lock_free
	xenstore-write "$O/physical-device-path" /dev/other
	run --separate-stderr pub -m 'w!' "$O" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(xenstore-read "$O/physical-device-path")" = /dev/other ]
	absent "$O/physical-device"
}

@test "mode r attaches the loop device read-only" {
	run --separate-stderr pub -m r -t "$TAG" "$B" "$IMG"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	[ "$(cat "/sys/block/${loop#/dev/}/ro")" = 1 ]
	[ "$(tagged)" = "$loop" ]
}

@test "a file already attached for another guest is busy through its loop device" {
	run --separate-stderr pub -m w -t "$TAG" "$O" "$IMG"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	run --separate-stderr pub -m w -t "$TAG" "$B" "$IMG"
	[ "$status" -eq 1 ]
	[[ "$output" == "guest "*" $O" ]]
	[ -z "$stderr" ]
	nothing_written
	[ "$(tagged)" = "$loop" ]
}

# ---- the sharing check -----------------------------------------------------

@test "busy: another guest's physical-device is the device (w)" {
	xenstore-write "$O/physical-device" 8:11
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 $O" ]
	[ -z "$stderr" ]
	nothing_written
	lock_free
}

@test "busy: a path-only backend names the device in physical-device-path" {
	mknod "$XHP_TMP/other" b 8 17
	xenstore-write "$O/physical-device-path" "$XHP_TMP/other"
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 $O" ]
	nothing_written
}

@test "busy: dom0 has the device mounted" {
	printf '%s\n' '36 35 8:17 / /mnt/a\040b rw,relatime shared:1 - ext4 /dev/sdb1 rw' > "$MI"
	run --separate-stderr pub -m r "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = 'local 8:11 /mnt/a\040b' ]
	nothing_written
	lock_free
}

@test "-M - reads dom0's mounts from stdin, with major 0 meaning stat the source" {
	run --separate-stderr sh -c 'printf "%s\n" "1 1 0:0 / /mnt/x rw - ffs $2 rw" |
	    xs-publish -l "$1" -M - -o netbsd -m r "$3" "$2"' sh "$LOCK" \
	    "$XHP_TMP/sdb1" "$B"
	[ "$status" -eq 1 ]
	[ "$output" = "local 2065 /mnt/x" ]
	[ -z "$stderr" ]
	nothing_written
	lock_free
}

@test "-M - with no mounts on stdin publishes" {
	run --separate-stderr xs-publish -l "$LOCK" -M - -m w "$B" \
	    "$XHP_TMP/sdb1" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "readers share: r against another guest's r is published" {
	xenstore-write "$O/physical-device" 8:11 "$O/mode" r
	run --separate-stderr pub -m r "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "a reader is busy against another guest's writer" {
	xenstore-write "$O/physical-device" 8:11
	run --separate-stderr pub -m r "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 $O" ]
}

@test "same VM: the other backend's domain has our vm, or is our stubdomain" {
	xenstore-write "$O/physical-device" 8:11 /local/domain/4/vm /vm/three
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	xenstore-rm "$B/physical-device" "$B/physical-device-path"
	xenstore-write /local/domain/4/vm /vm/stub /local/domain/4/target 3
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "w! skips the check but still locks and publishes" {
	xenstore-write "$O/physical-device" 8:11
	echo "36 35 8:17 / /mnt rw - ext4 /dev/sdb1 rw" > "$MI"
	run --separate-stderr pub -m 'w!' "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
	hold
	run --separate-stderr pub -w 0.2 -m 'w!' "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unable to lock $LOCK within 0.2 s"* ]]
}

# ---- the lock --------------------------------------------------------------

@test "a held lock is waited for at most -w, then exit 1 naming the holder, stdout empty" {
	hold
	t0=$(date +%s%N)
	run --separate-stderr pub -w 0.3 -m w "$B" "$XHP_TMP/sdb1"
	t1=$(date +%s%N)
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: unable to lock $LOCK within 0.3 s: held by pid $HOLDER (sleep 30)" ]
	[ $(((t1 - t0) / 1000000)) -ge 300 ]
	[ $(((t1 - t0) / 1000000)) -lt 3000 ]
	nothing_written
	[ -e "$LOCK" ]
}

@test "a lock file unlinked and replaced while we wait is reopened: we wait for the new holder" {
	hold
	first=$HOLDER
	pub -w 20 -m w "$B" "$XHP_TMP/sdb1" > "$XHP_TMP/out" 3>&- &
	waiter=$!
	HOLDERS="$HOLDERS $waiter"
	sleep 0.2
	# Upstream's release: unlink while holding; a new claimer makes a
	# new file and locks it before the old holder's lock goes away.
	rm "$LOCK"
	hold
	kill -9 "$first"
	sleep 0.4
	kill -0 "$waiter"
	nothing_written
	kill -9 "$HOLDER"
	wait "$waiter"
	[ "$(cat "$XHP_TMP/out")" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
	lock_free
}

# ---- what changes while we wait for the lock --------------------------------
# xs-publish lists the backends before it takes the lock, and under it
# re-lists them and reads what they named in one batch (docs/xs-publish.md):
# whatever changed in between must be seen as if nothing had been listed.

# wait_blocked PID: until PID waits for a flock (a "->" line in /proc/locks).
wait_blocked() {
	retry 250 grep -q -- "-> FLOCK *ADVISORY *WRITE $1 " /proc/locks
}

# pub_waiting ARGS...: start pub ARGS in the background behind a holder of
# the lock, output in $XHP_TMP/out, and return once it waits for the lock.
pub_waiting() {
	hold
	# Not through pub: $! must be xs-publish itself.
	xs-publish -l "$LOCK" -M "$MI" "$@" > "$XHP_TMP/out" 2> "$XHP_TMP/err" 3>&- &
	WAITER=$!
	HOLDERS="$HOLDERS $WAITER"
	wait_blocked "$WAITER"
}

# release_wait: let the holder go; WSTATUS: the waiter's exit status.
release_wait() {
	kill -9 "$HOLDER"
	WSTATUS=0
	wait "$WAITER" || WSTATUS=$?
}

# release_busy VERDICT: release_wait; the waiter found the conflict
# VERDICT (exit 1, that line on stdout) and wrote nothing.
release_busy() {
	release_wait
	[ "$WSTATUS" -eq 1 ]
	[ "$(cat "$XHP_TMP/out")" = "$1" ]
	nothing_written
}

@test "a conflicting backend in a new domain, made while we wait for the lock, is found" {
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-write backend/vbd/9/51712/physical-device 8:11 /local/domain/9/vm /vm/nine
	release_busy "guest 8:11 backend/vbd/9/51712"
}

@test "a conflicting new backend of a domain listed before the lock is found" {
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-write backend/vbd/4/51800/physical-device 8:11
	release_busy "guest 8:11 backend/vbd/4/51800"
}

@test "a backend listed before the lock that publishes our device meanwhile is found" {
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-write "$O/physical-device" 8:11
	release_busy "guest 8:11 $O"
}

@test "a path-only backend of a new type directory, made meanwhile, is found" {
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-write backend/vbd3/7/51712/physical-device-path "$XHP_TMP/sdb1" \
	    /local/domain/7/vm /vm/seven
	release_busy "guest 8:11 backend/vbd3/7/51712"
}

@test "a conflicting backend removed while we wait for the lock no longer counts" {
	xenstore-write backend/vbd/5/51712/physical-device 8:11 /local/domain/5/vm /vm/five
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-rm backend/vbd/5
	release_wait
	[ "$WSTATUS" -eq 0 ]
	[ "$(cat "$XHP_TMP/out")" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "a domain listed in parts is listed again under the lock" {
	# 800 names do not fit one XS_DIRECTORY reply (E2BIG): that domain
	# is never taken from the listing made before the lock.
	"$XHP_TOP/build/bench/populate" -V 800 -D 1 -f 10
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-write backend/vbd/10/999999/physical-device 8:11
	release_busy "guest 8:11 backend/vbd/10/999999"
}

@test "our own backend removed while we wait for the lock: nothing written, backend gone" {
	pub_waiting -w 20 -m w "$B" "$XHP_TMP/sdb1"
	xenstore-rm "$B"
	release_wait
	[ "$WSTATUS" -eq 1 ]
	[[ "$(cat "$XHP_TMP/err")" == *"backend gone: $B"* ]]
	absent "$B"
}

@test "upstream's claim_lock and xs-publish exclude each other" {
	UPSTREAM=$(sh "$XHP_TOP/tests/fetch-upstream.sh" 2>/dev/null) ||
		skip "upstream locking.sh not available (offline?)"
	mkdir -p "$XHP_TMP/locks"
	bash -c '. "$1/locking.sh"; LOCK_BASEDIR=$2
		claim_lock block; sleep 1; release_lock block' \
		bash "$UPSTREAM" "$XHP_TMP/locks" 3>&- &
	up=$!
	HOLDERS="$HOLDERS $up"
	wait_held
	run --separate-stderr pub -w 0.2 -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"held by pid $up (bash -c "* ]]
	run --separate-stderr pub -w 10 -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	lock_free
}

@test "a symlink or a directory as the lock file is refused (111)" {
	mkdir -p "$XHP_TMP/locks"
	ln -s "$XHP_TMP/target" "$LOCK"
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[ "$stderr" = "xs-publish: fatal: unable to use $LOCK: lock file is a symlink" ]
	[ ! -e "$XHP_TMP/target" ]
	rm "$LOCK"
	mkdir "$LOCK"
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	nothing_written
}

# ---- failures after the lock ------------------------------------------------

@test "a removed backend is exit 1, never recreated, and the loop device is freed" {
	xenstore-rm "$B"
	run --separate-stderr pub -m w -t "$TAG" "$B" "$IMG"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: backend gone: $B" ]
	absent "$B"
	[ -z "$(tagged)" ]
	[ -z "$(losetup -j "$IMG")" ]
	lock_free
}

@test "EAGAIN on commit is retried and the write lands once" {
	xsd_stop
	xsd_start -E 3
	xenstore-write "$B/state" 2
	run --separate-stderr pub -v -m w -t "$TAG" "$B" "$IMG"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"(4 tries)"* ]]
	loop=${output%% *}
	[ "$(xenstore-read "$B/node")" = "$loop" ]
	[ "$(tagged)" = "$loop" ]
}

@test "a commit that never succeeds is exit 111 with the loop device freed and nothing written" {
	xsd_stop
	xsd_start -E 1000
	xenstore-write "$B/state" 2
	run --separate-stderr pub -m w -t "$TAG" "$B" "$IMG"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: unable to commit the transaction on $B after 20 tries: Resource temporarily unavailable" ]
	nothing_written
	[ -z "$(tagged)" ]
	[ -z "$(losetup -j "$IMG")" ]
	lock_free
}

# xs_control CMD ARG: a control command to the test xenstore.
xs_control() {
	"$XHP_TOP/build/tests/xsraw" "CONTROL:$1\\0$2\\0" | grep -qx 'CONTROL OK\\0'
}

@test "a write refused inside the transaction is never committed: nothing written, exit 111" {
	# The commit goes only after every write of the transaction
	# succeeded; xenstored would commit the others.
	for node in physical-device node hotplug-status; do
		xs_control fault-write "$node"
		xenstore-write "$B/state" 2
		run --separate-stderr pub -m w -t "$TAG" "$B" "$IMG"
		[ "$status" -eq 111 ]
		[[ "$stderr" == "xs-publish: fatal: unable to write in $B: Permission denied"* ]]
		nothing_written
		[ -z "$(tagged)" ]
		lock_free
	done
	xs_control fault-write physical-device
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	nothing_written
	xs_control fault-write -
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "no xenstore is exit 111 before any lock" {
	xsd_stop
	run --separate-stderr pub -m w "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-publish: fatal: unable to connect to xenstore"* ]]
	lock_free
}

# ---- concurrency -------------------------------------------------------------

@test "16 concurrent w adds of one device for different guests: exactly one wins" {
	for d in $(seq 10 25); do
		xenstore-write "backend/vbd/$d/51712/state" 2 \
		    "backend/vbd/$d/51712/frontend-id" "$d" "/local/domain/$d/vm" "/vm/$d"
	done
	pids=
	for d in $(seq 10 25); do
		(
			rc=0
			pub -w 20 -m w "backend/vbd/$d/51712" "$XHP_TMP/sdb1" \
			    > "$XHP_TMP/out.$d" 2> "$XHP_TMP/err.$d" || rc=$?
			echo "$rc" > "$XHP_TMP/rc.$d"
		) 3>&- &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086 # a list of pids
	wait $pids
	won=0
	for d in $(seq 10 25); do
		rc=$(cat "$XHP_TMP/rc.$d")
		if [ "$rc" -eq 0 ]; then
			won=$((won + 1))
			winner=$d
		else
			[ "$rc" -eq 1 ]
			[[ "$(cat "$XHP_TMP/out.$d")" == "guest 8:11 backend/vbd/"* ]]
			[ ! -s "$XHP_TMP/err.$d" ]
		fi
	done
	[ "$won" -eq 1 ]
	[ "$(xenstore-read "backend/vbd/$winner/51712/physical-device")" = 8:11 ]
	[ "$(xenstore-ls backend/vbd | grep -c 'physical-device = ')" -eq 1 ]
	lock_free
}

# ---- -A: the plain case, read from the backend ----

@test "-A with -m, -i, two arguments or no -t is a usage error" {
	xenstore-write "$B/params" "$XHP_TMP/sdb1"
	for args in "-m w -t $TAG $B" "-i loop-file-id -t $TAG $B" \
	    "-t $TAG $B $XHP_TMP/sdb1" "$B"; do
		# shellcheck disable=SC2086 # words on purpose
		run --separate-stderr pub -A $args
		[ "$status" -eq 100 ]
		[[ "$stderr" == "usage: xs-publish"* ]]
	done
	nothing_written
}

@test "-A publishes a block device named by params, with the mode of the mode node" {
	xenstore-write "$B/params" "$XHP_TMP/sdb1" "$B/type" phy
	run --separate-stderr pub -A -t "$TAG" "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	absent "$B/loop-tag"
	lock_free
	[ -z "$(tagged)" ]
}

@test "-A attaches an image file and records its identity and tag, read-only for mode r" {
	xenstore-write "$B/params" "$IMG" "$B/mode" r
	run --separate-stderr pub -A -t "$TAG" "$B"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	[ "$output" = "$loop $(stat -c %d:%i "$IMG")" ]
	[ "$(cat "/sys/block/${loop#/dev/}/ro")" = 1 ]
	[ "$(xenstore-read "$B/node")" = "$loop" ]
	[ "$(xenstore-read "$B/loop-file-id")" = "$(stat -c %d:%i "$IMG")" ]
	[ "$(xenstore-read "$B/loop-tag")" = "$TAG" ]
	[ "$(tagged)" = "$loop" ]
}

@test "-A on a backend already published does nothing and says nothing" {
	xenstore-write "$B/params" "$IMG" "$B/physical-device-path" /dev/loop99
	run --separate-stderr pub -A -t "$TAG" "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	absent "$B/physical-device"
	absent "$B/node"
	[ -z "$(tagged)" ]
}

@test "-A leaves to the script (exit 3, nothing done) everything but the plain case" {
	mkdir "$XHP_TMP/dir"
	: > "$XHP_TMP/empty.img"
	cp "$IMG" "$XHP_TMP/ro.img"
	chmod 0444 "$XHP_TMP/ro.img"
	# node value, then what stderr names
	while IFS='|' read -r node value why; do
		xenstore-write "$B/params" "$XHP_TMP/sdb1" "$B/mode" w \
		    "$B/frontend-id" 3 "$B/state" 2 "$B/type" phy
		case $value in
		-) xenstore-rm "$B/$node" ;;
		*) xenstore-write "$B/$node" "$value" ;;
		esac
		run --separate-stderr pub -A -t "$TAG" "$B"
		echo "$node=$value: $status $output / $stderr"
		[ "$status" -eq 3 ]
		[ -z "$output" ]
		[[ "$stderr" == "xs-publish: left to the script: $why"* ]]
		nothing_written
		lock_free
	done <<LIST
type|qcow|type qcow
params|-|params not an absolute path
params|sdb1|params not an absolute path
params|$XHP_TMP/none|params not there
params|$XHP_TMP/dir|neither block device nor file
params|$XHP_TMP/empty.img|an image file the script must look at
params|$XHP_TMP/ro.img|an image file the script must look at
mode|w!|mode not r, ro, w or rw
mode|-|mode not r, ro, w or rw
mode|x|mode not r, ro, w or rw
frontend-id|-|frontend-id not a domid
frontend-id|32768|frontend-id not a domid
frontend-id|1a|frontend-id not a domid
mode|$(printf 'w\tx')|a value the script refuses
LIST
	# A file in a state other than 2 (removed during the add).
	xenstore-write "$B/params" "$IMG" "$B/mode" w "$B/state" 5
	run --separate-stderr pub -A -t "$TAG" "$B"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"an image file the script must look at"* ]]
	nothing_written
	[ -z "$(tagged)" ]
}

@test "-A on a backend that does not exist leaves it to the script and creates nothing" {
	run --separate-stderr pub -A -t "$TAG" backend/vbd/9/1
	[ "$status" -eq 3 ]
	[[ "$stderr" == "xs-publish: left to the script: no backend backend/vbd/9/1" ]]
	absent backend/vbd/9/1
}

@test "-A: a conflict is exit 1 with the culprit, as without -A" {
	xenstore-write "$B/params" "$XHP_TMP/sdb1" "$O/physical-device" 8:11
	run --separate-stderr pub -A -t "$TAG" "$B"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 $O" ]
	nothing_written
	lock_free
}
