#!/bin/sh
# run.sh: `make stress`. Runs tests/stress/concurrency.sh and
# tests/stress/faults.sh under each shell, prints the problems found and
# the figures, and keeps the full logs in build/stress/.
#
# Environment (from mk/stress.mk): STRESS_SHELLS, STRESS_ROUNDS,
# STRESS_WRITERS, STRESS_KILLS, STRESS_POINTS, STRESS_UPSTREAM,
# STRESS_KILLPCT, STRESS_SEED.
# The first shell gets the long run, the others a quarter of it.
# Exit: 0 when every run passed, 1 otherwise.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/stress
mkdir -p "$out" || exit 1
seed=${STRESS_SEED:-}
[ -n "$seed" ] || seed=$(date +%s)
rounds=${STRESS_ROUNDS:-40}
writers=${STRESS_WRITERS:-16}
kills=${STRESS_KILLS:-120}
points=${STRESS_POINTS:-5}
status=0
first=1
: >"$out/figures"
for s in ${STRESS_SHELLS:-dash bash busybox}; do
	case $s in
	busybox) sh='busybox sh' ;;
	*) sh=$s ;;
	esac
	if [ "$first" -eq 1 ]; then
		r=$rounds k=$kills p=$points
	else
		r=$((rounds / 4 + 1)) k=$((kills / 4 + 1)) p=1
	fi
	first=0
	log=$out/concurrency-$s.log
	printf '### concurrency under %s: %s rounds of %s adds (log: %s)\n' "$sh" "$r" "$writers" "$log"
	HOTPLUG_SH=$sh sh "$top/tests/stress/concurrency.sh" -r "$r" -w "$writers" \
	    -s "$seed" -u "${STRESS_UPSTREAM:-yes}" -k "${STRESS_KILLPCT:-15}" \
	    >"$log" 2>&1 || status=1
	# Problems only; upstream's own misses are figures, not failures.
	grep -E '^round [0-9]+: (violation|spurious|error|loop devices left|half)|fatal' "$log"
	grep '^stress: ' "$log" | tee -a "$out/figures"
	grep -q '^stress: rounds=' "$log" || status=1
	log=$out/faults-$s.log
	printf '### faults under %s: %s random kills, %s rounds of fixed kill points (log: %s)\n' "$sh" "$k" "$p" "$log"
	HOTPLUG_SH=$sh sh "$top/tests/stress/faults.sh" -n "$k" -d "$p" -s "$seed" \
	    >"$log" 2>&1 || status=1
	grep -v -E '^cycle .* half=0 failed=0 leaks=0$|^faults: ' "$log"
	grep '^faults: ' "$log" | tee -a "$out/figures"
	grep -q '^faults: kills_tried=' "$log" || status=1
done
echo
echo "### figures"
cat "$out/figures"
if [ "$status" -eq 0 ]; then
	echo "stress: PASS"
else
	echo "stress: FAIL"
fi
exit "$status"
