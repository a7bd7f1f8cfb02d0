#!/bin/sh
# concurrency.sh: rounds of many simultaneous `block add`s on shared and
# distinct targets (images and block devices, modes r and w, guests with
# and without a stubdomain), by our script, by our script in path-only mode
# (the 2016 proposal's libxl, which later converts the path itself) and by
# upstream's stock script, all on the same lock file. After every round the
# sharing invariant is checked from the outside (tests/stress/lib.sh,
# st_check), then everything is removed and no loop device may be left.
#
# Usage: concurrency.sh [-r ROUNDS] [-w WRITERS] [-s SEED] [-u yes|no|auto]
#                        [-k PERCENT] [-L LOCKDIR]
#   -r  rounds (default 20)          -w  adds per round (default 12)
#   -s  random seed (default: time)  -u  mix in upstream's scripts
#                                        (default auto: when they can be
#                                        fetched; yes: fail if they cannot)
#   -L  our scripts' lock directory even when mixing with upstream's
#       (an experiment: with two lock files the interlock is gone, and
#       the check should report violations)
#   -k  SIGKILL this share of our adds (not upstream's) at a random moment
#       of their first 60 ms, the script's pid only, as libxl does
#       (default 0): the others must not wait on a stuck lock, and the
#       invariant, the half-written check and the leak check still hold
# Environment: HOTPLUG_SH (default dash), XHP_BIN, ST_LOCKDIR (only without
# upstream: upstream's locking.sh hard-codes /var/run/xen-hotplug),
# ST_XSD_OPTS (extra test-xenstored options, e.g. "-D 1" to stretch every
# add on a fast idle machine so random kills land mid-run).
#
# Prints one line per round and a final "stress:" line with the figures.
# Exit: 0 no violation, no leak, no error; 1 otherwise; 100 usage; 111
# set-up failure.
set -u

XHP_TOP=$(cd "$(dirname "$0")/../.." && pwd)
prog=concurrency.sh
rounds=20
writers=12
seed=$(date +%s)
mix=auto
killpct=0
forcelock=
while getopts r:w:s:u:k:L: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	w) writers=$OPTARG ;;
	s) seed=$OPTARG ;;
	u) mix=$OPTARG ;;
	k) killpct=$OPTARG ;;
	L) forcelock=$OPTARG ;;
	*) echo "usage: $prog [-r ROUNDS] [-w WRITERS] [-s SEED] [-u yes|no|auto] [-k PERCENT] [-L LOCKDIR]" >&2; exit 100 ;;
	esac
done
for n in "$rounds" "$writers" "$seed" "$killpct"; do
	case $n in
	'' | *[!0-9]*) echo "$prog: fatal: not a number: $n" >&2; exit 100 ;;
	esac
done
case $mix in yes | no | auto) ;; *) echo "$prog: fatal: -u takes yes, no or auto" >&2; exit 100 ;; esac

die() { printf '%s: fatal: %s\n' "$prog" "$*" >&2; exit 111; }
[ "$(id -u)" -eq 0 ] || die "needs root (loop devices, mknod)"
: "${HOTPLUG_SH:=dash}"
XHP_BIN=${XHP_BIN:-$XHP_TOP/build/bin}
XHP_XSD=${XHP_XSD:-$XHP_TOP/build/tests/test-xenstored}
ST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xhp-stress.XXXXXX") || die "unable to create a scratch directory"
XENSTORED_PATH=$ST_DIR/xs.sock
export XHP_TOP XHP_BIN ST_DIR XENSTORED_PATH HOTPLUG_SH
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$XHP_TOP/tests/stress/lib.sh"

xsd_pid=
watch_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null
	st_free_loops
	[ -z "$xsd_pid" ] || { kill "$xsd_pid" 2>/dev/null; wait "$xsd_pid" 2>/dev/null; }
	rm -rf "$ST_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ST_UPSTREAM=
if [ "$mix" != no ]; then
	if ST_UPSTREAM=$(sh "$XHP_TOP/tests/fetch-upstream.sh" 2>"$ST_DIR/fetch.err"); then
		ST_LOCKDIR=
	else
		ST_UPSTREAM=
		[ "$mix" = auto ] || die "upstream's scripts: $(cat "$ST_DIR/fetch.err")"
		echo "$prog: upstream's scripts unavailable, not mixed in: $(cat "$ST_DIR/fetch.err")"
	fi
fi
[ -z "$forcelock" ] || ST_LOCKDIR=$forcelock
st_snapshot || die "unable to copy the helpers and scripts to $ST_DIR"
st_env

# shellcheck disable=SC2086 # ST_XSD_OPTS is a list of options
"$XHP_XSD" -s "$XENSTORED_PATH" ${ST_XSD_OPTS:-} 3>&- &
xsd_pid=$!
n=0
until xenstore-read / >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -lt 250 ] || die "the test xenstore did not start"
	sleep 0.02
done

# Targets: four images and three block nodes (240 is for local use; no
# driver, so nothing can mount them). Domains 1-8 are guests, 9-11 are
# stubdomains of guests 1-3.
for i in 0 1 2 3; do
	truncate -s 4M "$ST_DIR/img$i" || die "unable to create $ST_DIR/img$i"
done
for i in 0 1 2; do
	mknod "$ST_DIR/dev$i" b 240 $((170 + i)) || die "unable to create $ST_DIR/dev$i"
done
for d in 1 2 3 4 5 6 7 8; do st_mkdom "$d" || die "unable to write the domains"; done
for d in 9 10 11; do st_mkdom "$d" $((d - 8)) || die "unable to write the domains"; done

impls='ours path'
[ -z "$ST_UPSTREAM" ] || impls='ours ours path upstream'

# field NAME: the number NAME=N in this round's summary line.
field() {
	printf '%s\n' "$summary" | tr ' ' '\n' | sed -n "s/^$1=\([0-9][0-9]*\)\$/\1/p"
}

t_start=$(date +%s)
tot_adds=0 tot_grants=0 tot_refused=0 tot_viol=0 tot_miss=0 tot_spur=0
tot_err=0 tot_leak=0 tot_half=0 tot_uperr=0 tot_conv=0 failed=0
: >"$ST_DIR/kills"
tot_vsup=0 tot_vspath=0
r=0
while [ "$r" -lt "$rounds" ]; do
	r=$((r + 1))
	# The plan: one line "DOM DEVID TARGET MODE IMPL CONVERT KILLMS" per
	# add (KILLMS -1: not killed).
	awk -v seed=$((seed + r)) -v n="$writers" -v impls="$impls" -v dir="$ST_DIR" \
	    -v kp="$killpct" '
	BEGIN {
		srand(seed)
		ni = split(impls, im, " ")
		split("img0 img1 img2 img3 dev0 dev1 dev2", tg, " ")
		for (i = 1; i <= n; i++) {
			do { d = 1 + int(rand() * 11); k = 1 + int(rand() * 3) } while ((d, k) in used)
			used[d, k] = 1
			# Two hot targets take half the adds: many conflicts.
			t = (rand() < 0.5) ? tg[1 + int(rand() * 2)] : tg[1 + int(rand() * 7)]
			if (t ~ /^img/ && rand() < 0.1) t = t "link"
			m = (rand() < 0.5) ? "r" : "w"
			w = im[1 + int(rand() * ni)]
			cv = rand() < 0.5
			km = (w != "upstream" && rand() * 100 < kp) ? int(rand() * 60) : -1
			printf "%d %d %s/%s %s %s %d %d\n", d, 51711 + k, dir, t, m, w, cv, km
		}
	}' >"$ST_DIR/plan"
	# Some adds name an image through a symbolic link: identity is by
	# inode, not by text.
	for i in 0 1 2 3; do ln -sf "img$i" "$ST_DIR/img${i}link"; done
	: >"$ST_DIR/impl"
	: >"$ST_DIR/pathonly"
	while read -r d k t m im cv km; do
		st_mkbe "$d" "$k" "$t" "$m" || die "unable to write backend $d/$k"
		echo "$d/$k $im" >>"$ST_DIR/impl"
		# Unconverted path-only grants legitimately lack
		# physical-device.
		[ "$im" != path ] || echo "$d/$k" >>"$ST_DIR/pathonly"
	done <"$ST_DIR/plan"

	st_watch_start "$ST_DIR/watch" || die "xenstore-watch did not start"
	watch_pid=$ST_WATCH

	pids=
	while read -r d k t m im cv km; do
		if [ "$km" -ge 0 ]; then
			(
				st_spawn "$ST_DIR/pid.$d.$k" "$im" add "$d" "$k" || exit 1
				sleep "$(st_secs "$km")"
				st_kill "$ST_PID" && echo "killed $r $d/$k"
				wait "$ST_BGPID" 2>/dev/null
				# Its children finish their step, as under libxl.
				st_group_gone "$ST_PID" 30 || echo stuck
				echo tried
			) >>"$ST_DIR/kills" 3>&- &
			pids="$pids $!"
			continue
		fi
		(
			st_block "$im" add "$d" "$k" >/dev/null 2>&1
			rc=$?
			# The 2016 proposal's libxl: convert the path after
			# the script, outside any lock.
			if [ "$im" = path ] && [ "$rc" -eq 0 ] && [ "$cv" -eq 1 ]; then
				"$XHP_BIN/xs-majmin" -t "$ST_BE/$d/$k" 2>/dev/null && echo conv
			fi
			exit "$rc"
		) >>"$ST_DIR/conv" 3>&- &
		pids="$pids $!"
	done <"$ST_DIR/plan"
	for p in $pids; do wait "$p"; done
	xenstore-write /local/domain/0/backend/stress-sentinel "$r" || die "unable to write the sentinel"
	n=0
	until grep -q stress-sentinel "$ST_DIR/watch"; do
		n=$((n + 1))
		[ "$n" -lt 250 ] || die "no watch event for the sentinel"
		sleep 0.02
	done
	kill "$watch_pid" 2>/dev/null
	wait "$watch_pid" 2>/dev/null
	watch_pid=

	out=$(st_check "$ST_DIR/watch" "$ST_DIR/impl")
	summary=$(printf '%s\n' "$out" | tail -n 1)
	printf '%s\n' "$out" | sed '$d' | sed "s/^/round $r: /"
	st_half >"$ST_DIR/half"
	half=$(wc -l <"$ST_DIR/half")
	sed "s/^/round $r: half-written: /" "$ST_DIR/half"
	uperr=$(while read -r b im; do
		[ "$im" = upstream ] || continue
		s=$(xenstore-read "$ST_BE/$b/hotplug-status" 2>/dev/null)
		[ "$s" = error ] &&
		    echo "round $r: upstream-error $b: $(xenstore-read "$ST_BE/$b/hotplug-error" 2>&1)"
	done <"$ST_DIR/impl" | tee "$ST_DIR/uperr" | wc -l)
	cat "$ST_DIR/uperr"

	# Remove everything, each by the script that added it (what it said
	# and its exit status kept for a leak report, with the backend as
	# the remove found it).
	xenstore-ls -f "$ST_BE" >"$ST_DIR/before-remove" 2>&1
	pids=
	while read -r d k t m im cv km; do
		{
			st_block "$im" remove "$d" "$k"
			echo "exit $?"
		} >"$ST_DIR/rm.$d.$k" 2>&1 3>&- &
		pids="$pids $!"
	done <"$ST_DIR/plan"
	for p in $pids; do wait "$p"; done
	leaks=$(st_leaks)
	[ "$leaks" -eq 0 ] || {
		echo "round $r: loop devices left: $(st_loops_named | tr '\n' ' ')"
		# Who added what this round, and whom the round killed; the
		# leaked devices' backends before the removes, their removes,
		# and what the log says of them.
		sed "s/^/round $r: plan: /" "$ST_DIR/plan"
		grep "^killed $r " "$ST_DIR/kills" | sed "s/^/round $r: /"
		st_loops_named | sed -n 's|.*name=[^:]*:vbd/\([0-9]*\)/\([0-9]*\)$|\1 \2|p' |
		    while read -r d k; do
			grep "/$d/$k/" "$ST_DIR/before-remove" | sed "s/^/round $r: store: /"
			sed "s/^/round $r: remove $d\/$k: /" "$ST_DIR/rm.$d.$k"
			echo "round $r: hotplug-error $d/$k: $(xenstore-read \
			    "$ST_BE/$d/$k/hotplug-error" 2>&1)"
		done
		# The whole log of the round's scripts, for the reasons.
		mkdir -p "$XHP_TOP/build/stress"
		cp "$XEN_HOTPLUG_LOGFILE" "$XHP_TOP/build/stress/hotplug-round$r.log"
		echo "round $r: log: $XHP_TOP/build/stress/hotplug-round$r.log"
		st_free_loops
	}
	xenstore-rm "$ST_BE" 2>/dev/null
	xenstore-rm /local/domain/0/backend/stress-sentinel 2>/dev/null

	echo "round $r: adds=$writers $summary half=$half leaks=$leaks upstream_errors=$uperr"
	tot_adds=$((tot_adds + writers))
	tot_grants=$((tot_grants + $(field grants)))
	tot_refused=$((tot_refused + $(field refused)))
	tot_viol=$((tot_viol + $(field violations)))
	tot_miss=$((tot_miss + $(field upstream_misses)))
	tot_spur=$((tot_spur + $(field spurious)))
	tot_err=$((tot_err + $(field errors)))
	tot_vsup=$((tot_vsup + $(field vs_upstream)))
	tot_vspath=$((tot_vspath + $(field vs_pathonly)))
	tot_leak=$((tot_leak + leaks))
	tot_half=$((tot_half + half))
	tot_uperr=$((tot_uperr + uperr))
done
tot_conv=$(grep -c conv "$ST_DIR/conv" 2>/dev/null)
k_tried=$(grep -c tried "$ST_DIR/kills" 2>/dev/null)
k_hit=$(grep -c killed "$ST_DIR/kills" 2>/dev/null)
k_stuck=$(grep -c stuck "$ST_DIR/kills" 2>/dev/null)
elapsed=$(($(date +%s) - t_start))
up=no
[ -z "$ST_UPSTREAM" ] || up="xen-utils-common $(cat "${ST_UPSTREAM%/tree/etc/xen/scripts}/stamp" 2>/dev/null)"
echo "stress: shell=$HOTPLUG_SH seed=$seed upstream=$up"
echo "stress: rounds=$rounds adds=$tot_adds grants=$tot_grants conflicts_caught=$tot_refused" \
    "caught_vs_upstream=$tot_vsup caught_vs_pathonly=$tot_vspath" \
    "violations=$tot_viol spurious_refusals=$tot_spur errors=$tot_err half_written=$tot_half" \
    "loop_leaks=$tot_leak upstream_misses=$tot_miss upstream_errors=$tot_uperr" \
    "path_conversions=${tot_conv:-0} kills_tried=${k_tried:-0} killed_mid_run=${k_hit:-0}" \
    "kills_stuck=${k_stuck:-0} seconds=$elapsed"
[ $((tot_viol + tot_spur + tot_err + tot_half + tot_leak + ${k_stuck:-0})) -eq 0 ] || failed=1
exit "$failed"
