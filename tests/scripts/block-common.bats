#!/usr/bin/env bats
# scripts/Linux/block-common.sh: upstream's block API (canonicalise_mode,
# device_major_minor, write_dev, check_sharing in upstream's calling
# convention, check_*_sharing, do_ebusy, ebusy, same_vm, expand_dev).
# shellcheck disable=SC2016 # script bodies are expanded by the shell under test

load ../test_helper

BE=/local/domain/0/backend/vbd

setup() {
	script_setup
	mkdir "$XHP_TMP/s"
	beside "$XHP_TMP/s"
	export XENBUS_PATH=backend/vbd/1/51712
	xenstore-write "$BE/1/51712/state" 2 "$BE/1/51712/frontend-id" 1 \
	    /local/domain/1/vm /vm/one
}

teardown() {
	[ -d "$XHP_TMP/mnt" ] && umount "$XHP_TMP/mnt" 2>/dev/null
	free_my_loops
	xhp_teardown
}

sc() {
	local body=$1
	shift
	printf '#!/bin/sh\n. "${0%%/*}/block-common.sh"\n%s\n' "$body" > "$XHP_TMP/s/t"
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run $HOTPLUG_SH "$XHP_TMP/s/t" "${@:-add}" </dev/null
}

# other DOM MAJMIN MODE: another guest's published backend.
other() {
	xenstore-write "$BE/$1/1/physical-device" "$2" "$BE/$1/1/mode" "$3" \
	    "$BE/$1/1/frontend-id" "$1" "/local/domain/$1/vm" "/vm/dom$1"
}

@test "canonicalise_mode maps modes to r, w and ! as upstream" {
	sc 'for m in r ro w rw "w!" "rw!" "" x; do printf "%s " "$(canonicalise_mode "$m")"; done'
	[ "$status" -eq 0 ]
	[ "$output" = "r r w w ! ! r r " ]
}

@test "expand_dev puts relative names under /dev" {
	sc 'expand_dev sda; echo; expand_dev /x/y; echo'
	[ "$output" = "/dev/sda
/x/y" ]
}

@test "device_major_minor prints hex major:minor, and fails for a non-device" {
	mknod "$XHP_TMP/disk" b 240 77
	sc 'device_major_minor "$XHP_TMP/disk"; device_major_minor /etc/passwd || echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = f0:4d ]
	[ "${lines[-1]}" = rc=1 ]
}

@test "check_sharing device prints ok, or guest with the major:minor of the conflict" {
	mknod "$XHP_TMP/disk" b 240 78
	sc 'check_sharing device "$XHP_TMP/disk" w'
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	other 2 f0:4e r
	sc 'check_sharing device "$XHP_TMP/disk" r; check_sharing device "$XHP_TMP/disk" w'
	[ "$status" -eq 0 ]
	[ "$output" = "ok
guest f0:4e" ]
}

@test "check_sharing device prints local for a conflicting dom0 mount" {
	truncate -s 8M "$XHP_TMP/fs.img"
	mkfs.ext4 -q -F "$XHP_TMP/fs.img"
	loop=$(losetup -f --show "$XHP_TMP/fs.img")
	mkdir "$XHP_TMP/mnt"
	mount -o ro "$loop" "$XHP_TMP/mnt"
	T1=$loop sc 'check_sharing device "$T1" r; check_sharing device "$T1" w'
	[ "$status" -eq 0 ]
	[ "$output" = "ok
local 7:$(printf %x "${loop#/dev/loop}")" ]
}

@test "check_sharing file with stat's hex device and inode finds a guest using the image (upstream never does)" {
	truncate -s 4M "$XHP_TMP/img"
	loop=$(losetup -f --show "$XHP_TMP/img")
	mm=7:$(printf %x "${loop#/dev/loop}")
	other 2 "$mm" w
	sc 'check_sharing file "$(stat -c %D "$XHP_TMP/img")" r "$(stat -c %i "$XHP_TMP/img")"'
	[ "$status" -eq 0 ]
	[ "$output" = "guest $mm" ]
}

@test "check_device_sharing exits busy with upstream's message" {
	mknod "$XHP_TMP/disk" b 240 79
	other 2 f0:4f w
	sc 'check_device_sharing "$XHP_TMP/disk" r; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(rd -R 1/51712/hotplug-status)" = busy ]
	[ "$(rd -R 1/51712/hotplug-error)" = "Device $XHP_TMP/disk is mounted read-write in a guest domain,
and so cannot be mounted read-only now." ]
}

@test "check_device_sharing does nothing for w!" {
	mknod "$XHP_TMP/disk" b 240 80
	other 2 f0:50 w
	sc 'check_device_sharing "$XHP_TMP/disk" "w!"; echo after'
	[ "$status" -eq 0 ]
	[ "$output" = after ]
}

@test "check_file_sharing exits busy naming the loop device" {
	truncate -s 4M "$XHP_TMP/img"
	loop=$(losetup -f --show "$XHP_TMP/img")
	mm=7:$(printf %x "${loop#/dev/loop}")
	other 2 "$mm" w
	T1=$XHP_TMP/img sc 'check_file_sharing "$T1" "$(stat -c %D "$T1")" w "$(stat -c %i "$T1")"'
	[ "$status" -eq 1 ]
	[ "$(rd -R 1/51712/hotplug-error)" = "File $XHP_TMP/img is loopback-mounted through $mm,
which is mounted in a guest domain,
and so cannot be mounted now." ]
}

@test "write_dev publishes major:minor, path and connected in one go" {
	mknod "$XHP_TMP/disk" b 240 81
	sc 'write_dev "$XHP_TMP/disk"'
	[ "$status" -eq 0 ]
	[ "$(rd -R 1/51712/physical-device)" = f0:51 ]
	[ "$(rd -R 1/51712/physical-device-path)" = "$XHP_TMP/disk" ]
	[ "$(rd -R 1/51712/hotplug-status)" = connected ]
}

@test "write_dev with extra NODE=VALUE pairs writes them too" {
	mknod "$XHP_TMP/disk" b 240 82
	sc 'write_dev "$XHP_TMP/disk" node=/dev/x "extra=a b"'
	[ "$status" -eq 0 ]
	[ "$(rd -R 1/51712/node)" = /dev/x ]
	[ "$(rd -R 1/51712/extra)" = "a b" ]
}

@test "write_dev in path-only mode leaves physical-device out" {
	mknod "$XHP_TMP/disk" b 240 83
	XEN_BLOCK_PATH_ONLY=1 sc 'write_dev "$XHP_TMP/disk"'
	[ "$status" -eq 0 ]
	[ "$(rd -R 1/51712/physical-device-path)" = "$XHP_TMP/disk" ]
	run xenstore-read "$BE/1/51712/physical-device"
	[ "$status" -ne 0 ]
}

@test "write_dev on a removed backend fails without recreating it" {
	mknod "$XHP_TMP/disk" b 240 84
	xenstore-rm "$BE/1/51712"
	sc 'write_dev "$XHP_TMP/disk"; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	run xenstore-read "$BE/1/51712"
	[ "$status" -ne 0 ]
	grep -q 'backend gone\|gone' "$XEN_HOTPLUG_LOGFILE"
}

@test "write_dev of a device that does not exist reports it in hotplug-error" {
	sc 'write_dev "$XHP_TMP/no-such-disk"; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(rd -R 1/51712/hotplug-status)" = error ]
	[[ "$(rd -R 1/51712/hotplug-error)" == *no-such-disk* ]]
	run xenstore-read "$BE/1/51712/physical-device-path"
	[ "$status" -ne 0 ]
}

@test "ebusy writes hotplug-status=busy and the message, and exits 1" {
	sc 'ebusy "in use"; echo after'
	[ "$status" -eq 1 ]
	[ "$(rd -R 1/51712/hotplug-status)" = busy ]
	[ "$(rd -R 1/51712/hotplug-error)" = "in use" ]
}

@test "same_vm: same vm, a vanished domain and a stubdomain's guest count as the same VM" {
	xenstore-write /local/domain/2/vm /vm/one /local/domain/3/vm /vm/three \
	    /local/domain/5/vm /vm/five /local/domain/5/target 1
	sc 'FRONTEND_ID=1; FRONTEND_UUID=/vm/one
		for d in 2 3 4 5; do same_vm "$d" && echo "$d same" || echo "$d other"; done'
	[ "$status" -eq 0 ]
	[ "$output" = "2 same
3 other
4 same
5 same" ]
}

@test "write_dev without the lock held checks sharing first: a device another guest writes is busy" {
	mknod "$XHP_TMP/disk" b 240 90
	other 2 f0:5a w
	sc 'write_dev "$XHP_TMP/disk"; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(rd -R 1/51712/hotplug-status)" = busy ]
	[[ "$(rd -R 1/51712/hotplug-error)" == "Device $XHP_TMP/disk (device f0:5a) is already used by another guest through backend/vbd/2/1,"* ]]
	absent 1/51712/physical-device
	lock_free
}

@test "write_dev with the lock held (upstream's claim_lock; check_sharing; write_dev) publishes what its caller checked" {
	mknod "$XHP_TMP/disk" b 240 91
	# shellcheck disable=SC2016 # expanded by the script
	sc 'claim_lock block; write_dev "$XHP_TMP/disk"; release_lock block; echo after'
	[ "$status" -eq 0 ]
	[ "$output" = after ]
	[ "$(rd -R 1/51712/physical-device)" = f0:5b ]
	[ "$(rd -R 1/51712/hotplug-status)" = connected ]
}

@test "write_dev without the lock waits for its holder, so that it is in the race-free argument" {
	mknod "$XHP_TMP/disk" b 240 92
	mkdir -p "$XHP_TMP/lock"
	# shellcheck disable=SC2016 # expanded by the inner sh
	flock-wrap "$XHP_TMP/lock/block" sh -c 'touch "$1/held"; sleep 1; touch "$1/released"' \
	    _ "$XHP_TMP" 3>&- &
	holder=$!
	until [ -e "$XHP_TMP/held" ]; do sleep 0.02; done
	sc 'write_dev "$XHP_TMP/disk"'
	[ "$status" -eq 0 ]
	[ -e "$XHP_TMP/released" ]
	[ "$(rd -R 1/51712/hotplug-status)" = connected ]
	wait "$holder"
}

@test "a fatal inside \$(...) keeps its reason: the EXIT trap does not overwrite it" {
	# shellcheck disable=SC2016 # expanded by the script
	sc 'x=$(fatal "the real reason"); exit 1'
	[ "$status" -eq 1 ]
	[ "$(rd -R 1/51712/hotplug-error)" = "the real reason" ]
	[ "$(rd -R 1/51712/hotplug-status)" = error ]
}

@test "settings come from the configuration file, and the environment wins over it" {
	printf '%s\n' '# a comment' "XEN_HOTPLUG_LOCK_BASEDIR=\"$XHP_TMP/conflock\"" \
	    'XEN_HOTPLUG_DEADLINE=7' 'NOT_A_SETTING=1' >"$XHP_TMP/conf"
	unset XEN_HOTPLUG_LOCK_BASEDIR
	# shellcheck disable=SC2016 # expanded by the script
	XEN_HOTPLUG_CONFIG=$XHP_TMP/conf sc \
	    'echo "$LOCK_BASEDIR ${XEN_HOTPLUG_DEADLINE:-}"'
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/conflock 7" ]
	grep -q 'unknown setting "NOT_A_SETTING"' "$XEN_HOTPLUG_LOGFILE"
	# shellcheck disable=SC2016
	XEN_HOTPLUG_CONFIG=$XHP_TMP/conf XEN_HOTPLUG_DEADLINE=3 \
	    XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock sc \
	    'echo "$LOCK_BASEDIR ${XEN_HOTPLUG_DEADLINE:-}"'
	[ "$output" = "$XHP_TMP/lock 3" ]
}
