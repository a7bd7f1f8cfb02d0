#!/bin/sh
# faults.sh: SIGKILL `block add` and `block remove` as libxl does after its
# timeout (the script's pid only), at random moments and at fixed kill
# points, then check that nothing is left broken (tests/stress/lib.sh,
# st_kill_cycle): no half-written backend, no stuck lock, no loop device
# left after the following remove.
#
# Usage: faults.sh [-n RANDOM_KILLS] [-d ROUNDS_OF_FIXED_POINTS] [-s SEED]
#   -n  kills at random moments, add and remove alternately (default 40)
#   -d  rounds over every fixed kill point (default 3)
#   -s  random seed (default: time)
# Environment: HOTPLUG_SH (default dash), XHP_BIN, ST_LOCKDIR (default: a
# private lock directory).
#
# Prints one line per kill and a final "faults:" line with the figures.
# Exit: 0 when nothing leaked; 1 otherwise; 100 usage; 111 set-up failure.
set -u

XHP_TOP=$(cd "$(dirname "$0")/../.." && pwd)
prog=faults.sh
nrandom=40
nfixed=3
seed=$(date +%s)
while getopts n:d:s: opt; do
	case $opt in
	n) nrandom=$OPTARG ;;
	d) nfixed=$OPTARG ;;
	s) seed=$OPTARG ;;
	*) echo "usage: $prog [-n RANDOM_KILLS] [-d ROUNDS] [-s SEED]" >&2; exit 100 ;;
	esac
done
for n in "$nrandom" "$nfixed" "$seed"; do
	case $n in
	'' | *[!0-9]*) echo "$prog: fatal: not a number: $n" >&2; exit 100 ;;
	esac
done

die() { printf '%s: fatal: %s\n' "$prog" "$*" >&2; exit 111; }
[ "$(id -u)" -eq 0 ] || die "needs root (loop devices)"
: "${HOTPLUG_SH:=dash}"
XHP_BIN=${XHP_BIN:-$XHP_TOP/build/bin}
XHP_XSD=${XHP_XSD:-$XHP_TOP/build/tests/test-xenstored}
ST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xhp-faults.XXXXXX") || die "unable to create a scratch directory"
XENSTORED_PATH=$ST_DIR/xs.sock
: "${ST_LOCKDIR:=$ST_DIR/lock}"
export XHP_TOP XHP_BIN ST_DIR XENSTORED_PATH HOTPLUG_SH ST_LOCKDIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$XHP_TOP/tests/stress/lib.sh"

xsd_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	st_free_loops
	[ -z "$xsd_pid" ] || { kill "$xsd_pid" 2>/dev/null; wait "$xsd_pid" 2>/dev/null; }
	rm -rf "$ST_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
st_snapshot || die "unable to copy the helpers and scripts to $ST_DIR"
st_env

# ST_XSD_OPTS: extra test-xenstored options (e.g. "-D 1" stretches each
# run so random kills land mid-run on a fast idle machine).
# shellcheck disable=SC2086 # a list of options
"$XHP_XSD" -s "$XENSTORED_PATH" ${ST_XSD_OPTS:-} 3>&- &
xsd_pid=$!
n=0
until xenstore-read / >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -lt 250 ] || die "the test xenstore did not start"
	sleep 0.02
done

# The kill list: "POINT CMD" per line. Random moments spread over a whole
# add of an image (about 15 ms here) or remove (about 7 ms).
{
	awk -v seed="$seed" -v n="$nrandom" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++)
			if (i % 2) printf "random:%d add\n", int(rand() * 20)
			else printf "random:%d remove\n", int(rand() * 10)
	}'
	awk -v seed="$seed" -v n="$nfixed" 'BEGIN {
		srand(seed + 1)
		for (i = 1; i <= n; i++) {
			print "publish add"
			print "nopublish add"
			printf "inpub:%d add\n", int(rand() * 120)
			printf "txn:%d add\n", int(rand() * 60)
			print "detach remove"
			print "detach-go remove"
		}
	}'
} >"$ST_DIR/kills"

t_start=$(date +%s)
tries=0 killed=0 half=0 failed=0 leaks=0 bad=0
while read -r point cmd; do
	tries=$((tries + 1))
	line=$(st_kill_cycle "$tries" "$point" "$cmd") || bad=$((bad + 1))
	printf '%s\n' "$line"
	last=$(printf '%s\n' "$line" | tail -n 1)
	case $last in
	*killed=yes*) killed=$((killed + 1)) ;;
	esac
	for f in half failed leaks; do
		v=$(printf '%s\n' "$last" | tr ' ' '\n' | sed -n "s/^$f=\\([0-9][0-9]*\\)\$/\\1/p")
		case $f in
		half) half=$((half + ${v:-1})) ;;
		failed) failed=$((failed + ${v:-1})) ;;
		leaks) leaks=$((leaks + ${v:-1})) ;;
		esac
	done
done <"$ST_DIR/kills"
elapsed=$(($(date +%s) - t_start))
echo "faults: shell=$HOTPLUG_SH seed=$seed"
echo "faults: kills_tried=$tries killed_mid_run=$killed half_written=$half failed=$failed leaks=$leaks seconds=$elapsed"
[ "$bad" -eq 0 ]
