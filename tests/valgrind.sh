#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# tests/valgrind.sh (make valgrind): the helper suites (tests/helpers/<helper>.bats
# for every helpers/<helper>.c) with every helper run under valgrind
# memcheck. A directory of wrappers, one per helper, takes the place of
# build/bin (XHP_BIN, and through it PATH and XEN_HOTPLUG_HELPERDIR). A
# memory error or a definite or indirect leak makes the helper exit 99,
# which no test expects, and leaves a report in build/valgrind/log; the
# run fails if any report is there, even from a helper whose failure a
# test expected.
#
# Environment: VALGRIND_SUITES  suites to run (default: one per helper)
#              VALGRIND         the valgrind command (default valgrind)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/valgrind
bin=$out/bin
logs=$out/log
vg=${VALGRIND:-valgrind}

command -v "$vg" >/dev/null 2>&1 || {
	echo "valgrind: $vg is not installed" >&2
	exit 1
}
rm -rf "$out"
mkdir -p "$bin" "$logs" || exit 1
for h in "$top"/helpers/*.c; do
	h=${h##*/}
	h=${h%.c}
	[ -x "$top/build/bin/$h" ] || {
		echo "valgrind: $top/build/bin/$h is not built (run make)" >&2
		exit 1
	}
	# exec keeps the pid: suites that check who holds a lock see the
	# helper's own pid. The log is kept only when it holds a report.
	{
		printf '#!/bin/sh\n'
		printf 'exec %s -q --error-exitcode=99 --leak-check=full \\\n' "$vg"
		printf '    --errors-for-leak-kinds=definite,indirect \\\n'
		printf '    --show-leak-kinds=definite,indirect \\\n'
		printf "    --log-file='%s/%s.%%p' '%s' \"\$@\"\n" "$logs" "$h" \
		    "$top/build/bin/$h"
	} >"$bin/$h" && chmod 0755 "$bin/$h" || exit 1
done

if [ -z "${VALGRIND_SUITES:-}" ]; then
	VALGRIND_SUITES=
	for h in "$bin"/*; do
		s=$top/tests/helpers/${h##*/}.bats
		[ ! -f "$s" ] || VALGRIND_SUITES="$VALGRIND_SUITES $s"
	done
fi

status=0
# shellcheck disable=SC2086 # the suite list is split on purpose
XHP_BIN=$bin bats --tap $VALGRIND_SUITES | tee "$out/tap"

# valgrind writes a log for every run; an empty one (-q) means clean.
# It also notes, as a warning and not an error, the loop ioctls it has no
# model of (LOOP_SET_FD, LOOP_CLR_FD, LOOP_CONFIGURE, LOOP_GET_STATUS64,
# LOOP_CTL_GET_FREE...: 0x4cNN): those
# three-line notes are dropped. An uninitialised-value error they could
# cause would still be an error, and still be counted.
runs=$(find "$logs" -type f | wc -l)
for f in "$logs"/*; do
	[ -s "$f" ] || continue
	grep -v -e 'Warning: noted but unhandled ioctl 0x4c[0-9a-f]* ' \
	    -e 'This could cause spurious value errors to appear' \
	    -e 'See README_MISSING_SYSCALL_OR_IOCTL' "$f" >"$f.kept"
	mv "$f.kept" "$f"
done
find "$logs" -type f -empty -delete
reports=$(find "$logs" -type f | wc -l)
if [ "$reports" -ne 0 ]; then
	status=1
	echo "valgrind: $reports helper runs with errors or leaks:" >&2
	for f in "$logs"/*; do
		printf '== %s\n' "${f##*/}" >&2
		head -n 30 "$f" >&2
	done
fi
# Tests that race a wall clock: an upper bound on elapsed time, a holder
# that keeps the lock for only 1 or 1.5 s while the helper is expected to
# find it held, or a waiter expected to be waiting 0.2 s after its start. valgrind's start-up (a second or more a run on a loaded
# machine) breaks the clock, not the helper. Their failure is listed, not
# counted; the memory check of every helper run in them still counts.
timing='a held lock makes a second locker give up after exactly the wait, naming the holder
a fractional wait is honoured
-w 0 tries once and does not wait
SIGKILL of the holder frees the lock immediately
flock-wrap waits while upstream'"'"'s claim_lock holds the lock
a lock file unlinked and replaced while we wait is reopened: we wait for the new holder
upstream'"'"'s claim_lock and xs-publish exclude each other
a held lock is waited for at most -w, then exit 1 naming the holder, stdout empty'
# A suite that died half-way shows as fewer results than planned.
planned=$(sed -n 's/^1\.\.//p' "$out/tap" | head -n 1)
done_n=$(grep -c '^\(not \)\{0,1\}ok ' "$out/tap")
if [ "${planned:-0}" -eq 0 ] || [ "$done_n" -ne "$planned" ]; then
	echo "valgrind: $done_n results for ${planned:-no} planned tests" >&2
	status=1
fi
failed=0
grep '^not ok' "$out/tap" | sed 's/^not ok [0-9]* //; s/ # .*//' >"$out/failed"
while IFS= read -r t; do
	if printf '%s\n' "$timing" | grep -qxF -- "$t"; then
		echo "valgrind: races the clock under valgrind (not counted): $t"
	else
		failed=$((failed + 1))
		status=1
	fi
done <"$out/failed"
printf 'valgrind: %s helper runs under valgrind, %s tests failed, %s runs with reports\n' \
    "$runs" "$failed" "$reports"
exit "$status"
