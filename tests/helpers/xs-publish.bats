#!/usr/bin/env bats
# xs-publish: the whole of `block add` in one process (docs/xs-publish.md):
# read and validate the backend, check dom0's mounts, lock, check the other
# guests, attach an image, publish in one transaction that refuses a
# backend being torn down; or refuse, undo, and write why. Real test
# xenstore (-E N: the next N commits fail with EAGAIN), real flock locks,
# real loop devices (tagged with this test's prefix, freed by it),
# mknod'ed device nodes and -M mountinfo files. Backends are written as
# libxl writes them (mkbe: state 2, online 1, type phy).
# SC2016: the sh -c bodies take their arguments as $1.., on purpose.
# SC2030/SC2031: holder pids live in each test's subshell (teardown too).
# shellcheck disable=SC2016,SC2030,SC2031

load ../test_helper
bats_require_minimum_version 1.5.0

# The scan of a big domain fills the store with bench/populate; the write
# faults go through xsraw.
setup_file() {
	need_built "$XHP_TOP/build/bench/populate" "$XHP_TOP/build/tests/xsraw"
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
	mkimg "$IMG"
	B=backend/vbd/3/51712
	BTAG=$TAG:vbd/3/51712
	O=backend/vbd/4/51712
	HOLDERS=
	DEVDIR=
	mkbe 3 51712 "$XHP_TMP/sdb1" w
	mkbe 4 51712 "$XHP_TMP/other-params" w
	xenstore-write "$O/state" 4
}

teardown() {
	for p in $HOLDERS; do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$DEVDIR" ] || rm -rf "$DEVDIR"
	free_loops
	xhp_teardown
}

# pub ARGS...: xs-publish on our lock and loop tag prefix, with our
# (empty unless a test writes it) mountinfo.
pub() {
	xs-publish -l "$LOCK" -M "$MI" -T "$TAG" "$@"
}

# setp NODE=VALUE...: write nodes of B.
setp() {
	local a
	for a in "$@"; do
		xenstore-write "$B/${a%%=*}" "${a#*=}"
	done
}

# nothing_written [BE]: BE (default B) got none of the nodes xs-publish
# writes, the failure included.
# shellcheck disable=SC2120 # BE is optional; most callers mean B
nothing_written() {
	local b=${1:-$B}
	absent "$b/physical-device-path" && absent "$b/physical-device" &&
	    absent "$b/hotplug-status" && absent "$b/hotplug-error" &&
	    absent "$b/node" && absent "$b/loop-file-id" && absent "$b/loop-tag"
}

# failed STATUS MSG: nothing published; the failure (hotplug-status
# STATUS, hotplug-error MSG) written into B.
failed() {
	absent "$B/physical-device-path" && absent "$B/physical-device" &&
	    absent "$B/node" &&
	    [ "$(rd "$B/hotplug-status")" = "$1" ] &&
	    [ "$(rd -R "$B/hotplug-error")" = "$2" ]
}

# refused MSG: the run was exit 3 with MSG (stdout empty), and wrote it.
refused() {
	[ "$status" -eq 3 ] && [ -z "$output" ] &&
	    [ "$stderr" = "xs-publish: fatal: $1" ] && failed error "$1"
}

# tagged: the loop devices carrying B's derived tag, freed as listed.
tagged() {
	"$XHP_BIN/loop-detach" -a -t "${1:-$BTAG}"
}

# no_loops: no loop device is backed by a file of this test.
no_loops() {
	[ -z "$(my_loops)" ]
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

# appears FILE: wait (up to 5 s) until FILE exists.
appears() {
	retry 250 test -e "$1"
}

# mm DEV: blkback's hex "maj:min" of DEV.
mm() {
	majmin "$1"
}

# ---- usage -------------------------------------------------------------

@test "no arguments is a usage error with the usage on stderr" {
	usage_refused xs-publish
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown xs-publish "usage: xs-publish -l LOCKFILE"
	[[ "$output" == *"-s PID"* ]]
	[[ "$output" == *"-T PREFIX"* ]]
}

@test "usage errors write nothing and take no lock" {
	for args in "$B" "-l $LOCK -w x $B" "-l $LOCK -w 1.2345 $B" \
	    "-l $LOCK -s x $B" "-l $LOCK -s -1 $B" "-l $LOCK -o bsd $B" \
	    "-l $LOCK -m w $B" "-l $LOCK -t $TAG $B" "-l $LOCK -i loop-id $B" \
	    "-l $LOCK -e a=b $B" "-l $LOCK $B $XHP_TMP/sdb1 extra" \
	    "-l $LOCK -t /abs $B $XHP_TMP/sdb1" \
	    "-l $LOCK -i physical-device $B $XHP_TMP/sdb1" \
	    "-l $LOCK -i node $B $XHP_TMP/sdb1" "-l $LOCK -i a=b $B $XHP_TMP/sdb1" \
	    "-l $LOCK -e physical-device=8:0 $B $XHP_TMP/sdb1" \
	    "-l $LOCK -e noequals $B $XHP_TMP/sdb1"; do
		# shellcheck disable=SC2086 # ARGS are words on purpose
		usage_refused xs-publish $args || { echo "accepted: $args"; return 1; }
	done
	usage_refused xs-publish -l "$LOCK" ""
	# An unknown option: the usage (getopt's own line may come first).
	run --separate-stderr xs-publish -l "$LOCK" -x "$B"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ "$stderr" == *usage:* ]]
	usage_refused xs-publish -l "" "$B"
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	[ ! -e "$XHP_TMP/locks" ]
}

# ---- the whole add, from the backend's nodes --------------------------------

@test "a block device named by params is published with every node, and the lock is free again" {
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[ -z "$stderr" ]
	[ "$(rd "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
	[ "$(rd "$B/hotplug-status")" = connected ]
	absent "$B/hotplug-error"
	absent "$B/node"
	absent "$B/loop-tag"
	absent "$B/loop-file-id"
	lock_free
	[ -d "$XHP_TMP/locks" ]
	no_loops
}

@test "a symbolic link to a block device publishes the device node itself" {
	ln -s sdb1 "$XHP_TMP/alias"
	setp params="$XHP_TMP/alias"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[ "$(rd "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
}

@test "a relative params names a device under /dev" {
	DEVDIR=/dev/$TAG
	mkdir "$DEVDIR"
	mknod "$DEVDIR/disk" b 8 17
	setp params="$TAG/disk"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$DEVDIR/disk" ]
	[ "$(rd "$B/physical-device-path")" = "$DEVDIR/disk" ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
}

@test "a relative params that climbs out of /dev with .. is refused (3) and written" {
	DEVDIR=/dev/$TAG
	mkdir "$DEVDIR"
	mknod "$DEVDIR/disk" b 8 17
	for p in .. ../sdb1 "$TAG/../../tmp" "$TAG/.." "$TAG/../$TAG/disk"; do
		xenstore-rm "$B/hotplug-status" "$B/hotplug-error" 2>/dev/null || true
		setp params="$p"
		run --separate-stderr pub "$B"
		echo "params $p: $status $output / $stderr"
		refused "params '$p' is relative and climbs out of /dev with .."
	done
	lock_free
}

@test "an image is attached to a loop device tagged PREFIX:TYPE/DOMID/DEVID and published with its identity" {
	setp params="$IMG"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	loop=${output%% *}
	id=$(stat -c %d:%i "$IMG")
	[ "$output" = "$loop $id" ]
	[[ "$loop" == /dev/loop[0-9]* ]]
	[ "$(cat "/sys/block/${loop#/dev/}/loop/backing_file")" = "$IMG" ]
	[ "$(cat "/sys/block/${loop#/dev/}/ro")" = 0 ]
	[ "$(rd "$B/node")" = "$loop" ]
	[ "$(rd "$B/physical-device-path")" = "$loop" ]
	[ "$(rd "$B/physical-device")" = "$(mm "$loop")" ]
	[ "$(rd "$B/loop-file-id")" = "$id" ]
	[ "$(rd "$B/loop-tag")" = "$BTAG" ]
	[ "$(rd "$B/hotplug-status")" = connected ]
	lock_free
	[ "$(tagged)" = "$loop" ]
}

@test "-T is the prefix of the tag, and the tag is the backend's path below backend/" {
	xenstore-write /local/domain/0/backend/vbd/3/51712/params "$IMG"
	run --separate-stderr pub -T "$TAG-x" /local/domain/0/backend/vbd/3/51712
	[ "$status" -eq 0 ]
	loop=${output%% *}
	[ "$(rd "$B/loop-tag")" = "$TAG-x:vbd/3/51712" ]
	[ "$(tagged "$TAG-x:vbd/3/51712")" = "$loop" ]
}

@test "a loop tag over 63 bytes is refused (3) before any lock or attach; 63 is taken" {
	setp params="$IMG"
	# PREFIX ":vbd/3/51712": 52 + 12 bytes is one too many.
	long=$(printf 'x%.0s' $(seq 1 52))
	run --separate-stderr pub -T "$long" "$B"
	refused "loop tag '$long:$B' is longer than 63 bytes"
	no_loops
	[ ! -e "$XHP_TMP/locks" ]
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr pub -T "${long%x}" "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/loop-tag")" = "${long%x}:vbd/3/51712" ]
	[ "$(tagged "${long%x}:vbd/3/51712")" = "${output%% *}" ]
}

@test "mode r attaches the image read-only, even an image without a write bit" {
	chmod 0444 "$IMG"
	setp params="$IMG" mode=r
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	[ "$(cat "/sys/block/${loop#/dev/}/ro")" = 1 ]
	[ "$(rd "$B/node")" = "$loop" ]
	[ "$(tagged)" = "$loop" ]
}

@test "an image without a write bit asked for read-write is busy (1), written, nothing attached" {
	chmod 0444 "$IMG"
	setp params="$IMG"
	run --separate-stderr pub "$B"
	msg="File $IMG is read-only, and so will not be attached read-write to a guest."
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: $msg" ]
	failed busy "$msg"
	no_loops
}

@test "type file and an empty type are ours too" {
	for t in file ""; do
		xenstore-rm "$B"
		mkbe 3 51712 "$XHP_TMP/sdb1" w
		setp type="$t"
		run --separate-stderr pub "$B"
		[ "$status" -eq 0 ]
		[ "$(rd "$B/physical-device")" = 8:11 ]
	done
}

@test "-p publishes the path only and leaves physical-device to the toolstack" {
	run --separate-stderr pub -p "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	[ "$(rd "$B/hotplug-status")" = connected ]
	absent "$B/physical-device"
}

@test "-o netbsd writes the decimal dev_t" {
	run --separate-stderr pub -o netbsd "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device")" = 2065 ]
}

@test "-v reports the check, attach, write and lock hold times on stderr" {
	run --separate-stderr pub -v "$B"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/sdb1" ]
	[[ "$stderr" =~ ^xs-publish:\ check\ [0-9]+\ us,\ attach\ [0-9]+\ us,\ write\ [0-9]+\ us\ \(1\ tries\),\ under\ lock\ [0-9]+\ us$ ]]
}

@test "a watcher that sees physical-device sees every other node too (one transaction)" {
	setp params="$IMG"
	(
		timeout 5 xenstore-watch "$B/physical-device" |
		while read -r _; do
			if xenstore-exists "$B/physical-device"; then
				xs-readv "$B/physical-device-path=" \
				    "$B/hotplug-status=" "$B/node=" \
				    "$B/loop-file-id=" "$B/loop-tag=" \
				    > "$XHP_TMP/seen.tmp"
				mv "$XHP_TMP/seen.tmp" "$XHP_TMP/seen"
				break
			fi
			: > "$XHP_TMP/armed"
		done
	) 3>&- &
	wpid=$!
	appears "$XHP_TMP/armed"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	appears "$XHP_TMP/seen"
	xsd_stop
	wait "$wpid" || true
	loop=${output%% *}
	[ "$(cat "$XHP_TMP/seen")" = "$loop
connected
$loop
$(stat -c %d:%i "$IMG")
$BTAG" ]
}

# ---- already done ----------------------------------------------------------

@test "a backend already published is exit 0, silent, and nothing is done" {
	setp params="$IMG" physical-device-path=/dev/loop99
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(rd "$B/physical-device-path")" = /dev/loop99 ]
	absent "$B/physical-device"
	absent "$B/hotplug-status"
	absent "$B/node"
	no_loops
	xenstore-rm "$B/physical-device-path"
	setp physical-device=7:63
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	absent "$B/physical-device-path"
	no_loops
}

@test "a second add of a published image changes nothing and attaches nothing more" {
	setp params="$IMG"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(rd "$B/node")" = "$loop" ]
	[ "$(loops_of "$IMG")" -eq 1 ]
	lock_free
}

# ---- the request, in plain words -------------------------------------------

@test "every invalid request is refused (3) in plain words, with hotplug-status error" {
	mkdir "$XHP_TMP/dir"
	mkfifo "$XHP_TMP/fifo"
	: > "$XHP_TMP/empty.img"
	ln -s "$XHP_TMP/nowhere" "$XHP_TMP/dangling"
	# node|value (- removes it)|the message
	while IFS='|' read -r node value why; do
		xenstore-rm "$B"
		mkbe 3 51712 "$XHP_TMP/sdb1" w
		case $value in
		-) xenstore-rm "$B/$node" ;;
		*) xenstore-write "$B/$node" "$value" ;;
		esac
		run --separate-stderr pub "$B"
		echo "$node=$value: $status $output / $stderr"
		refused "$why"
		lock_free
	done <<LIST
params|-|$B has no params: no device or image to attach
params||$B has no params: no device or image to attach
mode|-|$B has no mode
mode||$B has no mode
mode|x|unknown mode 'x' in $B (expected r, w or w!)
mode|wr|unknown mode 'wr' in $B (expected r, w or w!)
mode|r!|unknown mode 'r!' in $B (expected r, w or w!)
frontend-id|-|$B has no frontend-id
frontend-id||$B has no frontend-id
frontend-id|1a|invalid frontend-id '1a' in $B
frontend-id|+3|invalid frontend-id '+3' in $B
frontend-id|32752|invalid frontend-id '32752' in $B
frontend-id|99999999999999999999|invalid frontend-id '99999999999999999999' in $B
params|$XHP_TMP/none|$XHP_TMP/none does not exist
params|$XHP_TMP/dangling|$XHP_TMP/dangling is a dangling symbolic link
params|$XHP_TMP/dir|$XHP_TMP/dir is a directory, not a block device or image file
params|$XHP_TMP/fifo|$XHP_TMP/fifo is a fifo, not a block device or image file
params|/dev/null|/dev/null is a character device, not a block device or image file
params|$XHP_TMP/empty.img|$XHP_TMP/empty.img is empty: no disk to attach
type|../x|invalid backend type '../x'
type|a b|invalid backend type 'a b'
mode|$(printf 'w\tx')|the value of $B/mode has a control character or is not UTF-8
params|$(printf '%s\001' "$XHP_TMP/sdb1")|the value of $B/params has a control character or is not UTF-8
LIST
	no_loops
}

@test "the largest domid is accepted, and every accepted mode publishes" {
	for m in r ro w rw 'w!' 'rw!'; do
		xenstore-rm "$B"
		mkbe 3 51712 "$XHP_TMP/sdb1" "$m"
		setp frontend-id=32751
		run --separate-stderr pub "$B"
		echo "mode $m: $status $output / $stderr"
		[ "$status" -eq 0 ]
		[ "$(rd "$B/physical-device")" = 8:11 ]
	done
}

# ---- not ours: another type, a backend gone or torn down --------------------

@test "another backend type is printed with exit 64, before any lock, nothing written" {
	setp params="$IMG" type=foo
	run --separate-stderr pub "$B"
	[ "$status" -eq 64 ]
	[ "$output" = foo ]
	[ -z "$stderr" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
	[ ! -e "$XHP_TMP/locks" ]
	setp type=block-iscsi_2.x
	run --separate-stderr pub "$B"
	[ "$status" -eq 64 ]
	[ "$output" = block-iscsi_2.x ]
}

@test "a backend that is gone is exit 4 and is not recreated" {
	run --separate-stderr pub backend/vbd/9/1
	[ "$status" -eq 4 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: backend backend/vbd/9/1 is gone" ]
	absent backend/vbd/9/1
	[ ! -e "$XHP_TMP/locks" ]
}

@test "a backend not in state 2, or with online not 1, is exit 4 with nothing written" {
	setp params="$IMG"
	for s in 1 3 4 5 6 ""; do
		setp state="$s"
		run --separate-stderr pub "$B"
		echo "state $s: $status / $stderr"
		[ "$status" -eq 4 ]
		[ -z "$output" ]
		[ "$stderr" = "xs-publish: fatal: Path closed or removed during hotplug add: $B state: $s online: 1" ]
		# shellcheck disable=SC2119 # B, the default
		nothing_written
	done
	xenstore-rm "$B/state"
	run --separate-stderr pub "$B"
	[ "$status" -eq 4 ]
	[ "$stderr" = "xs-publish: fatal: Path closed or removed during hotplug add: $B state: none online: 1" ]
	setp state=2 online=0
	run --separate-stderr pub "$B"
	[ "$status" -eq 4 ]
	[ "$stderr" = "xs-publish: fatal: Path closed or removed during hotplug add: $B state: 2 online: 0" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
	# online absent is still waiting for us.
	xenstore-rm "$B/online"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/node")" = "${output%% *}" ]
}

@test "the explicit form refuses a gone or torn-down backend too (4)" {
	run --separate-stderr pub backend/vbd/9/1 "$XHP_TMP/sdb1"
	[ "$status" -eq 4 ]
	absent backend/vbd/9/1
	setp state=5 online=0
	run --separate-stderr pub "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 4 ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
}

# ---- the sharing check -----------------------------------------------------

@test "busy: another guest's physical-device is the device: exit 1, the sentence written and on stderr" {
	xenstore-write "$O/physical-device" 8:11
	run --separate-stderr pub "$B"
	msg="Device $XHP_TMP/sdb1 (device 8:11) is already used by another guest through $O, and so cannot be attached read-write now."
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: $msg" ]
	failed busy "$msg"
	lock_free
}

@test "busy: a reader against another guest's writer" {
	xenstore-write "$O/physical-device" 8:11
	setp mode=r
	run --separate-stderr pub "$B"
	msg="Device $XHP_TMP/sdb1 (device 8:11) is already used read-write by another guest through $O, and so cannot be attached read-only now."
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-publish: fatal: $msg" ]
	failed busy "$msg"
}

@test "busy: a path-only backend names the device in physical-device-path" {
	mknod "$XHP_TMP/other" b 8 17
	xenstore-write "$O/physical-device-path" "$XHP_TMP/other"
	run --separate-stderr pub "$B"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"is already used by another guest through $O,"* ]]
	[ "$(rd "$B/hotplug-status")" = busy ]
	absent "$B/physical-device"
}

@test "busy: dom0 has the device mounted, found before the lock is waited for" {
	printf '%s\n' '36 35 8:17 / /mnt/a\040b rw,relatime shared:1 - ext4 /dev/sdb1 rw' > "$MI"
	hold
	run --separate-stderr pub -w 5 "$B"
	msg="Device $XHP_TMP/sdb1 (device 8:11) is mounted in the privileged domain at /mnt/a\\040b, and so cannot be attached read-write to a guest."
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-publish: fatal: $msg" ]
	failed busy "$msg"
}

@test "an image already attached for another guest is busy through its loop device" {
	xenstore-rm "$O"
	mkbe 4 51712 "$IMG" w
	run --separate-stderr xs-publish -l "$LOCK" -M "$MI" -T "$TAG" "$O"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	setp params="$IMG"
	run --separate-stderr pub "$B"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == "xs-publish: fatal: File $IMG (device "*") is already used by another guest through $O, and so cannot be attached read-write now." ]]
	[ "$(rd "$B/hotplug-status")" = busy ]
	absent "$B/node"
	[ "$(loops_of "$IMG")" -eq 1 ]
	[ -z "$(tagged)" ]
	[ "$(tagged "$TAG:vbd/4/51712")" = "$loop" ]
}

@test "readers share: r against another guest's r is published" {
	xenstore-write "$O/physical-device" 8:11 "$O/mode" r
	setp mode=r
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
}

@test "same VM: the other backend's domain has our vm, or is our stubdomain" {
	xenstore-write "$O/physical-device" 8:11 /local/domain/4/vm /vm/uuid-3
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	xenstore-rm "$B/physical-device" "$B/physical-device-path" "$B/hotplug-status"
	xenstore-write /local/domain/4/vm /vm/stub /local/domain/4/target 3
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
}

@test "w! skips the check (guests and mounts) but still locks and publishes" {
	xenstore-write "$O/physical-device" 8:11
	echo "36 35 8:17 / /mnt rw - ext4 /dev/sdb1 rw" > "$MI"
	setp mode='w!'
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
	xenstore-rm "$B/physical-device" "$B/physical-device-path" "$B/hotplug-status"
	hold
	run --separate-stderr pub -w 0.2 "$B"
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"unable to lock $LOCK within 0.2 s"* ]]
}

# ---- the explicit form: BACKEND TARGET (NetBSD's block, write_dev) ------------

@test "explicit: a conflict prints the verdict line, nothing on stderr, and writes the failure" {
	xenstore-write "$O/physical-device" 8:11
	run --separate-stderr pub "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 $O" ]
	[ -z "$stderr" ]
	failed busy "Device $XHP_TMP/sdb1 (device 8:11) is already used by another guest through $O, and so cannot be attached read-write now."
	xenstore-rm "$O/physical-device" "$B/hotplug-status" "$B/hotplug-error"
	printf '%s\n' '36 35 8:17 / /mnt/x rw - ext4 /dev/sdb1 rw' > "$MI"
	run --separate-stderr pub -m r "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "local 8:11 /mnt/x" ]
	[ -z "$stderr" ]
	failed busy "Device $XHP_TMP/sdb1 (device 8:11) is mounted read-write in the privileged domain at /mnt/x, and so cannot be attached read-only to a guest."
}

@test "explicit: -m defaults to the mode node, else w" {
	xenstore-write "$O/physical-device" 8:11 "$O/mode" r
	setp mode=r
	run --separate-stderr pub "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	xenstore-rm "$B/physical-device" "$B/physical-device-path" "$B/hotplug-status" "$B/mode"
	# No mode node: checked as a writer, against the reader.
	run --separate-stderr pub "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 $O" ]
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr pub -m r "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
}

@test "explicit: TARGET is published as spelled, with -e nodes, whatever the type" {
	ln -s sdb1 "$XHP_TMP/by-path"
	setp type=iscsi params=iqn.x
	run --separate-stderr pub -e extra/x=1 "$B" "$XHP_TMP/by-path"
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/by-path" ]
	[ "$(rd "$B/physical-device-path")" = "$XHP_TMP/by-path" ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
	[ "$(rd "$B/extra/x")" = 1 ]
	[ "$(rd "$B/hotplug-status")" = connected ]
}

@test "explicit: an image with -t and -i is attached with that tag and identity node" {
	run --separate-stderr pub -t "$TAG" -i loop-id "$B" "$IMG"
	[ "$status" -eq 0 ]
	loop=${output%% *}
	id=$(stat -c %d:%i "$IMG")
	[ "$output" = "$loop $id" ]
	[ "$(rd "$B/node")" = "$loop" ]
	[ "$(rd "$B/loop-id")" = "$id" ]
	absent "$B/loop-file-id"
	absent "$B/loop-tag"
	[ "$(tagged "$TAG")" = "$loop" ]
}

@test "explicit: an image with -i and -e nodes is published with both, and exits 0" {
	# write_dev's caller may name an image and extra nodes together.
	run --separate-stderr pub -t "$TAG" -i loop-id -e extra/x=1 -e extra/y=2 "$B" "$IMG"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	loop=${output%% *}
	[ "$(rd "$B/node")" = "$loop" ]
	[ "$(rd "$B/loop-id")" = "$(stat -c %d:%i "$IMG")" ]
	[ "$(rd "$B/extra/x")" = 1 ]
	[ "$(rd "$B/extra/y")" = 2 ]
	[ "$(rd "$B/hotplug-status")" = connected ]
	[ "$(tagged "$TAG")" = "$loop" ]
}

@test "explicit: a missing target is refused (3) and written" {
	run --separate-stderr pub "$B" "$XHP_TMP/nope"
	refused "$XHP_TMP/nope does not exist"
}

# ---- the lock --------------------------------------------------------------

@test "a held lock is waited for at most -w, then exit 5 naming the holder, the failure written" {
	setp params="$IMG"
	hold
	t0=$(date +%s%N)
	run --separate-stderr pub -w 0.3 "$B"
	t1=$(date +%s%N)
	msg="unable to lock $LOCK within 0.3 s: held by pid $HOLDER (sleep 30)"
	[ "$status" -eq 5 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: $msg" ]
	[ $(((t1 - t0) / 1000000)) -ge 300 ]
	[ $(((t1 - t0) / 1000000)) -lt 3000 ]
	failed error "$msg"
	no_loops
	# The explicit form writes it too.
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr pub -w 0 "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 5 ]
	[ -z "$output" ]
	failed error "unable to lock $LOCK within 0 s: held by pid $HOLDER (sleep 30)"
}

# sh -c "$LATE" sh SLEEP CMD ARG...: a shell that sleeps SLEEP s, then
# evals CMD ($$ this shell, $3.. the ARGs) and prints "rc=N ms=M".
LATE='sleep "$1"; t0=$(date +%s%N); eval "$2"; rc=$?
echo "rc=$rc ms=$((($(date +%s%N) - t0) / 1000000))"'

@test "-s counts the deadline from the start of the script, default our parent" {
	hold
	set -- "$LOCK" "$MI" "$TAG" "$B"
	# -s of the script (a grandparent, 1.2 s old): no time left.
	run --separate-stderr sh -c "$LATE" sh 1.2 \
	    'sh -c "xs-publish -l \"\$1\" -M \"\$2\" -T \"\$3\" -w 1 -s $$ \"\$4\"; exit \$?" inner "$3" "$4" "$5" "$6"' \
	    "$@"
	echo "-s script: $output / $stderr"
	[[ "$output" =~ ^rc=5\ ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -lt 500 ]
	[ "$stderr" = "xs-publish: fatal: unable to lock $LOCK within 1 s: held by pid $HOLDER (sleep 30)" ]
	[ "$(rd "$B/hotplug-status")" = error ]
	# Without -s, the parent (the inner sh, new): the whole second.
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr sh -c "$LATE" sh 1.2 \
	    'sh -c "xs-publish -l \"\$1\" -M \"\$2\" -T \"\$3\" -w 1 \"\$4\"; exit \$?" inner "$3" "$4" "$5" "$6"' \
	    "$@"
	echo "default: $output / $stderr"
	[[ "$output" =~ ^rc=5\ ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -ge 900 ]
	[ "${BASH_REMATCH[1]}" -lt 3000 ]
	# Without -s, a parent 1.2 s old: no time left either.
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr sh -c "$LATE" sh 1.2 \
	    'xs-publish -l "$3" -M "$4" -T "$5" -w 1 "$6"' "$@"
	echo "parent: $output / $stderr"
	[[ "$output" =~ ^rc=5\ ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -lt 500 ]
	# -s of a process that is not an ancestor is not believed.
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr sh -c "$LATE" sh 0 \
	    'xs-publish -l "$3" -M "$4" -T "$5" -w 1 -s "$7" "$6"' "$@" "$HOLDER"
	echo "stranger: $output / $stderr"
	[[ "$output" =~ ^rc=5\ ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -ge 800 ]
}

@test "a lock file unlinked and replaced while we wait is reopened: we wait for the new holder" {
	hold
	first=$HOLDER
	pub -w 20 "$B" > "$XHP_TMP/out" 3>&- &
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
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	kill -9 "$HOLDER"
	wait "$waiter"
	[ "$(cat "$XHP_TMP/out")" = "$XHP_TMP/sdb1" ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
	lock_free
}

@test "upstream's claim_lock and xs-publish exclude each other" {
	upstream_dir
	mkdir -p "$XHP_TMP/locks"
	bash -c '. "$1/locking.sh"; LOCK_BASEDIR=$2
		claim_lock block; sleep 1; release_lock block' \
		bash "$UPSTREAM" "$XHP_TMP/locks" 3>&- &
	up=$!
	HOLDERS="$HOLDERS $up"
	wait_held
	run --separate-stderr pub -w 0.2 "$B"
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"held by pid $up (bash -c "* ]]
	xenstore-rm "$B/hotplug-status" "$B/hotplug-error"
	run --separate-stderr pub -w 10 "$B"
	[ "$status" -eq 0 ]
	lock_free
}

@test "a symlink or a directory as the lock file is refused (111)" {
	mkdir -p "$XHP_TMP/locks"
	ln -s "$XHP_TMP/target" "$LOCK"
	run --separate-stderr pub "$B"
	[ "$status" -eq 111 ]
	[ "$stderr" = "xs-publish: fatal: unable to use $LOCK: lock file is a symlink" ]
	[ ! -e "$XHP_TMP/target" ]
	rm "$LOCK"
	mkdir "$LOCK"
	run --separate-stderr pub "$B"
	[ "$status" -eq 111 ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
}

# ---- what changes while we wait for the lock --------------------------------
# The whole guest scan runs under the lock: whatever another add (or
# libxl) did before we got it is seen.

# wait_blocked PID: until PID waits for a flock (a "->" line in /proc/locks).
wait_blocked() {
	retry 250 grep -q -- "-> FLOCK *ADVISORY *WRITE $1 " /proc/locks
}

# pub_waiting ARGS...: start pub ARGS in the background behind a holder of
# the lock, output in $XHP_TMP/out and err, and return once it waits.
pub_waiting() {
	hold
	# Not through pub: $! must be xs-publish itself.
	xs-publish -l "$LOCK" -M "$MI" -T "$TAG" "$@" > "$XHP_TMP/out" \
	    2> "$XHP_TMP/err" 3>&- &
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

# release_busy WHERE: release_wait; the waiter found the conflict with
# the backend WHERE (exit 1, busy written, nothing published).
release_busy() {
	release_wait
	[ "$WSTATUS" -eq 1 ]
	[ ! -s "$XHP_TMP/out" ]
	[[ "$(cat "$XHP_TMP/err")" == *"is already used by another guest through $1, "* ]]
	[ "$(rd "$B/hotplug-status")" = busy ]
	absent "$B/physical-device"
}

@test "a conflicting backend in a new domain, made while we wait for the lock, is found" {
	pub_waiting -w 20 "$B"
	xenstore-write backend/vbd/9/51712/physical-device 8:11 /local/domain/9/vm /vm/nine
	release_busy backend/vbd/9/51712
}

@test "a conflicting new backend of a known domain, made while we wait, is found" {
	pub_waiting -w 20 "$B"
	xenstore-write backend/vbd/4/51800/physical-device 8:11
	release_busy backend/vbd/4/51800
}

@test "a backend that publishes our device while we wait is found" {
	pub_waiting -w 20 "$B"
	xenstore-write "$O/physical-device" 8:11
	release_busy "$O"
}

@test "a path-only backend of a new type directory, made meanwhile, is found" {
	pub_waiting -w 20 "$B"
	xenstore-write backend/vbd3/7/51712/physical-device-path "$XHP_TMP/sdb1" \
	    /local/domain/7/vm /vm/seven
	release_busy backend/vbd3/7/51712
}

@test "an image attached for another guest by an add that held the lock before us is found" {
	setp params="$IMG"
	pub_waiting -w 20 "$B"
	xenstore-rm "$O"
	mkbe 4 51712 "$IMG" w
	loop=$(losetup -f --show "$IMG")
	xenstore-write "$O/physical-device" "$(mm "$loop")" "$O/node" "$loop"
	release_wait
	[ "$WSTATUS" -eq 1 ]
	[[ "$(cat "$XHP_TMP/err")" == *"File $IMG (device "*") is already used by another guest through $O, "* ]]
	[ "$(loops_of "$IMG")" -eq 1 ]
	losetup -d "$loop"
}

@test "a conflicting backend removed while we wait for the lock no longer counts" {
	xenstore-write backend/vbd/5/51712/physical-device 8:11 /local/domain/5/vm /vm/five
	pub_waiting -w 20 "$B"
	xenstore-rm backend/vbd/5
	release_wait
	[ "$WSTATUS" -eq 0 ]
	[ "$(cat "$XHP_TMP/out")" = "$XHP_TMP/sdb1" ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
}

@test "a conflict in a domain too big for one listing is found" {
	# 800 names do not fit one XS_DIRECTORY reply (E2BIG).
	"$XHP_TOP/build/bench/populate" -V 800 -D 1 -f 10
	pub_waiting -w 20 "$B"
	xenstore-write backend/vbd/10/999999/physical-device 8:11
	release_busy backend/vbd/10/999999
}

@test "our backend removed while we wait for the lock: exit 4, nothing recreated, nothing attached" {
	setp params="$IMG"
	pub_waiting -w 20 "$B"
	xenstore-rm "$B"
	release_wait
	[ "$WSTATUS" -eq 4 ]
	[ "$(cat "$XHP_TMP/err")" = "xs-publish: fatal: backend $B is gone" ]
	absent "$B"
	no_loops
}

@test "our backend torn down (online 0, state 5) while we wait: exit 4, nothing written, nothing attached" {
	setp params="$IMG"
	pub_waiting -w 20 "$B"
	setp online=0 state=5
	release_wait
	[ "$WSTATUS" -eq 4 ]
	[ "$(cat "$XHP_TMP/err")" = "xs-publish: fatal: backend $B is being torn down (online 0)" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
}

# ---- the lifecycle, at the test pause points ---------------------------------

# pub_paused POINT ARGS...: run pub ARGS in the background, stopped at
# POINT; PAUSED its pid, its output in $XHP_TMP/out and err.
pub_paused() {
	local point=$1
	shift
	XEN_HOTPLUG_TEST_PAUSE="$point:$XHP_TMP/pid" xs-publish -l "$LOCK" \
	    -M "$MI" -T "$TAG" "$@" > "$XHP_TMP/out" 2> "$XHP_TMP/err" 3>&- &
	PAUSED=$!
	HOLDERS="$HOLDERS $PAUSED"
	appears "$XHP_TMP/pid" && retry 250 stopped "$PAUSED"
	[ "$(cat "$XHP_TMP/pid")" = "$PAUSED" ]
}

# cont_wait: let PAUSED go on; WSTATUS its exit status.
cont_wait() {
	kill -CONT "$PAUSED"
	WSTATUS=0
	wait "$PAUSED" || WSTATUS=$?
}

@test "torn down after the attach: exit 4, the loop device freed, nothing written" {
	setp params="$IMG"
	pub_paused attached "$B"
	[ "$(loops_of "$IMG")" -eq 1 ]
	setp online=0 state=5
	cont_wait
	[ "$WSTATUS" -eq 4 ]
	[[ "$(cat "$XHP_TMP/err")" == "xs-publish: fatal: backend $B is being torn down"* ]]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
	lock_free
}

@test "torn down between the writes and the commit: the retry sees it, exit 4, nothing written" {
	setp params="$IMG"
	pub_paused commit "$B"
	setp state=5
	cont_wait
	[ "$WSTATUS" -eq 4 ]
	[ "$(cat "$XHP_TMP/err")" = "xs-publish: fatal: backend $B is being torn down (state not 2)" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
}

@test "the script gone before the commit: exit 4, the loop device freed, nothing written" {
	setp params="$IMG"
	# A script that runs us, as block does; SIGKILLed as libxl does.
	sh -c 'XEN_HOTPLUG_TEST_PAUSE="commit:$5" xs-publish -l "$1" -M "$2" \
		-T "$3" -s $$ "$4" 2>"$5.err"; exit $?' sh "$LOCK" "$MI" "$TAG" \
	    "$B" "$XHP_TMP/pid" 3>&- &
	script=$!
	appears "$XHP_TMP/pid"
	helper=$(cat "$XHP_TMP/pid")
	HOLDERS="$HOLDERS $helper"
	retry 250 stopped "$helper"
	kill -9 "$script"
	wait "$script" 2>/dev/null || true
	kill -CONT "$helper"
	retry 250 test ! -e "/proc/$helper"
	[ "$(cat "$XHP_TMP/pid.err")" = "xs-publish: fatal: the script that ran xs-publish for $B is gone: libxl gave up on the device" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
}

@test "a script killed before we started: exit 4 at once, no lock wait, nothing written" {
	setp params="$IMG"
	hold
	# The script starts us in the background and dies before we run: we
	# start re-parented, with -s naming a process that no longer exists.
	sh -c '(sleep 0.3; t0=$(date +%s%N); xs-publish -l "$1" -M "$2" -T "$3" \
		-w 30 -s $$ "$4" 2>"$5.err"; echo "rc=$? ms=$((($(date +%s%N) - t0) / 1000000))" >"$5.tmp"
		mv "$5.tmp" "$5") 3>&- &
	    exit 0' sh "$LOCK" "$MI" "$TAG" "$B" "$XHP_TMP/res"
	retry 250 test -e "$XHP_TMP/res"
	cat "$XHP_TMP/res" "$XHP_TMP/res.err"
	[[ "$(cat "$XHP_TMP/res")" =~ ^rc=4\ ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -lt 3000 ]
	[ "$(cat "$XHP_TMP/res.err")" = "xs-publish: fatal: the script that ran xs-publish for $B is gone: libxl gave up on the device" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
}

# ---- failures of the store ------------------------------------------------------

# xs_control CMD ARG: a control command to the test xenstore.
xs_control() {
	"$XHP_TOP/build/tests/xsraw" "CONTROL:$1\\0$2\\0" | grep -qx 'CONTROL OK\\0'
}


@test "EAGAIN on commit is retried and the write lands once" {
	setp params="$IMG"
	xs_control fault-eagain 3
	run --separate-stderr pub -v "$B"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"(4 tries)"* ]]
	loop=${output%% *}
	[ "$(rd "$B/node")" = "$loop" ]
	[ "$(tagged)" = "$loop" ]
}

@test "a commit that never succeeds is exit 111 with the loop device freed and nothing published" {
	setp params="$IMG"
	xs_control fault-eagain 1000
	run --separate-stderr pub "$B"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-publish: fatal: unable to commit the transaction on $B after 20 tries: Resource temporarily unavailable" ]
	# shellcheck disable=SC2119 # B, the default
	nothing_written
	no_loops
	lock_free
}

@test "a write refused inside the transaction is never committed: nothing written, exit 111" {
	# The commit goes only after every write of the transaction
	# succeeded; xenstored would commit the others.
	setp params="$IMG"
	for node in physical-device node hotplug-status loop-tag; do
		xs_control fault-write "$node"
		run --separate-stderr pub "$B"
		echo "$node: $status / $stderr"
		[ "$status" -eq 111 ]
		[[ "$stderr" == "xs-publish: fatal: unable to write in $B: Permission denied"* ]]
		# shellcheck disable=SC2119 # B, the default
		nothing_written
		no_loops
		lock_free
	done
	xs_control fault-write -
	setp params="$XHP_TMP/sdb1"
	run --separate-stderr pub "$B"
	[ "$status" -eq 0 ]
	[ "$(rd "$B/physical-device")" = 8:11 ]
}

@test "no xenstore is exit 111 before any lock" {
	xsd_stop
	run --separate-stderr pub "$B"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-publish: fatal: unable to connect to xenstore"* ]]
	[ ! -e "$XHP_TMP/locks" ]
}

# ---- concurrency -------------------------------------------------------------

@test "16 concurrent w adds of one device for different guests: exactly one wins, the others busy" {
	for d in $(seq 10 25); do
		mkbe "$d" 51712 "$XHP_TMP/sdb1" w
	done
	pids=
	for d in $(seq 10 25); do
		(
			rc=0
			pub -w 20 "backend/vbd/$d/51712" \
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
			[ ! -s "$XHP_TMP/out.$d" ]
			[[ "$(cat "$XHP_TMP/err.$d")" == *"is already used by another guest through backend/vbd/"* ]]
			[ "$(rd "backend/vbd/$d/51712/hotplug-status")" = busy ]
		fi
	done
	[ "$won" -eq 1 ]
	[ "$(rd "backend/vbd/$winner/51712/physical-device")" = 8:11 ]
	[ "$(xenstore-ls backend/vbd | grep -c 'physical-device = ')" -eq 1 ]
	lock_free
}
