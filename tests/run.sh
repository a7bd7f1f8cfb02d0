#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Runs the fast test tier (make check) and prints one "N passed, N failed,
# N skipped" line. The suites are laid out by kind:
#   tests/helpers/    one suite per C helper (and the test xenstore)
#   tests/scripts/    the shell scripts and libraries
#   tests/compat/     against upstream's scripts (downloaded at test time)
#   tests/packaging/  build, install, lint, the Debian package
#   tests/stress/     the short stress run (make stress is the long one)
#   bench/bench.bats  the benchmark tools' own suite
# Suites that run scripts (scripts, compat/upstream-consumers, stress) run
# once per shell in TEST_SHELLS (dash, bash, busybox sh); the rest once.
#
# run.sh --quick (make check-quick; or CHECK_QUICK=1): the hermetic subset,
# for contributors and Debian's dh_auto_test: only the tests that need
# neither root nor the network, whoever runs it. A suite whose setup()
# calls require_root (or script_setup, loop_setup), or that runs tests/fetch-upstream.sh itself (the
# network), is left out whole; in the suites that stay, a test
# that calls require_root or upstream_dir is not run (test_helper skips it
# with a reason starting "check-quick:"). Those tests are not counted in
# the closing line: it counts the quick tests alone, and the line before it
# says how many were left to make check.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
shells=${TEST_SHELLS:-dash bash busybox}
quick=${CHECK_QUICK:-}
[ "${1:-}" != --quick ] || quick=1
out=${TMPDIR:-/tmp}/xen-hotplug-check.$$
: > "$out"
status=0

# pick FILE...: the files that exist; with --quick, those whose setup() does
# not call require_root (itself, or through test_helper's script_setup or
# loop_setup) and that do not run tests/fetch-upstream.sh
# themselves (test_helper's upstream_dir is the per-test way).
pick() {
	for f in "$@"; do
		[ -f "$f" ] || continue
		if [ -n "$quick" ]; then
			sed -n '/^setup() *{/,/^}/p' "$f" |
			    grep -q -e require_root -e script_setup -e loop_setup && continue
			# shellcheck disable=SC2016 # the text of the call, not its value
			grep -q 'sh "$XHP_TOP/tests/fetch-upstream.sh"' "$f" && continue
		fi
		printf '%s\n' "$f"
	done
}

run_bats() {
	# $1 label, rest: files
	label=$1; shift
	[ "$#" -gt 0 ] || return 0
	printf '### %s\n' "$label"
	bats --tap "$@" | tee -a "$out" || status=1
}

if [ -n "$quick" ]; then
	XHP_QUICK=1
	export XHP_QUICK
fi

# shellcheck disable=SC2046 # word splitting of the file list is intended
run_bats once $(pick "$top"/tests/helpers/*.bats "$top"/tests/packaging/*.bats \
    "$top"/tests/compat/api-compat.bats "$top"/bench/*.bats)
for s in $shells; do
	case $s in
	busybox) HOTPLUG_SH='busybox sh' ;;
	*) HOTPLUG_SH=$s ;;
	esac
	export HOTPLUG_SH
	# shellcheck disable=SC2046
	run_bats "scripts under $HOTPLUG_SH" $(pick "$top"/tests/scripts/*.bats \
	    "$top"/tests/compat/upstream-consumers.bats \
	    "$top"/tests/stress/stress-short.bats)
done

passed=$(grep -c '^ok ' "$out")
skipped=$(grep -c '^ok .*# skip' "$out")
notquick=$(grep -c '^ok .*# skip check-quick:' "$out")
failed=$(grep -c '^not ok ' "$out")
rm -f "$out"
passed=$((passed - skipped))
skipped=$((skipped - notquick))
[ "$failed" -eq 0 ] || status=1
if [ -n "$quick" ]; then
	printf '\ncheck-quick: %s tests in these suites need root or the network, not run here (make check runs them)\n' "$notquick"
	printf 'check-quick: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
else
	printf '\ncheck: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
fi
exit "$status"
