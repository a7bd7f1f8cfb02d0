#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# fetch-upstream.sh: put Debian's xen-utils-common (upstream Xen's hotplug
# scripts) in a cache directory at test time and print the directory that
# holds its scripts (.../etc/xen/scripts).
#
# The package is downloaded, never committed: its scripts are only run and
# read by the suites that test against upstream (tests/compat/*.bats, the
# interlock tests of tests/helpers/flock-wrap.bats, tests/scripts/locking.bats
# and tests/scripts/block.bats through test_helper's upstream_dir, and
# tests/stress), never copied into this project.
#
# Environment:
#   XHP_UPSTREAM_DEB    use this .deb instead of downloading one
#   XHP_UPSTREAM_CACHE  cache directory
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/xen-hotplug/upstream)
#
# The package itself is kept as $XHP_UPSTREAM_CACHE/upstream.deb (the
# packaging suite installs it into a scratch root).
#
# Exit: 0 and the scripts directory on stdout; 1 and one line on stderr when
# no copy can be had (offline, no apt), so callers can skip visibly.
set -u

prog=fetch-upstream.sh
cache=${XHP_UPSTREAM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/xen-hotplug/upstream}
tree=$cache/tree
scripts=$tree/etc/xen/scripts

# cached: the cache is complete; print the scripts directory.
cached() {
	[ -f "$scripts/block-common.sh" ] && [ -f "$cache/stamp" ] &&
		[ -f "$cache/upstream.deb" ] && printf '%s\n' "$scripts"
}

cached && exit 0

mkdir -p "$cache" || {
	printf '%s: fatal: unable to create %s\n' "$prog" "$cache" >&2
	exit 1
}

# One fetch at a time per cache: suites (and other runs on the machine
# sharing the cache) must not unpack over a tree another is reading. The
# one that waited finds the tree complete.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/.lock"
	flock -w 600 9 || {
		printf '%s: fatal: unable to lock %s/.lock within 600 s\n' "$prog" "$cache" >&2
		exit 1
	}
	cached && exit 0
fi

deb=${XHP_UPSTREAM_DEB:-}
if [ -z "$deb" ]; then
	command -v apt-get >/dev/null 2>&1 || {
		printf '%s: fatal: unable to download xen-utils-common: no apt-get\n' "$prog" >&2
		exit 1
	}
	# apt-get download writes into the current directory; the subshell
	# keeps the caller's cwd.
	if ! log=$(cd "$cache" && apt-get download -q xen-utils-common 2>&1); then
		# A fresh machine may never have fetched the package lists.
		if [ "$(id -u)" -eq 0 ]; then
			apt-get update -q >/dev/null 2>&1
			log=$(cd "$cache" && apt-get download -q xen-utils-common 2>&1)
		fi
	fi
	deb=
	for f in "$cache"/xen-utils-common_*.deb; do
		[ -f "$f" ] && deb=$f
	done
	if [ -z "$deb" ]; then
		printf '%s: fatal: unable to download xen-utils-common: %s\n' "$prog" \
			"$(printf '%s' "$log" | tail -n 1)" >&2
		exit 1
	fi
fi

rm -rf "$tree" "$cache/stamp"
if ! dpkg-deb -x "$deb" "$tree" 2>/dev/null || [ ! -f "$scripts/block-common.sh" ]; then
	printf '%s: fatal: unable to unpack %s\n' "$prog" "$deb" >&2
	exit 1
fi
if [ "$deb" != "$cache/upstream.deb" ]; then
	cp "$deb" "$cache/upstream.deb" || exit 1
fi
dpkg-deb -f "$deb" Version > "$cache/stamp"
printf '%s\n' "$scripts"
