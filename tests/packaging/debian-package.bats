#!/usr/bin/env bats
# The Debian package (debian/, docs/packaging.md): it builds with
# dpkg-buildpackage, lintian is clean, and installing it beside
# xen-utils-common makes /etc/xen/scripts/block ours while removing it gives
# upstream its files back and leaves nothing of ours.
#
# Nothing here touches the host's dpkg database: the package is installed
# with `dpkg --root` into a scratch tree, and its maintainer scripts run
# with --force-script-chrootless, so their dpkg-divert calls act on that
# tree through DPKG_ROOT.

load ../test_helper

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

@test "lintian reports no error and no warning on the package" {
	command -v lintian >/dev/null 2>&1 || skip "lintian not installed"
	run lintian --fail-on error,warning "$PKG_TMP"/src/xen-hotplug_*.changes
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"E: "* ]]
	[[ "$output" != *"W: "* ]]
}

@test "helpers go to /usr/lib/xen-hotplug and each script is a symlink in /etc/xen/scripts" {
	run dpkg-deb -c "$DEB"
	[ "$status" -eq 0 ]
	for h in "$XHP_TOP"/helpers/*.c; do
		n=$(basename "$h" .c)
		[[ "$output" == *"-rwxr-xr-x root/root"*"./usr/lib/xen-hotplug/$n"* ]] ||
			{ echo "helper $n missing"; return 1; }
	done
	for s in "$XHP_TOP"/scripts/Linux/*; do
		n=$(basename "$s")
		[[ "$output" == *"./etc/xen/scripts/$n -> /usr/lib/xen-hotplug/scripts/$n"* ]] ||
			{ echo "no /etc/xen/scripts/$n symlink"; return 1; }
		[[ "$output" == *"./usr/lib/xen-hotplug/scripts/$n"$'\n'* ]]
	done
	# No regular file under /etc: it would be a conffile, kept on remove.
	run sh -c "dpkg-deb -c '$DEB' | grep '^-.* \./etc/'"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "the maintainer scripts divert every name the package puts in /etc/xen/scripts" {
	ours=$(dpkg-deb -c "$DEB" | sed -n 's|.* \./etc/xen/scripts/\([^ ]*\) -> .*|\1|p' | sort)
	[ -n "$ours" ]
	mkdir -p "$BATS_TEST_TMPDIR/ctrl"
	dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/ctrl"
	for s in preinst postrm; do
		listed=$(sed -n 's/^[[:space:]]*for name in \(.*\); do$/\1/p' "$BATS_TEST_TMPDIR/ctrl/$s" |
			tr ' ' '\n' | sed '/^$/d' | sort)
		[ "$listed" = "$ours" ] || { echo "$s lists: $listed"; echo "package has: $ours"; return 1; }
	done
}

@test "the files shared with xen-utils-common are the block family and its libraries" {
	upstream_deb
	up=$(dpkg-deb -c "$UPSTREAM_DEB" | sed -n 's|.* \./etc/xen/scripts/\([^ ]*\)$|\1|p' | sort)
	ours=$(dpkg-deb -c "$DEB" | sed -n 's|.* \./etc/xen/scripts/\([^ ]*\) -> .*|\1|p' | sort)
	run comm -12 <(echo "$up") <(echo "$ours")
	echo "$output"
	# docs/packaging.md lists this overlap; update both together.
	[ "$output" = "$(printf '%s\n' block block-common.sh block-dummy block-iscsi \
		block-tap locking.sh logging.sh xen-hotplug-common.sh xen-script-common.sh)" ]
}

@test "installed beside xen-utils-common, /etc/xen/scripts/block is ours and upstream's is diverted" {
	upstream_deb
	new_root
	run dpkg_root -i "$UPSTREAM_DEB"
	[ "$status" -eq 0 ]
	cmp "$R/etc/xen/scripts/block" "$BATS_TEST_TMPDIR/xuc/etc/xen/scripts/block"

	run dpkg_root -i "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(readlink "$R/etc/xen/scripts/block")" = /usr/lib/xen-hotplug/scripts/block ]
	cmp "$R/usr/lib/xen-hotplug/scripts/block" "$XHP_TOP/scripts/Linux/block"
	cmp "$R/etc/xen/scripts/block.xen-utils-common" "$BATS_TEST_TMPDIR/xuc/etc/xen/scripts/block"
	run dpkg-divert --root="$R" --listpackage /etc/xen/scripts/block
	[ "$output" = xen-hotplug ]
	# Upstream files we do not replace stay where they were.
	cmp "$R/etc/xen/scripts/vif-bridge" "$BATS_TEST_TMPDIR/xuc/etc/xen/scripts/vif-bridge"
	[ -x "$R/usr/lib/xen-hotplug/flock-wrap" ]
	run cat "$R/usr/lib/xen-hotplug/scripts/xen-hotplug-paths.sh"
	[[ "$output" == *'XEN_HOTPLUG_HELPERDIR="/usr/lib/xen-hotplug"'* ]]
}

@test "removing the package gives xen-utils-common its files back and leaves nothing of ours" {
	upstream_deb
	new_root
	dpkg_root -i "$UPSTREAM_DEB" >/dev/null
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
	[ "$(snapshot)" = "$before" ]
	run dpkg_root -P xen-hotplug
	[ "$status" -eq 0 ]
	[ "$(snapshot)" = "$before" ]
	run sh -c "ls '$R/var/lib/dpkg/info' | grep xen-hotplug"
	[ -z "$output" ]
}

@test "installed and purged without xen-utils-common, the package leaves an empty tree" {
	new_root
	before=$(snapshot)
	run dpkg_root -i "$DEB"
	[ "$status" -eq 0 ]
	[ -L "$R/etc/xen/scripts/block" ]
	[ ! -e "$R/etc/xen/scripts/block.xen-utils-common" ]
	run dpkg_root -P xen-hotplug
	[ "$status" -eq 0 ]
	run dpkg-divert --root="$R" --list
	[ -z "$output" ]
	[ "$(snapshot)" = "$before" ]
}
