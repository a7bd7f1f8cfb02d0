#!/usr/bin/env bats
# scripts/Linux/block add|remove against the test xenstore, with real loop
# devices, mknod'ed block nodes and real mounts. Runs under $HOTPLUG_SH.

load ../test_helper

BE=/local/domain/0/backend/vbd

setup() {
	script_setup
}

teardown() {
	local m
	for m in "$XHP_TMP"/mnt*; do
		[ -d "$m" ] && umount "$m" 2>/dev/null
	done
	free_my_loops
	xhp_teardown
}

# blk CMD DOM DEVID: run the block script as libxl does (relative XENBUS_PATH).
blk() { run_script "$BLOCK" "$1" "backend/vbd/$2/$3"; }

# ---- misuse --------------------------------------------------------------

@test "add without XENBUS_PATH exits 1 and logs that it is not set" {
	# shellcheck disable=SC2086
	run env -u XENBUS_PATH $HOTPLUG_SH "$BLOCK" add
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	grep -q 'XENBUS_PATH is not set' "$XEN_HOTPLUG_LOGFILE"
}

@test "a XENBUS_PATH outside backend/ is refused and nothing is written to the store" {
	mkbe 1 51712 /dev/null w
	before=$(xenstore-ls -f /local/domain)
	for p in device/vbd/1/51712 backend/vbd/../../device/vbd/1 \
	    /local/domain/0/device/vbd/1 backend//vbd/1/51712 \
	    /local/domain/x/backend/vbd/1/51712; do
		# shellcheck disable=SC2086
		run env XENBUS_PATH="$p" $HOTPLUG_SH "$BLOCK" add
		[ "$status" -eq 1 ]
	done
	[ "$(xenstore-ls -f /local/domain)" = "$before" ]
	[ "$(grep -c 'is not a backend directory' "$XEN_HOTPLUG_LOGFILE")" -eq 5 ]
}

@test "an unknown command exits 1, is logged and leaves hotplug-error" {
	mkbe 1 51712 /dev/null w
	blk frobnicate 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-error)" = "Invalid command: frobnicate" ]
	[ "$(rd 1/51712/hotplug-status)" = error ]
	grep -q 'Invalid command: frobnicate' "$XEN_HOTPLUG_LOGFILE"
}

@test "missing params, mode or frontend-id are errors in plain words, and the lock is free" {
	mkimg "$XHP_TMP/img"
	for n in params mode frontend-id; do
		mkbe 1 51712 "$XHP_TMP/img" w
		xenstore-rm "$BE/1/51712/$n"
		blk add 1 51712
		[ "$status" -eq 1 ]
		[ "$(rd 1/51712/hotplug-status)" = error ]
		[ "$(rd 1/51712/hotplug-error)" = "backend/vbd/1/51712 has no $n" ] ||
		    [ "$(rd 1/51712/hotplug-error)" = "backend/vbd/1/51712 has no params: no device or image to attach" ]
		absent 1/51712/physical-device
		lock_free
		xenstore-rm "$BE/1/51712"
	done
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
}

@test "params with a control character is refused before it reaches any command" {
	mkbe 1 51712 "$(printf '%s/img\nrm -rf /' "$XHP_TMP")" w
	blk add 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-status)" = error ]
	[[ "$(rd 1/51712/hotplug-error)" == *"control character"* ]]
	absent 1/51712/physical-device
	lock_free
}

@test "a frontend-id that is not a domid is refused" {
	mkimg "$XHP_TMP/img"
	for id in 1x 32768 "1$(printf '%039d' 0)"; do
		mkbe 1 51712 "$XHP_TMP/img" w
		xenstore-write "$BE/1/51712/frontend-id" "$id"
		blk add 1 51712
		[ "$status" -eq 1 ]
		[ "$(rd 1/51712/hotplug-error)" = "invalid frontend-id '$id' in backend/vbd/1/51712" ]
		xenstore-rm "$BE/1/51712"
	done
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
}

@test "a relative params climbing out of /dev with .. is refused" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "..$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-error)" = "params '..$XHP_TMP/img' is relative and climbs out of /dev with .." ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
}

@test "an empty image file is refused" {
	: >"$XHP_TMP/empty"
	mkbe 1 51712 "$XHP_TMP/empty" w
	blk add 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-error)" = "$XHP_TMP/empty is empty: no disk to attach" ]
	[ "$(loops_of "$XHP_TMP/empty")" -eq 0 ]
}

@test "a loop tag prefix the helpers refuse still lets a block device be added, and fails an image" {
	# Only an image needs the tag; the plain add passes it to
	# xs-publish -A, which refuses it (usage), and the full check then
	# adds the device without it.
	mkblk "$XHP_TMP/dev"
	mkbe 1 51712 "$XHP_TMP/dev" w
	XEN_HOTPLUG_LOOP_TAG=/bad blk add 1 51712
	[ "$status" -eq 0 ]
	[ "$(rd 1/51712/hotplug-status)" = connected ]
	[ "$(rd 1/51712/physical-device-path)" = "$XHP_TMP/dev" ]
	mkimg "$XHP_TMP/img"
	mkbe 2 51712 "$XHP_TMP/img" w
	XEN_HOTPLUG_LOOP_TAG=/bad blk add 2 51712
	[ "$status" -eq 1 ]
	[ "$(rd 2/51712/hotplug-status)" = error ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
	lock_free
}

@test "an unknown mode is an error and attaches nothing" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" x
	blk add 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-error)" = "unknown mode 'x' in backend/vbd/1/51712 (expected r, w or w!)" ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
	lock_free
}

@test "a directory, a fifo, a character device and a missing file are refused" {
	mkdir "$XHP_TMP/dir"
	mkfifo "$XHP_TMP/fifo"
	mknod "$XHP_TMP/chr" c 1 3
	mkbe 1 1 "$XHP_TMP/dir" w
	mkbe 1 2 "$XHP_TMP/fifo" w
	mkbe 1 3 "$XHP_TMP/chr" w
	mkbe 1 4 "$XHP_TMP/nothing" w
	for d in 1 2 3 4; do
		blk add 1 "$d"
		[ "$status" -eq 1 ]
		[ "$(rd "1/$d/hotplug-status")" = error ]
		absent "1/$d/physical-device"
		absent "1/$d/physical-device-path"
	done
	[ "$(rd 1/1/hotplug-error)" = "$XHP_TMP/dir is a directory, not a block device or image file" ]
	[ "$(rd 1/2/hotplug-error)" = "$XHP_TMP/fifo is a fifo, not a block device or image file" ]
	[ "$(rd 1/3/hotplug-error)" = "$XHP_TMP/chr is a character device, not a block device or image file" ]
	[ "$(rd 1/4/hotplug-error)" = "$XHP_TMP/nothing does not exist" ]
	[ -z "$(my_loops)" ]
	lock_free
}

@test "a file without write permission bits is refused for mode w but attached for r" {
	mkimg "$XHP_TMP/ro.img"
	chmod 0444 "$XHP_TMP/ro.img"
	mkbe 1 51712 "$XHP_TMP/ro.img" w
	blk add 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd 1/51712/hotplug-status)" = busy ]
	[ "$(rd 1/51712/hotplug-error)" = "File $XHP_TMP/ro.img is read-only, and so will not be attached read-write to a guest." ]
	[ "$(loops_of "$XHP_TMP/ro.img")" -eq 0 ]
	mkbe 2 51712 "$XHP_TMP/ro.img" r
	blk add 2 51712
	[ "$status" -eq 0 ]
	[ "$(rd 2/51712/hotplug-status)" = connected ]
	lock_free
}

@test "a backend that left state 2 (being torn down) is not attached, and nothing is written into it" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-write "$BE/1/51712/state" 6
	blk add 1 51712
	[ "$status" -eq 1 ]
	absent 1/51712/hotplug-error
	absent 1/51712/hotplug-status
	grep -q "Path closed or removed during hotplug add: backend/vbd/1/51712 state: 6" \
	    "$XEN_HOTPLUG_LOGFILE"
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
}

@test "add for a backend directory that is gone exits 1 and does not recreate it" {
	blk add 7 51712
	[ "$status" -eq 1 ]
	run xenstore-read "$BE/7/51712"
	[ "$status" -ne 0 ]
	grep -q "backend backend/vbd/7/51712 is gone" "$XEN_HOTPLUG_LOGFILE"
	lock_free
}

@test "remove for a backend directory that is gone frees the loop device tagged for it" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	xenstore-rm "$BE/1/51712"
	blk remove 1 51712
	[ "$status" -eq 0 ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
	run xenstore-read "$BE/1/51712"
	[ "$status" -ne 0 ]
}

# ---- add: block devices --------------------------------------------------

@test "add of a block device by path publishes major:minor, path and connected" {
	mkblk "$XHP_TMP/disk" 33
	mkbe 1 51712 "$XHP_TMP/disk" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(rd 1/51712/physical-device)" = f0:21 ]
	[ "$(rd 1/51712/physical-device-path)" = "$XHP_TMP/disk" ]
	[ "$(rd 1/51712/hotplug-status)" = connected ]
	absent 1/51712/hotplug-error
	absent 1/51712/node
	lock_free
}

@test "a bare device name in params is looked up under /dev" {
	mkimg "$XHP_TMP/img"
	loop=$(losetup -f --show "$XHP_TMP/img")
	mkbe 1 51712 "${loop#/dev/}" r
	blk add 1 51712
	[ "$status" -eq 0 ]
	[ "$(rd 1/51712/physical-device-path)" = "$loop" ]
	[ "$(rd 1/51712/physical-device)" = "7:$(printf %x "${loop#/dev/loop}")" ]
}

@test "a symbolic link to a block device is resolved before it is published" {
	mkblk "$XHP_TMP/disk" 34
	ln -s "$XHP_TMP/disk" "$XHP_TMP/link"
	mkbe 1 51712 "$XHP_TMP/link" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	[ "$(rd 1/51712/physical-device-path)" = "$XHP_TMP/disk" ]
	[ "$(rd 1/51712/physical-device)" = f0:22 ]
}

@test "an absolute XENBUS_PATH, as an administrator gives it, works" {
	mkblk "$XHP_TMP/disk" 35
	mkbe 1 51712 "$XHP_TMP/disk" w
	# shellcheck disable=SC2086
	run env XENBUS_PATH="$BE/1/51712" $HOTPLUG_SH "$BLOCK" add
	[ "$status" -eq 0 ]
	[ "$(rd 1/51712/physical-device)" = f0:23 ]
	[ "$(rd 1/51712/hotplug-status)" = connected ]
}

@test "a second add of a published backend exits 0 and changes nothing" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	node=$(rd 1/51712/node)
	blk add 1 51712
	[ "$status" -eq 0 ]
	[ "$(rd 1/51712/node)" = "$node" ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 1 ]
}

@test "path-only mode writes physical-device-path and connected but not physical-device" {
	mkblk "$XHP_TMP/disk" 36
	mkbe 1 51712 "$XHP_TMP/disk" w
	XEN_BLOCK_PATH_ONLY=1 blk add 1 51712
	[ "$status" -eq 0 ]
	[ "$(rd 1/51712/physical-device-path)" = "$XHP_TMP/disk" ]
	[ "$(rd 1/51712/hotplug-status)" = connected ]
	absent 1/51712/physical-device
}

# ---- add: image files ----------------------------------------------------

@test "add of an image file attaches a read-write loop device and records it" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	node=$(rd 1/51712/node)
	[ "$(losetup -n -O BACK-FILE "$node")" = "$XHP_TMP/img" ]
	[ "$(cat "/sys/block/${node#/dev/}/ro")" = 0 ]
	[ "$(rd 1/51712/physical-device-path)" = "$node" ]
	[ "$(rd 1/51712/physical-device)" = "7:$(printf %x "${node#/dev/loop}")" ]
	[ "$(rd 1/51712/loop-file-id)" = "$(stat -c %d:%i "$XHP_TMP/img")" ]
	[ "$(rd 1/51712/loop-tag)" = "$XEN_HOTPLUG_LOOP_TAG:vbd/1/51712" ]
	[ "$(rd 1/51712/hotplug-status)" = connected ]
	lock_free
}

@test "mode r attaches the image read-only" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" r
	blk add 1 51712
	[ "$status" -eq 0 ]
	node=$(rd 1/51712/node)
	[ "$(cat "/sys/block/${node#/dev/}/ro")" = 1 ]
}

@test "paths with spaces and shell metacharacters work and run nothing" {
	cd "$XHP_TMP"
	f="$XHP_TMP/my disk \$(touch pwned);\`touch pwned\` *'\".img"
	mkimg "$f"
	mkbe 1 51712 "$f" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	node=$(rd 1/51712/node)
	[ "$(losetup -n -O BACK-FILE "$node")" = "$f" ]
	d="$XHP_TMP/a disk;|&<>"
	mkblk "$d" 37
	mkbe 2 51712 "$d" w
	blk add 2 51712
	[ "$status" -eq 0 ]
	[ "$(rd 2/51712/physical-device-path)" = "$d" ]
	[ ! -e "$XHP_TMP/pwned" ]
	blk remove 1 51712
	[ "$status" -eq 0 ]
	[ "$(loops_of "$f")" -eq 0 ]
}

# ---- sharing -------------------------------------------------------------

@test "the same image read-write for two domains: the second is busy (upstream gives it twice)" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	mkbe 2 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	blk add 2 51712
	[ "$status" -eq 1 ]
	[ "$(rd 2/51712/hotplug-status)" = busy ]
	[[ "$(rd 2/51712/hotplug-error)" == "File $XHP_TMP/img (device 7:"*") is already used by another guest through backend/vbd/1/51712, and so cannot be attached read-write now." ]]
	absent 2/51712/physical-device
	[ "$(loops_of "$XHP_TMP/img")" -eq 1 ]
	lock_free
}

@test "an image read-only for two domains is fine; read-write next to read-only is busy" {
	mkimg "$XHP_TMP/img"
	mkbe 1 1 "$XHP_TMP/img" r
	mkbe 2 1 "$XHP_TMP/img" r
	mkbe 3 1 "$XHP_TMP/img" w
	blk add 1 1
	[ "$status" -eq 0 ]
	blk add 2 1
	[ "$status" -eq 0 ]
	blk add 3 1
	[ "$status" -eq 1 ]
	[ "$(rd 3/1/hotplug-status)" = busy ]
}

@test "a device read-only next to a read-write user is busy in both orders" {
	mkblk "$XHP_TMP/disk" 38
	mkbe 1 1 "$XHP_TMP/disk" w
	mkbe 2 1 "$XHP_TMP/disk" r
	blk add 1 1
	[ "$status" -eq 0 ]
	blk add 2 1
	[ "$status" -eq 1 ]
	[ "$(rd 2/1/hotplug-error)" = "Device $XHP_TMP/disk (device f0:26) is already used read-write by another guest through backend/vbd/1/1, and so cannot be attached read-only now." ]
}

@test "w! skips the sharing check" {
	mkblk "$XHP_TMP/disk" 39
	mkbe 1 1 "$XHP_TMP/disk" w
	mkbe 2 1 "$XHP_TMP/disk" 'w!'
	blk add 1 1
	[ "$status" -eq 0 ]
	blk add 2 1
	[ "$status" -eq 0 ]
	[ "$(rd 2/1/hotplug-status)" = connected ]
}

@test "a backend with only physical-device-path (path-only writer) still blocks a conflicting add" {
	mkimg "$XHP_TMP/img"
	loop=$(losetup -f --show "$XHP_TMP/img")
	mkbe 1 1 "$loop" w
	XEN_BLOCK_PATH_ONLY=1 blk add 1 1
	[ "$status" -eq 0 ]
	absent 1/1/physical-device
	# Another path to the same device, and the image file behind it.
	ln -s "$loop" "$XHP_TMP/alias"
	mkbe 2 1 "$XHP_TMP/alias" w
	blk add 2 1
	[ "$status" -eq 1 ]
	[ "$(rd 2/1/hotplug-status)" = busy ]
	mkbe 3 1 "$XHP_TMP/img" r
	blk add 3 1
	[ "$status" -eq 1 ]
	[ "$(rd 3/1/hotplug-status)" = busy ]
}

@test "domains of one VM, and a stubdomain and its guest, may share read-write" {
	mkblk "$XHP_TMP/disk" 40
	mkbe 1 1 "$XHP_TMP/disk" w
	mkbe 2 1 "$XHP_TMP/disk" w
	xenstore-write /local/domain/2/vm /vm/uuid-1
	blk add 1 1
	[ "$status" -eq 0 ]
	blk add 2 1
	[ "$status" -eq 0 ]
	# Stubdomain 4 serves guest 3.
	mkblk "$XHP_TMP/disk2" 41
	mkbe 3 1 "$XHP_TMP/disk2" w
	mkbe 4 1 "$XHP_TMP/disk2" w
	xenstore-write /local/domain/4/target 3
	blk add 3 1
	[ "$status" -eq 0 ]
	blk add 4 1
	[ "$status" -eq 0 ]
	# but not a third, unrelated domain
	mkbe 5 1 "$XHP_TMP/disk2" w
	blk add 5 1
	[ "$status" -eq 1 ]
}

@test "a dom0 mount makes a device busy according to the mode" {
	truncate -s 8M "$XHP_TMP/fs.img"
	mkfs.ext4 -q -F "$XHP_TMP/fs.img"
	loop=$(losetup -f --show "$XHP_TMP/fs.img")
	mkdir "$XHP_TMP/mnt"
	mount -o ro "$loop" "$XHP_TMP/mnt"
	mkbe 1 1 "$loop" r
	mkbe 2 1 "$loop" w
	blk add 1 1
	[ "$status" -eq 0 ]
	blk add 2 1
	[ "$status" -eq 1 ]
	[ "$(rd 2/1/hotplug-status)" = busy ]
	[ "$(rd 2/1/hotplug-error)" = "Device $loop (device 7:$(printf %x "${loop#/dev/loop}")) is mounted in the privileged domain at $XHP_TMP/mnt, and so cannot be attached read-write to a guest." ]
	umount "$XHP_TMP/mnt"
	mount -o rw "$loop" "$XHP_TMP/mnt"
	mkbe 3 1 "$loop" r
	blk add 3 1
	[ "$status" -eq 1 ]
	[ "$(rd 3/1/hotplug-status)" = busy ]
}

# ---- remove --------------------------------------------------------------

@test "remove frees the loop device, and a second remove is harmless" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 1 ]
	blk remove 1 51712
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
	blk remove 1 51712
	[ "$status" -eq 0 ]
	absent 1/51712/hotplug-error
	lock_free
}

@test "remove frees the loop device even when params and the image are gone" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	node=$(rd 1/51712/node)
	xenstore-rm "$BE/1/51712/params"
	rm "$XHP_TMP/img"
	blk remove 1 51712
	cat "$XEN_HOTPLUG_LOGFILE" 2>/dev/null || : # shown if the test fails
	[ "$status" -eq 0 ]
	run losetup "$node"
	[[ "$output" != *"$XHP_TMP/img"* ]]
}

@test "remove leaves alone a loop device that now maps another file" {
	mkimg "$XHP_TMP/img"
	mkimg "$XHP_TMP/other"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add 1 51712
	[ "$status" -eq 0 ]
	node=$(rd 1/51712/node)
	losetup -d "$node"
	losetup "$node" "$XHP_TMP/other"
	blk remove 1 51712
	[ "$status" -eq 0 ]
	[ "$(losetup -n -O BACK-FILE "$node")" = "$XHP_TMP/other" ]
}

@test "remove frees a loop device orphaned before node was written, by its tag" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	# What add leaves behind when SIGKILLed right after loop-attach.
	out=$(loop-attach -t "$XEN_HOTPLUG_LOOP_TAG:vbd/1/51712" "$XHP_TMP/img")
	[ "$(loops_of "$XHP_TMP/img")" -eq 1 ]
	absent 1/51712/node
	blk remove 1 51712
	[ "$status" -eq 0 ]
	[ "$(loops_of "$XHP_TMP/img")" -eq 0 ]
	[ -n "$out" ]
}

@test "remove of a block device backend touches no loop device" {
	mkblk "$XHP_TMP/disk" 42
	mkbe 1 1 "$XHP_TMP/disk" w
	blk add 1 1
	[ "$status" -eq 0 ]
	blk remove 1 1
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	absent 1/1/hotplug-error
}

# ---- other types, lock, logging, speed -----------------------------------

@test "an unknown type is handed to block-TYPE with the command" {
	mkdir "$XHP_TMP/scripts"
	# shellcheck disable=SC2016 # written into the stub script
	printf '#!/bin/sh\necho "$1 $XENBUS_PATH" > "%s/called"\n' "$XHP_TMP" \
	    > "$XHP_TMP/scripts/block-frob"
	chmod +x "$XHP_TMP/scripts/block-frob"
	mkbe 1 1 "frob:thing" w
	xenstore-write "$BE/1/1/type" frob
	XEN_SCRIPT_DIR=$XHP_TMP/scripts blk add 1 1
	[ "$status" -eq 0 ]
	[ "$(cat "$XHP_TMP/called")" = "add backend/vbd/1/1" ]
	lock_free
	xenstore-write "$BE/1/1/type" nosuch
	XEN_SCRIPT_DIR=$XHP_TMP/scripts blk add 1 1
	[ "$status" -eq 1 ]
	[ "$(rd 1/1/hotplug-error)" = "backend type 'nosuch' is not supported (no $XHP_TMP/scripts/block-nosuch)" ]
}

@test "add waits for the lock while upstream's bash locking.sh holds it" {
	upstream_dir
	mkblk "$XHP_TMP/disk" 43
	mkbe 1 1 "$XHP_TMP/disk" w
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # expanded by the inner bash
	bash -c '. "$3/locking.sh"
		LOCK_BASEDIR=$1; claim_lock block; touch "$2/held"; sleep 1.5
		touch "$2/released"; release_lock block' _ "$XHP_TMP/lock" "$XHP_TMP" "$UPSTREAM" 3>&- &
	holder=$!
	while [ ! -e "$XHP_TMP/held" ]; do sleep 0.05; done
	blk add 1 1
	[ "$status" -eq 0 ]
	# add could only finish after the holder let go.
	[ -e "$XHP_TMP/released" ]
	[ "$(rd 1/1/hotplug-status)" = connected ]
	wait "$holder"
}

@test "a lock held too long makes add fail with an error naming the holder" {
	mkblk "$XHP_TMP/disk" 44
	mkbe 1 1 "$XHP_TMP/disk" w
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # expanded by the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c 'touch "$1"; sleep 4' _ "$XHP_TMP/held" 3>&- &
	holder=$!
	while [ ! -e "$XHP_TMP/held" ]; do sleep 0.05; done
	XEN_HOTPLUG_LOCK_TIMEOUT=1 blk add 1 1
	[ "$status" -eq 1 ]
	[ "$(rd 1/1/hotplug-status)" = error ]
	[[ "$(rd 1/1/hotplug-error)" == *"within 1 s: held by pid"* ]]
	absent 1/1/physical-device
	kill "$holder"
	wait "$holder" || true
}

@test "stderr goes to XEN_HOTPLUG_LOGFILE, and debug mode logs the timings" {
	mkblk "$XHP_TMP/disk" 45
	mkbe 1 1 "$XHP_TMP/disk" w
	XEN_HOTPLUG_DEBUG=1 blk add 1 1
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -Eq 'add backend/vbd/1/1: .*check [0-9]+ us, .*write [0-9]+ us.*, under lock [0-9]+ us' \
	    "$XEN_HOTPLUG_LOGFILE"
}

@test "an add is the shell and one helper: xs-publish, nothing else, no second validator" {
	command -v strace >/dev/null || skip "strace not installed"
	mkblk "$XHP_TMP/disk" 46
	mkbe 1 1 "$XHP_TMP/disk" w
	# shellcheck disable=SC2086
	env XENBUS_PATH=backend/vbd/1/1 strace -f -e trace=execve \
	    -o "$XHP_TMP/trace" $HOTPLUG_SH "$BLOCK" add </dev/null
	[ "$(rd 1/1/hotplug-status)" = connected ]
	[ "$(rd 1/1/physical-device)" = f0:2e ]
	grep 'execve(.* = 0$' "$XHP_TMP/trace" | grep -c . | grep -qx 2
	grep 'execve(.* = 0$' "$XHP_TMP/trace" | grep -c '/xs-publish"' | grep -qx 1
}

@test "a conflict is the same one helper run: it writes busy and its reason itself" {
	command -v strace >/dev/null || skip "strace not installed"
	mkblk "$XHP_TMP/disk" 47
	mkbe 1 1 "$XHP_TMP/disk" w
	blk add 1 1
	[ "$status" -eq 0 ]
	mkbe 2 1 "$XHP_TMP/disk" w
	# shellcheck disable=SC2086
	env XENBUS_PATH=backend/vbd/2/1 strace -f -e trace=execve \
	    -o "$XHP_TMP/trace" $HOTPLUG_SH "$BLOCK" add </dev/null || true
	[ "$(rd 2/1/hotplug-status)" = busy ]
	[[ "$(rd 2/1/hotplug-error)" == "Device $XHP_TMP/disk (device f0:2f) is already used by another guest through backend/vbd/1/1,"* ]]
	grep 'execve(.* = 0$' "$XHP_TMP/trace" | grep -c '/xs-publish"' | grep -qx 1
	lock_free
}

@test "add starts at most 8 processes, as many with 50 other backends as with none" {
	command -v strace >/dev/null || skip "strace not installed"
	mkimg "$XHP_TMP/img"
	count() {
		# shellcheck disable=SC2086
		env XENBUS_PATH="backend/vbd/$1/1" strace -f -e trace=execve \
		    -o "$XHP_TMP/trace" $HOTPLUG_SH "$BLOCK" add </dev/null
		grep -c 'execve(.* = 0$' "$XHP_TMP/trace"
	}
	mkdir -p "$XHP_TMP/lock"
	mkbe 1 1 "$XHP_TMP/img" w
	n0=$(count 1)
	[ "$(rd 1/1/hotplug-status)" = connected ]
	blk remove 1 1
	xenstore-rm "$BE/1"
	set --
	for d in $(seq 100 149); do
		mkblk "$XHP_TMP/d$d" "$d"
		set -- "$@" "$BE/$d/1/physical-device" "f0:$(printf %x "$d")" \
		    "$BE/$d/1/mode" w "$BE/$d/1/frontend-id" "$d"
	done
	xenstore-write "$@"
	mkbe 2 1 "$XHP_TMP/img" w
	n50=$(count 2)
	[ "$(rd 2/1/hotplug-status)" = connected ]
	echo "processes: $n0 with no other backend, $n50 with 50" >&3
	[ "$n0" -le 8 ]
	[ "$n0" -eq "$n50" ]
}
