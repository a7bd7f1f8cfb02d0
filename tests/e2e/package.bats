#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# The upgrade path with the real Debian package and real xl (issue 13):
# inside the e2e dom0 only, run by dom0-run.sh before `make install`, so
# that /etc/xen/scripts is still xen-utils-common's own set. E2E_DEB is
# our package, built on the host by run.sh.
#
# The tests are the steps of one story and run in this order; what one
# leaves (the guest g1, its image and upstream's loop device) the next
# uses (E2E_KEEP). teardown_file puts dom0 back as it was: no guest, no
# loop device, no bridge, the package purged.
#   1. upstream's block attaches an image file to a paused guest g1;
#   2. dpkg -i: the block family becomes ours, g1 keeps its disk;
#   3. g1's image is refused read-write to a second guest;
#   4. destroying g1 runs our remove, which frees upstream's loop device;
#   5. a guest with a disk (ours) and a vif on a bridge (upstream's
#      vif-bridge, on upstream's libraries);
#   6. dpkg -r: upstream's files are back as they were, and upstream's
#      block attaches and frees an image file again.

load e2e_helper

# shellcheck disable=SC2034 # both are read by e2e_helper
E2E_IMPL=package E2E_KEEP=1
SCRIPTS=/etc/xen/scripts
# What the package diverts, and the scripts of ours behind its symlinks.
FAMILY="block block-common.sh block-dummy block-iscsi block-tap"
FAMILY_RE="(block|block-common\\.sh|block-dummy|block-iscsi|block-tap)"
OURS=/usr/lib/xen-hotplug/scripts
BR=xenbr0
VIFBE=/local/domain/0/backend/vif

setup_file() {
	[ -e /proc/xen/capabilities ] || return 0
	rm -rf "$E2E_TMP"
	mkdir -p "$E2E_TMP"
	modprobe -a bridge xen-netback
}

teardown_file() {
	[ -e /proc/xen/capabilities ] || return 0
	e2e_cleanup
	dpkg -P xen-hotplug >/dev/null 2>&1
	ip link del "$BR" 2>/dev/null
	return 0
}

# scripts_state: every name in /etc/xen/scripts with its type, mode and
# checksum (a symlink with its target).
scripts_state() {
	for _f in "$SCRIPTS"/*; do
		if [ -L "$_f" ]; then
			printf '%s -> %s\n' "${_f##*/}" "$(readlink "$_f")"
		else
			printf '%s %s %s\n' "${_f##*/}" "$(stat -c %a "$_f")" "$(md5sum < "$_f" | cut -c1-32)"
		fi
	done
}

# verify_scripts: what dpkg --verify finds changed under /etc/xen/scripts
# in xen-utils-common (the image has no documentation, so only there).
verify_scripts() {
	dpkg --verify xen-utils-common | grep " $SCRIPTS/" || true
}

# diversions: the files xen-hotplug diverts, sorted.
diversions() {
	LC_ALL=C dpkg-divert --list | grep xen-hotplug | sed -n 's/^diversion of \([^ ]*\) to .*/\1/p' | sort
}

# owners NAME...: dpkg -S of each /etc/xen/scripts/NAME, in one call (a
# dpkg database read takes seconds under TCG), sorted.
owners() {
	dpkg -S "${@/#/$SCRIPTS/}" 2>&1 | LC_ALL=C sort
}

# upstreams_own NAME...: each /etc/xen/scripts/NAME is a plain file that
# xen-utils-common alone owns, with no diversion.
upstreams_own() {
	for _n; do
		if [ ! -f "$SCRIPTS/$_n" ] || [ -L "$SCRIPTS/$_n" ]; then
			echo "$_n is not a plain file"
			return 1
		fi
	done
	_got=$(owners "$@")
	_want=$(for _n; do echo "xen-utils-common: $SCRIPTS/$_n"; done | LC_ALL=C sort)
	[ "$_got" = "$_want" ] || { printf 'dpkg -S:\n%s\n' "$_got"; return 1; }
}

# attached NAME IMG: guest NAME's xvda is connected, on the one loop
# device of IMG, which reads as IMG. Prints the loop device.
attached() {
	_d=$(xl domid "$1") || return 1
	[ "$(xsr "$BE/$_d/$XVDA/hotplug-status")" = connected ] || { echo "$1: not connected"; return 1; }
	_l=$(loops_of "$2")
	case $_l in /dev/loop[0-9]*) ;; *) echo "$1: loop devices of $2: '$_l'"; return 1 ;; esac
	[ "$(xsr "$BE/$_d/$XVDA/physical-device")" = "$(majmin "$_l")" ] || { echo "$1: physical-device"; return 1; }
	[ "$(head -n 1 "$_l")" = "xhp-e2e:$(basename "$2" .img)" ] || { echo "$_l does not read as $2"; return 1; }
	printf '%s\n' "$_l"
}

# destroyed NAME IMG: xl destroy NAME; its backends go, and no loop device
# is left bound to IMG.
destroyed() {
	_d=$(xl domid "$1") || return 1
	_l=$(loops_of "$2")
	run xl destroy "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_gone "$BE/$_d"
	run loops_of "$2"
	[ "$output" = "" ] || { echo "loop devices left on $2: $output"; return 1; }
	[ ! -e "/sys/block/${_l#/dev/}/loop/backing_file" ]
}

@test "before the package: upstream's block attaches an image file to a paused guest, on a loop device it makes" {
	# shellcheck disable=SC2086 # the list is meant to split
	upstreams_own $FAMILY
	run diversions
	[ "$output" = "" ]
	run verify_scripts
	echo "$output"
	[ "$output" = "" ]
	scripts_state > "$E2E_TMP/scripts-before"
	img=$(make_image p1)
	allowed g1 "$(disk_spec "$img" xvda w)"
	attached g1 "$img"
	xenstore-ls -f "$BE/$(xl domid g1)/$XVDA" > "$E2E_OUT/package-g1-backend.txt"
}

@test "dpkg -i: the block family is ours, upstream's is diverted beside it, and the first guest keeps its disk" {
	[ -f "${E2E_DEB:-}" ] || { echo "no package: E2E_DEB='${E2E_DEB:-}'"; false; }
	img=$E2E_TMP/p1.img
	d1=$(xl domid g1)
	loop=$(attached g1 "$img")
	pd=$(xsr "$BE/$d1/$XVDA/physical-device")
	run dpkg -i "$E2E_DEB"
	echo "$output"
	printf '%s\n' "$output" > "$E2E_OUT/package-dpkg-i.txt"
	[ "$status" -eq 0 ]
	# Both packages list each name, so that dpkg -r can give it back.
	# shellcheck disable=SC2086 # the list is meant to split
	owners $FAMILY > "$E2E_TMP/owners"
	cat "$E2E_TMP/owners"
	for n in $FAMILY; do
		[ "$(readlink "$SCRIPTS/$n")" = "$OURS/$n" ]
		[ -f "$SCRIPTS/$n.xen-utils-common" ]
		grep -Fx "xen-hotplug, xen-utils-common: $SCRIPTS/$n" "$E2E_TMP/owners"
	done
	[ "$(diversions | tr '\n' ' ')" = "$(for n in $FAMILY; do echo "$SCRIPTS/$n"; done | LC_ALL=C sort | tr '\n' ' ')" ]
	# Nothing of xen-utils-common changed but the diverted block family.
	run verify_scripts
	echo "$output"
	printf '%s\n' "$output" > "$E2E_OUT/package-verify-installed.txt"
	run grep -vE " $SCRIPTS/$FAMILY_RE(\\.xen-utils-common)?\$" "$E2E_OUT/package-verify-installed.txt"
	[ "$output" = "" ]
	# The same domain, on the same loop device, with the same nodes.
	[ "$(xl domid g1)" = "$d1" ]
	[ "$(attached g1 "$img")" = "$loop" ]
	[ "$(xsr "$BE/$d1/$XVDA/physical-device")" = "$pd" ]
}

@test "with the package: the first guest's image is refused read-write to a second guest, and the error names its backend" {
	img=$E2E_TMP/p1.img
	[ "$(readlink "$SCRIPTS/block")" = "$OURS/block" ]
	refused g2 "$(disk_spec "$img" xvda w)" "$(be_re g1)"
	attached g1 "$img"
}

@test "with the package: destroying the first guest runs our remove, which frees upstream's loop device" {
	[ "$(readlink "$SCRIPTS/block")" = "$OURS/block" ]
	destroyed g1 "$E2E_TMP/p1.img"
}

@test "with the package: a guest with a disk and a vif on a bridge; upstream's vif-bridge runs on upstream's libraries" {
	command -v ip >/dev/null || { echo "no ip (iproute2) in dom0"; false; }
	# vif-bridge and everything it sources stay xen-utils-common's.
	set -- vif-bridge vif-common.sh xen-network-common.sh xen-hotplug-common.sh \
		xen-script-common.sh locking.sh logging.sh hotplugpath.sh
	upstreams_own "$@"
	for n; do
		run grep -F " $SCRIPTS/$n" "$E2E_OUT/package-verify-installed.txt"
		[ "$output" = "" ]
	done
	ip link add "$BR" type bridge
	ip link set "$BR" up
	img=$(make_image p3)
	cfg=$(guest_cfg g3 "$(disk_spec "$img" xvda w)")
	printf "vif = [ 'bridge=%s' ]\n" "$BR" >> "$cfg"
	run xl create -p "$cfg"
	echo "$output"
	[ "$status" -eq 0 ]
	d3=$(xl domid g3)
	attached g3 "$img"
	[ "$(xsr "$VIFBE/$d3/0/hotplug-status")" = connected ]
	[ "$(xsr "$VIFBE/$d3/0/bridge")" = "$BR" ]
	[ -e "/sys/class/net/$BR/brif/vif$d3.0" ]
	ip -o link show dev "vif$d3.0" | tee "$E2E_OUT/package-vif.txt" | grep -F " master $BR "
	destroyed g3 "$img"
	wait_gone "$VIFBE/$d3"
	wait_until 10 test ! -e "/sys/class/net/vif$d3.0"
	run ls "/sys/class/net/$BR/brif"
	[ "$output" = "" ]
}

@test "dpkg -r gives upstream back its files, unchanged, and upstream's block attaches and frees an image file again" {
	run dpkg -r xen-hotplug
	echo "$output"
	[ "$status" -eq 0 ]
	run diversions
	[ "$output" = "" ]
	run verify_scripts
	echo "$output"
	[ "$output" = "" ]
	scripts_state | diff "$E2E_TMP/scripts-before" -
	# shellcheck disable=SC2086 # the list is meant to split
	upstreams_own $FAMILY
	for n in $FAMILY; do
		[ ! -e "$SCRIPTS/$n.xen-utils-common" ]
	done
	img=$(make_image p4)
	allowed g4 "$(disk_spec "$img" xvda w)"
	attached g4 "$img"
	destroyed g4 "$img"
	# Purged, nothing of the package is left.
	dpkg -P xen-hotplug
	[ ! -e /etc/default/xen-hotplug ]
	[ ! -e /usr/lib/xen-hotplug ]
}
