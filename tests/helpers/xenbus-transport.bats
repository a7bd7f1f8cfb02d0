#!/usr/bin/env bats
# The xenbus device transport: with no xenstored socket (XENSTORED_PATH
# unset, none in xenstored's run directory) the helpers' own connection
# (helpers/lib/xs.c) and libxenstore open /dev/xen/xenbus, as in a domain
# whose xenstored is elsewhere. Real, not a mock of our code: in a private
# mount namespace the run directories are empty tmpfs, /dev is a tmpfs with
# the host's nodes bound in, and /dev/xen/xenbus is a character device, a
# pty in raw mode that socat relays to this test's xenstore socket. Like
# the kernel's device it is no socket: xs.c writes it one message per
# write(2) and reads the replies back from one stream.

load ../test_helper
bats_require_minimum_version 1.5.0

setup() {
	require_root
	command -v socat >/dev/null || skip "needs socat (the relay to the test xenstore)"
	command -v unshare >/dev/null || skip "needs unshare (util-linux)"
	xhp_setup
	# The namespace's set-up, run by unshare -m: ns.sh [-n] CMD...
	# (-n: no relay, no /dev/xen/xenbus at all).
	cat > "$XHP_TMP/ns.sh" <<'EOF'
set -eu
relay=1
[ "$1" = -n ] && { relay=; shift; }
mount --make-rprivate /
for d in /var/run/xenstored /run/xenstored; do
	if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
# A /dev of our own: the host's is left as it is.
mkdir "$XHP_TMP/hostdev"
mount --rbind /dev "$XHP_TMP/hostdev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero urandom tty; do
	: > "/dev/$n"
	mount --bind "$XHP_TMP/hostdev/$n" "/dev/$n"
done
mkdir /dev/pts /dev/xen
mount --bind "$XHP_TMP/hostdev/pts" /dev/pts
# The kernel finds a pty's devpts beside the ptmx opened ("pts" in the
# same directory), which a bind-mounted /dev/ptmx does not have.
ln -s pts/ptmx /dev/ptmx
if [ -n "$relay" ]; then
	socat PTY,link=/dev/xen/xenbus,raw,echo=0 \
	    "UNIX-CONNECT:$XENSTORED_PATH" </dev/null \
	    >"$XHP_TMP/socat.log" 2>&1 &
	pid=$!
	trap 'kill "$pid"' EXIT
	i=0
	until [ -c /dev/xen/xenbus ]; do
		i=$((i + 1))
		[ "$i" -le 200 ] || { echo "ns.sh: no relay" >&2; exit 1; }
		sleep 0.05
	done
fi
env -u XENSTORED_PATH -u XENSTORED_RUNDIR "$@"
EOF
}

teardown() {
	xhp_teardown
}

# in_ns [-n] CMD...: `run` CMD in the namespace.
in_ns() {
	run --separate-stderr unshare -m sh "$XHP_TMP/ns.sh" "$@" 3>&-
}

@test "without a socket or the device, a helper cannot connect (exit 111)" {
	xenstore-write /t/a 1
	in_ns -n xs-readv /t/a
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[[ "$stderr" == "xs-readv: fatal: unable to connect to xenstore"* ]]
}

@test "xs-readv reads through /dev/xen/xenbus, more requests in flight than one batch" {
	local i
	set --
	for i in $(seq 1 100); do set -- "$@" "/t/n$i" "v$i"; done
	xenstore-write "$@" /local/domain/0/rel home
	set --
	for i in $(seq 1 100); do set -- "$@" "/t/n$i"; done
	in_ns xs-readv "$@" rel
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 101 ]
	for i in $(seq 1 100); do [ "${lines[i - 1]}" = "v$i" ]; done
	[ "${lines[100]}" = home ]
}

@test "xs-stat-path -n reads its node through libxenstore over /dev/xen/xenbus" {
	mknod "$XHP_TMP/sdb1" b 8 17
	xenstore-write /t/path "$XHP_TMP/sdb1"
	in_ns xs-stat-path -n /t/path
	[ "$status" -eq 0 ]
	[ "$output" = "8:11" ]
	[ "$stderr" = "" ]
}

@test "the guest scan of xs-stat-path -c runs over /dev/xen/xenbus and finds the conflict" {
	mknod "$XHP_TMP/sdb1" b 8 17
	: > "$XHP_TMP/mountinfo"
	xenstore-write /local/domain/2/vm /vm/two /local/domain/3/vm /vm/three \
	    backend/vbd/1/51712/frontend-id 1 \
	    backend/vbd/2/768/physical-device 8:10 \
	    backend/vbd/3/768/physical-device-path "$XHP_TMP/sdb1"
	in_ns xs-stat-path -c -m w -s backend/vbd/1/51712 -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/3/768" ]
	[ "$stderr" = "" ]
}
