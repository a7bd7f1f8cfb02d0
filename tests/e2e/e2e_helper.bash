# shellcheck shell=bash disable=SC2034 # the constants are used by scenarios.bats
# Shared set-up for the end-to-end scenarios. They run inside the e2e dom0
# (real Xen, real xl, real xenstored, real blkback), never on the host.
#
#   E2E_IMPL   ours (installed to /etc/xen/scripts by make install) or
#              upstream (Debian's stock scripts, kept in /etc/xen/scripts-upstream)
#   E2E_OUT    directory for figures (timing-*.txt)
#   E2E_GUEST  kernel used for paused PV guests (dom0's own)
#   E2E_STACK  1 (default): run the device-stack scenarios in this boot
#   E2E_KEEP   set: the tests of the file are steps of one story (package.bats):
#              guests, images and loop devices carry over from one test to
#              the next, and the file's teardown_file cleans up
#
# Every test starts from a dom0 with no guests, no extra disks and no loop
# devices, and teardown puts it back there whatever the test did (unless
# E2E_KEEP is set).
#
# Each scenario prints marker lines into the TAP stream (so to the serial
# console) and appends them to E2E_OUT/markers:
#   XHP-E2E BEGIN scenario <impl> <n> <name>
#   XHP-E2E END scenario <impl> <n> <ms of the body>     (teardown reached)
#   XHP-E2E RESULT scenario <impl> <n> <0|1|skip> <ms in all>
# and keeps the lines it added to /var/log/xen/xen-hotplug.log in
# E2E_OUT/hotplug/<impl>-<n>.log (printed as TAP comments when it failed).

: "${E2E_IMPL:=ours}"
: "${E2E_OUT:=/tmp}"
: "${E2E_GUEST:=/var/lib/xhp-e2e/vmlinuz}"
E2E_TMP=/var/tmp/xhp-e2e
HOTPLUG_LOG=/var/log/xen/xen-hotplug.log
HOTPLUG_LOCK=/var/run/xen-hotplug/block
UPSTREAM_DIR=/etc/xen/scripts-upstream
BE=/local/domain/0/backend/vbd
# xvda..xvdd as libxl numbers them (202 << 8 | 16 * n).
XVDA=51712 XVDB=51728 XVDC=51744 XVDD=51760
# The device stacks: udev is installed in dom0 but never runs, so
# libdevmapper and LVM make their device nodes themselves, and LVM does not
# warn about the descriptors bats leaves open.
export DM_DISABLE_UDEV=1 LVM_SUPPRESS_FD_WARNINGS=1

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# e2e_mark WORDS: a marker line, on the TAP stream and in E2E_OUT/markers.
e2e_mark() {
	printf 'XHP-E2E %s\n' "$*" >&3
	printf 'XHP-E2E %s\n' "$*" >> "$E2E_OUT/markers"
}

# note WORDS: a progress line on the console while the scenario runs.
note() {
	printf '# %s\n' "$*" >&3
	printf '%s\n' "$*"
}

e2e_setup() {
	E2E_HOLDER='' E2E_XLS=''
	_e2e_t0=$(now_ms)
	_e2e_log_at=$(stat -c %s "$HOTPLUG_LOG" 2>/dev/null || echo 0)
	e2e_mark "BEGIN scenario $E2E_IMPL $BATS_TEST_NUMBER $BATS_TEST_DESCRIPTION"
	[ -n "${E2E_KEEP:-}" ] || rm -rf "$E2E_TMP"
	mkdir -p "$E2E_TMP"
}

# Every test file's setup and teardown: outside the e2e dom0 the tests skip.
setup() {
	[ -e /proc/xen/capabilities ] || skip "not in the e2e dom0"
	e2e_setup
}

teardown() {
	[ -e /proc/xen/capabilities ] || return 0
	e2e_teardown
}

# e2e_rm_fakes: the made-up backends and domains of the crowd scenario.
e2e_rm_fakes() {
	for d in 9001 9002 9003; do
		xenstore-rm "$BE/$d" 2>/dev/null || true
		xenstore-rm "/local/domain/$d" 2>/dev/null || true
	done
}

e2e_teardown() {
	e2e_mark "END scenario $E2E_IMPL $BATS_TEST_NUMBER $(($(now_ms) - _e2e_t0))"
	[ -n "${E2E_UNTOUCHED:-}${E2E_KEEP:-}" ] || e2e_cleanup
	if [ -n "${BATS_TEST_SKIPPED:-}" ]; then
		_e2e_rc=skip
	elif [ "${BATS_TEST_COMPLETED:-}" = 1 ]; then
		_e2e_rc=0
	else
		_e2e_rc=1
	fi
	# The hotplug log of this scenario, its clean-up included.
	mkdir -p "$E2E_OUT/hotplug"
	_e2e_hl=$E2E_OUT/hotplug/$E2E_IMPL-$BATS_TEST_NUMBER.log
	tail -c +"$((_e2e_log_at + 1))" "$HOTPLUG_LOG" > "$_e2e_hl" 2>/dev/null
	if [ "$_e2e_rc" = 1 ] && [ -s "$_e2e_hl" ]; then
		printf '# xen-hotplug.log of this scenario (last 40 lines):\n' >&3
		tail -n 40 "$_e2e_hl" | sed 's/^/#   /' >&3
	fi
	e2e_mark "RESULT scenario $E2E_IMPL $BATS_TEST_NUMBER $_e2e_rc $(($(now_ms) - _e2e_t0))"
}

# e2e_cleanup: no guest, no dom0 disk, no loop device, no lock holder or
# xl of the scenario's own.
e2e_cleanup() {
	for _p in ${E2E_HOLDER:-} ${E2E_XLS:-}; do
		pkill -P "$_p" 2>/dev/null
		kill "$_p" 2>/dev/null
	done
	E2E_HOLDER='' E2E_XLS=''
	e2e_rm_fakes
	for d in $(xl list | awk 'NR > 2 { print $1 }'); do
		xl destroy "$d" >/dev/null 2>&1
	done
	for v in $(xl block-list 0 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		xl block-detach 0 "$v" >/dev/null 2>&1
	done
	e2e_stack_cleanup
	losetup -D 2>/dev/null
	rm -rf "$E2E_TMP"
}

# e2e_stack_cleanup: what the device-stack scenarios built over the loop
# devices, top down: mounts under E2E_TMP, md arrays, device-mapper devices
# (LVs included). Nothing else in this dom0 has any. blkback lets go of a
# device a moment after its backend is removed, so each step is retried.
e2e_stack_cleanup() {
	awk -v t="$E2E_TMP/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r _m; do umount "$_m" || umount -l "$_m" || true; done
	for _md in /sys/block/md*; do
		[ -e "$_md" ] || continue
		wait_until 10 mdadm --stop "/dev/${_md##*/}" >/dev/null 2>&1 ||
			echo "clean-up: ${_md##*/} is still running" >&2
	done
	set -- /sys/block/dm-*
	[ -e "$1" ] || return 0
	wait_until 10 dm_remove_all || echo "clean-up: device-mapper devices left: $(dmsetup ls 2>&1)" >&2
}

dm_remove_all() {
	dmsetup remove_all >/dev/null 2>&1
	set -- /sys/block/dm-*
	[ ! -e "$1" ]
}

# disk_spec TARGET VDEV ACCESS: an xl disk spec using the script under test.
# target= must come last (it may contain commas).
disk_spec() {
	if [ "$E2E_IMPL" = upstream ]; then
		printf 'format=raw,vdev=%s,access=%s,script=%s/block,target=%s' \
			"$2" "$3" "$UPSTREAM_DIR" "$1"
	else
		printf 'format=raw,vdev=%s,access=%s,target=%s' "$2" "$3" "$1"
	fi
}

# make_image NAME [SIZE]: a sparse image (16 MiB) whose first bytes are a
# pattern naming it, so reads through the frontend prove which file is
# behind it.
make_image() {
	truncate -s "${2:-16M}" "$E2E_TMP/$1.img"
	printf 'xhp-e2e:%s\n' "$1" | dd of="$E2E_TMP/$1.img" conv=notrunc status=none
	printf '%s\n' "$E2E_TMP/$1.img"
}

# majmin DEV: major:minor the way blkback parses it (%x:%x).
majmin() {
	printf '%x:%x\n' "$(stat -L -c '0x%t' "$1")" "$(stat -L -c '0x%T' "$1")"
}

xsr() { xenstore-read "$1" 2>/dev/null; }

# kname DEV: the kernel's name of block device DEV (dm-3 for /dev/mapper/x,
# loop0p1, md9), from sysfs.
kname() {
	_kn=$(readlink -f "/sys/dev/block/$(printf '%d:%d' \
	    "$(stat -L -c '0x%t' "$1")" "$(stat -L -c '0x%T' "$1")")") || return 1
	printf '%s\n' "${_kn##*/}"
}

# wait_node NODE VALUE [TENTHS]: poll until NODE reads VALUE (default 30 s).
wait_node() {
	_n=${3:-300}
	while [ "$_n" -gt 0 ]; do
		[ "$(xsr "$1")" = "$2" ] && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "timeout: $1 is '$(xsr "$1")', wanted '$2'" >&2
	return 1
}

# wait_gone NODE [TENTHS]
wait_gone() {
	_n=${2:-300}
	while [ "$_n" -gt 0 ]; do
		xenstore-exists "$1" 2>/dev/null || return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "timeout: $1 still exists" >&2
	return 1
}

# guest_cfg NAME SPEC...: write a paused-guest config, print its path.
guest_cfg() {
	_name=$1; shift
	_cfg=$E2E_TMP/$_name.cfg
	{
		printf 'name = "%s"\ntype = "pv"\nkernel = "%s"\n' "$_name" "$E2E_GUEST"
		printf 'memory = 192\nvcpus = 1\non_crash = "destroy"\ndisk = [\n'
		for _s in "$@"; do printf "  '%s',\n" "$_s"; done
		printf ']\n'
	} > "$_cfg"
	printf '%s\n' "$_cfg"
}

# be_re NAME: an ERE for the path of the xvda backend of guest NAME.
be_re() {
	printf 'backend/vbd/%s/%s([^0-9]|$)\n' "$(xl domid "$1")" "$XVDA"
}

# same_backends LIST: the domains with vbd backends are LIST (sorted, each
# followed by a space).
same_backends() {
	[ "$(xenstore-list "$BE" 2>/dev/null | sort | tr '\n' ' ')" = "$1" ]
}

# shellcheck disable=SC2154 # bats's run sets status and output
# allowed NAME SPEC: xl create -p of a paused guest NAME with the one disk
# SPEC (as xvda) succeeds, and the disk is connected.
allowed() {
	run xl create -p "$(guest_cfg "$1" "$2")"
	echo "allowed? $1 $2: status $status"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(xsr "$BE/$(xl domid "$1")/$XVDA/hotplug-status")" = connected ]
}

# shellcheck disable=SC2154 # the same
# refused NAME SPEC ERE: xl create -p of a paused guest NAME with the one
# disk SPEC (as xvda) fails, and the script's error that xl relays matches
# ERE (what names the overlap: the other backend's path, a holder, a mount
# point). Nothing is left: no domain NAME, no backend of it, no loop device
# more or less than before. xl's output goes to E2E_OUT/xl-stack-IMPL.txt.
refused() {
	_rf_loops=$(losetup -n -O NAME | sort | tr '\n' ' ')
	_rf_bes=$(xenstore-list "$BE" 2>/dev/null | sort | tr '\n' ' ')
	run xl create -p "$(guest_cfg "$1" "$2")"
	echo "refused? $1 $2: status $status, the error must match: $3"
	echo "$output"
	{
		printf '== %s %s: %s, status %s\n' "$BATS_TEST_NUMBER" "$1" "$2" "$status"
		printf '%s\n' "$output"
	} >> "$E2E_OUT/xl-stack-$E2E_IMPL.txt"
	[ "$status" -ne 0 ]
	printf '%s\n' "$output" | grep -E 'hotplug|script' | grep -E "$3"
	run xl domid "$1"
	[ "$status" -ne 0 ]
	wait_until 10 same_backends "$_rf_bes" || {
		echo "backends left: $(xenstore-list "$BE" 2>&1 | tr '\n' ' '), before: $_rf_bes"
		false
	}
	[ "$(losetup -n -O NAME | sort | tr '\n' ' ')" = "$_rf_loops" ] || {
		echo "loop devices: $(losetup -n -O NAME | tr '\n' ' '), before: $_rf_loops"
		false
	}
}

# loops_of FILE: loop devices backed by FILE, one per line.
loops_of() {
	losetup -n -O NAME -j "$1"
}

# lock_holders: processes holding the hotplug lock file (if it exists).
lock_holders() {
	_lf=/var/run/xen-hotplug/block
	[ -e "$_lf" ] || return 0
	_ino=$(stat -c %i "$_lf")
	grep ":$_ino " /proc/locks || true
}

# hold_lock READY RELEASE: take the hotplug lock the way upstream's
# locking.sh does (open, flock, then check that the open file is still the
# one at the path, else retry), touch READY, wait for RELEASE to appear,
# then release as upstream does: unlink the file while still holding it.
# Run it in the background with fd 3 closed.
hold_lock() {
	mkdir -p "${HOTPLUG_LOCK%/*}"
	while :; do
		exec 9>>"$HOTPLUG_LOCK"
		flock -x 9
		[ "$(stat -L -c '%d.%i' /proc/self/fd/9)" = \
		    "$(stat -L -c '%d.%i' "$HOTPLUG_LOCK" 2>/dev/null)" ] && break
		exec 9>&-
	done
	: > "$1"
	while [ ! -e "$2" ]; do sleep 0.1; done
	rm -f "$HOTPLUG_LOCK"
	exec 9>&-
}

# hotplug_procs: hotplug scripts and helpers still running, one per line.
hotplug_procs() {
	pgrep -a -f '/etc/xen/scripts|/usr/lib/xen-hotplug/' | grep -v pgrep || true
}

# wait_until SECS COMMAND...: poll until COMMAND succeeds; 1 after SECS
# seconds of the clock (under TCG one pgrep can take most of a second).
wait_until() {
	_w=$(($(date +%s) + $1)); shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_w" ] || return 1
		sleep 0.2
	done
}
