#!/bin/sh
# tests/valgrind.sh (make valgrind): the helper suites (tests/unit/<helper>.bats
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
		s=$top/tests/unit/${h##*/}.bats
		[ ! -f "$s" ] || VALGRIND_SUITES="$VALGRIND_SUITES $s"
	done
fi

status=0
# shellcheck disable=SC2086 # the suite list is split on purpose
XHP_BIN=$bin bats --tap $VALGRIND_SUITES | tee "$out/tap" || status=1

# valgrind writes a log for every run; an empty one (-q) means clean.
runs=$(find "$logs" -type f | wc -l)
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
failed=$(grep -c '^not ok' "$out/tap")
printf 'valgrind: %s helper runs under valgrind, %s tests failed, %s runs with reports\n' \
    "$runs" "$failed" "$reports"
exit "$status"
