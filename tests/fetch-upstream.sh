#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# fetch-upstream.sh [PACKAGE]: put a Debian package that ships Xen hotplug
# scripts in a cache directory at test time and print the directory that
# holds its scripts (.../etc/xen/scripts). PACKAGE is xen-utils-common
# (upstream Xen's hotplug scripts; the default) or another package with
# files in /etc/xen/scripts (drbd-utils: block-drbd).
#
# Either Debian release, whatever the host runs (UPSTREAM_SUITE):
#   bookworm  Debian 12, xen-utils-common 4.17 (the default)
#   trixie    Debian 13, xen-utils-common 4.20
# The package comes from the suite's archive (SUITE, SUITE-updates,
# SUITE-security) through apt-get with a private state directory in the
# cache: the host's package lists and sources play no part, no root is
# needed, and apt verifies the download as it always does (the InRelease
# signature against the Debian archive keyring, the Packages index's hash
# in it, the .deb's SHA256 in that index).
#
# The packages are downloaded, never committed: their scripts are only run
# and read by the suites that test against upstream (tests/compat/*.bats,
# the interlock tests of tests/helpers/flock-wrap.bats,
# tests/scripts/locking.bats and tests/scripts/block.bats through
# test_helper's upstream_dir, and tests/stress), never copied into this
# project.
#
# Environment:
#   UPSTREAM_SUITE      bookworm or trixie (above)
#   XHP_UPSTREAM_DEB    a xen-utils-common .deb to use instead of
#                       downloading one, for the suite of its Xen series
#                       (4.17: bookworm, 4.20: trixie); a fetch for the
#                       other suite or another package downloads as usual
#   XHP_UPSTREAM_CACHE  cache directory (default
#                       ${XDG_CACHE_HOME:-$HOME/.cache}/xen-hotplug/upstream)
#   XHP_UPSTREAM_MIRROR           default http://deb.debian.org/debian
#   XHP_UPSTREAM_SECURITY_MIRROR  default http://deb.debian.org/debian-security
#   XHP_UPSTREAM_KEYRING          default /usr/share/keyrings/debian-archive-keyring.gpg
#
# Cache layout, per suite and package:
#   CACHE/SUITE/apt/               apt's sources, lists and archives
#   CACHE/SUITE/PACKAGE/tree/      the unpacked package
#   CACHE/SUITE/PACKAGE/upstream.deb  the package itself (the packaging
#                                  suite installs it into a scratch root)
#   CACHE/SUITE/PACKAGE/stamp      its Version, written last
#
# Exit: 0 and the scripts directory on stdout; 1 and one line on stderr when
# no copy can be had (offline, no apt, an unknown suite), so callers can
# skip visibly.
set -u

prog=fetch-upstream.sh
fail() {
	printf '%s: fatal: %s\n' "$prog" "$*" >&2
	exit 1
}

suite=${UPSTREAM_SUITE:-bookworm}
case $suite in
bookworm) series=4.17 ;;
trixie) series=4.20 ;;
*) fail "UPSTREAM_SUITE=$suite: not bookworm (Debian 12, Xen 4.17) or trixie (Debian 13, Xen 4.20)" ;;
esac
pkg=${1:-xen-utils-common}
case $pkg in
[a-z0-9]*[a-z0-9]) ;;
*) fail "'$pkg' is not a Debian package name" ;;
esac
case $pkg in
*[!a-z0-9.+-]*) fail "'$pkg' is not a Debian package name" ;;
esac

base=${XHP_UPSTREAM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/xen-hotplug/upstream}
sdir=$base/$suite
pdir=$sdir/$pkg
tree=$pdir/tree
scripts=$tree/etc/xen/scripts

# given: the .deb XHP_UPSTREAM_DEB names, if it is this suite's
# xen-utils-common.
given=
if [ -n "${XHP_UPSTREAM_DEB:-}" ] && [ "$pkg" = xen-utils-common ]; then
	v=$(dpkg-deb -f "$XHP_UPSTREAM_DEB" Version 2>/dev/null) ||
		fail "XHP_UPSTREAM_DEB=$XHP_UPSTREAM_DEB: not a .deb"
	case $v in
	"$series".*) given=$XHP_UPSTREAM_DEB ;;
	esac
fi

# cached: the cache is complete (and holds the given .deb, if any); print
# the scripts directory.
cached() {
	[ -f "$pdir/stamp" ] && [ -f "$pdir/upstream.deb" ] && [ -d "$scripts" ] ||
		return 1
	[ "$pkg" != xen-utils-common ] || [ -f "$scripts/block-common.sh" ] || return 1
	[ -z "$given" ] || cmp -s "$given" "$pdir/upstream.deb" || return 1
	printf '%s\n' "$scripts"
}

cached && exit 0

mkdir -p "$pdir" || fail "unable to create $pdir"

# One fetch at a time per suite (the apt state is shared by its packages):
# suites, and other runs on the machine sharing the cache, must not unpack
# over a tree another is reading. The one that waited finds it complete.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$sdir/.lock"
	flock -w 600 9 || fail "unable to lock $sdir/.lock within 600 s"
	cached && exit 0
fi

# download: apt-get download PACKAGE from the suite's archive into $pdir;
# sets deb.
download() {
	command -v apt-get >/dev/null 2>&1 ||
		fail "unable to download $pkg ($suite): no apt-get"
	apt=$sdir/apt
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/cache" "$apt/parts" ||
		fail "unable to create $apt"
	keyring=${XHP_UPSTREAM_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
	opt=
	[ ! -f "$keyring" ] || opt=" [signed-by=$keyring]"
	mirror=${XHP_UPSTREAM_MIRROR:-http://deb.debian.org/debian}
	security=${XHP_UPSTREAM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
	printf 'deb%s %s %s main\n' \
		"$opt" "$mirror" "$suite" \
		"$opt" "$mirror" "$suite-updates" \
		"$opt" "$security" "$suite-security" > "$apt/sources.list"
	: > "$apt/status"
	# The host's apt.conf.d still applies (a proxy, say); its sources,
	# preferences, lists and dpkg status do not.
	set -- -q -o "Dir::Etc::SourceList=$apt/sources.list" \
		-o "Dir::Etc::SourceParts=$apt/parts" \
		-o "Dir::Etc::Preferences=$apt/parts/none" \
		-o "Dir::Etc::PreferencesParts=$apt/parts" \
		-o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status" \
		-o "Dir::Cache=$apt/cache" -o "Dir::Cache::Archives=$apt/archives" \
		-o Acquire::Languages=none -o Acquire::Retries=3 \
		-o Acquire::http::Timeout=60
	# Root would hand the download to the _apt user, who cannot write here.
	[ "$(id -u)" -ne 0 ] || set -- "$@" -o APT::Sandbox::User=root
	rm -f "$pdir"/*_*.deb
	# apt-get download writes into the current directory; the subshell
	# keeps ours. The lists of an earlier fetch are tried first; they are
	# refreshed when they are missing or the package is not found (it may
	# have been superseded and left the archive since).
	warn=
	lists=
	for f in "$apt"/lists/*_InRelease; do
		[ -f "$f" ] && lists=1
	done
	if [ -z "$lists" ] || ! (cd "$pdir" && apt-get "$@" download "$pkg") >/dev/null 2>&1; then
		log=$(apt-get "$@" update 2>&1) ||
			fail "unable to download $pkg ($suite): apt-get update: $(printf '%s' "$log" | tail -n 1)"
		# A list that could not be had or verified is only a warning
		# to apt-get update; it explains a failure to locate the
		# package below.
		warn=$(printf '%s\n' "$log" | grep -e '^E: ' -e '^W: ' | grep -v -i sandbox | head -n 1)
		log=$(cd "$pdir" && apt-get "$@" download "$pkg" 2>&1) ||
			fail "unable to download $pkg ($suite): $(printf '%s' "$log" | tail -n 1)${warn:+ (apt-get update: $warn)}"
	fi
	deb=
	for f in "$pdir"/"$pkg"_*.deb; do
		[ -f "$f" ] && deb=$f
	done
	[ -n "$deb" ] || fail "unable to download $pkg ($suite): no .deb after apt-get download"
}

if [ -n "$given" ]; then
	deb=$given
else
	download
fi

[ "$(dpkg-deb -f "$deb" Package 2>/dev/null)" = "$pkg" ] ||
	fail "$deb is not a $pkg package"
version=$(dpkg-deb -f "$deb" Version)
if [ "$pkg" = xen-utils-common ]; then
	case $version in
	"$series".*) ;;
	*) fail "$deb is xen-utils-common $version, not $series as in $suite" ;;
	esac
fi

# Unpacked aside and renamed into place: a reader never sees half a tree.
rm -rf "$tree" "$tree.new" "$pdir/stamp"
if ! dpkg-deb -x "$deb" "$tree.new" 2>/dev/null || [ ! -d "$tree.new/etc/xen/scripts" ]; then
	rm -rf "$tree.new"
	fail "unable to unpack $deb, or it has no /etc/xen/scripts"
fi
mv "$tree.new" "$tree" || fail "unable to rename $tree.new"
if [ "$deb" != "$pdir/upstream.deb" ]; then
	cp "$deb" "$pdir/upstream.deb" || fail "unable to copy $deb to $pdir"
fi
[ "$deb" = "$given" ] || rm -f "$deb"
printf '%s\n' "$version" > "$pdir/stamp"
cached || fail "the cache in $pdir is incomplete after unpacking $deb"
