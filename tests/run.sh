#!/bin/sh
# Runs the fast test tier (make check) and prints one "N passed, N failed"
# line. The suites are laid out by kind:
#   tests/helpers/    one suite per C helper (and the test xenstore)
#   tests/scripts/    the shell scripts and libraries
#   tests/compat/     against upstream's scripts (downloaded at test time)
#   tests/packaging/  build, install, lint, the Debian package
#   tests/stress/     the short stress run (make stress is the long one)
#   bench/bench.bats  the benchmark tools' own suite
# Suites that run scripts (scripts, compat/upstream-consumers, stress) run
# once per shell in TEST_SHELLS (dash, bash, busybox sh); the rest once.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
shells=${TEST_SHELLS:-dash bash busybox}
out=${TMPDIR:-/tmp}/xen-hotplug-check.$$
: > "$out"
status=0

run_bats() {
	# $1 label, rest: files
	label=$1; shift
	[ "$#" -gt 0 ] || return 0
	printf '### %s\n' "$label"
	bats --tap "$@" | tee -a "$out" || status=1
}

# shellcheck disable=SC2046 # word splitting of the file list is intended
run_bats once $(ls "$top"/tests/helpers/*.bats "$top"/tests/packaging/*.bats \
    "$top"/tests/compat/api-compat.bats "$top"/bench/*.bats 2>/dev/null)
for s in $shells; do
	case $s in
	busybox) HOTPLUG_SH='busybox sh' ;;
	*) HOTPLUG_SH=$s ;;
	esac
	export HOTPLUG_SH
	# shellcheck disable=SC2046
	run_bats "scripts under $HOTPLUG_SH" $(ls "$top"/tests/scripts/*.bats \
	    "$top"/tests/compat/upstream-consumers.bats \
	    "$top"/tests/stress/stress-short.bats 2>/dev/null)
done

passed=$(grep -c '^ok ' "$out")
skipped=$(grep -c '^ok .*# skip' "$out")
failed=$(grep -c '^not ok ' "$out")
rm -f "$out"
passed=$((passed - skipped))
[ "$failed" -eq 0 ] || status=1
printf '\ncheck: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
exit "$status"
