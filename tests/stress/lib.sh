# shellcheck shell=sh
# tests/stress/lib.sh: shared by the stress and fault runs (sourced by
# tests/stress/*.sh and by tests/stress/stress-short.bats, tests/scripts/faults.bats).
# POSIX sh.
#
# The caller sets, before sourcing or before calling anything:
#   XHP_TOP          repository root
#   XENSTORED_PATH   socket of a running test xenstore
#   ST_DIR           private scratch directory (images, logs, wrappers)
#   HOTPLUG_SH       shell our scripts run under ("dash", "busybox sh"...)
# and optionally:
#   ST_UPSTREAM      directory of upstream's stock scripts (run under bash)
#   ST_LOCKDIR       lock directory for our scripts (unset: the real
#                    /var/run/xen-hotplug, which upstream's scripts hard-code)
#
# The invariant checker (st_check) is independent of the helpers under test:
# it reads the store with xenstore-ls, the loop devices with losetup and the
# device numbers with stat, and decides sharing on its own.

ST_BE=/local/domain/0/backend/vbd
ST_BIN=${ST_BIN:-${XHP_BIN:-$XHP_TOP/build/bin}}
ST_XSRAW=$XHP_TOP/build/tests/xsraw
ST_BLOCK=${ST_BLOCK:-$XHP_TOP/scripts/Linux/block}
ST_HERE=$XHP_TOP/tests/stress

# st_env: the environment every run of a script gets. The loop tag is
# unique to this scratch directory, so sweeps by tag never meet anyone
# else's loop devices.
st_env() {
	export XEN_HOTPLUG_HELPERDIR="${ST_HELPERDIR:-$ST_BIN}"
	export XEN_HOTPLUG_LOGFILE="$ST_DIR/hotplug.log"
	export XEN_HOTPLUG_LOOP_TAG="st${ST_DIR##*.}"
	export XEN_HOTPLUG_LOCK_TIMEOUT="${XEN_HOTPLUG_LOCK_TIMEOUT:-30}"
	if [ -n "${ST_LOCKDIR:-}" ]; then
		export XEN_HOTPLUG_LOCK_BASEDIR="$ST_LOCKDIR"
	else
		unset XEN_HOTPLUG_LOCK_BASEDIR
	fi
	unset XEN_BLOCK_PATH_ONLY XEN_HOTPLUG_DEBUG XEN_SCRIPT_DIR LOCK_BASEDIR
	# st_spawn's inner shell sources this file again and needs these.
	export XHP_TOP ST_DIR HOTPLUG_SH XENSTORED_PATH ST_BLOCK
	export ST_UPSTREAM="${ST_UPSTREAM:-}"
	# Upstream's scripts log here unconditionally.
	[ -d /var/log/xen ] || mkdir -p /var/log/xen 2>/dev/null || :
}

# st_mkdom DOM [TARGET]: the domain's vm node, and for a stubdomain the
# target node naming the guest it serves.
st_mkdom() {
	xenstore-write "/local/domain/$1/vm" "/vm/stress-$1" || return 1
	[ -z "${2:-}" ] || xenstore-write "/local/domain/$1/target" "$2"
}

# st_mkbe DOM DEVID PARAMS MODE: a backend directory as libxl writes it
# before running the script (state 2, InitWait).
st_mkbe() {
	_st_b=$ST_BE/$1/$2
	xenstore-write "$_st_b/frontend" "/local/domain/$1/device/vbd/$2" \
	    "$_st_b/params" "$3" "$_st_b/script" /etc/xen/scripts/block \
	    "$_st_b/frontend-id" "$1" "$_st_b/online" 1 "$_st_b/removable" 0 \
	    "$_st_b/bootable" 1 "$_st_b/state" 2 "$_st_b/dev" xvda \
	    "$_st_b/type" phy "$_st_b/mode" "$4" "$_st_b/device-type" disk \
	    "$_st_b/discard-enable" 0 "$_st_b/specification" xen
}

# st_block IMPL CMD DOM DEVID: run one block script as libxl does (relative
# XENBUS_PATH, stdin /dev/null). IMPL: ours, path (ours in path-only mode,
# as with the 2016 proposal's libxl) or upstream (the stock script, bash).
# Returns the script's exit status.
st_block() {
	case $1 in
	ours) _st_po='' _st_sh=$HOTPLUG_SH _st_s=$ST_BLOCK ;;
	path) _st_po=1 _st_sh=$HOTPLUG_SH _st_s=$ST_BLOCK ;;
	upstream) _st_po='' _st_sh=bash _st_s=$ST_UPSTREAM/block ;;
	*) return 100 ;;
	esac
	# ST_EXEC=exec (st_spawn) makes the script take over this process.
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	${ST_EXEC:-} env XENBUS_PATH="backend/vbd/$3/$4" XENBUS_TYPE=vbd \
	    XENBUS_BASE_PATH=backend script=/etc/xen/scripts/block \
	    XEN_BLOCK_PATH_ONLY="$_st_po" $_st_sh "$_st_s" "$2" </dev/null
}

# st_spawn PIDFILE IMPL CMD DOM DEVID: st_block in the background in a
# session of its own, so that after killing the script (only its pid, as
# libxl does) we can wait for the children it left. Writes the script's pid
# (which is also its process group) to PIDFILE and ST_PID; ST_BGPID is
# the background job to reap with `wait` (the same process unless setsid
# had to fork, under a shell with job control).
st_spawn() {
	_st_pf=$1
	shift
	rm -f "$_st_pf" "$_st_pf.go"
	mkfifo "$_st_pf.go" || return 1
	# The inner shell writes its own pid, waits on the fifo, and then
	# becomes the script: the pid is the script's whether or not setsid
	# had to fork, and the script starts exactly when we say, with no
	# polling delay to blur the kill moment.
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid sh -c '. "$1"; echo "$$" >"$2" && read -r _ <"$2.go" &&
	    shift 2 && ST_EXEC=exec st_block "$@"' \
	    st "$ST_HERE/lib.sh" "$_st_pf" "$@" >/dev/null 2>&1 3>&- &
	ST_BGPID=$!
	# Opening the fifo waits until the inner shell is ready (bounded, in
	# case it died first).
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 20 sh -c 'echo go >"$1"' st "$_st_pf.go" || return 1
	# shellcheck disable=SC2034 # for the caller
	read -r ST_PID <"$_st_pf"
}

# st_kill PID: SIGKILL PID if it is still running (not a zombie). Returns
# 0 when it was killed, 1 when it had already exited.
st_kill() {
	st_stat "/proc/$1/stat" || return 1
	case $_st_s in
	Z | X) return 1 ;;
	esac
	kill -KILL "$1" 2>/dev/null
}

# st_stat FILE: from a /proc/PID/stat file, the process's state in _st_s and
# its process group in _st_g. Returns 1 when the process is gone.
st_stat() {
	_st_l=
	read -r _st_l 2>/dev/null <"$1" || return 1
	# After the command name (which may hold anything): state, ppid, pgrp.
	_st_l=${_st_l##*) }
	_st_s=${_st_l%% *}
	_st_l=${_st_l#* }
	_st_l=${_st_l#* }
	_st_g=${_st_l%% *}
}

# st_secs MS: MS milliseconds as seconds for sleep(1), without a process.
st_secs() {
	printf '%d.%03d\n' $(($1 / 1000)) $(($1 % 1000))
}

# st_watch_start FILE: record every event under /local/domain/0/backend in
# FILE (the watcher's pid in ST_WATCH), from a moment known to be after the
# watch is in place. xenstore-watch prints the watched path before its
# watch is registered, so a non-empty FILE proves nothing: an add started
# then could publish unseen (and the check would call its grant
# unordered). A marker written until its own event shows up does.
st_watch_start() {
	xenstore-watch /local/domain/0/backend >"$1" 2>/dev/null 3>&- &
	# shellcheck disable=SC2034 # for the caller
	ST_WATCH=$!
	_st_n=0
	until grep -q stress-watch-ready "$1" 2>/dev/null; do
		xenstore-write /local/domain/0/backend/stress-watch-ready 1 ||
		    return 1
		_st_n=$((_st_n + 1))
		[ "$_st_n" -lt 500 ] || return 1
		sleep 0.01
	done
	xenstore-rm /local/domain/0/backend/stress-watch-ready
}

# st_group_live PGID: is a process of group PGID still running? Zombies do
# not count: an orphan's new parent (pid 1 in a container) may never reap
# it. (Not `kill -0 -- -PGID`: dash and busybox refuse that `--`, and the
# test then always said "gone".)
st_group_live() {
	for _st_f in /proc/[0-9]*/stat; do
		st_stat "$_st_f" || continue
		[ "$_st_g" = "$1" ] && [ "$_st_s" != Z ] && return 0
	done
	return 1
}

# st_group_gone PGID [SECS]: wait until no process of group PGID is left
# (the killed script's children finish their step). Returns 1 on timeout.
st_group_gone() {
	_st_n=0
	_st_max=$((${2:-20} * 20))
	while st_group_live "$1"; do
		_st_n=$((_st_n + 1))
		[ "$_st_n" -lt "$_st_max" ] || return 1
		sleep 0.05
	done
	return 0
}

# st_wait_pid PID: wait for a script started by st_spawn to end, by
# polling (it is not our child when setsid forked). Returns 1 after 60 s.
st_wait_pid() {
	_st_n=0
	while kill -0 "$1" 2>/dev/null; do
		_st_n=$((_st_n + 1))
		[ "$_st_n" -lt 1200 ] || return 1
		sleep 0.05
	done
	return 0
}

# st_xsd_control COMMAND ARG: a control command to the test xenstore
# (fault-eagain N...). Returns 0 when it answered OK.
st_xsd_control() {
	"$ST_XSRAW" -s "$XENSTORED_PATH" "CONTROL:$1\\0$2\\0" 2>/dev/null |
	    grep -q '^CONTROL OK'
}

# st_pausewrap HELPER...: make $ST_DIR/helpers, a helper directory where
# each named HELPER stops before running: it writes its pid (which the
# real helper keeps) to $ST_DIR/pause/HELPER.ready, then waits for $ST_DIR/pause/go (run the real
# helper) or $ST_DIR/pause/abort (exit 111 without running it, as if the
# script had died before starting it). Other helpers are the real ones.
# Sets ST_HELPERDIR; st_env exports it.
st_pausewrap() {
	ST_HELPERDIR=$ST_DIR/helpers
	rm -rf "$ST_HELPERDIR" "$ST_DIR/pause"
	mkdir -p "$ST_HELPERDIR" "$ST_DIR/pause" || return 1
	for _st_h in "$ST_BIN"/*; do
		ln -s "$_st_h" "$ST_HELPERDIR/${_st_h##*/}" || return 1
	done
	for _st_h in "$@"; do
		rm -f "$ST_HELPERDIR/$_st_h"
		cat >"$ST_HELPERDIR/$_st_h" <<EOF || return 1
#!/bin/sh
echo "\$\$" >"$ST_DIR/pause/$_st_h.ready.tmp"
mv "$ST_DIR/pause/$_st_h.ready.tmp" "$ST_DIR/pause/$_st_h.ready"
while [ ! -e "$ST_DIR/pause/go" ] && [ ! -e "$ST_DIR/pause/abort" ]; do
	sleep 0.02
done
[ ! -e "$ST_DIR/pause/abort" ] || exit 111
exec "$ST_BIN/$_st_h" "\$@"
EOF
		chmod 0755 "$ST_HELPERDIR/$_st_h" || return 1
	done
	export ST_HELPERDIR
}

# st_wait_file FILE [SECS]: wait until FILE exists. Returns 1 on timeout.
st_wait_file() {
	_st_n=0
	_st_max=$((${2:-20} * 50))
	while [ ! -e "$1" ]; do
		_st_n=$((_st_n + 1))
		[ "$_st_n" -lt "$_st_max" ] || return 1
		sleep 0.02
	done
	return 0
}

# st_our_loops: loop devices backed by files in $ST_DIR (a deleted backing
# file shows as "PATH (deleted)"), one per line. Never anyone else's.
st_our_loops() {
	losetup -l -n -O NAME,BACK-FILE 2>/dev/null |
	    awk -v t="$ST_DIR/" 'index($2, t) == 1 { print $1 }'
}

# st_leaks: the number of loop devices st_our_loops still lists, once the
# lazily detached ones are gone. loop-detach (like losetup -d) only sets
# autoclear on a device someone still has open (udev's probe, another
# tool scanning loop devices); the kernel frees it at the last close, a
# moment later. A device without autoclear is a leak at once.
st_leaks() {
	_st_n=0
	while [ -n "$(st_our_loops)" ] && [ "$_st_n" -lt 100 ]; do
		losetup -l -n -O NAME,AUTOCLEAR,BACK-FILE 2>/dev/null |
		    awk -v t="$ST_DIR/" 'index($3, t) == 1 && $2 == 0 { f = 1 } END { exit !f }' &&
		    break
		_st_n=$((_st_n + 1))
		sleep 0.05
	done
	st_our_loops | wc -l
}

# st_snapshot: run this session on copies of the helpers and scripts, so
# that a rebuild or an edit by someone else in the shared tree meanwhile
# cannot fail a run half-way. Sets ST_BIN and ST_BLOCK (unless ST_BLOCK is
# already set: a deliberately broken copy).
st_snapshot() {
	mkdir -p "$ST_DIR/bin" "$ST_DIR/scripts" || return 1
	# Files only: the package's helper directory also holds its scripts/
	# (/usr/lib/xen-hotplug/scripts, XHP_INSTALLED in test_helper.bash).
	for _st_h in "$ST_BIN"/*; do
		[ -d "$_st_h" ] || cp -p "$_st_h" "$ST_DIR/bin/" || return 1
	done
	cp -p "$XHP_TOP"/scripts/Linux/* "$XHP_TOP"/scripts/common/* "$ST_DIR/scripts/" || return 1
	ST_BIN=$ST_DIR/bin
	XHP_BIN=$ST_BIN
	if [ "$ST_BLOCK" = "$XHP_TOP/scripts/Linux/block" ]; then
		ST_BLOCK=$ST_DIR/scripts/block
	fi
	export ST_BIN XHP_BIN ST_BLOCK
}

# st_loops_named: each of our loop devices, its backing file and the name
# it was bound with (our scripts' tag names the backend; upstream's losetup
# puts the file's path there), for a leak report.
st_loops_named() {
	for _st_l in $(st_our_loops); do
		printf '%s %s autoclear=%s name=%s\n' "$_st_l" \
		    "$(cat "/sys/block/${_st_l#/dev/}/loop/backing_file" 2>/dev/null)" \
		    "$(cat "/sys/block/${_st_l#/dev/}/loop/autoclear" 2>/dev/null)" \
		    "$("$XHP_TOP/build/tests/loop-probe" tag "$_st_l" 2>&1)"
	done
}

# st_free_loops: detach every loop device st_our_loops lists (clean-up).
st_free_loops() {
	for _st_l in $(st_our_loops); do
		losetup -d "$_st_l" 2>/dev/null
	done
	return 0
}

# st_half: print every backend where one of physical-device and
# physical-device-path is written without the other (path-only backends,
# named in $ST_DIR/pathonly, may lack physical-device). Returns 1 when there
# is any.
st_half() {
	xenstore-ls -f "$ST_BE" 2>/dev/null | awk -v po="$ST_DIR/pathonly" '
	BEGIN { while ((getline l < po) > 0) pathonly[l] = 1 }
	{
		p = $1
		n = split(p, c, "/")
		if (n != 9) next
		b = c[7] "/" c[8]
		if (c[9] == "physical-device") pd[b] = 1
		if (c[9] == "physical-device-path") pdp[b] = 1
		seen[b] = 1
	}
	END {
		bad = 0
		for (b in seen) {
			if (pd[b] && !pdp[b]) { print b " physical-device without physical-device-path"; bad = 1 }
			if (pdp[b] && !pd[b] && !(b in pathonly)) { print b " physical-device-path without physical-device"; bad = 1 }
		}
		exit bad
	}'
}

# st_check WATCHLOG IMPLMAP: the sharing invariant over every backend in
# the store. Prints one summary line
#   grants=G refused=R errors=E violations=V upstream_misses=U spurious=S
#   vs_upstream=A vs_pathonly=B
# (A, B: refusals of ours explained by a grant of upstream's script, or of
# a path-only writer, i.e. conflicts with those writers that were caught)
# and, for each violation or upstream miss, a line starting with
# "violation" or "upstream-miss", "spurious" (an add of ours refused as
# busy with no conflicting grant to explain it) or "error" (an add of ours
# that failed otherwise). A conflict is two granted backends (with
# physical-device or physical-device-path) of unrelated domains on the same
# device or image, at least one read-write. The later grant (order of the
# first physical-device* event in WATCHLOG) should have been refused: if it
# was ours, that is a violation; if upstream's, a known upstream defect.
# IMPLMAP has "DOM/DEV IMPL" lines. Returns 1 when there is a violation,
# a spurious refusal or an error of ours.
st_check() {
	losetup -l -n -O MAJ:MIN,BACK-MAJ:MIN,BACK-INO >"$ST_DIR/loops" 2>/dev/null
	xenstore-ls -f /local/domain >"$ST_DIR/dump" 2>/dev/null
	awk -v loops="$ST_DIR/loops" -v watch="$1" -v impls="$2" '
	function unq(s) { sub(/^"/, "", s); sub(/"$/, "", s); return s }
	function hexmm(s,   a) { split(s, a, ":"); return sprintf("%x:%x", a[1] + 0, a[2] + 0) }
	function ident(b,   mm, cmd, out) {
		mm = pd[b]
		if (mm == "" && pdp[b] != "") mm = statid(pdp[b], "%t:%T")
		if (mm == "") return ""
		if (mm in loopback) return "file " loopback[mm]
		return "dev " mm
	}
	function statid(path, fmt,   cmd, out) {
		cmd = "stat -L -c " fmt " \"" path "\" 2>/dev/null"
		out = ""
		cmd | getline out
		close(cmd)
		return out
	}
	# The identity a refused add asked for, from its params.
	function targetid(b,   p, t, a) {
		p = par[b]
		if (p !~ /^\//) p = "/dev/" p
		t = statid(p, "%F")
		if (t == "block special file") return "dev " statid(p, "%t:%T")
		if (t != "regular file") return ""
		split(statid(p, "%Hd:%Ld:%i"), a, ":")
		return sprintf("file %x:%x:%s", a[1], a[2], a[3])
	}
	function vm(d) { return ((d, "vm") in dom) ? dom[d, "vm"] : "" }
	function tvm(d) { return ((d, "target") in dom) ? vm(dom[d, "target"]) : "" }
	function related(a, b,   va, vb, ta, tb) {
		if (a == b) return 1
		va = vm(a); vb = vm(b); ta = tvm(a); tb = tvm(b)
		if (va != "" && va == vb) return 1
		if (ta != "" && (ta == vb || ta == tb)) return 1
		if (tb != "" && tb == va) return 1
		return 0
	}
	function cmode(m) { return (m ~ /!/) ? "!" : (m ~ /w/) ? "w" : "r" }
	BEGIN {
		while ((getline l < loops) > 0) {
			split(l, f, " ")
			if (f[3] == "") continue
			loopback[hexmm(f[1])] = hexmm(f[2]) ":" f[3]
		}
		n = 0
		while ((getline l < watch) > 0) {
			n++
			if (l ~ /\/physical-device(-path)?( |$)/) {
				split(l, f, " ")
				k = f[1]; sub(/\/physical-device(-path)?$/, "", k)
				sub(/^.*\/backend\/vbd\//, "", k)
				if (!(k in order)) order[k] = n
			}
		}
		while ((getline l < impls) > 0) { split(l, f, " "); impl[f[1]] = f[2] }
	}
	{
		p = $1
		v = $0; sub(/^[^=]* = /, "", v); v = unq(v)
		nc = split(p, c, "/")
		if (nc == 5 && (c[5] == "vm" || c[5] == "target")) { dom[c[4], c[5]] = v; next }
		if (nc != 9 || c[4] != 0 || c[5] != "backend" || c[6] != "vbd") next
		b = c[7] "/" c[8]
		be[b] = 1
		if (c[9] == "physical-device") pd[b] = v
		else if (c[9] == "physical-device-path") pdp[b] = v
		else if (c[9] == "mode") mode[b] = v
		else if (c[9] == "frontend-id") fe[b] = v
		else if (c[9] == "hotplug-status") st[b] = v
		else if (c[9] == "hotplug-error") he[b] = v
		else if (c[9] == "params") par[b] = v
	}
	END {
		g = 0; r = 0; e = 0; viol = 0; miss = 0; ng = 0; spur = 0; nr = 0
		vsup = 0; vspath = 0
		for (b in be) {
			ours = !((b in impl) && impl[b] == "upstream")
			if (st[b] == "busy" && ours) { r++; refused[++nr] = b }
			else if (st[b] != "" && st[b] != "connected" && ours) {
				print "error " b ": " he[b]; e++
			}
			if (pd[b] == "" && pdp[b] == "") continue
			id = ident(b)
			if (id == "") { print "violation " b " granted but its device cannot be identified"; viol++; continue }
			g++
			grant[++ng] = b
			gid[ng] = id
		}
		for (i = 1; i <= ng; i++) for (j = i + 1; j <= ng; j++) {
			a = grant[i]; b = grant[j]
			if (gid[i] != gid[j]) continue
			ma = cmode(mode[a]); mb = cmode(mode[b])
			if (ma == "!" || mb == "!") continue
			if (ma != "w" && mb != "w") continue
			da = (a in fe) ? fe[a] : a; sub(/\/.*/, "", da)
			db = (b in fe) ? fe[b] : b; sub(/\/.*/, "", db)
			if (related(da, db)) continue
			oa = (a in order) ? order[a] : 0; ob = (b in order) ? order[b] : 0
			later = (oa > ob) ? a : b
			ia = (later in impl) ? impl[later] : "ours"
			what = gid[i] " " a "(" ma "," impl[a] ") " b "(" mb "," impl[b] ")"
			if (oa == 0 || ob == 0 || ia != "upstream") { print "violation " what " later " later; viol++ }
			else { print "upstream-miss " what " later " later; miss++ }
		}
		# Every refusal of ours must be explained by a conflicting grant
		# still in place: a check that refused everything would pass the
		# invariant above.
		for (i = 1; i <= nr; i++) {
			b = refused[i]
			tid = targetid(b)
			mb = cmode(mode[b])
			db = (b in fe) ? fe[b] : b; sub(/\/.*/, "", db)
			why = 0; byup = 0; bypath = 0
			for (j = 1; j <= ng; j++) {
				a = grant[j]
				if (gid[j] != tid) continue
				ma = cmode(mode[a])
				if (ma != "w" && mb != "w") continue
				da = (a in fe) ? fe[a] : a; sub(/\/.*/, "", da)
				if (related(da, db)) continue
				why = 1
				if (impl[a] == "upstream") byup = 1
				if (impl[a] == "path") bypath = 1
			}
			vsup += byup; vspath += bypath
			if (!why) { print "spurious " b " (" mb ") " tid ": " he[b]; spur++ }
		}
		printf "grants=%d refused=%d errors=%d violations=%d upstream_misses=%d spurious=%d vs_upstream=%d vs_pathonly=%d\n", g, r, e, viol, miss, spur, vsup, vspath
		exit (viol + spur + e) > 0
	}' "$ST_DIR/dump"
}

# st_kill_cycle N POINT CMD: one fault cycle. Backend 1/N is given image
# kimg read-write; `block CMD` for it (after a complete add when CMD is
# remove) is killed with SIGKILL at POINT:
#   random:MS   after MS milliseconds, wherever the script is
#   publish     add killed just before it starts xs-publish (lock, check,
#               loop attach, publishing transaction in one process);
#               xs-publish, already started, goes on alone
#   nopublish   same kill point, but xs-publish never runs, as if the
#               script had died just before starting it
#   inpub:MS    inside xs-publish: the test xenstore answers every request
#               15 ms late (fault-delay), so xs-publish holds the lock
#               for about 100 ms; the script and, MS ms later, its whole
#               group are killed: holding the lock, between loop attach
#               and the write, or inside the transaction
#   txn:MS      the test xenstore fails every commit (fault-eagain), so
#               xs-publish sits in its transaction (lock held, loop
#               attached); the group is killed MS ms after it starts
#   lock        remove killed holding the lock, before it reads the
#               backend (xs-readv)
#   detach      remove killed before loop-detach runs (it never runs)
#   detach-go   remove killed while loop-detach, already started, goes on
# Only the script's pid is killed, as libxl does (inpub, txn: the group
# too); then the children it left are waited for. Then the checks: no
# backend holds one of physical-device/-path without the other; the next
# add (of backend 2/N, another image) succeeds without waiting out a stuck
# lock; remove of both leaves no loop device. Prints one line
#   cycle N POINT CMD: killed=yes|exited half=H failed=F leaks=L
# plus a line per problem found (F counts a kill point never reached,
# children that never finish, and a next add or a remove that fails).
# Returns 1 when H, F or L is not 0.
st_kill_cycle() {
	_kn=$1 _kp=$2 _kc=$3
	_kb1=$ST_BE/1/$_kn _kb2=$ST_BE/2/$_kn
	_khalf=0 _kfail=0 _kleaks=0 _kkilled=exited
	[ -f "$ST_DIR/kimg" ] || truncate -s 4M "$ST_DIR/kimg" "$ST_DIR/nimg"
	st_mkdom 1 && st_mkdom 2 || return 1
	st_mkbe 1 "$_kn" "$ST_DIR/kimg" w && st_mkbe 2 "$_kn" "$ST_DIR/nimg" w || return 1
	export XEN_HOTPLUG_HELPERDIR="$ST_BIN"
	if [ "$_kc" = remove ] && ! st_block ours add 1 "$_kn" >/dev/null 2>&1; then
		echo "cycle $_kn $_kp $_kc: the first add failed: $(xenstore-read "$_kb1/hotplug-error" 2>&1)"
		return 1
	fi
	_kh=
	case $_kp in
	publish | nopublish | inpub:* | txn:*) _kh=xs-publish ;;
	detach | detach-go) _kh=loop-detach ;;
	esac
	if [ -n "$_kh" ]; then
		st_pausewrap "$_kh" || return 1
		export XEN_HOTPLUG_HELPERDIR="$ST_HELPERDIR"
	fi
	case $_kp in
	txn:*) st_xsd_control fault-eagain 1000000 || return 1 ;;
	inpub:*) st_xsd_control fault-delay 15 || return 1 ;;
	esac
	st_spawn "$ST_DIR/kpid" ours "$_kc" 1 "$_kn" || return 1
	_kpid=$ST_PID
	export XEN_HOTPLUG_HELPERDIR="$ST_BIN"
	case $_kp in
	random:*)
		sleep "$(st_secs "${_kp#random:}")"
		st_kill "$_kpid" && _kkilled=yes
		;;
	*)
		if st_wait_file "$ST_DIR/pause/$_kh.ready" 20; then
			st_kill "$_kpid" && _kkilled=yes
		else
			echo "cycle $_kn $_kp $_kc: the kill point was never reached"
			_kfail=$((_kfail + 1))
		fi
		case $_kp in
		nopublish | detach) : >"$ST_DIR/pause/abort" ;;
		*) : >"$ST_DIR/pause/go" ;;
		esac
		case $_kp in
		txn:* | inpub:*)
			sleep "$(st_secs "${_kp#*:}")"
			kill -KILL -"$_kpid" 2>/dev/null
			;;
		esac
		;;
	esac
	wait "$ST_BGPID" 2>/dev/null
	if ! st_group_gone "$_kpid" 30; then
		echo "cycle $_kn $_kp $_kc: the killed script's children did not finish"
		kill -KILL -"$_kpid" 2>/dev/null
		_kfail=$((_kfail + 1))
	fi
	case $_kp in
	txn:*) st_xsd_control fault-eagain 0 || return 1 ;;
	inpub:*) st_xsd_control fault-delay 0 || return 1 ;;
	esac
	st_half >"$ST_DIR/half"
	_khalf=$(wc -l <"$ST_DIR/half")
	sed "s/^/cycle $_kn $_kp $_kc: half-written: /" "$ST_DIR/half"
	# The next add, on another image: the lock must be free again.
	if ! XEN_HOTPLUG_LOCK_TIMEOUT=10 st_block ours add 2 "$_kn" >/dev/null 2>&1 ||
	    [ "$(xenstore-read "$_kb2/hotplug-status" 2>/dev/null)" != connected ]; then
		echo "cycle $_kn $_kp $_kc: the next add failed: $(xenstore-read "$_kb2/hotplug-error" 2>&1)"
		_kfail=$((_kfail + 1))
	fi
	# What add left, for the report of a leak.
	_kstate=$(xenstore-ls -f "$_kb1" 2>/dev/null | grep -E '/(node|loop-file-id|loop-tag|physical-device|hotplug-status|hotplug-error) = ' | tr '\n' ' ')
	# The following removes (libxl runs remove after a failed add).
	if ! st_block ours remove 1 "$_kn" >/dev/null 2>&1; then
		echo "cycle $_kn $_kp $_kc: remove of the killed backend failed: $(xenstore-read "$_kb1/hotplug-error" 2>&1)"
		_kfail=$((_kfail + 1))
	fi
	if ! st_block ours remove 2 "$_kn" >/dev/null 2>&1; then
		echo "cycle $_kn $_kp $_kc: remove of the next backend failed: $(xenstore-read "$_kb2/hotplug-error" 2>&1)"
		_kfail=$((_kfail + 1))
	fi
	_kleaks=$(st_leaks)
	if [ "$_kleaks" -gt 0 ]; then
		echo "cycle $_kn $_kp $_kc: loop devices left: $(losetup -l -n -O NAME,AUTOCLEAR,BACK-FILE | grep -F "$ST_DIR/" | tr '\n' ' ')"
		echo "cycle $_kn $_kp $_kc: backend 1/$_kn before remove: $_kstate"
		echo "cycle $_kn $_kp $_kc: log: $(tail -n 4 "$XEN_HOTPLUG_LOGFILE" 2>/dev/null | tr '\n' ' ')"
		st_free_loops
	fi
	xenstore-rm "$_kb1" 2>/dev/null
	xenstore-rm "$_kb2" 2>/dev/null
	echo "cycle $_kn $_kp $_kc: killed=$_kkilled half=$_khalf failed=$_kfail leaks=$_kleaks"
	[ $((_khalf + _kfail + _kleaks)) -eq 0 ]
}
