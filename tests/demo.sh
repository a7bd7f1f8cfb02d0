#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# make demo: the Linux block script end to end on the test xenstore.
# Starts build/tests/test-xenstored on a private socket, creates two
# backends the way libxl does (an image file, and a block device: a loop
# device over a second image), runs `block add` for both, shows the backend
# nodes, runs `block remove`, shows that the loop device add created is
# gone, and cleans up. Needs root (loop devices) and `make`.
set -u

top=$(cd "${0%/*}/.." && pwd)
bin=$top/build/bin
xsd=$top/build/tests/test-xenstored
block=$top/scripts/Linux/block
be=/local/domain/0/backend/vbd

die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (loop devices)"
if [ ! -x "$xsd" ] || [ ! -x "$bin/xs-readv" ]; then die "run make first"; fi
for t in xenstore-ls xenstore-write losetup; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xhp-demo.XXXXXX") || die "mktemp failed"
xsd_pid=
dev_loop=
cleanup() {
	[ -z "$xsd_pid" ] || kill "$xsd_pid" 2>/dev/null
	[ -z "$dev_loop" ] || losetup -d "$dev_loop" 2>/dev/null
	for l in $(losetup -l -n -O NAME,BACK-FILE 2>/dev/null |
	    awk -v t="$tmp/" 'index($0, t) { print $1 }'); do
		losetup -d "$l"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

XENSTORED_PATH=$tmp/xenstored.sock
XEN_HOTPLUG_HELPERDIR=$bin
XEN_HOTPLUG_LOGFILE=$tmp/xen-hotplug.log
XEN_HOTPLUG_LOCK_BASEDIR=$tmp/lock
XEN_HOTPLUG_LOOP_TAG=${tmp##*/}
export XENSTORED_PATH XEN_HOTPLUG_HELPERDIR XEN_HOTPLUG_LOGFILE \
    XEN_HOTPLUG_LOCK_BASEDIR XEN_HOTPLUG_LOOP_TAG

"$xsd" -s "$XENSTORED_PATH" &
xsd_pid=$!
i=0
until xenstore-read / >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || die "test xenstore did not start"
	sleep 0.05
done

# mkbe DOM DEVID PARAMS MODE: the nodes libxl writes before running the script.
mkbe() {
	b=$be/$1/$2
	xenstore-write "$b/frontend" "/local/domain/$1/device/vbd/$2" \
	    "$b/params" "$3" "$b/script" "$block" "$b/frontend-id" "$1" \
	    "$b/online" 1 "$b/removable" 0 "$b/bootable" 1 "$b/state" 2 \
	    "$b/dev" xvda "$b/type" phy "$b/mode" "$4" "$b/device-type" disk \
	    "$b/discard-enable" 0 "$b/specification" xen \
	    "/local/domain/$1/vm" "/vm/demo-$1" || die "xenstore-write failed"
}

run() {
	printf '\n$ XENBUS_PATH=%s block %s\n' "$2" "$1"
	XENBUS_PATH=$2 XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend sh "$block" "$1" </dev/null
	printf 'exit status %s\n' "$?"
}

truncate -s 16M "$tmp/guest1.img" "$tmp/disk.img" || die "truncate failed"
dev_loop=$(losetup --find --show "$tmp/disk.img") || die "losetup failed"

echo "== image file $tmp/guest1.img for domain 1, block device $dev_loop for domain 2"
mkbe 1 51712 "$tmp/guest1.img" w
mkbe 2 51712 "$dev_loop" r
run add backend/vbd/1/51712
run add backend/vbd/2/51712

printf '\n$ xenstore-ls %s\n' "$be"
xenstore-ls "$be"

node=$(xenstore-read "$be/1/51712/node")
printf '\n$ losetup %s\n' "$node"
losetup "$node"

echo
echo "== domain 3 asks for the same image read-write: refused"
mkbe 3 51712 "$tmp/guest1.img" w
run add backend/vbd/3/51712
printf 'hotplug-status = %s\nhotplug-error = %s\n' \
    "$(xenstore-read "$be/3/51712/hotplug-status")" \
    "$(xenstore-read "$be/3/51712/hotplug-error")"

run remove backend/vbd/1/51712
run remove backend/vbd/2/51712
printf '\n$ losetup -j %s\n' "$tmp/guest1.img"
if [ -z "$(losetup -j "$tmp/guest1.img")" ]; then
	echo "(nothing: $node was freed)"
else
	losetup -j "$tmp/guest1.img"
	die "$node is still attached"
fi
printf '\n== log (%s)\n' "$XEN_HOTPLUG_LOGFILE"
cat "$XEN_HOTPLUG_LOGFILE" 2>/dev/null
echo "demo: ok"
