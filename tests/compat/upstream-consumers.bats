#!/usr/bin/env bats
# Scripts nobody here wrote, run over our libraries (docs/api-compat.md):
# upstream's block-iscsi, vif-bridge and vif-route, unmodified, from
# Debian's xen-utils-common (downloaded at test time, never committed), in a
# directory where our files are installed over upstream's, as the Debian
# package does. And an old-style third-party block script that publishes
# only physical-device: our block must see it in its sharing check.
#
# Upstream's scripts are bash and run under bash whatever $HOTPLUG_SH is;
# our own block runs under $HOTPLUG_SH. Networking is real (iproute2, a
# bridge and a veth pair) inside a private network namespace; /var/log and,
# for block-iscsi, /dev are private tmpfs copies in a private mount
# namespace; iscsiadm, brctl, logger (and ifconfig where net-tools is
# missing) are stubs (tests/stubs/linux).

load ../test_helper

BE=/local/domain/0/backend

setup_file() {
	local scripts
	scripts=$(sh "$XHP_TOP/tests/fetch-upstream.sh" 2>"$BATS_FILE_TMPDIR/fetch.err") || return 0
	export UC_DIR=$BATS_FILE_TMPDIR/scripts
	mkdir -p "$UC_DIR"
	cp -p "$scripts"/* "$UC_DIR"/
	# Our libraries and our block over upstream's; upstream's block-iscsi
	# and the vif scripts stay, as consumers.
	cp -p "$XHP_TOP"/scripts/Linux/*.sh "$XHP_TOP/scripts/Linux/block" "$UC_DIR"/
	# ns.sh CMD...: CMD in the private namespaces unshare made. Stubs are
	# bind-mounted over real tools in the system directories, which
	# xen-hotplug-common.sh puts first in PATH. With UC_LUN set, /dev is
	# replaced by a tmpfs holding the basics, that device and an empty
	# /dev/disk/by-path (block-iscsi has that path built in).
	cat > "$BATS_FILE_TMPDIR/ns.sh" <<-'EOF'
	set -e
	mount --make-rprivate /
	mount -t tmpfs xhp /var/log
	mkdir -p /var/log/xen
	for t in logger iscsiadm brctl iptables; do
		if real=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t"); then
			mount --bind "$UC_STUBS/$t" "$real"
		fi
	done
	if [ -n "${UC_LUN:-}" ]; then
		d=$XHP_TMP/dev
		mkdir -p "$d"
		mount -t tmpfs xhpdev "$d"
		cp -a /dev/null /dev/zero /dev/random /dev/urandom "$UC_LUN" "$d"/
		ln -s /proc/self/fd "$d/fd"
		# by-path lives in the test's directory so that the link login
		# made is still there for the remove run.
		mkdir -p "$d/disk/by-path" "$XHP_TMP/by-path"
		mount --bind "$XHP_TMP/by-path" "$d/disk/by-path"
		mount --move "$d" /dev
	fi
	set +e
	exec "$@"
	EOF
	# What the kernel and the sandbox allow: private mounts, and a bridge
	# and a veth pair in a private network namespace.
	unshare -m sh -c 'mount -t tmpfs xhp /var/log' 2>/dev/null && : > "$BATS_FILE_TMPDIR/ns-mount-ok"
	unshare -mn sh -c 'ip link add xhpbr type bridge && ip link add xhpv type veth peer name xhpp' \
		2>/dev/null && : > "$BATS_FILE_TMPDIR/ns-net-ok"
	return 0
}

require_ns() {
	[ -e "$BATS_FILE_TMPDIR/ns-mount-ok" ] || skip "no private mount namespace here (unshare -m)"
	if [ "${1:-}" = net ]; then
		[ -e "$BATS_FILE_TMPDIR/ns-net-ok" ] ||
			skip "no bridge or veth in a private network namespace here"
	fi
}

setup() {
	require_root
	[ -n "${UC_DIR:-}" ] || skip "xen-utils-common unavailable: $(cat "$BATS_FILE_TMPDIR/fetch.err")"
	command -v unshare >/dev/null 2>&1 || skip "unshare not installed"
	xhp_setup
	export XHP_STUB_STATE=$XHP_TMP/stub UC_STUBS=$XHP_TOP/tests/stubs/linux
	export XHP_LOGGER_LOG=$XHP_TMP/logger.log
	export XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock
	mkdir -p "$XHP_STUB_STATE"
	export PATH="$PATH:$UC_STUBS"
	unset XEN_HOTPLUG_LOGFILE XEN_HOTPLUG_DEBUG XEN_BLOCK_PATH_ONLY UC_LUN
}

teardown() {
	free_my_loops
	xhp_teardown
}

# in_ns UNSHARE-FLAGS CMD...: run CMD (status in $status, output in $output)
in_ns() {
	local flags=$1
	shift
	# Bounded: upstream's block-iscsi waits forever for a LUN that is not
	# there (docs/block-family.md), and must not hang the suite if it does.
	run timeout -k 5 "${UC_TIMEOUT:-60}" unshare "$flags" sh "$BATS_FILE_TMPDIR/ns.sh" "$@" </dev/null 3>&-
}

# ---- upstream's block-iscsi --------------------------------------------------

IQN=iqn.2003-01.org.example.storage:disk1

@test "upstream's block-iscsi over our libraries logs in and publishes the LUN" {
	require_ns
	truncate -s 4M "$XHP_TMP/lun"
	lun=$(losetup -f --show "$XHP_TMP/lun")
	printf '192.0.2.10:3260 %s %s\n' "$IQN" "$lun" > "$XHP_STUB_STATE/iscsi-targets"
	b=$BE/vbd/4/51712
	xenstore-write "$b/params" "iqn=$IQN,portal=192.0.2.10" "$b/mode" w \
		"$b/frontend-id" 4 "$b/state" 2 "$b/type" phy
	UC_LUN=$lun ISCSI_STUB_BY_PATH=/dev/disk/by-path in_ns -m \
		env XENBUS_PATH=backend/vbd/4/51712 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
		bash "$UC_DIR/block-iscsi" add
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(rd "$b/physical-device")" = "$(majmin "$lun")" ]
	[ "$(rd "$b/physical-device-path")" = "$lun" ]
	[ "$(rd "$b/hotplug-status")" = connected ]
	grep -qx "iscsiadm -m node --targetname $IQN -p 192.0.2.10 --login" "$XHP_STUB_STATE/calls"

	UC_LUN=$lun ISCSI_STUB_BY_PATH=/dev/disk/by-path in_ns -m \
		env XENBUS_PATH=backend/vbd/4/51712 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
		bash "$UC_DIR/block-iscsi" remove
	[ "$status" -eq 0 ]
	grep -qx "iscsiadm -m node --targetname $IQN -p 192.0.2.10 --logout" "$XHP_STUB_STATE/calls"
	[ ! -s "$XHP_STUB_STATE/iscsi-sessions" ]
}

@test "upstream's block-iscsi over our libraries reports a missing target through our fatal" {
	require_ns
	b=$BE/vbd/4/51712
	: > "$XHP_STUB_STATE/iscsi-targets"
	xenstore-write "$b/params" "iqn=$IQN,portal=192.0.2.10" "$b/mode" w \
		"$b/frontend-id" 4 "$b/state" 2
	in_ns -m env XENBUS_PATH=backend/vbd/4/51712 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
		bash "$UC_DIR/block-iscsi" add
	[ "$status" -eq 1 ]
	[ "$(rd "$b/hotplug-error")" = "No matching target iqn found" ]
	[ "$(rd "$b/hotplug-status")" = error ]
	absent "$b/physical-device"
	grep -q -- "-p daemon.err -- $UC_DIR/block-iscsi: No matching target iqn found" "$XHP_LOGGER_LOG"
}

@test "upstream's block-iscsi is still waiting for a missing LUN when killed, and leaves no hotplug-error" {
	require_ns
	truncate -s 4M "$XHP_TMP/lun"
	lun=$(losetup -f --show "$XHP_TMP/lun")
	printf '192.0.2.10:3260 %s %s\n' "$IQN" "$lun" > "$XHP_STUB_STATE/iscsi-targets"
	b=$BE/vbd/4/51712
	xenstore-write "$b/params" "iqn=$IQN,portal=192.0.2.10" "$b/mode" w \
		"$b/frontend-id" 4 "$b/state" 2
	UC_TIMEOUT=5 UC_LUN=$lun ISCSI_STUB_BY_PATH=/dev/disk/by-path ISCSI_STUB_LINK_DELAY=never \
		in_ns -m env XENBUS_PATH=backend/vbd/4/51712 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
		bash "$UC_DIR/block-iscsi" add
	# 124: timeout(1) had to stop it; it never wrote why it failed.
	[ "$status" -eq 124 ]
	absent "$b/hotplug-error"
	absent "$b/hotplug-status"
}

# ---- upstream's vif-bridge and vif-route -------------------------------------

# vif_backend DOM: the nodes libxl writes for vif DOM/0.
vif_backend() {
	local b=$BE/vif/$1/0
	xenstore-write "$b/frontend" "/local/domain/$1/device/vif/0" "$b/frontend-id" "$1" \
		"$b/online" 1 "$b/state" 2 "$b/mac" "00:16:3e:00:00:0$1" "$b/handle" 0 \
		"$b/type" vif "/local/domain/$1/device/vif/0/state" 1
}

# net_script SETUP SCRIPT CMD DOM: in a fresh network namespace, run the
# shell commands SETUP, then upstream's SCRIPT CMD as libxl does for vif
# DOM/0 (interface vifDOM.0), then print the state of the network.
net_script() {
	require_ns net
	cat > "$XHP_TMP/net.sh" <<-EOF
	# /sys/class/net shows the network namespace of whoever mounted /sys.
	mount -t sysfs xhpsys /sys || exit 99
	ip link set lo up
	$1
	env XENBUS_PATH=backend/vif/$4/0 XENBUS_TYPE=vif XENBUS_BASE_PATH=backend \
		script="$UC_DIR/$2" vif=vif$4.0 bash "$UC_DIR/$2" $3 || exit \$?
	echo "--- master: \$(basename "\$(readlink /sys/class/net/vif$4.0/master 2>/dev/null)")"
	echo "--- up: \$(cat /sys/class/net/vif$4.0/operstate) \$(ip -o link show vif$4.0 | grep -o ',UP')"
	echo "--- mac: \$(cat /sys/class/net/vif$4.0/address)"
	echo "--- proxy_arp: \$(cat /proc/sys/net/ipv4/conf/vif$4.0/proxy_arp)"
	echo "--- routes:"; ip route show dev vif$4.0
	EOF
	in_ns -mn sh "$XHP_TMP/net.sh"
}

@test "upstream's vif-bridge over our libraries puts the vif on the bridge and reports connected" {
	vif_backend 7
	xenstore-write "$BE/vif/7/0/bridge" xenbr0
	net_script 'ip link add xenbr0 type bridge && ip link set xenbr0 mtu 1400 up &&
		ip link add vif7.0 type veth peer name peer7' vif-bridge online 7
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- master: xenbr0"* ]]
	[[ "$output" == *"--- up: "*",UP"* ]]
	[[ "$output" == *"--- mac: fe:ff:ff:ff:ff:ff"* ]]
	[ "$(rd "$BE/vif/7/0/hotplug-status")" = connected ]
	# set_mtu copies the bridge's MTU to the frontend.
	[ "$(rd /local/domain/7/device/vif/0/mtu)" = 1400 ]
	grep -qx "brctl addif xenbr0 vif7.0" "$XHP_STUB_STATE/calls"
	run grep -c '^iptables' "$XHP_STUB_STATE/calls"
	[ "$output" = 0 ]
}

@test "upstream's vif-bridge offline over our libraries takes the vif off the bridge" {
	vif_backend 7
	xenstore-write "$BE/vif/7/0/bridge" xenbr0
	net_script 'ip link add xenbr0 type bridge && ip link set xenbr0 up &&
		ip link add vif7.0 type veth peer name peer7 && ip link set vif7.0 master xenbr0' \
		vif-bridge offline 7
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- master: "$'\n'* ]]
	grep -qx "brctl delif xenbr0 vif7.0" "$XHP_STUB_STATE/calls"
	absent "$BE/vif/7/0/hotplug-status"
}

@test "upstream's vif-bridge over our libraries fails through our fatal when the bridge is missing" {
	vif_backend 7
	xenstore-write "$BE/vif/7/0/bridge" xenbr9
	net_script 'ip link add vif7.0 type veth peer name peer7' vif-bridge online 7
	[ "$status" -eq 1 ]
	[ "$(rd "$BE/vif/7/0/hotplug-error")" = "Could not find bridge device xenbr9" ]
	[ "$(rd "$BE/vif/7/0/hotplug-status")" = error ]
}

@test "upstream's vif-route over our libraries routes the guest's address and reports connected" {
	vif_backend 8
	xenstore-write "$BE/vif/8/0/ip" 10.0.0.8
	net_script 'ip link add eth0 type bridge && ip addr add 192.0.2.1/24 dev eth0 &&
		ip link set eth0 up && ip link add vif8.0 type veth peer name peer8' vif-route online 8
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- proxy_arp: 1"* ]]
	[[ "$output" == *"10.0.0.8 scope link src 192.0.2.1 metric 2"* ]]
	[ "$(rd "$BE/vif/8/0/hotplug-status")" = connected ]
}

# ---- an old-style third-party block script -----------------------------------

# A vendor script written for upstream: bash, `local`, and it publishes the
# device the pre-2016 way, physical-device only, with xenstore_write.
oldstyle() {
	cat > "$UC_DIR/block-vendor" <<-'EOF'
	#!/bin/bash
	dir=$(dirname "$0")
	. "$dir/block-common.sh"
	attach() {
		local target dev mm
		target=$(xenstore_read "$XENBUS_PATH/params")
		if [ -f "$target" ]; then
			dev=$(losetup -f --show "$target") || fatal "losetup failed"
		else
			dev=$target
		fi
		mm=$(stat -L -c %t:%T "$dev")
		xenstore_write "$XENBUS_PATH/node" "$dev" "$XENBUS_PATH/physical-device" "$mm"
		success
	}
	case "$command" in
	add) attach ;;
	remove) losetup -d "$(xenstore_read "$XENBUS_PATH/node")" ;;
	esac
	EOF
	chmod 755 "$UC_DIR/block-vendor"
}

# vbd DOM PARAMS MODE SCRIPT: a vbd backend as libxl writes it; runs SCRIPT
# add (block-vendor under bash, our block under $HOTPLUG_SH).
vbd() {
	local b=$BE/vbd/$1/51712
	xenstore-write "$b/frontend" "/local/domain/$1/device/vbd/51712" "$b/params" "$2" \
		"$b/frontend-id" "$1" "$b/online" 1 "$b/state" 2 "$b/dev" xvda \
		"$b/type" phy "$b/mode" "$3" "/local/domain/$1/vm" "/vm/uuid-$1"
	if [ "$4" = block-vendor ]; then
		run env XENBUS_PATH="backend/vbd/$1/51712" XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
			XEN_HOTPLUG_LOGFILE="$XHP_TMP/hotplug.log" bash "$UC_DIR/block-vendor" add </dev/null
	else
		# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
		run env XENBUS_PATH="backend/vbd/$1/51712" XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
			XEN_HOTPLUG_LOGFILE="$XHP_TMP/hotplug.log" $HOTPLUG_SH "$UC_DIR/block" add </dev/null
	fi
}

@test "our block refuses a device an old-style script published only as physical-device" {
	oldstyle
	truncate -s 4M "$XHP_TMP/disk"
	dev=$(losetup -f --show "$XHP_TMP/disk")
	vbd 1 "$dev" w block-vendor
	[ "$status" -eq 0 ]
	absent "$BE/vbd/1/51712/physical-device-path"
	[ "$(rd "$BE/vbd/1/51712/physical-device")" = "$(majmin "$dev")" ]
	vbd 2 "$dev" r block
	[ "$status" -eq 1 ]
	[ "$(rd "$BE/vbd/2/51712/hotplug-status")" = busy ]
	absent "$BE/vbd/2/51712/physical-device"
}

@test "our block refuses an image an old-style script put on its own loop device" {
	oldstyle
	truncate -s 4M "$XHP_TMP/disk.img"
	vbd 1 "$XHP_TMP/disk.img" w block-vendor
	[ "$status" -eq 0 ]
	[[ "$(rd "$BE/vbd/1/51712/node")" == /dev/loop* ]]
	vbd 2 "$XHP_TMP/disk.img" w block
	[ "$status" -eq 1 ]
	[ "$(rd "$BE/vbd/2/51712/hotplug-status")" = busy ]
	[ "$(losetup -j "$XHP_TMP/disk.img" | wc -l)" -eq 1 ]
}

@test "our block lets a reader share with an old-style read-only user" {
	oldstyle
	truncate -s 4M "$XHP_TMP/disk"
	dev=$(losetup -f --show "$XHP_TMP/disk")
	vbd 1 "$dev" r block-vendor
	[ "$status" -eq 0 ]
	vbd 2 "$dev" r block
	[ "$status" -eq 0 ]
	[ "$(rd "$BE/vbd/2/51712/hotplug-status")" = connected ]
}
