#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# The Debian package (debian/, docs/packaging.md): it builds with
# dpkg-buildpackage, lintian is clean, and installing it beside
# xen-utils-common makes /etc/xen/scripts/block and the rest of the block
# family ours, leaves upstream's shared libraries to upstream, survives an
# upgrade of xen-utils-common and one from our 0.1.0, and removing it gives
# upstream its files back and leaves nothing of ours.
#
# Nothing here touches the host's dpkg database: the package is installed
# with `dpkg --root` into a scratch tree, and its maintainer scripts run
# with --force-script-chrootless, so their dpkg-divert calls act on that
# tree through DPKG_ROOT.

load ../test_helper

# What the package diverts: upstream's block family, which it replaces.
FAMILY="block block-common.sh block-dummy block-iscsi block-tap"
# Upstream's shared libraries, which other upstream scripts source: never
# diverted, ours are private in /usr/lib/xen-hotplug.
SHARED="locking.sh logging.sh xen-hotplug-common.sh xen-script-common.sh"
# Ours alone, beside the block family in /etc/xen/scripts: not diverted.
OURS="xen-hotplug-helperdir.sh xen-hotplug-paths.sh"
# Ours alone and private (scripts/common), beside the helpers only.
PRIVATE="xhp-status.sh"

setup_file() {
	export PKG_TMP="$BATS_FILE_TMPDIR/pkg"
	mkdir -p "$PKG_TMP/src/xen-hotplug"
	command -v dpkg-buildpackage >/dev/null 2>&1 && [ -f /usr/share/perl5/Debian/Debhelper/Dh_Lib.pm ] || return 0
	# Build in a copy: dpkg-buildpackage cleans the tree it builds in.
	tar -C "$XHP_TOP" -cf - --exclude=./build --exclude=./.git . |
		tar -C "$PKG_TMP/src/xen-hotplug" -xf -
	(cd "$PKG_TMP/src/xen-hotplug" && dpkg-buildpackage -us -uc -b) \
		> "$PKG_TMP/build.log" 2>&1 3>&-
	echo "$?" > "$PKG_TMP/build.rc"
}

setup() {
	[ -f "$PKG_TMP/build.rc" ] || skip "dpkg-buildpackage or debhelper not installed"
	DEB=$(echo "$PKG_TMP"/src/xen-hotplug_*_*.deb)
	R=$BATS_TEST_TMPDIR/root
}

# dpkg_root ARGS...: dpkg acting on the scratch root $R only.
dpkg_root() {
	dpkg --root="$R" --force-script-chrootless --force-depends \
		--force-not-root --log=/dev/null "$@"
}

new_root() {
	mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
	: > "$R/var/lib/dpkg/status"
	: > "$R/var/lib/dpkg/available"
}

# upstream_deb: xen-utils-common with its files and without its
# maintainer scripts (those would run update-rc.d and ucf on the host).
upstream_deb() {
	scripts=$(sh "$XHP_TOP/tests/fetch-upstream.sh") ||
		skip "xen-utils-common could not be downloaded"
	cache=${scripts%/tree/etc/xen/scripts}
	rm -rf "$BATS_TEST_TMPDIR/xuc"
	dpkg-deb -R "$cache/upstream.deb" "$BATS_TEST_TMPDIR/xuc"
	rm -f "$BATS_TEST_TMPDIR"/xuc/DEBIAN/preinst "$BATS_TEST_TMPDIR"/xuc/DEBIAN/postinst \
		"$BATS_TEST_TMPDIR"/xuc/DEBIAN/prerm "$BATS_TEST_TMPDIR"/xuc/DEBIAN/postrm
	dpkg-deb -b "$BATS_TEST_TMPDIR/xuc" "$BATS_TEST_TMPDIR/xuc.deb" >/dev/null
	UPSTREAM_DEB=$BATS_TEST_TMPDIR/xuc.deb
	UP=$BATS_TEST_TMPDIR/xuc/etc/xen/scripts
}

# upstream_root: a fresh scratch root $R with xen-utils-common installed.
upstream_root() {
	upstream_deb
	new_root
	dpkg_root -i "$UPSTREAM_DEB" >/dev/null
}

# ours NAME: /etc/xen/scripts/NAME in $R is our symlink.
ours() {
	[ "$(readlink "$R/etc/xen/scripts/$1")" = "/usr/lib/xen-hotplug/scripts/$1" ] ||
		{ echo "$1 is not ours"; return 1; }
}

# upstream_upgrade_deb: the same package as a later version (+xhptest1)
# whose block, block-common.sh, locking.sh, xen-hotplug-common.sh and
# vif-bridge changed (a line appended), in UPGRADE_DEB; UP2 its scripts.
upstream_upgrade_deb() {
	local x=$BATS_TEST_TMPDIR/xuc2 f v
	rm -rf "$x"
	cp -a "$BATS_TEST_TMPDIR/xuc" "$x"
	v=$(dpkg-deb -f "$UPSTREAM_DEB" Version)
	sed -i "s/^Version: .*/Version: $v+xhptest1/" "$x/DEBIAN/control"
	for f in block block-common.sh locking.sh xen-hotplug-common.sh vif-bridge; do
		echo "# xen-utils-common $v+xhptest1" >> "$x/etc/xen/scripts/$f"
	done
	dpkg-deb -b "$x" "$BATS_TEST_TMPDIR/xuc2.deb" >/dev/null
	UPGRADE_DEB=$BATS_TEST_TMPDIR/xuc2.deb
	UP2=$x/etc/xen/scripts
}

# old_deb: our package as released in 0.1.0, which diverted the shared
# libraries too, built from the last commit before 0.2.0 (OLD_DEB); skips
# without the git history.
old_deb() {
	local c d=$BATS_TEST_TMPDIR/old
	git -C "$XHP_TOP" rev-parse --git-dir >/dev/null 2>&1 ||
		skip "no git history to build 0.1.0 from"
	c=$(git -C "$XHP_TOP" log -1 --format=%H -S'xen-hotplug (0.2.0)' -- debian/changelog)
	c=${c:+$c^}
	mkdir -p "$d/xen-hotplug"
	git -C "$XHP_TOP" archive "${c:-HEAD}" | tar -C "$d/xen-hotplug" -xf -
	head -1 "$d/xen-hotplug/debian/changelog" | grep -q '^xen-hotplug (0\.1\.0)' ||
		skip "no 0.1.0 in the history"
	(cd "$d/xen-hotplug" && dpkg-buildpackage -us -uc -b) > "$d/build.log" 2>&1 3>&- ||
		{ tail -20 "$d/build.log"; return 1; }
	OLD_DEB=$(echo "$d"/xen-hotplug_0.1.0_*.deb)
}

# diverted: the names under /etc/xen/scripts diverted in $R, sorted.
diverted() {
	LC_ALL=C dpkg-divert --root="$R" --list | sed -n 's|^diversion of /etc/xen/scripts/\([^ ]*\) to .*|\1|p' | sort
}

# words LIST: LIST one per line, sorted.
words() {
	# shellcheck disable=SC2086 # split on purpose
	printf '%s\n' $1 | sort
}

# snapshot: every path under $R with type, mode and checksum, except
# dpkg's own database.
snapshot() {
	(cd "$R" && find . -path ./var/lib/dpkg -prune -o -print | sort | while read -r p; do
		if [ -L "$p" ]; then printf '%s -> %s\n' "$p" "$(readlink "$p")"
		elif [ -f "$p" ]; then printf '%s %s %s\n' "$p" "$(stat -c %a "$p")" "$(md5sum < "$p")"
		else printf '%s/\n' "$p"
		fi
	done)
}

@test "the package builds with dpkg-buildpackage -us -uc -b" {
	run cat "$PKG_TMP/build.rc"
	[ "$output" = 0 ] || { tail -30 "$PKG_TMP/build.log"; return 1; }
	[ -f "$DEB" ]
}

@test "the package build keeps -D_FILE_OFFSET_BITS=64 and drops -Werror" {
	run grep -E '^(cc|gcc) .* -o build/bin/xs-publish ' "$PKG_TMP/build.log"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" -D_FILE_OFFSET_BITS=64 "* ]]
	[[ "$output" == *" -std=c99 "* ]]
	[[ "$output" == *"-fstack-protector-strong"* ]]
	[[ "$output" != *"-Werror "* ]]
}

@test "lintian reports no error and no warning on the package" {
	command -v lintian >/dev/null 2>&1 || skip "lintian not installed"
	# -I --pedantic to show everything; only errors and warnings fail.
	run lintian -I --pedantic --fail-on error,warning "$PKG_TMP"/src/xen-hotplug_*.changes
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"E: "* ]]
	[[ "$output" != *"W: "* ]]
}

@test "helpers and private libraries in /usr/lib/xen-hotplug, the block family as symlinks in /etc/xen/scripts" {
	run dpkg-deb -c "$DEB"
	[ "$status" -eq 0 ]
	for h in "$XHP_TOP"/helpers/*.c; do
		n=$(basename "$h" .c)
		[[ "$output" == *"-rwxr-xr-x root/root"*"./usr/lib/xen-hotplug/$n"$'\n'* ]] ||
			{ echo "helper $n missing"; return 1; }
	done
	for n in $SHARED; do
		[[ "$output" == *"-rw-r--r-- root/root"*"./usr/lib/xen-hotplug/$n"$'\n'* ]] ||
			{ echo "private library $n missing"; return 1; }
	done
	for n in $FAMILY $OURS; do
		[[ "$output" == *"./etc/xen/scripts/$n -> /usr/lib/xen-hotplug/scripts/$n"* ]] ||
			{ echo "no /etc/xen/scripts/$n symlink"; return 1; }
		[[ "$output" == *"./usr/lib/xen-hotplug/scripts/$n"$'\n'* ]]
	done
	# Nothing else in /etc/xen/scripts: the shared libraries are upstream's.
	run sh -c "dpkg-deb -c '$DEB' | sed -n 's|.* \./etc/xen/scripts/\([^ ]*\) -> .*|\1|p' | sort"
	[ "$output" = "$(words "$FAMILY $OURS")" ]
	# The one regular file under /etc, and the one conffile, is the
	# settings file: anything else would be kept on remove.
	run sh -c "dpkg-deb -c '$DEB' | grep '^-.* \./etc/'"
	[[ "$output" == *" ./etc/default/xen-hotplug" ]]
	[ "${#lines[@]}" -eq 1 ]
	mkdir -p "$BATS_TEST_TMPDIR/ctrl"
	dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/ctrl"
	[ "$(cat "$BATS_TEST_TMPDIR/ctrl/conffiles")" = /etc/default/xen-hotplug ]
}

@test "the package has the manual pages, the settings file and only the installed documentation" {
	run dpkg-deb -c "$DEB"
	for m in man7/xen-hotplug.7 man8/flock-wrap.8 man8/loop-detach.8 \
	    man8/xs-majmin.8 man8/xs-stat-path.8; do
		[[ "$output" == *"-rw-r--r-- root/root"*"./usr/share/man/$m.gz"* ]] ||
			{ echo "no $m"; return 1; }
	done
	[[ "$output" == *"./usr/share/doc/xen-hotplug/block-scripts.md"* ]]
	[[ "$output" == *"./usr/share/doc/xen-hotplug/copyright"* ]]
	# Developer pages and run logs are not installed.
	[[ "$output" != *"/e2e.md"* ]]
	[[ "$output" != *"/test-xenstored.md"* ]]
	[[ "$output" != *"/dev/"* ]]
	mkdir -p "$BATS_TEST_TMPDIR/x"
	dpkg-deb -x "$DEB" "$BATS_TEST_TMPDIR/x"
	cmp "$BATS_TEST_TMPDIR/x/etc/default/xen-hotplug" "$XHP_TOP/etc/default/xen-hotplug"
	# Every setting is commented out.
	run grep -v -e '^#' -e '^$' "$BATS_TEST_TMPDIR/x/etc/default/xen-hotplug"
	[ -z "$output" ]
	run cat "$BATS_TEST_TMPDIR/x/usr/lib/xen-hotplug/scripts/xen-hotplug-paths.sh"
	[[ "$output" == *'XEN_HOTPLUG_HELPERDIR="/usr/lib/xen-hotplug"'* ]]
	[[ "$output" == *'XEN_HOTPLUG_LIBDIR="/usr/lib/xen-hotplug"'* ]]
}

@test "the maintainer scripts divert exactly the block family" {
	mkdir -p "$BATS_TEST_TMPDIR/ctrl"
	dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/ctrl"
	for s in preinst postrm; do
		listed=$(sed -n 's/^[[:space:]]*for name in \(.*\); do$/\1/p' "$BATS_TEST_TMPDIR/ctrl/$s" |
			tr ' ' '\n' | sed '/^$/d' | sort)
		[ "$listed" = "$(words "$FAMILY")" ] ||
			{ echo "$s lists: $listed"; return 1; }
	done
}

@test "the files shared with xen-utils-common are the block family" {
	upstream_deb
	up=$(dpkg-deb -c "$UPSTREAM_DEB" | sed -n 's|.* \./etc/xen/scripts/\([^ ]*\)$|\1|p' | sort)
	ours=$(dpkg-deb -c "$DEB" | sed -n 's|.* \./etc/xen/scripts/\([^ ]*\) -> .*|\1|p' | sort)
	run comm -12 <(echo "$up") <(echo "$ours")
	echo "$output"
	# docs/packaging.md lists this overlap; update both together.
	[ "$output" = "$(words "$FAMILY")" ]
	# The shared libraries are upstream's (and ours live elsewhere).
	for n in $SHARED; do
		[[ "$up" == *"$n"* ]] || { echo "upstream has no $n"; return 1; }
	done
}

@test "installed beside xen-utils-common, the block family is ours and upstream's libraries stay upstream's" {
	upstream_root
	cmp "$R/etc/xen/scripts/block" "$UP/block"

	run dpkg_root -i "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$R/usr/lib/xen-hotplug/scripts/block" "$XHP_TOP/scripts/Linux/block"
	for n in $FAMILY; do
		ours "$n"
		cmp "$R/etc/xen/scripts/$n.xen-utils-common" "$UP/$n"
		run dpkg-divert --root="$R" --listpackage "/etc/xen/scripts/$n"
		[ "$output" = xen-hotplug ]
	done
	[ "$(diverted)" = "$(words "$FAMILY")" ]
	# Upstream's libraries, which its vif-* and others source, and its
	# other scripts stay where they were; ours are beside the helpers.
	for n in $SHARED vif-bridge vif-common.sh; do
		cmp "$R/etc/xen/scripts/$n" "$UP/$n"
		[ ! -e "$R/etc/xen/scripts/$n.xen-utils-common" ]
	done
	# Ours, private: Linux's own and the shared library (scripts/common).
	for n in $SHARED $PRIVATE; do
		f=$XHP_TOP/scripts/Linux/$n
		[ -f "$f" ] || f=$XHP_TOP/scripts/common/$n
		cmp "$R/usr/lib/xen-hotplug/$n" "$f"
		[ ! -e "$R/etc/xen/scripts/$n.xen-utils-common" ]
	done
	[ ! -e "$R/etc/xen/scripts/xhp-status.sh" ]
	[ -x "$R/usr/lib/xen-hotplug/flock-wrap" ]
	[ -f "$R/etc/default/xen-hotplug" ]
	run dpkg --root="$R" --verify xen-utils-common
	[ -z "$output" ]
}

@test "an upgrade of xen-utils-common while diverted lands beside ours, and removing ours then gives the new files back" {
	upstream_root
	upstream_upgrade_deb
	run dpkg_root -i "$DEB"
	[ "$status" -eq 0 ]

	# No question asked: stdin is closed.
	run dpkg_root -i "$UPGRADE_DEB" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${Version}' xen-utils-common)" == *+xhptest1 ]]
	# Ours stay in place; the new upstream block family is in NAME.xen-utils-common.
	for n in $FAMILY; do
		ours "$n"
		cmp "$R/etc/xen/scripts/$n.xen-utils-common" "$UP2/$n"
	done
	# The rest, shared libraries included, is upgraded in place.
	for n in $SHARED vif-bridge; do
		cmp "$R/etc/xen/scripts/$n" "$UP2/$n"
	done
	[ "$(diverted)" = "$(words "$FAMILY")" ]
	run dpkg --root="$R" --verify xen-utils-common
	[ -z "$output" ]

	run dpkg_root -r xen-hotplug
	[ "$status" -eq 0 ]
	[ -z "$(diverted)" ]
	for n in $FAMILY $SHARED vif-bridge; do
		cmp "$R/etc/xen/scripts/$n" "$UP2/$n"
		[ ! -e "$R/etc/xen/scripts/$n.xen-utils-common" ]
	done
	run dpkg --root="$R" --verify xen-utils-common
	[ -z "$output" ]
}

@test "an upgrade from 0.1.0 gives xen-utils-common back the shared libraries 0.1.0 diverted" {
	upstream_root
	old_deb
	before=$(snapshot)
	run dpkg_root -i "$OLD_DEB"
	[ "$status" -eq 0 ]
	[ "$(readlink "$R/etc/xen/scripts/locking.sh")" = /usr/lib/xen-hotplug/scripts/locking.sh ]
	[ -f "$R/etc/xen/scripts/locking.sh.xen-utils-common" ]

	run dpkg_root -i "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(diverted)" = "$(words "$FAMILY")" ]
	for n in $SHARED; do
		cmp "$R/etc/xen/scripts/$n" "$UP/$n"
		[ ! -e "$R/etc/xen/scripts/$n.xen-utils-common" ]
	done
	for n in $FAMILY $OURS; do ours "$n"; done
	[ ! -e "$R/usr/lib/xen-hotplug/scripts/locking.sh" ]
	run dpkg --root="$R" --verify xen-utils-common
	[ -z "$output" ]

	run dpkg_root -P xen-hotplug
	[ "$status" -eq 0 ]
	[ -z "$(diverted)" ]
	[ "$(snapshot)" = "$before" ]
}

@test "removing the package gives xen-utils-common its files back and leaves only the settings until purge" {
	upstream_root
	before=$(snapshot)
	run dpkg_root -i "$DEB"
	[ "$status" -eq 0 ]
	[ "$(snapshot)" != "$before" ]
	run dpkg_root -r xen-hotplug
	echo "$output"
	[ "$status" -eq 0 ]
	run dpkg-divert --root="$R" --list
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# A conffile stays until purge; nothing else of ours does.
	[ -f "$R/etc/default/xen-hotplug" ]
	[ "$(snapshot | grep -v '^\./etc/default/xen-hotplug ')" = "$before" ]
	run dpkg_root -P xen-hotplug
	[ "$status" -eq 0 ]
	[ "$(snapshot)" = "$before" ]
	run sh -c "ls '$R/var/lib/dpkg/info' | grep xen-hotplug"
	[ -z "$output" ]
}

@test "installed before xen-utils-common, the package still gets the block family and upstream the rest" {
	upstream_deb
	new_root
	run dpkg_root -i "$DEB"
	[ "$status" -eq 0 ]
	run dpkg_root -i "$UPSTREAM_DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	for n in $FAMILY; do
		ours "$n"
		cmp "$R/etc/xen/scripts/$n.xen-utils-common" "$UP/$n"
	done
	for n in $SHARED; do
		cmp "$R/etc/xen/scripts/$n" "$UP/$n"
	done
	run dpkg_root -P xen-hotplug
	[ "$status" -eq 0 ]
	for n in $FAMILY; do
		cmp "$R/etc/xen/scripts/$n" "$UP/$n"
	done
	[ -z "$(diverted)" ]
}

@test "installed and purged without xen-utils-common, the package leaves an empty tree" {
	new_root
	before=$(snapshot)
	run dpkg_root -i "$DEB"
	[ "$status" -eq 0 ]
	ours block
	[ ! -e "$R/etc/xen/scripts/block.xen-utils-common" ]
	run dpkg_root -P xen-hotplug
	[ "$status" -eq 0 ]
	run dpkg-divert --root="$R" --list
	[ -z "$output" ]
	[ "$(snapshot)" = "$before" ]
}
