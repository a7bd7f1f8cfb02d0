# Shared set-up for every bats suite: PATH, a private temp root, the test
# xenstore on a private socket, and the vocabulary the suites share (backends
# as libxl writes them, running a script as libxl does, images, block nodes,
# loop devices, the hotplug lock, usage checks, upstream's scripts). A suite
# defines only what is its own; nothing here is redefined in a suite.
#
#   load ../test_helper          (from any tests/KIND/ directory)
#   setup()    { xhp_setup; }      private $XHP_TMP, xenstore started
#   teardown() { xhp_teardown; }   xenstore stopped, temp removed
#
# Variables for tests:
#   XHP_TOP        repository root (and the test tools in its build/:
#                  test-xenstored, xsraw, loop-probe, bench/populate)
#   XHP_BIN        the helpers under test (build/bin)
#   XHP_SCRIPTDIR  the scripts libxl runs and block-common.sh (scripts/Linux)
#   XHP_LIBDIR     the libraries only our scripts source (scripts/Linux)
#   XHP_INSTALLED  set (1): test the installed package instead of the tree
#                  (debian/tests/installed). Then XHP_SCRIPTDIR is
#                  /etc/xen/scripts, XHP_LIBDIR and XHP_BIN are what the
#                  xen-hotplug-paths.sh installed there records
#                  (XEN_HOTPLUG_LIBDIR, XEN_HOTPLUG_HELPERDIR:
#                  /usr/lib/xen-hotplug), each unless set already; and
#                  XEN_HOTPLUG_HELPERDIR is not set, so the scripts find
#                  their helpers by themselves, as under libxl. The test
#                  tools still come from $XHP_TOP/build.
#   XHP_TMP        private temp dir for this test
#   XENSTORED_PATH socket of this test's xenstore (exported)
#   HOTPLUG_SH     shell to run scripts under (dash, bash, "busybox sh")
#   BE             set by a suite: the directory that relative node names of
#                  rd and absent are under (unset: the xenstore connection's
#                  home, /local/domain/0)
#
# Set-up and temp:
#   xhp_setup, xhp_teardown   temp dir and xenstore (above)
#   xhp_tmp                   only the private $XHP_TMP (no xenstore)
#   xsd_start [OPT...], xsd_stop   the test xenstore itself
#   require_root              skip visibly unless root (and always under
#                             make check-quick, XHP_QUICK)
#   need_built FILE...        build (make) those of the test programs under
#                             build/ that are missing, so that a suite run
#                             alone reads nothing it did not make
#   script_setup              require_root, xhp_setup and script_env
#   script_env                the environment our scripts run in: log file,
#                             lock directory and loop tag private to the
#                             test, no debug or path-only mode; sets BLOCK
#                             (XHP_BLOCK: run a suite against another block;
#                             default $XHP_SCRIPTDIR/block)
#
# Xenstore:
#   rd [-R] NODE              its value (NODE absolute, or under $BE; -R:
#                             raw, unescaped)
#   absent NODE               NODE does not exist
#   mkbe DOM DEVID PARAMS MODE [TYPE]
#                             backend TYPE (vbd)/DOM/DEVID as libxl writes
#                             it before running the script, and the guest's
#                             vm node /vm/uuid-DOM
#   run_script SCRIPT CMD XENBUS_PATH [TYPE]
#                             `run` SCRIPT CMD under $HOTPLUG_SH as libxl
#                             does (XENBUS_TYPE TYPE, default vbd; stdin
#                             /dev/null; from $SCRIPT_CWD when set)
#
# Files, devices, locks:
#   mkimg FILE                a 4 MiB image file
#   mkblk PATH [MINOR]        a block node 240:MINOR (240-254 are for local
#                             use; no mount has one); MINOR random by default
#   majmin PATH               blkback's hex "maj:min" of a device (stat -L)
#   loops_of FILE             how many loop devices FILE backs
#   my_loops                  loop devices backed by files of this test
#   free_my_loops             detach them (teardown)
#   loop_setup                for the loop helpers' suites: root and
#                             /dev/loop-control or skip, $XHP_TMP (no
#                             xenstore), TAG unique to the test, IMG a 4 MiB
#                             image in it
#   bound DEV                 loop device DEV is bound to a file
#   free_loops                detach my_loops and every device carrying TAG
#                             (those whose file is gone); teardown
#   lock_free [FILE]          nobody holds the hotplug lock FILE (default
#                             $LOCK, else $XHP_TMP/lock/block); an absent
#                             file is free
#
# Checks of a helper's usage (need bats_require_minimum_version 1.5.0):
#   usage_refused CMD [ARG...]   exit 100, nothing on stdout, usage on stderr
#   usage_shown CMD PREFIX       CMD -h: exit 0, stdout starts with PREFIX,
#                                nothing on stderr
#
# Copies of scripts:
#   only_dash                 skip unless $HOTPLUG_SH is dash (tests of a
#                             checker, not of the shell)
#   our_files [PATTERN]       the path of each of our script files whose
#                             name matches PATTERN (default *), one a line:
#                             in the tree scripts/Linux/PATTERN and
#                             scripts/common/PATTERN; installed, each name
#                             of those where the package put it
#                             (XHP_LIBDIR or XHP_SCRIPTDIR), and
#                             xen-hotplug-paths.sh
#   beside DIR [PATTERN]      DIR gets our_files PATTERN (default *.sh),
#                             as a third-party script in /etc/xen/scripts
#                             sees them: symlinks in the tree, copies of
#                             the installed files (so that no test writes
#                             into the package)
#   broken NAME SED           $XHP_TMP/NAME: a copy of our_files with SED
#                             applied to block (fails if it changed nothing);
#                             exports ST_BLOCK to it
#   upstream_dir              UPSTREAM: upstream's scripts directory, from
#                             tests/fetch-upstream.sh (downloaded once into
#                             the cache), or skip visibly with its reason
#                             (always under make check-quick: no network)

XHP_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
if [ ! -d "$XHP_TOP/helpers" ]; then XHP_TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd); fi
if [ -n "${XHP_INSTALLED:-}" ]; then
	XHP_SCRIPTDIR=${XHP_SCRIPTDIR:-/etc/xen/scripts}
	# The paths the package recorded; without the file the tests fail on
	# what is missing, not here.
	# shellcheck source=/dev/null # generated by make install
	XHP_LIBDIR=${XHP_LIBDIR:-$(unset XEN_HOTPLUG_LIBDIR
		. "$XHP_SCRIPTDIR/xen-hotplug-paths.sh" 2>/dev/null &&
		printf %s "${XEN_HOTPLUG_LIBDIR:-}")}
	# shellcheck source=/dev/null
	XHP_BIN=${XHP_BIN:-$(unset XEN_HOTPLUG_HELPERDIR
		. "$XHP_SCRIPTDIR/xen-hotplug-paths.sh" 2>/dev/null &&
		printf %s "${XEN_HOTPLUG_HELPERDIR:-}")}
	: "${XHP_LIBDIR:=/usr/lib/xen-hotplug}" "${XHP_BIN:=/usr/lib/xen-hotplug}"
	# For the suites' own tools (tests/stress/faults.sh, concurrency.sh),
	# which default to build/bin.
	export XHP_INSTALLED XHP_SCRIPTDIR XHP_LIBDIR XHP_BIN
	unset XEN_HOTPLUG_HELPERDIR XEN_HOTPLUG_LIBDIR
else
	XHP_SCRIPTDIR=${XHP_SCRIPTDIR:-$XHP_TOP/scripts/Linux}
	XHP_LIBDIR=${XHP_LIBDIR:-$XHP_SCRIPTDIR}
	XHP_BIN=${XHP_BIN:-$XHP_TOP/build/bin}
	export XEN_HOTPLUG_HELPERDIR=$XHP_BIN
fi
XHP_XSD=${XHP_XSD:-$XHP_TOP/build/tests/test-xenstored}
: "${HOTPLUG_SH:=dash}"
export PATH="$XHP_BIN:$PATH"

# ---- set-up and temp ---------------------------------------------------------

# xsd_start [OPTIONS]: start the test xenstore on a private socket, wait
# until it accepts connections. Extra arguments go to test-xenstored (e.g.
# -E 2). Sets XSD_PID, exports XENSTORED_PATH. XHP_XSD_WRAP, if set, is a
# command prefix for the daemon, split on blanks, e.g.
#   XHP_XSD_WRAP="valgrind -q --log-file=/tmp/vg.%p"
# shellcheck disable=SC2120 # suites pass daemon options, this file does not
xsd_start() {
	XENSTORED_PATH=$XHP_TMP/xenstored.sock
	export XENSTORED_PATH
	# shellcheck disable=SC2086 # the wrapper is split into words on purpose
	${XHP_XSD_WRAP:-} "$XHP_XSD" -s "$XENSTORED_PATH" "$@" 3>&- &
	XSD_PID=$!
	local _
	for _ in $(seq 1 500); do
		[ -S "$XENSTORED_PATH" ] && xenstore-read / >/dev/null 2>&1 && return 0
		# Fail at once when the daemon died (bad option, socket in use).
		kill -0 "$XSD_PID" 2>/dev/null || break
		sleep 0.02
	done
	echo "test xenstore did not start" >&2
	return 1
}

xsd_stop() {
	if [ -n "${XSD_PID:-}" ]; then
		kill "$XSD_PID" 2>/dev/null
		wait "$XSD_PID" 2>/dev/null
		XSD_PID=
	fi
}

xhp_tmp() {
	XHP_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/xhp.XXXXXX")
	export XHP_TMP
}

xhp_setup() {
	xhp_tmp
	xsd_start
}

xhp_teardown() {
	xsd_stop
	[ -z "${XHP_TMP:-}" ] || rm -rf "$XHP_TMP"
}

# stopped PID: the process is stopped (state T).
stopped() {
	local s
	s=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${s# }" != "${s# T}" ]
}

# gone_wait PID: wait until the process (not our child) has exited.
gone_wait() {
	local _
	for _ in $(seq 1 500); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.02
	done
	return 1
}

# require_root: skip visibly when not root (loop devices, mknod). Under
# make check-quick (XHP_QUICK set by tests/run.sh --quick) never run, even
# as root: the quick tier needs no root, and run.sh counts these apart.
# A skip in setup() still runs the suite's teardown; it gets an empty
# private $XHP_TMP, so that its "$XHP_TMP/mnt" is never /mnt.
require_root() {
	if [ -n "${XHP_QUICK:-}" ] || [ "$(id -u)" -ne 0 ]; then
		[ -n "${XHP_TMP:-}" ] || xhp_tmp
	fi
	[ -z "${XHP_QUICK:-}" ] || skip "check-quick: needs root"
	[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mknod)"
}

need_built() {
	local f missing=
	for f in "$@"; do
		# make knows them by their path in the tree.
		[ -x "$f" ] || missing="$missing ${f#"$XHP_TOP"/}"
	done
	[ -z "$missing" ] && return 0
	# shellcheck disable=SC2086 # a list of targets
	make -s -C "$XHP_TOP" $missing >&2
}

# script_setup: what a suite that runs our scripts needs: root, the temp
# dir and xenstore, script_env.
script_setup() {
	require_root
	xhp_setup
	script_env
}

script_env() {
	export XEN_HOTPLUG_LOGFILE=$XHP_TMP/hotplug.log
	export XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock
	# The host's /etc/default/xen-hotplug plays no part in a test.
	export XEN_HOTPLUG_CONFIG=/dev/null
	# Our own loop tags, so that a sweep by tag never meets another run's.
	export XEN_HOTPLUG_LOOP_TAG=${XHP_TMP##*/}
	unset XEN_HOTPLUG_DEBUG XEN_BLOCK_PATH_ONLY XEN_SCRIPT_DIR
	# shellcheck disable=SC2034 # for the suites
	BLOCK=${XHP_BLOCK:-$XHP_SCRIPTDIR/block}
}

# ---- xenstore ----------------------------------------------------------------

_xhp_node() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "${BE:+$BE/}$1" ;;
	esac
}

rd() {
	if [ "$1" = -R ]; then
		xenstore-read -R "$(_xhp_node "$2")"
	else
		xenstore-read "$(_xhp_node "$1")"
	fi
}
absent() { ! xenstore-read "$(_xhp_node "$1")" >/dev/null 2>&1; }

mkbe() {
	local b=/local/domain/0/backend/${5:-vbd}/$1/$2
	xenstore-write "$b/frontend" "/local/domain/$1/device/vbd/$2" \
	    "$b/params" "$3" "$b/script" /etc/xen/scripts/block \
	    "$b/frontend-id" "$1" "$b/online" 1 "$b/removable" 0 \
	    "$b/bootable" 1 "$b/state" 2 "$b/dev" xvda "$b/type" phy \
	    "$b/mode" "$4" "$b/device-type" disk "$b/discard-enable" 0 \
	    "$b/specification" xen "/local/domain/$1/vm" "/vm/uuid-$1"
}

_xhp_script() {
	[ -z "${SCRIPT_CWD:-}" ] || cd "$SCRIPT_CWD" || return 1
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	env XENBUS_PATH="$3" XENBUS_TYPE="${4:-vbd}" XENBUS_BASE_PATH=backend \
	    $HOTPLUG_SH "$1" "$2" </dev/null
}

run_script() { run _xhp_script "$@"; }

# ---- files, devices, locks ---------------------------------------------------

mkimg() { truncate -s 4M "$1"; }
mkblk() { mknod "$1" b 240 "${2:-$((RANDOM % 200 + 1))}"; }
majmin() { printf '%x:%x\n' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }
loops_of() { losetup -j "$1" | wc -l; }

my_loops() {
	losetup -l -n -O NAME,BACK-FILE 2>/dev/null |
	    awk -v t="$XHP_TMP/" 'index($0, t) { print $1 }'
}

free_my_loops() {
	local l
	[ -n "${XHP_TMP:-}" ] || return 0
	for l in $(my_loops); do losetup -d "$l" 2>/dev/null; done
	return 0
}

loop_setup() {
	require_root
	[ -c /dev/loop-control ] || skip "no /dev/loop-control"
	xhp_tmp
	TAG="xhp-test-${XHP_TMP##*.}"
	IMG=$XHP_TMP/disk.img
	mkimg "$IMG"
}

bound() { [ -d "/sys/block/${1#/dev/}/loop" ]; }

# retry N CMD...: run CMD every 20 ms until it succeeds, N times at most.
retry() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		n=$((n - 1))
		sleep 0.02
	done
	return 1
}

# _xhp_helper_stopped: the helper that $XHP_TMP/helper.pid names (HELPER)
# has stopped at its pause point.
_xhp_helper_stopped() {
	[ -s "$XHP_TMP/helper.pid" ] && HELPER=$(cat "$XHP_TMP/helper.pid") &&
	    stopped "$HELPER"
}

# start_paused POINT CMD...: start CMD in the background, its helper told
# to stop at POINT (XEN_HOTPLUG_TEST_PAUSE, docs/xs-publish.md); output in
# $XHP_TMP/add.out. Returns once the helper has stopped, or fails after
# 10 s. ADD: CMD's pid, HELPER: the helper's.
start_paused() {
	local point=$1
	shift
	rm -f "$XHP_TMP/helper.pid"
	XEN_HOTPLUG_TEST_PAUSE="$point:$XHP_TMP/helper.pid" "$@" \
	    </dev/null >"$XHP_TMP/add.out" 2>&1 3>&- &
	# shellcheck disable=SC2034 # ADD and HELPER are for the caller
	ADD=$!
	retry 500 _xhp_helper_stopped
}

# part_disk IMG: D, a loop device over a new 64 MiB image IMG with a DOS
# table: P1 and P2 primaries of 10 MiB, P3 an extended one to the end, P5
# a logical one in it. losetup -P asks the kernel to read the table; a
# kernel built without the DOS parser gets the same partitions from partx
# (BLKPG). Skips without sfdisk (Debian's fdisk package). The caller
# detaches D.
part_disk() {
	local i
	command -v sfdisk >/dev/null || skip "no sfdisk (Debian's fdisk package)"
	truncate -s 64M "$1"
	printf '%s\n' 'label: dos' '2048,20480,83' '22528,20480,83' \
	    '43008,,5' '45056,8192,83' | sfdisk -q "$1"
	D=$(losetup -f --show -P "$1")
	[ -e "${D}p5" ] || partx -a "$D" 2>/dev/null || :
	for i in 1 2 3 5; do
		retry 100 test -b "${D}p$i" || skip "no partitions on $D"
	done
	# shellcheck disable=SC2034 # for the caller
	P1=${D}p1 P2=${D}p2 P3=${D}p3 P5=${D}p5
}

free_loops() {
	free_my_loops
	[ -z "${TAG:-}" ] || "$XHP_BIN/loop-detach" -a -t "$TAG" >/dev/null 2>&1
	return 0
}

lock_free() {
	local f=${1:-${LOCK:-$XHP_TMP/lock/block}}
	[ ! -e "$f" ] || flock -n "$f" true
}

# ---- usage of a helper -------------------------------------------------------

usage_refused() {
	run --separate-stderr "$@"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ "$stderr" == usage:* ]]
}

usage_shown() {
	run --separate-stderr "$1" -h
	[ "$status" -eq 0 ]
	[[ "$output" == "$2"* ]]
	[ -z "$stderr" ]
}

# ---- copies of scripts -------------------------------------------------------

only_dash() {
	[ "$HOTPLUG_SH" = dash ] || skip "checker test, run under dash only"
}

our_files() {
	local f n paths=xen-hotplug-paths.sh
	for f in "$XHP_TOP"/scripts/Linux/${1:-*} "$XHP_TOP"/scripts/common/${1:-*}; do
		[ -e "$f" ] || continue
		n=${f##*/}
		if [ -z "${XHP_INSTALLED:-}" ]; then
			case $f in
			*/common/*) printf '%s\n' "$f" ;;
			*) printf '%s\n' "$XHP_SCRIPTDIR/$n" ;;
			esac
		elif [ -e "$XHP_LIBDIR/$n" ]; then
			printf '%s\n' "$XHP_LIBDIR/$n"
		else
			printf '%s\n' "$XHP_SCRIPTDIR/$n"
		fi
	done
	[ -n "${XHP_INSTALLED:-}" ] || return 0
	# shellcheck disable=SC2254 # PATTERN is a pattern
	case $paths in
	${1:-*}) printf '%s\n' "$XHP_SCRIPTDIR/$paths" ;;
	esac
}

beside() {
	local f
	mkdir -p "$1"
	for f in $(our_files "${2:-*.sh}"); do
		if [ -n "${XHP_INSTALLED:-}" ]; then
			cp "$f" "$1/" || return 1
		else
			ln -s "$f" "$1/" || return 1
		fi
	done
}

broken() {
	mkdir -p "$XHP_TMP/$1"
	# shellcheck disable=SC2046 # a list of paths without blanks
	cp $(our_files) "$XHP_TMP/$1/"
	sed -i "$2" "$XHP_TMP/$1/block"
	# The edit must have applied, or the test would prove nothing.
	if cmp -s "$XHP_SCRIPTDIR/block" "$XHP_TMP/$1/block"; then
		echo "broken $1: the edit did not apply" >&2
		return 1
	fi
	export ST_BLOCK=$XHP_TMP/$1/block
}

upstream_dir() {
	[ -z "${XHP_QUICK:-}" ] || skip "check-quick: needs the network (upstream's scripts)"
	local err=${XHP_TMP:-$BATS_TEST_TMPDIR}/fetch-upstream.err
	UPSTREAM=$(sh "$XHP_TOP/tests/fetch-upstream.sh" 2>"$err") ||
		skip "upstream's scripts unavailable: $(cat "$err")"
	[ -f "$UPSTREAM/locking.sh" ] || skip "no locking.sh in $UPSTREAM"
}
