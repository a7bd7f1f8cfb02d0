# Shared set-up for every bats suite: PATH, a private temp root, and the
# test xenstore on a private socket.
#
#   load ../test_helper          (from tests/unit or tests/sh)
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
XHP_BIN=$XHP_TOP/build/bin
XHP_XSD=$XHP_TOP/build/tests/test-xenstored
: "${HOTPLUG_SH:=dash}"
export XEN_HOTPLUG_HELPERDIR=$XHP_BIN
export PATH="$XHP_BIN:$PATH"

# xsd_start: start the test xenstore on a private socket, wait until it
# accepts connections. Extra arguments go to test-xenstored (fault
# injection options). Sets XSD_PID, exports XENSTORED_PATH.
# shellcheck disable=SC2120 # callers may pass daemon options
xsd_start() {
	XENSTORED_PATH=$XHP_TMP/xenstored.sock
	export XENSTORED_PATH
	"$XHP_XSD" -s "$XENSTORED_PATH" "$@" 3>&- &
	XSD_PID=$!
	local _
	for _ in $(seq 1 200); do
		[ -S "$XENSTORED_PATH" ] && xenstore-read / >/dev/null 2>&1 && return 0
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
