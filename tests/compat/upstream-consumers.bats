#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031 # run's status and output belong to the test whose check called it
# Scripts nobody here wrote, run over our libraries (docs/api-compat.md),
# unmodified, in both upstream versions: every check runs once against
# Debian 12's xen-utils-common 4.17 and once against Debian 13's 4.20
# (compat_helper.bash; the test's name says which), both downloaded at test
# time, never committed:
# - upstream's block-iscsi, vif-bridge, vif-route, vif-nat, vif-openvswitch
#   (with a stub ovs-vsctl) and vscsi, in a directory where our libraries
#   and our block are installed over upstream's: the sourced API, as a
#   script that sources ours sees it;
# - block-drbd from Debian's drbd-utils (of the same Debian release), in
#   the layout make install and the Debian package give: upstream's
#   scripts, our block family over them in the script directory, our other
#   libraries and the helpers private in LIBEXECDIR;
# - an old-style third-party block script that publishes only
#   physical-device: our block must see it in its sharing check.
#
# Upstream's scripts are bash (vscsi is sh) and run under bash whatever
# $HOTPLUG_SH is; our own block and vscsi run under $HOTPLUG_SH.
# Networking is real (iproute2, bridges and veth pairs) inside a private
# network namespace; /var/log and, for block-iscsi, /dev are private tmpfs
# copies, and for vif-nat's DHCP /etc an overlay, in a private mount
# namespace; iscsiadm, brctl, logger (and ifconfig where net-tools is
# missing) are stubs (tests/stubs/linux), ovs-vsctl and drbdadm too
# (tests/compat/stubs).

load ../test_helper
load compat_helper

BE=/local/domain/0/backend

setup_file() {
	local suite d scripts
	compat_fetch xen-utils-common drbd-utils
	for suite in $CF_SUITES; do
		d=$CF_DIR/$suite
		[ -s "$d/xen-utils-common.dir" ] || continue
		scripts=$(cat "$d/xen-utils-common.dir")
		# over: our libraries and our block over upstream's; upstream's
		# block-iscsi, vif and vscsi scripts stay, as consumers.
		mkdir -p "$d/over"
		cp -p "$scripts"/* "$d/over"/
		cp -p "$XHP_TOP"/scripts/Linux/*.sh "$XHP_TOP"/scripts/common/*.sh \
		    "$XHP_TOP/scripts/Linux/block" "$d/over"/
		# inst: upstream's scripts, then make install over them as the
		# package lays it out, then drbd-utils' block-drbd. The helpers
		# as built (-o all: a suite does not rebuild the tree it tests).
		mkdir -p "$d/inst/etc/xen/scripts"
		cp -p "$scripts"/* "$d/inst/etc/xen/scripts"/
		if make -s -C "$XHP_TOP" -o all install DESTDIR= OS=Linux PREFIX="$d/inst/usr" \
		    SCRIPTDIR="$d/inst/etc/xen/scripts" DEFAULTDIR="$d/inst/etc/default" \
		    > "$d/inst.log" 2>&1; then
			: > "$d/inst.ok"
		fi
		[ ! -s "$d/drbd-utils.dir" ] ||
			cp -p "$(cat "$d/drbd-utils.dir")/block-drbd" "$d/inst/etc/xen/scripts"/
	done
	# ns.sh CMD...: CMD in the private namespaces unshare made. Stubs are
	# bind-mounted over real tools in the system directories, which
	# xen-hotplug-common.sh puts first in PATH. With UC_LUN set, /dev is
	# replaced by a tmpfs holding the basics, the loop devices, that device
	# and an empty /dev/disk/by-path (block-iscsi has that path built in),
	# and with UC_TAPDEV that device as /dev/xen/blktap-2/tapdev0 too. With UC_ETC
	# set, /etc is an overlay whose upper directory is UC_ETC (what the
	# test put there, and what the script changed, stay in it).
	cat > "$BATS_FILE_TMPDIR/ns.sh" <<-'EOF'
	# Not bats' descriptor 3: a daemon a script starts must not keep it.
	exec 3>&-
	set -e
	mount --make-rprivate /
	mount -t tmpfs xhp /var/log
	mkdir -p /var/log/xen
	for t in logger iscsiadm brctl iptables; do
		if real=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t"); then
			mount --bind "$UC_STUBS/$t" "$real"
		fi
	done
	for t in ovs-vsctl drbdadm modprobe; do
		if real=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t"); then
			mount --bind "$UC_CSTUBS/$t" "$real"
		fi
	done
	if [ -n "${UC_ETC:-}" ]; then
		mkdir -p "$UC_ETC.work"
		mount -t overlay xhpetc -o "lowerdir=/etc,upperdir=$UC_ETC,workdir=$UC_ETC.work" /etc
	fi
	if [ -n "${UC_LUN:-}" ]; then
		d=$XHP_TMP/dev
		mkdir -p "$d"
		mount -t tmpfs xhpdev "$d"
		# Every loop node, as on a host: our sharing check looks at each
		# loop device bound to a file, whoever bound it.
		cp -a /dev/null /dev/zero /dev/random /dev/urandom "$UC_LUN" "$d"/
		for l in /dev/loop*; do
			[ -b "$l" ] && [ ! -e "$d/${l#/dev/}" ] && cp -a "$l" "$d"/
		done
		# UC_TAPDEV: the LUN is also blktap2's first tapdev.
		if [ -n "${UC_TAPDEV:-}" ]; then
			mkdir -p "$d/xen/blktap-2"
			cp -a "$UC_LUN" "$d/xen/blktap-2/tapdev0"
		fi
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
	# What the kernel and the sandbox allow: private mounts, an overlay
	# on /etc, and a bridge and a veth pair in a private network namespace.
	unshare -m sh -c 'mount -t tmpfs xhp /var/log' 2>/dev/null && : > "$BATS_FILE_TMPDIR/ns-mount-ok"
	mkdir -p "$BATS_FILE_TMPDIR/ov/u" "$BATS_FILE_TMPDIR/ov/w"
	unshare -m sh -c "mount --make-rprivate / && mount -t overlay xhpetc \
		-o lowerdir=/etc,upperdir=$BATS_FILE_TMPDIR/ov/u,workdir=$BATS_FILE_TMPDIR/ov/w /etc" \
		2>/dev/null && : > "$BATS_FILE_TMPDIR/ns-etc-ok"
	unshare -mn sh -c 'ip link add xhpbr type bridge && ip link add xhpv type veth peer name xhpp' \
		2>/dev/null && : > "$BATS_FILE_TMPDIR/ns-net-ok"
	return 0
}

# require_ns [net|etc]: private mounts, and a bridge in a private network
# namespace or an overlay on /etc, or skip.
require_ns() {
	[ -e "$BATS_FILE_TMPDIR/ns-mount-ok" ] || skip "no private mount namespace here (unshare -m)"
	case ${1:-} in
	net)
		[ -e "$BATS_FILE_TMPDIR/ns-net-ok" ] ||
			skip "no bridge or veth in a private network namespace here"
		;;
	etc)
		[ -e "$BATS_FILE_TMPDIR/ns-etc-ok" ] ||
			skip "no overlay mount on /etc in a private mount namespace here"
		;;
	esac
}

setup() {
	require_root
	compat_suite
	command -v unshare >/dev/null 2>&1 || skip "unshare not installed"
	xhp_setup
	export UC_DIR=$SD/over UC_INST=$SD/inst/etc/xen/scripts
	export XHP_STUB_STATE=$XHP_TMP/stub UC_STUBS=$XHP_TOP/tests/stubs/linux
	export UC_CSTUBS=$XHP_TOP/tests/compat/stubs
	export XHP_LOGGER_LOG=$XHP_TMP/logger.log
	export XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock
	mkdir -p "$XHP_STUB_STATE"
	export PATH="$PATH:$UC_STUBS:$UC_CSTUBS"
	unset XEN_HOTPLUG_LOGFILE XEN_HOTPLUG_DEBUG XEN_BLOCK_PATH_ONLY UC_LUN UC_ETC UC_TAPDEV
}

teardown() {
	# The tap-ctl stub's "tapdisks" that a test left running.
	if [ -s "${XHP_STUB_STATE:-/nonexistent}/tapdisks" ]; then
		# shellcheck disable=SC2046 # a list of pids
		kill $(awk '{ print $1 }' "$XHP_STUB_STATE/tapdisks") 2>/dev/null
	fi
	free_my_loops
	xhp_teardown
}

@test "every check of this suite runs against both 4.17 and 4.20" {
	run compat_unpaired
	echo "$output"
	[ -z "$output" ]
	[ "$(grep -c '^@test "4.20: ' "$BATS_TEST_FILENAME")" -ge 20 ]
}

# in_ns UNSHARE-FLAGS CMD...: run CMD (status in $status, output in $output)
in_ns() {
	local flags=$1
	shift
	# Bounded: upstream's block-iscsi waits forever for a LUN that is not
	# there (docs/block-family.md), and must not hang the suite if it does.
	# ns.sh closes bats' descriptor 3 itself: closed for run, it would
	# take bats' own report of an exit status 127 with it.
	run timeout -k 5 "${UC_TIMEOUT:-60}" unshare "$flags" sh "$BATS_FILE_TMPDIR/ns.sh" "$@" </dev/null
}

# published BACKEND DEV: the nodes write_dev gives BACKEND for DEV.
published() {
	[ "$(rd "$1/physical-device")" = "$(majmin "$2")" ]
	[ "$(rd "$1/physical-device-path")" = "$2" ]
	[ "$(rd "$1/hotplug-status")" = connected ]
}

# ---- upstream's block-iscsi --------------------------------------------------

IQN=iqn.2003-01.org.example.storage:disk1

c_iscsi_login() {
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
	published "$b" "$lun"
	grep -qx "iscsiadm -m node --targetname $IQN -p 192.0.2.10 --login" "$XHP_STUB_STATE/calls"

	UC_LUN=$lun ISCSI_STUB_BY_PATH=/dev/disk/by-path in_ns -m \
		env XENBUS_PATH=backend/vbd/4/51712 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
		bash "$UC_DIR/block-iscsi" remove
	[ "$status" -eq 0 ]
	grep -qx "iscsiadm -m node --targetname $IQN -p 192.0.2.10 --logout" "$XHP_STUB_STATE/calls"
	[ ! -s "$XHP_STUB_STATE/iscsi-sessions" ]
}
@test "4.20: upstream's block-iscsi over our libraries logs in and publishes the LUN" { c_iscsi_login; }
@test "4.17: upstream's block-iscsi over our libraries logs in and publishes the LUN" { c_iscsi_login; }

c_iscsi_no_target() {
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
@test "4.20: upstream's block-iscsi over our libraries reports a missing target through our fatal" { c_iscsi_no_target; }
@test "4.17: upstream's block-iscsi over our libraries reports a missing target through our fatal" { c_iscsi_no_target; }

c_iscsi_no_lun() {
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
@test "4.20: upstream's block-iscsi is still waiting for a missing LUN when killed, and leaves no hotplug-error" { c_iscsi_no_lun; }
@test "4.17: upstream's block-iscsi is still waiting for a missing LUN when killed, and leaves no hotplug-error" { c_iscsi_no_lun; }

# ---- upstream's vif scripts --------------------------------------------------

# vif_backend DOM: the nodes libxl writes for vif DOM/0, and the guest's vm
# directory (name and uuid, which vif-openvswitch reads).
vif_backend() {
	local b=$BE/vif/$1/0
	xenstore-write "$b/frontend" "/local/domain/$1/device/vif/0" "$b/frontend-id" "$1" \
		"$b/online" 1 "$b/state" 2 "$b/mac" "00:16:3e:00:00:0$1" "$b/handle" 0 \
		"$b/type" vif "/local/domain/$1/device/vif/0/state" 1 \
		"/local/domain/$1/vm" "/vm/uuid-$1" "/vm/uuid-$1/name" "guest$1" \
		"/vm/uuid-$1/uuid" "00000000-0000-0000-0000-00000000000$1"
}

# net_script SETUP SCRIPT CMD DOM [UNSHARE-FLAGS]: in a fresh network
# namespace, run the shell commands SETUP, then upstream's SCRIPT CMD as
# libxl does for vif DOM/0 (interface vifDOM.0), then print the state of
# the network.
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
	echo "--- addresses: \$(ip -4 -o addr show dev vif$4.0 | awk '{ print \$4 }' | tr '\n' ' ')"
	echo "--- routes:"; ip route show dev vif$4.0
	EOF
	in_ns "${5:--mn}" sh "$XHP_TMP/net.sh"
}

c_bridge_online() {
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
@test "4.20: upstream's vif-bridge over our libraries puts the vif on the bridge and reports connected" { c_bridge_online; }
@test "4.17: upstream's vif-bridge over our libraries puts the vif on the bridge and reports connected" { c_bridge_online; }

c_bridge_offline() {
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
@test "4.20: upstream's vif-bridge offline over our libraries takes the vif off the bridge" { c_bridge_offline; }
@test "4.17: upstream's vif-bridge offline over our libraries takes the vif off the bridge" { c_bridge_offline; }

# vif_fails DOM BRIDGE SCRIPT MESSAGE: SCRIPT online for vif DOM/0 on
# BRIDGE fails through our fatal with MESSAGE.
vif_fails() {
	vif_backend "$1"
	xenstore-write "$BE/vif/$1/0/bridge" "$2"
	net_script "ip link add vif$1.0 type veth peer name peer$1" "$3" online "$1"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(rd "$BE/vif/$1/0/hotplug-error")" = "$4" ]
	[ "$(rd "$BE/vif/$1/0/hotplug-status")" = error ]
}

c_bridge_missing() { vif_fails 7 xenbr9 vif-bridge "Could not find bridge device xenbr9"; }
@test "4.20: upstream's vif-bridge over our libraries fails through our fatal when the bridge is missing" { c_bridge_missing; }
@test "4.17: upstream's vif-bridge over our libraries fails through our fatal when the bridge is missing" { c_bridge_missing; }

c_route_online() {
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
@test "4.20: upstream's vif-route over our libraries routes the guest's address and reports connected" { c_route_online; }
@test "4.17: upstream's vif-route over our libraries routes the guest's address and reports connected" { c_route_online; }

# vif-nat: the router address is the guest's with 127 added to its last
# byte; the guest's address comes from the ip node, else from the domain
# and vif numbers (10.DOM/256.DOM%256.VIF+1).

# nat_online IP ROUTER GUEST: vif-nat online for vif 9/0, with the ip node
# IP ("": none), gives the vif the address ROUTER and a route to GUEST.
nat_online() {
	vif_backend 9
	[ -z "$1" ] || xenstore-write "$BE/vif/9/0/ip" "$1"
	net_script 'export dhcp=no; ip link add vif9.0 type veth peer name peer9' vif-nat online 9
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- up: "*",UP"* ]]
	[[ "$output" == *"--- proxy_arp: 1"* ]]
	[[ "$output" == *"--- addresses: $2/32 "* ]]
	[[ "$output" == *"$3 scope link src $2"* ]]
	[ "$(rd "$BE/vif/9/0/hotplug-status")" = connected ]
}

c_nat_online() { nat_online 10.0.0.9 10.0.0.136 10.0.0.9; }
@test "4.20: upstream's vif-nat over our libraries routes the guest's address and reports connected" { c_nat_online; }
@test "4.17: upstream's vif-nat over our libraries routes the guest's address and reports connected" { c_nat_online; }

c_nat_derived() { nat_online '' 10.0.9.128 10.0.9.1; }
@test "4.20: upstream's vif-nat over our libraries derives the guest's address from the domain without an ip node" { c_nat_derived; }
@test "4.17: upstream's vif-nat over our libraries derives the guest's address from the domain without an ip node" { c_nat_derived; }

# nat_dhcp_etc: the upper directory of the overlay on /etc for vif-nat's
# DHCP: a dhcpd.conf, an argument file and an init script that records.
nat_dhcp_etc() {
	export UC_ETC=$XHP_TMP/etc
	mkdir -p "$UC_ETC/dhcp" "$UC_ETC/default" "$UC_ETC/init.d"
	echo '# dhcpd.conf' > "$UC_ETC/dhcp/dhcpd.conf"
	echo 'INTERFACES=""' > "$UC_ETC/default/dhcp-server"
	cat > "$UC_ETC/init.d/isc-dhcp-server" <<-EOF
	#!/bin/sh
	echo "isc-dhcp-server \$*" >> "$XHP_STUB_STATE/calls"
	EOF
	chmod 755 "$UC_ETC/init.d/isc-dhcp-server"
}

c_nat_dhcp() {
	require_ns etc
	vif_backend 9
	xenstore-write "$BE/vif/9/0/ip" 10.0.0.9
	nat_dhcp_etc
	net_script 'export dhcp=yes; ip link add vif9.0 type veth peer name peer9' vif-nat online 9 -mn
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qxF 'host dom9 { hardware ethernet 00:16:3e:00:00:09; fixed-address 10.0.0.9; option routers 10.0.0.136; option host-name "dom9"; }' \
		"$UC_ETC/dhcp/dhcpd.conf"
	grep -qx 'INTERFACES="vif9.0 "' "$UC_ETC/default/dhcp-server"
	grep -qx 'isc-dhcp-server restart' "$XHP_STUB_STATE/calls"
	# Our claim_lock and release_lock, by another name than block: the
	# lock file is gone once released.
	[ -d "$XHP_TMP/lock" ]
	[ ! -e "$XHP_TMP/lock/vif-nat-dhcp" ]
	[ "$(rd "$BE/vif/9/0/hotplug-status")" = connected ]

	net_script 'export dhcp=yes; ip link add vif9.0 type veth peer name peer9' vif-nat offline 9 -mn
	[ "$status" -eq 0 ]
	! grep -q 'host dom9' "$UC_ETC/dhcp/dhcpd.conf"
	grep -qx 'INTERFACES=""' "$UC_ETC/default/dhcp-server"
	[ "$(grep -c 'isc-dhcp-server restart' "$XHP_STUB_STATE/calls")" -eq 2 ]
}
@test "4.20: upstream's vif-nat over our libraries writes the guest's DHCP entry under our lock, and takes it out offline" { c_nat_dhcp; }
@test "4.17: upstream's vif-nat over our libraries writes the guest's DHCP entry under our lock, and takes it out offline" { c_nat_dhcp; }

c_nat_dhcp_waits() {
	require_ns etc
	vif_backend 9
	xenstore-write "$BE/vif/9/0/ip" 10.0.0.9
	nat_dhcp_etc
	# Upstream's own locking.sh holds vif-nat-dhcp for 2 s, and looks at
	# dhcpd.conf before it lets go: the vif-nat over ours must have waited.
	mkdir -p "$XHP_TMP/up"
	cp -p "$(compat_dir xen-utils-common)"/* "$XHP_TMP/up"/
	cat > "$XHP_TMP/up/holder" <<-EOF
	#!/bin/bash
	. "\$(dirname "\$0")/locking.sh"
	LOCK_BASEDIR=$XHP_TMP/lock
	claim_lock vif-nat-dhcp
	touch "$XHP_TMP/held"
	sleep 2
	grep -c 'host dom9' "$UC_ETC/dhcp/dhcpd.conf" > "$XHP_TMP/during"
	release_lock vif-nat-dhcp
	EOF
	bash "$XHP_TMP/up/holder" 3>&- &
	holder=$!
	for _ in $(seq 1 50); do
		[ -e "$XHP_TMP/held" ] && break
		sleep 0.1
	done
	net_script 'export dhcp=yes; ip link add vif9.0 type veth peer name peer9' vif-nat online 9 -mn
	# Not a bare wait: the test xenstore is a background job too.
	wait "$holder"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$XHP_TMP/during")" = 0 ]
	grep -q 'host dom9' "$UC_ETC/dhcp/dhcpd.conf"
}
@test "4.20: upstream's vif-nat over our libraries waits for upstream's own holder of its DHCP lock" { c_nat_dhcp_waits; }
@test "4.17: upstream's vif-nat over our libraries waits for upstream's own holder of its DHCP lock" { c_nat_dhcp_waits; }

c_nat_offline() {
	vif_backend 9
	net_script 'export dhcp=no; ip link add vif9.0 type veth peer name peer9 && ip link set vif9.0 up' \
		vif-nat offline 9
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"--- up: "*",UP"* ]]
	absent "$BE/vif/9/0/hotplug-status"
}
@test "4.20: upstream's vif-nat offline over our libraries takes the vif down" { c_nat_offline; }
@test "4.17: upstream's vif-nat offline over our libraries takes the vif down" { c_nat_offline; }

# ovs_add DOM [ARG...]: the ovs-vsctl command line upstream's
# vif-openvswitch gives for vif DOM/0 on bridge xenbr0, with ARGs (tag=,
# trunk=) after the port.
ovs_add() {
	local d=$1 id
	shift
	printf 'ovs-vsctl --timeout=30 -- --if-exists del-port vif%s.0 -- add-port xenbr0 vif%s.0%s' \
		"$d" "$d" "${*:+ $*}"
	for id in xen-vm-name=guest$d xen-vm-uuid=00000000-0000-0000-0000-00000000000$d \
	    attached-mac=00:16:3e:00:00:0$d; do
		printf ' -- set interface vif%s.0 external-ids:"%s"="%s"' "$d" "${id%%=*}" "${id#*=}"
	done
	echo
}

# ovs_online BRIDGE [ARG...]: vif-openvswitch online for vif 6/0 on BRIDGE
# adds the port with ARGs and the guest's ids, brings the vif up and
# reports connected.
ovs_online() {
	local bridge=$1
	shift
	vif_backend 6
	xenstore-write "$BE/vif/6/0/bridge" "$bridge"
	net_script 'ip link add vif6.0 type veth peer name peer6' vif-openvswitch online 6
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qxF "$(ovs_add 6 "$@")" "$XHP_STUB_STATE/calls" ||
		{ echo "expected: $(ovs_add 6 "$@")"; cat "$XHP_STUB_STATE/calls"; return 1; }
	[[ "$output" == *"--- up: "*",UP"* ]]
	[[ "$output" == *"--- mac: fe:ff:ff:ff:ff:ff"* ]]
	[ "$(rd "$BE/vif/6/0/hotplug-status")" = connected ]
}

c_ovs_online() { ovs_online xenbr0; }
@test "4.20: upstream's vif-openvswitch over our libraries adds the port with the guest's ids and reports connected" { c_ovs_online; }
@test "4.17: upstream's vif-openvswitch over our libraries adds the port with the guest's ids and reports connected" { c_ovs_online; }

c_ovs_vlan() { ovs_online xenbr0.10:20:30 tag=10 trunk=20,30; }
@test "4.20: upstream's vif-openvswitch over our libraries passes the bridge's VLAN tag and trunks" { c_ovs_vlan; }
@test "4.17: upstream's vif-openvswitch over our libraries passes the bridge's VLAN tag and trunks" { c_ovs_vlan; }

c_ovs_fails() { OVS_STUB_FAIL=1 vif_fails 6 xenbr0 vif-openvswitch "$(ovs_add 6) failed"; }
@test "4.20: upstream's vif-openvswitch over our libraries fails through our do_or_die when ovs-vsctl does" { c_ovs_fails; }
@test "4.17: upstream's vif-openvswitch over our libraries fails through our do_or_die when ovs-vsctl does" { c_ovs_fails; }

c_ovs_bad_bridge() {
	vif_fails 6 xenbr0.x vif-openvswitch "No valid bridge was specified"
	! grep -qs '^ovs-vsctl' "$XHP_STUB_STATE/calls"
}
@test "4.20: upstream's vif-openvswitch over our libraries refuses a malformed bridge through our fatal" { c_ovs_bad_bridge; }
@test "4.17: upstream's vif-openvswitch over our libraries refuses a malformed bridge through our fatal" { c_ovs_bad_bridge; }

c_ovs_offline() {
	vif_backend 6
	xenstore-write "$BE/vif/6/0/bridge" xenbr0
	net_script 'ip link add vif6.0 type veth peer name peer6 && ip link set vif6.0 up' \
		vif-openvswitch offline 6
	[ "$status" -eq 0 ]
	grep -qx 'ovs-vsctl --timeout=30 -- --if-exists del-port vif6.0' "$XHP_STUB_STATE/calls"
	[[ "$output" != *"--- up: "*",UP"* ]]
	absent "$BE/vif/6/0/hotplug-status"
}
@test "4.20: upstream's vif-openvswitch offline over our libraries deletes the port" { c_ovs_offline; }
@test "4.17: upstream's vif-openvswitch offline over our libraries deletes the port" { c_ovs_offline; }

# ---- upstream's vscsi ----------------------------------------------------------

c_vscsi() {
	require_ns
	b=$BE/vscsi/3/0
	xenstore-write "$b/frontend-id" 3 "$b/state" 2
	# A /bin/sh script: under $HOTPLUG_SH, as on a host whose sh that is.
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	in_ns -m env XENBUS_PATH=backend/vscsi/3/0 XENBUS_TYPE=vscsi XENBUS_BASE_PATH=backend \
		$HOTPLUG_SH "$UC_DIR/vscsi" add
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(rd "$b/hotplug-status")" = connected ]
	xenstore-rm "$b/hotplug-status"
	# shellcheck disable=SC2086
	in_ns -m env XENBUS_PATH=backend/vscsi/3/0 XENBUS_TYPE=vscsi XENBUS_BASE_PATH=backend \
		$HOTPLUG_SH "$UC_DIR/vscsi" remove
	[ "$status" -eq 0 ]
	absent "$b/hotplug-status"
	absent "$b/hotplug-error"
}
@test "4.20: upstream's vscsi over our libraries reports connected on add and does nothing on remove, under \$HOTPLUG_SH" { c_vscsi; }
@test "4.17: upstream's vscsi over our libraries reports connected on add and does nothing on remove, under \$HOTPLUG_SH" { c_vscsi; }

# ---- upstream's block-tap ---------------------------------------------------

# The one script of the block family that changed between the versions:
# 4.17's is blktap2's (tap-ctl create, the tapdev through write_dev); 4.20's
# serves vbd3 for tapback through a tapdisk of its own (allocate, spawn,
# attach, open), under the lock, with a sharing check that ends in
# do_ebusy, which upstream defines in block only and ours in
# block-common.sh. Ours replaces it (docs/block-family.md); this runs
# upstream's over our libraries, with the tap-ctl stub.

# tap_run DOM TYPE CMD: upstream's block-tap CMD for TYPE DOM/51712.
tap_run() {
	in_ns -m env XENBUS_PATH="backend/$2/$1/51712" XENBUS_TYPE="$2" XENBUS_BASE_PATH=backend \
		bash "$UC_DIR/block-tap" "$3"
}

# tap_be DOM TYPE PARAMS MODE: a tap backend as libxl writes it.
tap_be() {
	local b=$BE/$2/$1/51712
	xenstore-write "$b/frontend" "/local/domain/$1/device/vbd/51712" "$b/params" "$3" \
		"$b/frontend-id" "$1" "$b/online" 1 "$b/state" 2 "$b/mode" "$4" \
		"/local/domain/$1/vm" "/vm/uuid-$1"
}

c_tap() {
	require_ns
	truncate -s 4M "$XHP_TMP/disk.img"
	case $SERIES in
	4.17)
		# blkback over the tapdev: a real block device stands in for it.
		truncate -s 4M "$XHP_TMP/tapdev"
		export UC_LUN UC_TAPDEV=1
		UC_LUN=$(losetup -f --show "$XHP_TMP/tapdev")
		b=$BE/vbd/1/51712
		tap_be 1 vbd "aio:$XHP_TMP/disk.img" w
		tap_run 1 vbd add
		echo "$output"
		[ "$status" -eq 0 ]
		grep -qx 'modprobe blktap' "$XHP_STUB_STATE/calls"
		grep -qx "tap-ctl create -a aio:$XHP_TMP/disk.img" "$XHP_STUB_STATE/calls"
		[ "$(rd "$b/physical-device")" = "$(majmin "$UC_LUN")" ]
		[ "$(rd "$b/physical-device-path")" = /dev/xen/blktap-2/tapdev0 ]
		[ "$(rd "$b/hotplug-status")" = connected ]
		pid=$(awk '{ print $1 }' "$XHP_STUB_STATE/tapdisks")
		tap_run 1 vbd remove
		[ "$status" -eq 0 ]
		grep -qx "tap-ctl destroy -p $pid -m 0" "$XHP_STUB_STATE/calls"
		[ ! -s "$XHP_STUB_STATE/tapdisks" ]
		;;
	4.20)
		b=$BE/vbd3/1/51712
		tap_be 1 vbd3 "aio:$XHP_TMP/disk.img" w
		tap_run 1 vbd3 add
		echo "$output"
		[ "$status" -eq 0 ]
		read -r pid minor _ < "$XHP_STUB_STATE/tapdisks"
		[ "$(rd "$b/pid")" = "$pid" ]
		[ "$(rd "$b/minor")" = "$minor" ]
		[ "$(rd "$b/physical-device-path")" = "/run/blktap-control/nbd$pid.$minor" ]
		absent "$b/physical-device"
		[ "$(rd "$b/hotplug-status")" = connected ]
		# Upstream closes our $_lockfd for the daemon, and releases our
		# lock.
		run sh -c "ls -l /proc/$pid/fd/ | grep -F '$XHP_TMP/lock'"
		[ -z "$output" ]
		lock_free "$XHP_TMP/lock/block"
		[ ! -e "$XHP_TMP/lock/block" ]
		tap_run 1 vbd3 remove
		[ "$status" -eq 0 ]
		grep -qx "tap-ctl destroy -p $pid -m $minor" "$XHP_STUB_STATE/calls"
		[ ! -s "$XHP_STUB_STATE/tapdisks" ]
		;;
	esac
}
@test "4.20: upstream's block-tap over our libraries serves an image and destroys its tapdisk on remove" { c_tap; }
@test "4.17: upstream's block-tap over our libraries serves an image and destroys its tapdisk on remove" { c_tap; }

c_tap_busy() {
	require_ns
	truncate -s 4M "$XHP_TMP/disk.img"
	case $SERIES in
	4.17)
		# No sharing check at all in 4.17's: a second writer gets a
		# second tapdisk over the same image.
		tap_be 1 vbd "aio:$XHP_TMP/disk.img" w
		tap_run 1 vbd add
		tap_be 2 vbd "aio:$XHP_TMP/disk.img" w
		tap_run 2 vbd add
		[ "$(grep -c "^tap-ctl create -a aio:$XHP_TMP/disk.img\$" "$XHP_STUB_STATE/calls")" -eq 2 ]
		[ "$(wc -l < "$XHP_STUB_STATE/tapdisks")" -eq 2 ]
		;;
	4.20)
		tap_be 1 vbd3 "aio:$XHP_TMP/disk.img" w
		tap_run 1 vbd3 add
		[ "$status" -eq 0 ]
		tap_be 2 vbd3 "aio:$XHP_TMP/disk.img" w
		tap_run 2 vbd3 add
		echo "$output"
		[ "$status" -eq 1 ]
		b=$BE/vbd3/2/51712
		# Our do_ebusy, with upstream's words.
		[ "$(rd "$b/hotplug-status")" = busy ]
		[ "$(rd -R "$b/hotplug-error")" = "tap aio file $XHP_TMP/disk.img in use in a guest domain,
and so cannot be mounted now." ]
		absent "$b/physical-device-path"
		lock_free "$XHP_TMP/lock/block"
		[ "$(wc -l < "$XHP_STUB_STATE/tapdisks")" -eq 1 ]
		;;
	esac
}
@test "4.20: upstream's block-tap over our libraries: 4.20's refuses a second writer through our do_ebusy, 4.17's has no check" { c_tap_busy; }
@test "4.17: upstream's block-tap over our libraries: 4.20's refuses a second writer through our do_ebusy, 4.17's has no check" { c_tap_busy; }

# ---- drbd-utils' block-drbd, installed beside the package --------------------

# drbd_run DOM CMD: drbd-utils' block-drbd CMD for vbd DOM/51712 in the
# installed layout, with the helpers and libraries make install recorded.
drbd_run() {
	in_ns -m env -u XEN_HOTPLUG_HELPERDIR -u XEN_HOTPLUG_LIBDIR \
		XENBUS_PATH="backend/vbd/$1/51712" XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
		bash "$UC_INST/block-drbd" "$2"
}

# drbd_setup: resource r0 is a loop device; DRBD is the drbdadm stub.
drbd_setup() {
	compat_suite xen-utils-common drbd-utils
	require_ns
	[ -e "$SD/inst.ok" ] || { echo "make install failed:"; cat "$SD/inst.log"; return 1; }
	truncate -s 4M "$XHP_TMP/drbd0"
	drbd=$(losetup -f --show "$XHP_TMP/drbd0")
	echo "$drbd" > "$XHP_STUB_STATE/drbd-r0.dev"
}

# drbd_vbd DOM PARAMS MODE: a vbd backend for block-drbd as libxl writes it.
drbd_vbd() {
	local b=$BE/vbd/$1/51712
	xenstore-write "$b/frontend" "/local/domain/$1/device/vbd/51712" "$b/params" "$2" \
		"$b/script" "$UC_INST/block-drbd" "$b/frontend-id" "$1" "$b/online" 1 \
		"$b/state" 2 "$b/dev" xvda "$b/type" phy "$b/mode" "$3" \
		"/local/domain/$1/vm" "/vm/uuid-$1"
}

c_drbd_add() {
	drbd_setup
	# Our block-common.sh finds our private libraries where make install
	# recorded them; upstream's stay beside it for upstream's scripts.
	grep -q "^XEN_HOTPLUG_LIBDIR=\"$SD/inst/usr/lib/xen-hotplug\"" "$UC_INST/xen-hotplug-paths.sh"
	cmp -s "$UC_INST/xen-hotplug-common.sh" "$(compat_dir xen-utils-common)/xen-hotplug-common.sh"
	b=$BE/vbd/1/51712
	drbd_vbd 1 r0 w
	drbd_run 1 add
	echo "$output"
	[ "$status" -eq 0 ]
	published "$b" "$drbd"
	grep -qx 'drbdadm primary r0' "$XHP_STUB_STATE/calls"
	lock_free "$XHP_TMP/lock/block"

	drbd_run 1 remove
	[ "$status" -eq 0 ]
	grep -qx 'drbdadm secondary r0' "$XHP_STUB_STATE/calls"
	[ "$(cat "$XHP_STUB_STATE/drbd-r0.role")" = Secondary ]
}
@test "4.20: drbd-utils' block-drbd over our block-common.sh makes the resource primary and publishes its device" { c_drbd_add; }
@test "4.17: drbd-utils' block-drbd over our block-common.sh makes the resource primary and publishes its device" { c_drbd_add; }

c_drbd_prefix() {
	drbd_setup
	echo Primary > "$XHP_STUB_STATE/drbd-r0.role"
	drbd_vbd 2 drbd:r0 r
	drbd_run 2 add
	[ "$status" -eq 0 ]
	[ "$(rd "$BE/vbd/2/51712/physical-device")" = "$(majmin "$drbd")" ]
	# Already primary: not asked again.
	! grep -q '^drbdadm primary' "$XHP_STUB_STATE/calls"
	# A second run of add for a published backend is a no-op.
	drbd_run 2 add
	[ "$status" -eq 0 ]
	[ "$(grep -c '^drbdadm sh-dev' "$XHP_STUB_STATE/calls")" -eq 1 ]
}
@test "4.20: drbd-utils' block-drbd over our block-common.sh takes the drbd: prefix, and a second add is a no-op" { c_drbd_prefix; }
@test "4.17: drbd-utils' block-drbd over our block-common.sh takes the drbd: prefix, and a second add is a no-op" { c_drbd_prefix; }

c_drbd_busy() {
	drbd_setup
	drbd_vbd 1 r0 w
	drbd_run 1 add
	[ "$status" -eq 0 ]
	drbd_vbd 2 r0 w
	drbd_run 2 add
	echo "$output"
	[ "$status" -eq 1 ]
	b=$BE/vbd/2/51712
	[ "$(rd "$b/hotplug-status")" = busy ]
	[ "$(rd -R "$b/hotplug-error")" = "Device $drbd is mounted in a guest domain,
and so cannot be mounted now." ]
	absent "$b/physical-device"
	# block-drbd's own do_ebusy released our lock before ebusy.
	lock_free "$XHP_TMP/lock/block"
}
@test "4.20: drbd-utils' block-drbd over our block-common.sh refuses a second guest through our ebusy and frees the lock" { c_drbd_busy; }
@test "4.17: drbd-utils' block-drbd over our block-common.sh refuses a second guest through our ebusy and frees the lock" { c_drbd_busy; }

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

c_oldstyle_device() {
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
@test "4.20: our block refuses a device an old-style script published only as physical-device" { c_oldstyle_device; }
@test "4.17: our block refuses a device an old-style script published only as physical-device" { c_oldstyle_device; }

c_oldstyle_image() {
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
@test "4.20: our block refuses an image an old-style script put on its own loop device" { c_oldstyle_image; }
@test "4.17: our block refuses an image an old-style script put on its own loop device" { c_oldstyle_image; }

c_oldstyle_reader() {
	oldstyle
	truncate -s 4M "$XHP_TMP/disk"
	dev=$(losetup -f --show "$XHP_TMP/disk")
	vbd 1 "$dev" r block-vendor
	[ "$status" -eq 0 ]
	vbd 2 "$dev" r block
	[ "$status" -eq 0 ]
	[ "$(rd "$BE/vbd/2/51712/hotplug-status")" = connected ]
}
@test "4.20: our block lets a reader share with an old-style read-only user" { c_oldstyle_reader; }
@test "4.17: our block lets a reader share with an old-style read-only user" { c_oldstyle_reader; }
