#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# make install / uninstall into a temporary root: files, modes, the
# private libraries beside the helpers, the manual pages, the settings
# file, and nothing left behind; and an installed block that works.

load ../test_helper

bats_require_minimum_version 1.5.0

# Where each installed file goes (Linux), as docs/packaging.md says.
SCRIPTS="block block-dummy block-iscsi block-tap"
PUBLIC_LIBS="block-common.sh xen-hotplug-helperdir.sh xen-hotplug-paths.sh"
PRIVATE_LIBS="locking.sh logging.sh xen-hotplug-common.sh xen-script-common.sh xhp-status.sh"
MAN="man7/xen-hotplug.7 man8/flock-wrap.8 man8/loop-detach.8 man8/xs-majmin.8 man8/xs-stat-path.8"

setup() {
	XHP_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/xhp.XXXXXX")
	export XHP_TMP
	DEST=$XHP_TMP/root
}

teardown() {
	xsd_stop
	local l
	for l in $(losetup -l -n -O NAME,BACK-FILE 2>/dev/null |
	    awk -v t="$XHP_TMP/" 'index($0, t) { print $1 }'); do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf "$XHP_TMP"
}

mode_of() {
	stat -c %a "$1"
}

# has_mode MODE FILE...: each FILE is a regular file with MODE.
has_mode() {
	local m=$1 f
	shift
	for f in "$@"; do
		[ -f "$f" ] || { echo "missing $f"; return 1; }
		[ "$(mode_of "$f")" = "$m" ] || { echo "$f: mode $(mode_of "$f"), not $m"; return 1; }
	done
}

@test "make install puts helpers and private libraries in LIBEXECDIR, the block family in SCRIPTDIR, with packager modes" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr OS=Linux
	echo "$output"
	[ "$status" -eq 0 ]
	L=$DEST/usr/lib/xen-hotplug
	S=$DEST/etc/xen/scripts
	for h in "$XHP_TOP"/helpers/*.c; do
		has_mode 755 "$L/$(basename "$h" .c)"
	done
	for n in $SCRIPTS; do has_mode 755 "$S/$n"; done
	for n in $PUBLIC_LIBS; do has_mode 644 "$S/$n"; done
	for n in $PRIVATE_LIBS; do has_mode 644 "$L/$n"; done
	# Upstream's scripts source their own libraries of these names from
	# SCRIPTDIR: ours must not be there.
	# shellcheck disable=SC2086 # the lists are split on purpose
	expected=$(printf '%s\n' $SCRIPTS $PUBLIC_LIBS | sort)
	[ "$(find "$S" -mindepth 1 -printf '%f\n' | sort)" = "$expected" ]
	# Every library of scripts/Linux and scripts/common is installed
	# somewhere.
	for f in "$XHP_TOP"/scripts/Linux/*.sh "$XHP_TOP"/scripts/common/*.sh; do
		n=${f##*/}
		cmp "$f" "$S/$n" 2>/dev/null || cmp "$f" "$L/$n" || { echo "$n not installed"; return 1; }
	done
}

@test "make install writes where the helpers and the private libraries are into xen-hotplug-paths.sh" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr LIBEXECDIR=/opt/xhp OS=Linux
	[ "$status" -eq 0 ]
	run cat "$DEST/etc/xen/scripts/xen-hotplug-paths.sh"
	[[ "$output" == *'XEN_HOTPLUG_HELPERDIR="/opt/xhp"'* ]]
	[[ "$output" == *'XEN_HOTPLUG_LIBDIR="/opt/xhp"'* ]]
	[ -x "$DEST/opt/xhp/flock-wrap" ]
	[ -f "$DEST/opt/xhp/xen-hotplug-common.sh" ]
	# It is sourced by sh: plain assignments only.
	run sh -c ". '$DEST/etc/xen/scripts/xen-hotplug-paths.sh' && echo \"\$XEN_HOTPLUG_HELPERDIR \$XEN_HOTPLUG_LIBDIR\""
	[ "$output" = "/opt/xhp /opt/xhp" ]
}

@test "make install installs the manual pages to MANDIR and only the documentation for administrators" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr OS=Linux
	[ "$status" -eq 0 ]
	for m in $MAN; do
		has_mode 644 "$DEST/usr/share/man/$m"
		cmp "$XHP_TOP/man/${m#*/}" "$DEST/usr/share/man/$m"
	done
	D=$DEST/usr/share/doc/xen-hotplug
	has_mode 644 "$D/README.md" "$D/block-scripts.md" "$D/exit-codes.md" "$D/packaging.md"
	# Developers' pages and dated run logs stay in the tree.
	[ ! -e "$D/e2e.md" ]
	[ ! -e "$D/test-xenstored.md" ]
	[ ! -e "$D/dev" ]
	run sh -c "ls '$D' | grep -v '\.md$'"
	[ -z "$output" ]
}

@test "the manual pages are clean under mandoc -Tlint and man --warnings" {
	command -v mandoc >/dev/null 2>&1 || skip "mandoc not installed"
	for m in "$XHP_TOP"/man/*.[1-9]; do
		run mandoc -Tlint -Wwarning "$m"
		[ "$status" -eq 0 ] || { echo "$output"; return 1; }
		run --separate-stderr env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m"
		[ -z "$stderr" ] || { echo "$m: $stderr"; return 1; }
	done
}

@test "make install installs the settings file with every setting commented out, and never overwrites one" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr OS=Linux
	[ "$status" -eq 0 ]
	F=$DEST/etc/default/xen-hotplug
	has_mode 644 "$F"
	cmp "$XHP_TOP/etc/default/xen-hotplug" "$F"
	run grep -v -e '^#' -e '^$' "$F"
	[ -z "$output" ]
	for k in XEN_HOTPLUG_LOCK_BASEDIR XEN_HOTPLUG_DEADLINE XEN_BLOCK_PATH_ONLY \
	    XEN_HOTPLUG_DEBUG XEN_HOTPLUG_LOGFILE; do
		grep -q "^#$k=" "$F" || { echo "$k not documented"; return 1; }
	done
	# The administrator's file survives install, and uninstall too.
	echo XEN_HOTPLUG_DEBUG=1 >> "$F"
	cp "$F" "$XHP_TMP/mine"
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr OS=Linux
	[ "$status" -eq 0 ]
	[[ "$output" == *"exists, left as it is"* ]]
	cmp "$XHP_TMP/mine" "$F"
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$DEST" PREFIX=/usr OS=Linux
	[ "$status" -eq 0 ]
	[[ "$output" == *"was changed, left as it is"* ]]
	cmp "$XHP_TMP/mine" "$F"
}

@test "OS=NetBSD installs the NetBSD script set and the shared library in pkgsrc's script directory, and no settings file" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" OS=NetBSD
	[ "$status" -eq 0 ]
	S=$DEST/usr/pkg/etc/xen/scripts
	has_mode 755 "$S/block"
	cmp "$XHP_TOP/scripts/NetBSD/block" "$S/block"
	for f in "$XHP_TOP"/scripts/NetBSD/*.sh "$XHP_TOP"/scripts/common/*.sh; do
		has_mode 644 "$S/${f##*/}"
		cmp "$f" "$S/${f##*/}"
	done
	run cat "$S/xen-hotplug-paths.sh"
	[[ "$output" == *'XEN_HOTPLUG_LIBDIR="/usr/pkg/etc/xen/scripts"'* ]]
	[[ "$output" == *'XEN_HOTPLUG_HELPERDIR="/usr/pkg/libexec/xen-hotplug"'* ]]
	[ -x "$DEST/usr/pkg/libexec/xen-hotplug/xs-publish" ]
	# Nothing under Linux's or FreeBSD's places.
	[ ! -e "$DEST/etc" ]
	[ ! -e "$DEST/usr/lib" ]
	[ ! -e "$DEST/usr/local" ]
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$DEST" OS=NetBSD
	[ "$status" -eq 0 ]
	run find "$DEST" ! -type d
	[ -z "$output" ]
}

@test "OS=NetBSD honours PREFIX, SCRIPTDIR and LIBEXECDIR given to make" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" OS=NetBSD SCRIPTDIR=/etc/xen/scripts
	[ "$status" -eq 0 ]
	[ -x "$DEST/etc/xen/scripts/block" ]
	[ -f "$DEST/etc/xen/scripts/xhp-status.sh" ]
	[ -x "$DEST/usr/pkg/libexec/xen-hotplug/xs-publish" ]
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST/2" OS=NetBSD PREFIX=/opt/pkg
	[ "$status" -eq 0 ]
	[ -x "$DEST/2/opt/pkg/etc/xen/scripts/block" ]
	[ -x "$DEST/2/opt/pkg/libexec/xen-hotplug/xs-publish" ]
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST/3" OS=NetBSD LIBEXECDIR=/usr/libexec/xhp
	[ "$status" -eq 0 ]
	[ -x "$DEST/3/usr/libexec/xhp/xs-publish" ]
	[ -x "$DEST/3/usr/pkg/etc/xen/scripts/block" ]
	grep -qx 'XEN_HOTPLUG_HELPERDIR="/usr/libexec/xhp"' "$DEST/3/usr/pkg/etc/xen/scripts/xen-hotplug-paths.sh"
}

@test "make uninstall leaves nothing of ours behind" {
	run make -C "$XHP_TOP" -s install DESTDIR="$DEST" PREFIX=/usr OS=Linux
	[ "$status" -eq 0 ]
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$DEST" PREFIX=/usr OS=Linux
	echo "$output"
	[ "$status" -eq 0 ]
	run find "$DEST" -type f
	echo "$output"
	[ -z "$output" ]
}

# The end-to-end test of the installed layout: passes once the scripts
# find their private libraries through XEN_HOTPLUG_LIBDIR.
@test "the installed block, beside upstream's libraries, attaches and frees with its own, and so does a third-party block-*" {
	require_root
	grep -q XEN_HOTPLUG_LIBDIR "$XHP_TOP/scripts/Linux/block-common.sh" ||
		skip "the scripts do not read XEN_HOTPLUG_LIBDIR yet"
	P=$XHP_TMP/inst
	run make -C "$XHP_TOP" -s install OS=Linux PREFIX="$P/usr" \
		SCRIPTDIR="$P/etc/xen/scripts" LIBEXECDIR="$P/usr/lib/xen-hotplug" \
		DEFAULTDIR="$P/etc/default"
	[ "$status" -eq 0 ]
	S=$P/etc/xen/scripts
	# Upstream's libraries of the same names, as xen-utils-common leaves
	# them in /etc/xen/scripts: ours must never source them.
	for n in $PRIVATE_LIBS; do
		printf 'echo "sourced upstream %s" >&2; exit 99\n' "$n" > "$S/$n"
	done
	# A storage vendor's script, as upstream's block-iscsi and others:
	# source block-common.sh from its own directory, publish a device.
	cat > "$S/block-vendor" <<-'EOF'
		#!/bin/sh
		dir=$(dirname "$0")
		. "$dir/block-common.sh"
		case $command in
		add) write_dev "$(xenstore_read "$XENBUS_PATH/params")" ;;
		remove) exit 0 ;;
		esac
	EOF
	chmod 755 "$S/block-vendor"
	xsd_start
	mkdir "$XHP_TMP/dev"
	mknod "$XHP_TMP/dev/disk" b 240 77
	truncate -s 4M "$XHP_TMP/g.img"
	B=/local/domain/0/backend/vbd
	for d in 3 4 5; do
		xenstore-write "$B/$d/51712/params" "$XHP_TMP/dev/disk" \
			"$B/$d/51712/mode" r "$B/$d/51712/type" phy "$B/$d/51712/state" 2 \
			"$B/$d/51712/frontend-id" "$d" "$B/$d/51712/online" 1 \
			"/local/domain/$d/vm" "/vm/$d"
	done
	xenstore-write "$B/4/51712/params" "$XHP_TMP/g.img" "$B/5/51712/type" vendor
	inst() {
		# The installed tree alone: no helper directory from the tests,
		# the installed settings file.
		env -u XEN_HOTPLUG_HELPERDIR -u XEN_HOTPLUG_LIBDIR \
			XEN_HOTPLUG_CONFIG="$P/etc/default/xen-hotplug" \
			XEN_HOTPLUG_LOCK_BASEDIR="$XHP_TMP/lock" XEN_HOTPLUG_LOGFILE= \
			XEN_HOTPLUG_LOOP_TAG="${XHP_TMP##*/}" \
			XENBUS_PATH="backend/vbd/$1/51712" XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
			sh "$S/block" "$2" </dev/null
	}
	run --separate-stderr inst 3 add
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/3/51712/physical-device")" = f0:4d ]
	[ "$(xenstore-read "$B/3/51712/hotplug-status")" = connected ]
	# An image file: a loop device, freed on remove.
	run --separate-stderr inst 4 add
	echo "$stderr"
	[ "$status" -eq 0 ]
	loop=$(xenstore-read "$B/4/51712/node")
	[ "$(losetup -n -O BACK-FILE "$loop")" = "$XHP_TMP/g.img" ]
	run --separate-stderr inst 4 remove
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$(losetup -j "$XHP_TMP/g.img")" ]
	# type=vendor: block runs block-vendor, which publishes through our
	# block-common.sh (read-only, as domain 3: no conflict).
	run --separate-stderr inst 5 add
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/5/51712/physical-device")" = f0:4d ]
	[ "$(xenstore-read "$B/5/51712/hotplug-status")" = connected ]
}
