#!/bin/sh
# tests/fuzz/run.sh (make fuzz): runs each libFuzzer binary given as an
# argument for FUZZ_TIME seconds (default 30), from its seed corpus
# tests/fuzz/corpus/NAME (NAME: the binary's name without "_fuzz"; used
# read-only) plus a work corpus build/fuzz/corpus/NAME that keeps what
# libFuzzer finds between runs. Crash, leak and timeout artefacts go to
# tests/fuzz/out/NAME/ (git-ignored). Prints one line per target with its
# executions, and fails if any target found something.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
time=${FUZZ_TIME:-30}
status=0
total=0
[ "$#" -gt 0 ] || { echo "usage: run.sh FUZZER..." >&2; exit 100; }
printf '%-24s %12s %8s  %s\n' target executions seconds result
for f in "$@"; do
	name=${f##*/}
	seeds=$top/tests/fuzz/corpus/${name%_fuzz}
	work=$top/build/fuzz/corpus/${name%_fuzz}
	out=$top/tests/fuzz/out/$name
	mkdir -p "$work" "$out" || exit 1
	set -- "$work"
	[ ! -d "$seeds" ] || set -- "$work" "$seeds"
	log=$top/build/fuzz/$name.log
	rc=0
	"$f" -max_total_time="$time" -timeout=10 -rss_limit_mb=1024 \
	    -print_final_stats=1 -artifact_prefix="$out/" "$@" >"$log" 2>&1 ||
	    rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc, see $log, artefacts in $out)"
		status=1
	fi
	total=$((total + ${runs:-0}))
	printf '%-24s %12s %8s  %s\n' "$name" "${runs:-?}" "$time" "$result"
	[ -n "$(ls -A "$out")" ] || rmdir "$out"
	[ "$rc" -eq 0 ] || tail -n 30 "$log" >&2
done
printf 'fuzz: %s executions in total\n' "$total"
exit "$status"
