#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# bench/run.sh: `make bench` (issue #5). Times upstream Xen's block script
# (Debian xen-utils-common, downloaded now, never committed), ours and the
# floor program (bench/floor.c) in one run, against the same test xenstore,
# alternating the contenders so that machine drift hits all of them alike.
# Prints a table and writes bench/results/bench-STAMP.{json,csv,txt} and
# bench/results/latest.{json,txt}. See docs/performance.md.
#
# Cases (each figure is the median of BENCH_RUNS runs, default 9):
#   phy add        V = 0, 100, 1000 other vbd backends over 10 domains,
#                  plus processes spawned per add (a separate strace run)
#   file cycle     add + remove of an image file, V = 0 and 100
#   concurrent     32 adds of distinct devices for distinct domains at once:
#                  wall time and the longest lock wait (LD_PRELOAD shim)
#   netbsd *       the same for scripts/NetBSD/block (ours and floor only)
#   freebsd *      phy add, processes per add and 32 concurrent adds of
#                  scripts/FreeBSD/block (ours only: the floor has no
#                  FreeBSD mode, and upstream's FreeBSD script is not in
#                  Debian's package)
#
# Environment:
#   BENCH_RUNS      runs per figure (default 9; the issue asks for >= 5)
#   BENCH_CASES     subset to run: any of "phy file conc netbsd freebsd"
#                   (default all)
#   BENCH_VS        V levels for phy add (default "0 100 1000")
#   BENCH_DEB       use this xen-utils-common .deb instead of downloading
#   BENCH_OURS_LINUX, BENCH_OURS_NETBSD, BENCH_OURS_FREEBSD
#                   run this block script as "ours"
#   BENCH_ALT_LINUX, BENCH_ALT_NETBSD
#                   also run this block script, as a fourth contender "alt"
#                   in the same alternation (A/B of a change to a copy of
#                   scripts/ before committing it; column "alt")
#
# Needs root: mknod, loop devices and a private mount namespace, in which
# /run/xen-hotplug and /var/log/xen are private tmpfs so the benchmark
# never shares a lock or a log with anything else on the host.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
prog=bench
runs=${BENCH_RUNS:-9}
cases=${BENCH_CASES:-phy file conc netbsd freebsd}
vs=${BENCH_VS:-0 100 1000}
bin=$top/build/bench
xsd=$top/build/tests/test-xenstored
ours_linux=${BENCH_OURS_LINUX:-$top/scripts/Linux/block}
ours_netbsd=${BENCH_OURS_NETBSD:-$top/scripts/NetBSD/block}
ours_freebsd=${BENCH_OURS_FREEBSD:-$top/scripts/FreeBSD/block}
alt_linux=${BENCH_ALT_LINUX:-}
alt_netbsd=${BENCH_ALT_NETBSD:-}
results=$top/bench/results
conc_n=32
# A major no driver claims: no target can collide with a real device.
tmajor=240

die() {
	printf '%s: fatal: %s\n' "$prog" "$*" >&2
	exit 1
}
note() { printf '%s: %s\n' "$prog" "$*" >&2; }

has_case() {
	case " $cases " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- outside the namespace: check, then re-run ourselves inside one ----
if [ "${XHP_BENCH_INNER:-}" != 1 ]; then
	[ "$(id -u)" -eq 0 ] || die "needs root (mknod, loop devices, mount namespace)"
	for t in strace unshare bash dpkg-deb xenstore-write losetup; do
		command -v "$t" >/dev/null 2>&1 || die "unable to find $t"
	done
	for f in "$xsd" "$bin/floor" "$bin/timerun" "$bin/populate" \
	    "$bin/lockshim.so"; do
		[ -x "$f" ] || [ -f "$f" ] || die "unable to find $f (run make bench)"
	done
	made=
	for d in /run/xen-hotplug /var/log/xen; do
		[ -d "$d" ] || { mkdir -p "$d" && made="$made $d"; } ||
			die "unable to create $d"
	done
	XHP_BENCH_INNER=1 unshare -m --propagation private sh "$0" "$@"
	rc=$?
	for d in $made; do rmdir "$d" 2>/dev/null; done
	exit "$rc"
fi

mount -t tmpfs xhp-bench-lock /run/xen-hotplug || die "unable to mount /run/xen-hotplug"
mount -t tmpfs xhp-bench-log /var/log/xen || die "unable to mount /var/log/xen"

tmp=$(mktemp -d /tmp/xhp-bench.XXXXXX) || die "unable to create a temp dir"
xsd_pid=
cleanup() {
	[ -z "$xsd_pid" ] || { kill "$xsd_pid" 2>/dev/null; wait "$xsd_pid" 2>/dev/null; }
	# Free only loop devices backed by our own image files.
	for img in "$tmp"/img/*.img; do
		[ -f "$img" ] || continue
		losetup -j "$img" | while IFS=: read -r ldev _; do
			losetup -d "$ldev" 2>/dev/null
		done
	done
	grep -q " $tmp/mnt/" /proc/self/mounts 2>/dev/null &&
		grep " $tmp/mnt/" /proc/self/mounts | while read -r _ mp _; do
			umount "$mp" 2>/dev/null
		done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/dev" "$tmp/img" "$tmp/log" "$results" || die "unable to create dirs"
samples=$tmp/samples
: >"$samples"

# ---- upstream: Debian's xen-utils-common, fetched now ----
# Downloaded afresh every run into the cache; if that fails even after an
# `apt-get update` (offline), the last downloaded copy is used and the
# result file says so (meta upstream_from=cache).
fetch_upstream() {
	cache=$top/build/bench/upstream
	mkdir -p "$cache/dl" "$tmp/dl" || die "unable to create $cache"
	deb=${BENCH_DEB:-}
	up_from=${deb:+file}
	if [ -z "$deb" ]; then
		if ! (cd "$tmp/dl" && apt-get download -q xen-utils-common) \
		    >"$tmp/apt.log" 2>&1; then
			apt-get update -q >>"$tmp/apt.log" 2>&1
			(cd "$tmp/dl" && apt-get download -q xen-utils-common) \
			    >>"$tmp/apt.log" 2>&1
		fi
		for deb in "$tmp"/dl/xen-utils-common_*.deb; do :; done
		if [ -f "$deb" ]; then
			rm -f "$cache"/dl/*.deb
			mv "$deb" "$cache/dl/" || die "unable to store $deb"
			up_from=apt
		else
			note "unable to download xen-utils-common: $(tail -n 1 "$tmp/apt.log"); using the cached copy"
			up_from=cache
		fi
		for deb in "$cache"/dl/xen-utils-common_*.deb; do :; done
	fi
	[ -f "$deb" ] || die "unable to find the xen-utils-common package (no download, no cached copy)"
	rm -rf "$cache/tree"
	dpkg-deb -x "$deb" "$cache/tree" || die "unable to unpack $deb"
	up=$cache/tree/etc/xen/scripts
	up_version=$(dpkg-deb -f "$deb" Version)
	[ -x "$up/block" ] || die "no block script in $deb"
}

# ---- the test xenstore ----
xsd_start() {
	xsd_stop
	XENSTORED_PATH=$tmp/xs.sock
	export XENSTORED_PATH
	rm -f "$XENSTORED_PATH"
	"$xsd" -s "$XENSTORED_PATH" >>"$tmp/log/xsd.log" 2>&1 &
	xsd_pid=$!
	i=0
	until xenstore-read / >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 250 ] || die "test xenstore did not start"
		sleep 0.02
	done
}
xsd_stop() {
	[ -n "$xsd_pid" ] || return 0
	kill "$xsd_pid" 2>/dev/null
	wait "$xsd_pid" 2>/dev/null
	xsd_pid=
}

# populate V OS: V connected backends over domains 1..10.
populate() {
	"$bin/populate" -V "$1" -D 10 -f 1 ${2:+-o "$2"} ||
		die "unable to populate $1 backends"
}

# ---- targets ----
# devnode N: a block device node of major $tmajor, minor N.
devnode() {
	[ -b "$tmp/dev/tgt$1" ] || mknod "$tmp/dev/tgt$1" b "$tmajor" "$1" ||
		die "unable to mknod $tmp/dev/tgt$1"
	printf '%s\n' "$tmp/dev/tgt$1"
}
# expected N OS: the physical-device value of minor N (or of a loop device);
# on FreeBSD, the physical-device-path of target N (nothing else is written).
expected() {
	if [ "$2" = freebsd ]; then
		printf '%s\n' "$tmp/dev/tgt$1"
	elif [ "$2" = netbsd ]; then
		echo $(((($3 << 8) & 1048320) | (($1 << 12) & 4293918720) | ($1 & 255)))
	else
		printf '%x:%x\n' "$3" "$1"
	fi
}
# backend DOM PARAMS MODE: what libxl writes before it runs the script.
backend() {
	be=/local/domain/0/backend/vbd/$1/51712
	xenstore-write "/local/domain/$1/vm" "/vm/bench-target-$1" \
	    "/local/domain/$1/name" "bench-target-$1" \
	    "$be/frontend" "/local/domain/$1/device/vbd/51712" \
	    "$be/params" "$2" "$be/script" /etc/xen/scripts/block \
	    "$be/frontend-id" "$1" "$be/online" 1 "$be/removable" 0 \
	    "$be/bootable" 1 "$be/state" 2 "$be/dev" xvda "$be/type" phy \
	    "$be/mode" "$3" "$be/device-type" disk "$be/discard-enable" 0 ||
		die "unable to write backend $be"
}
unbackend() {
	# NetBSD's remove deletes the backend itself: only the domain must go.
	xenstore-rm "/local/domain/0/backend/vbd/$1" 2>/dev/null
	xenstore-rm "/local/domain/$1" || die "unable to remove domain $1"
}
# added DOM EXPECTED: did the add publish the device? (On FreeBSD the path
# alone: blkback writes hotplug-status once it has opened it.)
added() {
	if [ "$os" = freebsd ]; then
		got=$(xenstore-read "/local/domain/0/backend/vbd/$1/51712/physical-device-path" 2>/dev/null)
		[ "$got" = "$2" ] &&
		    ! xenstore-read "/local/domain/0/backend/vbd/$1/51712/physical-device" >/dev/null 2>&1
		return
	fi
	got=$(xenstore-read "/local/domain/0/backend/vbd/$1/51712/hotplug-status" \
	    "/local/domain/0/backend/vbd/$1/51712/physical-device" 2>/dev/null)
	[ "$got" = "connected
$2" ]
}

# ---- running a contender ----
# run_contender CONTENDER OS VERB COUNT FIRSTDOM [timerun -e args...]:
# run COUNT copies at once, for domains FIRSTDOM..., as libxl would (the
# environment of libxl_linux.c, or NetBSD's and FreeBSD's argv); prints
# timerun's output.
# @N@ is the domain id (timerun substitutes it per copy).
run_contender() {
	c=$1 os=$2 verb=$3 n=$4 first=$5
	shift 5
	if [ "$os" = freebsd ]; then
		set -- "$@" -e "XEN_HOTPLUG_MOUNTS=$tmp/fb/mount.p" \
		    -e "XEN_HOTPLUG_MDLIST=$tmp/fb/mdconfig.list" \
		    -e "XEN_HOTPLUG_GEOM=$tmp/fb/conftxt" \
		    "$ours_freebsd" "/local/domain/0/backend/vbd/@N@/51712" "$verb"
	elif [ "$os" = netbsd ]; then
		nverb=2
		[ "$verb" = add ] || nverb=6
		set -- "$@" -e "XEN_HOTPLUG_MOUNTS=$tmp/nb/mounts" \
		    -e "XEN_HOTPLUG_VNDTAB=$tmp/nb/vndtab"
		case $c in
		ours) set -- "$@" "$ours_netbsd" "/local/domain/0/backend/vbd/@N@/51712" "$nverb" ;;
		alt) set -- "$@" "$alt_netbsd" "/local/domain/0/backend/vbd/@N@/51712" "$nverb" ;;
		floor) set -- "$@" "$bin/floor" -o netbsd "$verb" "/local/domain/0/backend/vbd/@N@/51712" ;;
		esac
	else
		case $c in
		upstream) set -- "$@" "$up/block" "$verb" ;;
		ours) set -- "$@" "$ours_linux" "$verb" ;;
		alt) set -- "$@" "$alt_linux" "$verb" ;;
		floor) set -- "$@" "$bin/floor" "$verb" "backend/vbd/@N@/51712" ;;
		esac
	fi
	"$bin/timerun" -n "$n" -f "$first" \
	    -e "XENBUS_PATH=backend/vbd/@N@/51712" -e XENBUS_TYPE=vbd \
	    -e XENBUS_BASE_PATH=backend -e script=/etc/xen/scripts/block \
	    -e "XEN_HOTPLUG_HELPERDIR=$top/build/bin" -e PATH="$PATH" \
	    -e "XEN_HOTPLUG_LOGFILE=$tmp/log/$c.$os.err" \
	    -e "XHP_TMP=$tmp/nb" -e "XEN_HOTPLUG_DEVDIR=$tmp/nbdev" \
	    "$@" 2>>"$tmp/log/$c.$os.err"
}

# sample CASE V CONTENDER METRIC VALUE
sample() { printf '%s %s %s %s %s\n' "$@" >>"$samples"; }

# rotate R: the contenders in the order of run R (rotated by R each run).
rotate() {
	echo "$contenders" | awk -v r="$1" '{
	    k = r % NF
	    for (i = 0; i < NF; i++) printf "%s%s", $((i + k) % NF + 1), (i < NF - 1 ? " " : "\n") }'
}

available() { # CONTENDER OS
	case $1 in
	upstream) [ "$2" = linux ] ;;
	ours)
		case $2 in
		netbsd) [ -x "$ours_netbsd" ] ;;
		freebsd) [ -x "$ours_freebsd" ] ;;
		*) [ -x "$ours_linux" ] ;;
		esac
		;;
	alt) case $2 in netbsd) [ -n "$alt_netbsd" ] ;; freebsd) false ;; *) [ -n "$alt_linux" ] ;; esac ;;
	floor) [ "$2" != freebsd ] ;;
	esac
}

fail() { # CASE V CONTENDER WHAT
	note "$3 failed $1 V=$2: $4 (see $results/last-logs.log)"
	sample "$1" "$2" "$3" fail 1
}

# ---- case 1: phy add: case_phy_timed (below) and count_procs ----

# Processes of one add: run the contender under strace directly (not via
# timerun) and count forks (threads excluded) and successful execs.
count_procs() { # OS V CONTENDER DOM
	os=$1 v=$2 c=$3 dom=$4
	dev=$(devnode 1)
	backend "$dom" "$dev" w
	if [ "$os" = freebsd ]; then
		set -- "$ours_freebsd" "/local/domain/0/backend/vbd/$dom/51712" add
	elif [ "$os" = netbsd ]; then
		case $c in
		ours) set -- "$ours_netbsd" "/local/domain/0/backend/vbd/$dom/51712" 2 ;;
		alt) set -- "$alt_netbsd" "/local/domain/0/backend/vbd/$dom/51712" 2 ;;
		floor) set -- "$bin/floor" -o netbsd add "/local/domain/0/backend/vbd/$dom/51712" ;;
		esac
	else
		case $c in
		upstream) set -- "$up/block" add ;;
		ours) set -- "$ours_linux" add ;;
		alt) set -- "$alt_linux" add ;;
		floor) set -- "$bin/floor" add "backend/vbd/$dom/51712" ;;
		esac
	fi
	# FreeBSD's tables (what getmntinfo, MDIOCQUERY and kern.geom.conftxt
	# give there), exported in a subshell so that no extra exec is traced.
	(if [ "$os" = freebsd ]; then
		XEN_HOTPLUG_MOUNTS=$tmp/fb/mount.p XEN_HOTPLUG_MDLIST=$tmp/fb/mdconfig.list \
		    XEN_HOTPLUG_GEOM=$tmp/fb/conftxt
		export XEN_HOTPLUG_MOUNTS XEN_HOTPLUG_MDLIST XEN_HOTPLUG_GEOM
	elif [ "$os" = netbsd ]; then
		XEN_HOTPLUG_MOUNTS=$tmp/nb/mounts XEN_HOTPLUG_VNDTAB=$tmp/nb/vndtab
		export XEN_HOTPLUG_MOUNTS XEN_HOTPLUG_VNDTAB
	fi
	XENBUS_PATH=backend/vbd/$dom/51712 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend \
	    script=/etc/xen/scripts/block XEN_HOTPLUG_HELPERDIR=$top/build/bin \
	    XHP_TMP=$tmp/nb XEN_HOTPLUG_DEVDIR=$tmp/nbdev \
	    strace -f -qq -e trace=execve,clone,clone3,fork,vfork -e signal=none \
	    -o "$tmp/trace" "$@" </dev/null >/dev/null 2>>"$tmp/log/$c.$os.err")
	st=$?
	if [ "$st" -eq 0 ] && added "$dom" "$(expected 1 "$os" "$tmajor")"; then
		sample "$os-procs" "$v" "$c" procs "$(awk '
		    / (clone|clone3|fork|vfork)\(/ && !/CLONE_THREAD/ { n++ }
		    END { print n + 0 }' "$tmp/trace")"
		sample "$os-procs" "$v" "$c" execs "$(awk '
		    /execve/ && / = 0$/ { n++ } END { print n + 0 }' "$tmp/trace")"
		# Keep ours' process trace at V=0: what each process is for.
		if [ "$c" = ours ] && [ "$v" = 0 ]; then
			sed -e 's/, 0x[0-9a-f]* \/\*.*\*\/)/)/' "$tmp/trace" \
			    >"$results/trace-ours-$os.txt"
		fi
	else
		fail "$os-procs" "$v" "$c" "traced add exit $st"
	fi
	unbackend "$dom"
}

# ---- case 2: file add + remove ----
case_file() { # OS V
	os=$1 v=$2 dom=12
	img=$tmp/img/disk.img
	[ -f "$img" ] || { dd if=/dev/zero of="$img" bs=1024 count=0 seek=16384 2>/dev/null; } ||
		die "unable to create $img"
	r=1
	while [ "$r" -le "$runs" ]; do
		for c in $(rotate "$r"); do
			# The floor has no vnd code: NetBSD's file case is ours only.
			case $os:$c in linux:* | *:ours | *:alt) ;; *) continue ;; esac
			backend "$dom" "$img" w
			out=$(run_contender "$c" "$os" add 1 "$dom")
			st=$?
			if [ "$st" -ne 0 ] || ! file_added "$os" "$dom"; then
				fail "$os-file-add" "$v" "$c" "$(echo "$out" | tr '\n' ' ')/ $got"
				unbackend "$dom"
				cleanup_loops
				continue
			fi
			add=$(echo "$out" | awk '$1 == "run" { print $4 }')
			out=$(run_contender "$c" "$os" remove 1 "$dom")
			st=$?
			if [ "$st" -ne 0 ] || ! file_freed "$os"; then
				fail "$os-file-cycle" "$v" "$c" "remove exit $st, left: $left"
				cleanup_loops
			else
				rm_s=$(echo "$out" | awk '$1 == "run" { print $4 }')
				sample "$os-file-add" "$v" "$c" secs "$add"
				sample "$os-file-remove" "$v" "$c" secs "$rm_s"
				sample "$os-file-cycle" "$v" "$c" secs "$(echo "$add $rm_s" | awk '{ printf "%.6f\n", $1 + $2 }')"
			fi
			unbackend "$dom"
		done
		r=$((r + 1))
	done
}
# file_added OS DOM: the image is published as the loop (vnd) device the
# script recorded in node (vnd).
file_added() {
	be=/local/domain/0/backend/vbd/$2/51712
	if [ "$1" = netbsd ]; then
		if ! node=$(xenstore-read "$be/vnd" 2>/dev/null) || [ ! -b "$node" ]; then
			got="no vnd"
			return 1
		fi
		maj=$(stat -L -c '%t' "$node") || return 1
		min=$(stat -L -c '%T' "$node") || return 1
		added "$2" "$(expected $((0x$min)) netbsd $((0x$maj)))"
		return
	fi
	node=$(xenstore-read "$be/node" 2>/dev/null) || { got="no node"; return 1; }
	lminor=${node#/dev/loop}
	case $lminor in '' | *[!0-9]*) got="bad node $node"; return 1 ;; esac
	added "$2" "$(expected "$lminor" linux 7)"
}
# file_freed OS: no loop device (vnd unit) backs the image any more. A clear
# while someone else has the device open is lazy: the kernel frees it at the
# last close, so allow a moment (untimed) before calling it a leak.
file_freed() {
	if [ "$1" = netbsd ]; then
		left=$(cat "$tmp/nb/vndtab" 2>/dev/null)
		[ -z "$left" ]
		return
	fi
	k=0
	while left=$(losetup -j "$img") && [ -n "$left" ] && [ "$k" -lt 20 ]; do
		sleep 0.1
		k=$((k + 1))
	done
	[ -z "$left" ]
}
cleanup_loops() {
	losetup -j "$tmp/img/disk.img" | while IFS=: read -r ldev _; do
		losetup -d "$ldev" 2>/dev/null
	done
}

# ---- case 3: 32 concurrent adds ----
case_conc() { # OS V
	os=$1 v=$2 first=101
	r=1
	while [ "$r" -le "$runs" ]; do
		for c in $(rotate "$r"); do
			i=0
			while [ "$i" -lt "$conc_n" ]; do
				backend $((first + i)) "$(devnode $((i + 10)))" w
				i=$((i + 1))
			done
			log=$tmp/locklog
			rm -f "$log"
			out=$(run_contender "$c" "$os" add "$conc_n" "$first" \
			    -e "LD_PRELOAD=$bin/lockshim.so" -e "BENCH_LOCKLOG=$log")
			st=$?
			ok=0
			i=0
			while [ "$i" -lt "$conc_n" ]; do
				added $((first + i)) "$(expected $((i + 10)) "$os" "$tmajor")" && ok=$((ok + 1))
				unbackend $((first + i))
				i=$((i + 1))
			done
			if [ "$st" -ne 0 ] || [ "$ok" -ne "$conc_n" ]; then
				fail "$os-conc" "$v" "$c" "$ok of $conc_n added"
				continue
			fi
			sample "$os-conc" "$v" "$c" wall "$(echo "$out" | awk '$1 == "wall" { print $2 }')"
			# Lock wait of one add: the time its processes spent in
			# exclusive flock() calls, summed; report the longest.
			sample "$os-conc" "$v" "$c" maxwait "$(awk '
			    $1 != "-" { w[$1] += $4 - $3; seen[$1] = 1 }
			    END { m = 0; n = 0; for (a in w) { n++; if (w[a] > m) m = w[a] }
			          printf "%.6f %d\n", m, n }' "$log" 2>/dev/null | awk '{ print $1 }')"
			sample "$os-conc" "$v" "$c" lockers "$(awk '$1 != "-" { s[$1] = 1 }
			    END { n = 0; for (a in s) n++; print n }' "$log" 2>/dev/null)"
			# Lock hand-over interval: sort the adds by the moment they
			# finally got the lock; the gap to the next one is how long
			# each held it (plus the hand-over). Median of the gaps.
			sample "$os-conc" "$v" "$c" hold "$(awk '
			    $1 != "-" && $6 == 0 && $5 == 0 && $4 > got[$1] { got[$1] = $4 }
			    END { for (a in got) print got[a] }' "$log" 2>/dev/null |
			    sort -n | awk 'NR > 1 { d[++n] = $1 - p } { p = $1 }
			    END { if (!n) { print 0; exit }
			          for (i = 2; i <= n; i++) { t = d[i]; for (j = i - 1; j >= 1 && d[j] > t; j--) d[j + 1] = d[j]; d[j + 1] = t }
			          printf "%.6f\n", (n % 2) ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2 }')"
			# Exclusive flock() calls per add: 1 when each add locks
			# once; more when a released (unlinked) lock file sends
			# every waiter round the stale-retry loop.
			sample "$os-conc" "$v" "$c" attempts "$(awk -v n="$conc_n" '
			    $1 != "-" { k++ } END { printf "%.1f\n", k / n }' "$log" 2>/dev/null)"
		done
		r=$((r + 1))
	done
}

# ---- one pass over the cases for one script set ----
pass() { # OS
	os=$1
	contenders=
	for c in upstream ours floor alt; do
		if available "$c" "$os"; then
			contenders="$contenders $c"
		elif [ "$c" = ours ]; then
			note "ours ($os) is not there yet: skipped"
		fi
	done
	contenders=${contenders# }
	for v in $vs; do
		xsd_start
		populate "$v" "$os"
		note "$os V=$v: phy add"
		has_case phy && case_phy_timed "$os" "$v"
		if has_case phy; then
			for c in $contenders; do count_procs "$os" "$v" "$c" 11; done
			debug_timings "$os" "$v"
		fi
		# FreeBSD attaches nothing for a file, and its mounts are a
		# table (no namespace to fill): phy and conc only.
		if has_case file && [ "$v" -le 100 ] && [ "$os" != freebsd ]; then
			note "$os V=$v: file add+remove"
			case_file "$os" "$v"
		fi
		if has_case conc && [ "$v" -eq 0 ]; then
			note "$os V=$v: $conc_n concurrent adds"
			case_conc "$os" "$v"
			if has_case phy && [ "$os" != freebsd ]; then
				mounts "$os" "$v"
			fi
		fi
		xsd_stop
	done
}

# The phy-add timing loop (case 1 without the process count).
case_phy_timed() { # OS V
	os=$1 v=$2 dom=11
	dev=$(devnode 1)
	want=$(expected 1 "$os" "$tmajor")
	r=1
	while [ "$r" -le "$runs" ]; do
		for c in $(rotate "$r"); do
			backend "$dom" "$dev" w
			if out=$(run_contender "$c" "$os" add 1 "$dom") &&
			    added "$dom" "$want"; then
				sample "$os-phy-add" "$v" "$c" secs "$(echo "$out" | awk '$1 == "run" { print $4 }')"
			else
				fail "$os-phy-add" "$v" "$c" "$(echo "$out" | tr '\n' ' ')/ $got"
			fi
			unbackend "$dom"
		done
		r=$((r + 1))
	done
}

# debug_timings OS V: ours' own account of one add (XEN_HOTPLUG_DEBUG log
# line "check N us, write N us, under lock N us"), from 3 untimed runs: the
# debug mode spawns date(1) for its stamps, so it never runs in a timed run.
debug_timings() {
	os=$1 v=$2 dom=11
	available ours "$os" || return 0
	dev=$(devnode 1)
	logger=$(command -v logger) || return 0
	mount --bind "$top/bench/stubs/logger" "$logger" ||
		die "unable to bind-mount a logger stand-in"
	for r in 1 2 3; do
		backend "$dom" "$dev" w
		: >"$tmp/debug.log"
		run_contender ours "$os" add 1 "$dom" -e XEN_HOTPLUG_DEBUG=1 \
		    -e "BENCH_SYSLOG=$tmp/debug.log" >/dev/null
		unbackend "$dom"
		# "check N us, write N us, under lock N us" from the script, or
		# "check N us, attach N us, write N us (K tries), under lock N us"
		# from xs-publish -v, which the script logs in debug mode.
		awk -v c="$os-debug" -v v="$v" '
		    function us(key,    m) {
			if (!match($0, key " [0-9]+ us")) return -1
			m = substr($0, RSTART + length(key) + 1, RLENGTH - length(key) - 4)
			return m / 1e6
		    }
		    us("check") >= 0 && us("under lock") >= 0 {
			printf "%s %s ours check %.6f\n", c, v, us("check")
			if (us("write") >= 0) printf "%s %s ours write %.6f\n", c, v, us("write")
			printf "%s %s ours locked %.6f\n", c, v, us("under lock")
		    }' "$tmp/debug.log" >>"$samples"
	done
	umount "$logger" || die "unable to unmount the logger stand-in"
}

# Processes with 100 more dom0 mounts (bind mounts of a directory, so the
# source is a real device) in our private namespace: must not grow.
mounts() { # OS V
	mkdir -p "$tmp/mnt/src" || die "unable to create $tmp/mnt"
	i=0
	while [ "$i" -lt 100 ]; do
		mkdir -p "$tmp/mnt/m$i" || die "unable to create $tmp/mnt/m$i"
		mount --bind "$tmp/mnt/src" "$tmp/mnt/m$i" ||
			die "unable to bind-mount $tmp/mnt/m$i"
		i=$((i + 1))
	done
	for c in $contenders; do count_procs "$1" "$2+100mounts" "$c" 11; done
	i=0
	while [ "$i" -lt 100 ]; do
		umount "$tmp/mnt/m$i"
		i=$((i + 1))
	done
}

# ---- main ----
start=$(date +%s)
# The 1-minute load average before and after: on a shared machine it says
# how much the figures can be trusted.
read -r load0 _ </proc/loadavg
stamp=$(date -u +%Y%m%dT%H%M%SZ)
fetch_upstream
note "upstream: xen-utils-common $up_version"
pass linux
if has_case netbsd; then
	# What only NetBSD's kernel has is given to the helpers as files, as
	# in the test suite: the vnd units (a vnd table, $tmp/nb/vndtab), the
	# vnd nodes in $tmp/nbdev, and the mount table of a small NetBSD host
	# as `mount -p` prints it (for getmntinfo(3)).
	mkdir -p "$tmp/nb" "$tmp/nbdev" || die "unable to create $tmp/nb"
	for u in 0 1 2 3; do
		mknod "$tmp/nbdev/vnd${u}d" b 14 $((u * 16 + 3)) ||
			die "unable to mknod $tmp/nbdev/vnd${u}d"
	done
	printf '%s\n' '/dev/wd0a / ffs rw 1 1' \
	    '/dev/wd0e /var ffs rw,log 1 2' \
	    '/dev/wd0f /home ffs rw,log 1 2' \
	    'kernfs /kern kernfs rw 0 0' \
	    'ptyfs /dev/pts ptyfs rw 0 0' \
	    'procfs /proc procfs rw 0 0' \
	    'tmpfs /tmp tmpfs rw 0 0' >"$tmp/nb/mounts"
	pass netbsd
fi
if has_case freebsd; then
	# What FreeBSD's kernel would answer, as tables (tests/stubs/freebsd's
	# formats): the mounts of a small FreeBSD host (getmntinfo), no md(4)
	# unit, and a GEOM tree of one GPT disk (kern.geom.conftxt).
	mkdir -p "$tmp/fb" || die "unable to create $tmp/fb"
	printf '%s\n' '/dev/ada0p2		/		ufs	rw		1 1' \
	    'devfs			/dev		devfs	rw		0 0' \
	    'tank/home		/home		zfs	rw,nfsv4acls	0 0' \
	    'tmpfs			/tmp		tmpfs	rw		0 0' >"$tmp/fb/mount.p"
	: >"$tmp/fb/mdconfig.list"
	printf '%s\n' '0 DISK ada0 34359738368 512 hd 16 sc 63' \
	    '1 PART ada0p1 524288 512 i 1 o 20480 ty freebsd-boot xs GPT xt 83bd6b9d-7f41-11dc-be0b-001560b84f0f' \
	    '1 PART ada0p2 34359193600 512 i 2 o 544768 ty freebsd-ufs xs GPT xt 516e7cb6-6ecf-11d6-8ff8-00022d09712b' \
	    >"$tmp/fb/conftxt"
	pass freebsd
fi
elapsed=$(($(date +%s) - start))
read -r load1 _ </proc/loadavg

base=$results/bench-$stamp
cp "$samples" "$base.samples" || die "unable to write $base.samples"
cp /var/log/xen/xen-hotplug.log "$tmp/log/upstream-hotplug-log.err" 2>/dev/null
for f in "$tmp"/log/*.err; do
	[ -s "$f" ] && { printf '== %s\n' "${f##*/}"; tail -n 20 "$f"; }
done >"$results/last-logs.log" 2>/dev/null
meta="upstream=$up_version upstream_from=$up_from ours_linux=${ours_linux#"$top"/} ours_netbsd=${ours_netbsd#"$top"/} ours_freebsd=${ours_freebsd#"$top"/}${alt_linux:+ alt_linux=$alt_linux}${alt_netbsd:+ alt_netbsd=$alt_netbsd} runs=$runs elapsed=$elapsed host=$(uname -n) kernel=$(uname -r) nproc=$(getconf _NPROCESSORS_ONLN) load=$load0..$load1 date=$stamp"
awk -v fmt=csv -v meta="$meta" -f "$top/bench/report.awk" "$samples" >"$base.csv"
awk -v fmt=json -v meta="$meta" -f "$top/bench/report.awk" "$samples" >"$base.json"
awk -v fmt=table -v meta="$meta" -f "$top/bench/report.awk" "$samples" >"$base.txt"
# latest.* is the last complete run (every case and V level), the one
# docs/performance.md quotes; a subset run only writes its own files.
if [ -z "${BENCH_CASES:-}" ] && [ -z "${BENCH_VS:-}" ]; then
	cp "$base.json" "$results/latest.json"
	cp "$base.txt" "$results/latest.txt"
fi
cat "$base.txt"
note "results: $base.{txt,json,csv,samples} (${elapsed} s)"
