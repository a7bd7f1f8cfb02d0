#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# make install / uninstall into a temporary root: files, modes, and nothing
# left behind.

load ../test_helper

setup() {
	XHP_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/xhp.XXXXXX")
	DEST=$XHP_TMP/root
}

teardown() {
	rm -rf "$XHP_TMP"
}

mode_of() {
	stat -c %a "$1"
}

@test "make install puts helpers, scripts and docs under DESTDIR with packager modes" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr
	echo "$output"
	[ "$status" -eq 0 ]
	# Helpers: executables, 0755, in LIBEXECDIR.
	for h in "$XHP_TOP"/helpers/*.c; do
		n=$(basename "$h" .c)
		[ -f "$DEST/usr/lib/xen-hotplug/$n" ] || { echo "missing helper $n"; return 1; }
		[ "$(mode_of "$DEST/usr/lib/xen-hotplug/$n")" = 755 ]
	done
	# Scripts: executables 0755, sourced libraries 0644.
	[ -f "$DEST/etc/xen/scripts/block" ]
	[ "$(mode_of "$DEST/etc/xen/scripts/block")" = 755 ]
	for lib in block-common.sh xen-hotplug-common.sh locking.sh logging.sh \
	    xen-script-common.sh xen-hotplug-helperdir.sh xen-hotplug-paths.sh; do
		[ -f "$DEST/etc/xen/scripts/$lib" ] || { echo "missing $lib"; return 1; }
		[ "$(mode_of "$DEST/etc/xen/scripts/$lib")" = 644 ]
	done
	[ -f "$DEST/usr/share/doc/xen-hotplug/exit-codes.md" ]
}

@test "the installed scripts find the installed helpers" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr LIBEXECDIR=/opt/xhp
	[ "$status" -eq 0 ]
	run cat "$DEST/etc/xen/scripts/xen-hotplug-paths.sh"
	[[ "$output" == *'XEN_HOTPLUG_HELPERDIR="/opt/xhp"'* ]]
	[ -x "$DEST/opt/xhp/flock-wrap" ]
}

@test "OS=NetBSD installs the NetBSD script set" {
	[ -f "$XHP_TOP/scripts/NetBSD/block" ] || skip "no NetBSD scripts yet"
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" OS=NetBSD
	[ "$status" -eq 0 ]
	cmp "$XHP_TOP/scripts/NetBSD/block" "$DEST/etc/xen/scripts/block"
}

@test "make uninstall leaves nothing of ours behind" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr
	[ "$status" -eq 0 ]
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$DEST" PREFIX=/usr
	echo "$output"
	[ "$status" -eq 0 ]
	run find "$DEST" -type f
	echo "$output"
	[ -z "$output" ]
}
