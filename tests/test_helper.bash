# Shared set-up for every bats suite: PATH, a private temp root, and the
# test xenstore on a private socket.
#
#   load ../test_helper          (from any tests/KIND/ directory)
#   setup()    { xhp_setup; }      private $XHP_TMP, xenstore started
#   teardown() { xhp_teardown; }   xenstore stopped, temp removed
#
# Variables for tests:
#   XHP_TOP        repository root
#   XHP_BIN        built helpers (build/bin)
#   XHP_TMP        private temp dir for this test
#   XENSTORED_PATH socket of this test's xenstore (exported)
#   HOTPLUG_SH     shell to run scripts under (dash, bash, "busybox sh")

XHP_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
if [ ! -d "$XHP_TOP/helpers" ]; then XHP_TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd); fi
XHP_BIN=${XHP_BIN:-$XHP_TOP/build/bin}
XHP_XSD=${XHP_XSD:-$XHP_TOP/build/tests/test-xenstored}
: "${HOTPLUG_SH:=dash}"
export XEN_HOTPLUG_HELPERDIR=$XHP_BIN
export PATH="$XHP_BIN:$PATH"

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

xhp_setup() {
	XHP_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/xhp.XXXXXX")
	export XHP_TMP
	xsd_start
}

xhp_teardown() {
	xsd_stop
	[ -n "${XHP_TMP:-}" ] && rm -rf "$XHP_TMP"
}

# require_root: skip visibly when not root (loop devices, mknod).
require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mknod)"
}
