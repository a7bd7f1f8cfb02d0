#!/usr/bin/env bats
# scripts/Linux/block-dummy, block-iscsi and block-tap against the test
# xenstore, under $HOTPLUG_SH. Loop devices and locks are real; iscsiadm and
# tap-ctl are stubs (tests/stubs/linux) because there is no iSCSI target or
# blktap here.

load ../test_helper

BE=/local/domain/0/backend

setup() {
	require_root
	xhp_setup
	script_env
	export XHP_STUB_STATE=$XHP_TMP/stub
	export XEN_HOTPLUG_DISK_BY_PATH=$XHP_TMP/by-path
	mkdir -p "$XHP_STUB_STATE"
	export PATH="$XHP_TOP/tests/stubs/linux:$PATH"
	unset XEN_HOTPLUG_ISCSI_TIMEOUT ISCSI_STUB_LINK_DELAY TAPCTL_STUB_FAIL
	S=$XHP_SCRIPTDIR
}

teardown() {
	local p
	if [ -f "$XHP_STUB_STATE/tapdisks" ]; then
		while read -r p _; do
			kill "$p" 2>/dev/null
		done < "$XHP_STUB_STATE/tapdisks"
	fi
	free_my_loops
	xhp_teardown
}

# hp SCRIPT CMD TYPE DOM DEVID: run a script as libxl does.
hp() { run_script "$S/$1" "$2" "backend/$3/$4/$5" "$3"; }

# gone PID: the process has exited (a zombie counts: the stub's "tapdisk" is
# reparented to a PID 1 that may never reap it).
gone() { [ ! -r "/proc/$1/stat" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat")" = Z ]; }
alive() { ! gone "$1"; }

# ---- block-dummy -----------------------------------------------------------

@test "block-dummy add puts the image on a loop device and publishes node, physical-device and its path" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "dummy:$XHP_TMP/img" w
	hp block-dummy add vbd 1 51712
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	node=$(rd vbd/1/51712/node)
	[[ "$node" == /dev/loop* ]]
	[ "$(losetup -n -O BACK-FILE "$node")" = "$XHP_TMP/img" ]
	[ "$(rd vbd/1/51712/physical-device-path)" = "$node" ]
	[ "$(rd vbd/1/51712/physical-device)" = "$(majmin "$node")" ]
	[ "$(rd vbd/1/51712/hotplug-status)" = connected ]
	[ "$(losetup -n -O RO "$node" | tr -d ' ')" = 0 ]
}

@test "block-dummy add with mode r gives a read-only loop device" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "dummy:$XHP_TMP/img" r
	hp block-dummy add vbd 1 51712
	[ "$status" -eq 0 ]
	[ "$(losetup -n -O RO "$(rd vbd/1/51712/node)" | tr -d ' ')" = 1 ]
}

@test "block-dummy remove frees the loop device even when params and the image are gone" {
	mkimg "$XHP_TMP/img"
	mkbe 1 51712 "dummy:$XHP_TMP/img" w
	hp block-dummy add vbd 1 51712
	[ "$status" -eq 0 ]
	node=$(rd vbd/1/51712/node)
	xenstore-rm "$BE/vbd/1/51712/params"
	rm "$XHP_TMP/img"
	hp block-dummy remove vbd 1 51712
	[ "$status" -eq 0 ]
	run losetup -n -O BACK-FILE "$node"
	[[ "$output" != *"$XHP_TMP/img"* ]]
	[ -z "$(my_loops)" ]
}

@test "block-dummy remove leaves alone a loop device this backend did not make" {
	mkimg "$XHP_TMP/other"
	other=$(losetup -f --show "$XHP_TMP/other")
	mkbe 1 51712 "dummy:$XHP_TMP/img" w
	xenstore-write "$BE/vbd/1/51712/node" "$other"
	hp block-dummy remove vbd 1 51712
	[ "$status" -eq 0 ]
	[ "$(losetup -n -O BACK-FILE "$other")" = "$XHP_TMP/other" ]
	grep -q "$other not detached" "$XEN_HOTPLUG_LOGFILE"
}

@test "block-dummy refuses params of another type and a missing image" {
	mkbe 1 51712 "phy:/dev/sda" w
	hp block-dummy add vbd 1 51712
	[ "$status" -eq 1 ]
	[ "$(rd vbd/1/51712/hotplug-error)" = "Invalid type: phy" ]
	[ "$(rd vbd/1/51712/hotplug-status)" = error ]
	mkbe 1 51728 "dummy:$XHP_TMP/nothing" w
	hp block-dummy add vbd 1 51728
	[ "$status" -eq 1 ]
	[ "$(rd vbd/1/51728/hotplug-error)" = "$XHP_TMP/nothing does not exist." ]
	absent vbd/1/51728/physical-device
	[ -z "$(my_loops)" ]
}

# ---- block-iscsi -----------------------------------------------------------

IQN=iqn.2003-01.org.example.storage:disk1
PORTAL=192.0.2.10:3260

# iscsi_lun: an image on a loop device that the stub presents as the LUN.
iscsi_lun() {
	mkimg "$XHP_TMP/lun"
	LUN=$(losetup -f --show "$XHP_TMP/lun")
	printf '%s %s %s\n' "$PORTAL" "$IQN" "$LUN" >> "$XHP_STUB_STATE/iscsi-targets"
}

@test "block-iscsi add logs in, waits for the LUN and publishes it" {
	iscsi_lun
	mkbe 2 51712 "iqn=$IQN,portal=192.0.2.10" w
	hp block-iscsi add vbd 2 51712
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	link=$XHP_TMP/by-path/ip-192.0.2.10:3260-iscsi-$IQN-lun-0
	[ "$(rd vbd/2/51712/physical-device-path)" = "$link" ]
	[ "$(rd vbd/2/51712/physical-device)" = "$(majmin "$LUN")" ]
	[ "$(rd vbd/2/51712/hotplug-status)" = connected ]
	grep -qx "iscsiadm -m discovery -t st -p 192.0.2.10" "$XHP_STUB_STATE/calls"
	grep -qx "iscsiadm -m node --targetname $IQN -p 192.0.2.10 --login" "$XHP_STUB_STATE/calls"
}

@test "block-iscsi add waits for a by-path link that udev creates late" {
	iscsi_lun
	mkbe 2 51712 "iqn=$IQN,portal=$PORTAL" w
	ISCSI_STUB_LINK_DELAY=2 hp block-iscsi add vbd 2 51712
	[ "$status" -eq 0 ]
	[ "$(rd vbd/2/51712/physical-device)" = "$(majmin "$LUN")" ]
}

@test "block-iscsi add gives up after XEN_HOTPLUG_ISCSI_TIMEOUT seconds and says so" {
	iscsi_lun
	mkbe 2 51712 "iqn=$IQN,portal=$PORTAL" w
	start=$(date +%s)
	ISCSI_STUB_LINK_DELAY=never XEN_HOTPLUG_ISCSI_TIMEOUT=2 hp block-iscsi add vbd 2 51712
	end=$(date +%s)
	[ "$status" -eq 1 ]
	[ $((end - start)) -ge 2 ]
	[ $((end - start)) -le 6 ]
	[[ "$(rd vbd/2/51712/hotplug-error)" == "timeout after 2s waiting for iSCSI LUN $IQN"* ]]
	[ "$(rd vbd/2/51712/hotplug-status)" = error ]
	absent vbd/2/51712/physical-device
}

@test "block-iscsi's default wait for the LUN ends inside libxl's 40 s" {
	iscsi_lun
	mkbe 2 51712 "iqn=$IQN,portal=$PORTAL" w
	start=$(date +%s)
	ISCSI_STUB_LINK_DELAY=never hp block-iscsi add vbd 2 51712
	end=$(date +%s)
	[ "$status" -eq 1 ]
	# Leave libxl time to read hotplug-error before its SIGKILL at 40 s.
	[ $((end - start)) -lt 35 ]
	[[ "$(rd vbd/2/51712/hotplug-error)" == "timeout after "* ]]
}

@test "block-iscsi add refuses a target the portal does not offer" {
	iscsi_lun
	mkbe 2 51712 "iqn=iqn.2003-01.org.example.storage:other,portal=$PORTAL" w
	hp block-iscsi add vbd 2 51712
	[ "$status" -eq 1 ]
	[ "$(rd vbd/2/51712/hotplug-error)" = "No matching target iqn found" ]
	run grep -c -- --login "$XHP_STUB_STATE/calls"
	[ "$output" = 0 ]
}

@test "block-iscsi add refuses a target already logged in, but not one whose name merely extends it" {
	iscsi_lun
	printf '1 %s %s0\n' "$PORTAL" "$IQN" > "$XHP_STUB_STATE/iscsi-sessions"
	mkbe 2 51712 "iqn=$IQN,portal=$PORTAL" w
	hp block-iscsi add vbd 2 51712
	[ "$status" -eq 0 ]
	printf '2 %s %s\n' "$PORTAL" "$IQN" >> "$XHP_STUB_STATE/iscsi-sessions"
	mkbe 3 51712 "iqn=$IQN,portal=$PORTAL" w
	hp block-iscsi add vbd 3 51712
	[ "$status" -eq 1 ]
	[ "$(rd vbd/3/51712/hotplug-error)" = "Device already opened" ]
}

@test "block-iscsi remove logs out, and a session already gone is not an error" {
	iscsi_lun
	mkbe 2 51712 "iqn=$IQN,portal=$PORTAL" w
	hp block-iscsi add vbd 2 51712
	[ "$status" -eq 0 ]
	hp block-iscsi remove vbd 2 51712
	[ "$status" -eq 0 ]
	grep -qx "iscsiadm -m node --targetname $IQN -p $PORTAL --logout" "$XHP_STUB_STATE/calls"
	[ ! -s "$XHP_STUB_STATE/iscsi-sessions" ]
	[ ! -e "$XHP_TMP/by-path/ip-192.0.2.10:3260-iscsi-$IQN-lun-0" ]
	hp block-iscsi remove vbd 2 51712
	[ "$status" -eq 0 ]
	[ "$(rd vbd/2/51712/hotplug-status)" = connected ]
}

@test "block-iscsi params without iqn or portal is an error" {
	mkbe 2 51712 "portal=$PORTAL" w
	hp block-iscsi add vbd 2 51712
	[ "$status" -eq 1 ]
	[ "$(rd vbd/2/51712/hotplug-error)" = "iqn= and portal= are required parameters" ]
	mkbe 2 51728 "iqn=$IQN,portal=$PORTAL,multipath=maybe" w
	hp block-iscsi add vbd 2 51728
	[ "$status" -eq 1 ]
	[[ "$(rd vbd/2/51728/hotplug-error)" == "multipath valid values are y and n"* ]]
}

# ---- block-tap -------------------------------------------------------------

# tap_pid BACKEND: pid recorded by block-tap
tap_pid() { rd "$1/pid"; }

@test "block-tap add for vbd3 starts a tapdisk and writes physical-device-path, never physical-device" {
	mkimg "$XHP_TMP/disk.img"
	mkbe 1 768 "aio:$XHP_TMP/disk.img" w vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	pid=$(tap_pid vbd3/1/768)
	minor=$(rd vbd3/1/768/minor)
	alive "$pid"
	run tap-ctl list -p "$pid"
	[ "$output" = "pid=$pid minor=$minor state=0 args=aio:$XHP_TMP/disk.img" ]
	[ "$(rd vbd3/1/768/physical-device-path)" = "/run/blktap-control/nbd$pid.$minor" ]
	absent vbd3/1/768/physical-device
	[ "$(rd vbd3/1/768/hotplug-status)" = connected ]
	lock_free
}

@test "the tapdisk started by block-tap does not hold the hotplug lock" {
	mkimg "$XHP_TMP/disk.img"
	mkbe 1 768 "aio:$XHP_TMP/disk.img" w vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 0 ]
	pid=$(tap_pid vbd3/1/768)
	alive "$pid"
	# The lock file was unlinked on release: look for any descriptor on
	# the lock directory's files, deleted or not.
	run sh -c "ls -l /proc/$pid/fd/ | grep -F '$XHP_TMP/lock'"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	# And a second add does not wait for the daemon.
	mkimg "$XHP_TMP/disk2.img"
	mkbe 2 768 "aio:$XHP_TMP/disk2.img" w vbd3
	XEN_HOTPLUG_LOCK_TIMEOUT=2 hp block-tap add vbd3 2 768
	[ "$status" -eq 0 ]
}

@test "block-tap refuses a file another guest's tap backend uses, however the path is spelled" {
	mkdir "$XHP_TMP/d"
	mkimg "$XHP_TMP/d/disk.img"
	mkbe 1 768 "aio:$XHP_TMP/d/disk.img" w vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 0 ]
	mkbe 2 768 "aio:$XHP_TMP/d/../d/./disk.img" r vbd3
	hp block-tap add vbd3 2 768
	[ "$status" -eq 1 ]
	[ "$(rd vbd3/2/768/hotplug-status)" = busy ]
	[[ "$(rd vbd3/2/768/hotplug-error)" == *"already in use"* ]]
	absent vbd3/2/768/physical-device-path
	[ "$(wc -l < "$XHP_STUB_STATE/tapdisks")" -eq 1 ]
	lock_free
}

@test "block-tap lets two guests read one file, and the tapdisk is shared" {
	mkimg "$XHP_TMP/disk.img"
	mkbe 1 768 "aio:$XHP_TMP/disk.img" r vbd3
	mkbe 2 768 "aio:$XHP_TMP/disk.img" r vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 0 ]
	hp block-tap add vbd3 2 768
	[ "$status" -eq 0 ]
	[ "$(tap_pid vbd3/1/768)" = "$(tap_pid vbd3/2/768)" ]
	pid=$(tap_pid vbd3/1/768)
	hp block-tap remove vbd3 1 768
	[ "$status" -eq 0 ]
	alive "$pid"
	xenstore-rm "$BE/vbd3/1/768"
	hp block-tap remove vbd3 2 768
	[ "$status" -eq 0 ]
	gone "$pid"
	[ ! -s "$XHP_STUB_STATE/tapdisks" ]
}

@test "block-tap refuses a file a vbd backend has read-write on a loop device" {
	mkimg "$XHP_TMP/disk.img"
	loop=$(losetup -f --show "$XHP_TMP/disk.img")
	mkbe 3 51712 "$XHP_TMP/disk.img" w
	xenstore-write "$BE/vbd/3/51712/physical-device" "$(majmin "$loop")" \
		"$BE/vbd/3/51712/physical-device-path" "$loop"
	mkbe 1 768 "aio:$XHP_TMP/disk.img" r vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 1 ]
	[ "$(rd vbd3/1/768/hotplug-status)" = busy ]
	[ ! -s "$XHP_STUB_STATE/tapdisks" ]
}

@test "block-tap remove destroys the tapdisk it recorded" {
	mkimg "$XHP_TMP/disk.img"
	mkbe 1 768 "aio:$XHP_TMP/disk.img" w vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 0 ]
	pid=$(tap_pid vbd3/1/768)
	hp block-tap remove vbd3 1 768
	[ "$status" -eq 0 ]
	grep -qx "tap-ctl destroy -p $pid -m $(rd vbd3/1/768/minor)" "$XHP_STUB_STATE/calls"
	gone "$pid"
	lock_free
}

@test "a failing tap-ctl open is an error and leaves no tapdisk running" {
	mkimg "$XHP_TMP/disk.img"
	mkbe 1 768 "aio:$XHP_TMP/disk.img" w vbd3
	TAPCTL_STUB_FAIL=open hp block-tap add vbd3 1 768
	[ "$status" -eq 1 ]
	[ "$(rd vbd3/1/768/hotplug-error)" = "Could not open aio:$XHP_TMP/disk.img" ]
	[ "$(rd vbd3/1/768/hotplug-status)" = error ]
	[ ! -s "$XHP_STUB_STATE/tapdisks" ]
	lock_free
}

@test "block-tap params that is not FORMAT:FILE is an error" {
	mkbe 1 768 "$XHP_TMP/disk.img" w vbd3
	hp block-tap add vbd3 1 768
	[ "$status" -eq 1 ]
	[[ "$(rd vbd3/1/768/hotplug-error)" == "Cannot parse required parameters"* ]]
}
