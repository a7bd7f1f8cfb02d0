#!/usr/bin/env bats
# xs-majmin: publish physical-device-path and physical-device in one
# transaction (docs/xs-majmin.md). Real test xenstore; its -E N option
# makes the next N commits fail with EAGAIN.

load ../test_helper
bats_require_minimum_version 1.5.0

setup() {
	require_root
	xhp_setup
	mknod "$XHP_TMP/sdb1" b 8 17
	mknod "$XHP_TMP/hi" b 8 4660
	B=backend/vbd/3/51712
	xenstore-write "$B/state" 2 "$B/mode" w
}
teardown() { xhp_teardown; }

# --- usage ---------------------------------------------------------------

@test "no arguments is a usage error" {
	usage_refused xs-majmin
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown xs-majmin "usage:"
}

@test "a missing DEVPATH, or -t with one, is a usage error" {
	run --separate-stderr xs-majmin "$B"
	[ "$status" -eq 100 ]
	run --separate-stderr xs-majmin -t "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 100 ]
	run --separate-stderr xs-majmin -t -p "$B"
	[ "$status" -eq 100 ]
	run --separate-stderr xs-majmin "" "$XHP_TMP/sdb1"
	[ "$status" -eq 100 ]
	absent "$B/physical-device-path"
}

@test "a malformed -e or one naming physical-device is a usage error" {
	for e in node 'a b=1' '=x' '/abs=1' physical-device=8:0 physical-device-path=/x; do
		run --separate-stderr xs-majmin -e "$e" "$B" "$XHP_TMP/sdb1"
		[ "$status" -eq 100 ]
		[[ "$stderr" == usage:* ]]
	done
	absent "$B/physical-device-path"
	absent "$B/physical-device"
}

@test "a malformed NODE=VALUE after DEVPATH is a usage error, as with -e" {
	for e in node 'a b=1' '=x' physical-device=8:0; do
		run --separate-stderr xs-majmin "$B" "$XHP_TMP/sdb1" "$e"
		[ "$status" -eq 100 ]
		[[ "$stderr" == usage:* ]]
	done
	absent "$B/physical-device-path"
}

@test "an unknown format is a usage error" {
	run --separate-stderr xs-majmin -o hex "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 100 ]
	absent "$B/physical-device"
}

# --- writing -----------------------------------------------------------------

@test "writes physical-device-path and the hex physical-device" {
	run --separate-stderr xs-majmin "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "-o netbsd writes the decimal dev_t" {
	run --separate-stderr xs-majmin -o netbsd "$B" "$XHP_TMP/hi"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 18876468 ]
}

@test "an absolute backend path works like a relative one" {
	run --separate-stderr xs-majmin "/local/domain/0/$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "-p writes only the path" {
	run --separate-stderr xs-majmin -p "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
	absent "$B/physical-device"
}

@test "-p does not need DEVPATH to be a block device" {
	run --separate-stderr xs-majmin -p "$B" "$XHP_TMP/not-yet"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/not-yet" ]
}

@test "-e extras are written in the same transaction" {
	run --separate-stderr xs-majmin -e node=/dev/loop7 -e hotplug-status=connected -e empty= "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/node")" = /dev/loop7 ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	[ "$(xenstore-read "$B/empty")" = "" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "NODE=VALUE after DEVPATH is written in the same transaction, after the -e extras" {
	run --separate-stderr xs-majmin -e vnd=/dev/vnd0d -e hotplug-status=connected "$B" "$XHP_TMP/sdb1" \
	    vnd=/dev/vnd1d "vnd-file-id=12:34" "spaced=a b"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/vnd")" = /dev/vnd1d ]
	[ "$(xenstore-read "$B/vnd-file-id")" = 12:34 ]
	[ "$(xenstore-read "$B/spaced")" = "a b" ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "an existing physical-device is never overwritten" {
	xenstore-write "$B/physical-device" 8:0
	run --separate-stderr xs-majmin "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:0 ]
	[ "$(xenstore-read "$B/physical-device-path")" = "$XHP_TMP/sdb1" ]
}

@test "a DEVPATH that is not a block device is refused and nothing is written" {
	: > "$XHP_TMP/file"
	run --separate-stderr xs-majmin "$B" "$XHP_TMP/file"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-majmin: fatal: $XHP_TMP/file is not a block device" ]
	run --separate-stderr xs-majmin "$B" "$XHP_TMP/none"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-majmin: fatal: unable to stat $XHP_TMP/none: No such file or directory" ]
	absent "$B/physical-device-path"
	absent "$B/physical-device"
}

@test "a removed backend is gone (4) and not recreated" {
	run --separate-stderr xs-majmin -e hotplug-status=connected backend/vbd/3/768 "$XHP_TMP/sdb1"
	[ "$status" -eq 4 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-majmin: fatal: backend backend/vbd/3/768 is gone" ]
	absent backend/vbd/3/768
	# the sibling we did not touch is intact
	[ "$(xenstore-read "$B/state")" = 2 ]
}

@test "EAGAIN on commit is retried and the write lands once" {
	xsd_stop
	xsd_start -E 3
	xenstore-write "$B/state" 2
	run --separate-stderr xs-majmin -e node=/dev/loop3 "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
	[ "$(xenstore-read "$B/node")" = /dev/loop3 ]
}

@test "a commit that never succeeds is exit 111 and leaves nothing behind" {
	xsd_stop
	xsd_start -E 1000
	xenstore-write "$B/state" 2
	run --separate-stderr xs-majmin -e node=/dev/loop3 "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-majmin: fatal: unable to commit the transaction on $B after 20 tries: Resource temporarily unavailable" ]
	absent "$B/physical-device-path"
	absent "$B/physical-device"
	absent "$B/node"
}

@test "a write refused inside the transaction is never committed" {
	"$XHP_TOP/build/tests/xsraw" 'CONTROL:fault-write\0physical-device\0' |
	    grep -qx 'CONTROL OK\\0'
	run --separate-stderr xs-majmin -e hotplug-status=connected "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-majmin: fatal: unable to write in $B: Permission denied"* ]]
	absent "$B/physical-device-path"
	absent "$B/hotplug-status"
}

@test "a watcher never sees physical-device before physical-device-path" {
	# On every watch event read both nodes; record what was seen once
	# physical-device exists. Written in one transaction, the path is
	# always there by then.
	(
		timeout 5 xenstore-watch "$B/physical-device" |
		while read -r _; do
			vals=$(xs-readv "$B/physical-device=" "$B/physical-device-path=")
			pd=${vals%%$'\n'*}
			pdp=${vals#*$'\n'}
			if [ -n "$pd" ]; then
				echo "$pd|$pdp" > "$XHP_TMP/seen"
				break
			fi
			: > "$XHP_TMP/armed"
		done
	) 3>&- &
	wpid=$!
	for _ in $(seq 1 100); do
		[ -e "$XHP_TMP/armed" ] && break
		sleep 0.02
	done
	[ -e "$XHP_TMP/armed" ]
	run --separate-stderr xs-majmin "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	for _ in $(seq 1 100); do
		[ -e "$XHP_TMP/seen" ] && break
		sleep 0.02
	done
	# stopping the store ends xenstore-watch at once
	xsd_stop
	wait "$wpid" || true
	[ "$(cat "$XHP_TMP/seen")" = "8:11|$XHP_TMP/sdb1" ]
}

@test "racing a remove never leaves a recreated backend directory" {
	# A recreated directory would hold our nodes but not libxl's state.
	for i in $(seq 1 30); do
		xenstore-write "$B/state" 2
		xs-majmin -e node=/dev/loop9 "$B" "$XHP_TMP/sdb1" 2>/dev/null &
		pid=$!
		[ $((i % 3)) -eq 0 ] || sleep 0.00$((i % 7))
		xenstore-rm "$B"
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ]
		if xenstore-exists "$B"; then
			echo "round $i: $B exists after rm (rc $rc)"
			xenstore-ls "$B"
			return 1
		fi
	done
}

# --- -t: toolstack-side conversion -----------------------------------------

@test "-t converts physical-device-path into physical-device" {
	xenstore-write "$B/physical-device-path" "$XHP_TMP/sdb1"
	run --separate-stderr xs-majmin -t "$B"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "-t does not overwrite an existing physical-device" {
	xenstore-write "$B/physical-device-path" "$XHP_TMP/sdb1" "$B/physical-device" 8:0
	run --separate-stderr xs-majmin -t "$B"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 8:0 ]
}

@test "-t with physical-device present is done even if the path is gone" {
	xenstore-write "$B/physical-device-path" "$XHP_TMP/gone" "$B/physical-device" 8:11
	run --separate-stderr xs-majmin -t "$B"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(xenstore-read "$B/physical-device")" = 8:11 ]
}

@test "-t with a path that is not a block device is exit 1 and writes nothing" {
	: > "$XHP_TMP/file"
	xenstore-write "$B/physical-device-path" "$XHP_TMP/file"
	run --separate-stderr xs-majmin -t "$B"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-majmin: fatal: $XHP_TMP/file is not a block device" ]
	absent "$B/physical-device"
}

@test "-t without physical-device-path is exit 1" {
	run --separate-stderr xs-majmin -t "$B"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xs-majmin: fatal: no physical-device-path in $B" ]
	absent "$B/physical-device"
}

@test "-t on a removed backend is gone (4)" {
	run --separate-stderr xs-majmin -t backend/vbd/3/768
	[ "$status" -eq 4 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-majmin: fatal: backend backend/vbd/3/768 is gone" ]
	absent backend/vbd/3/768
}

@test "-t -o netbsd writes the decimal dev_t" {
	xenstore-write "$B/physical-device-path" "$XHP_TMP/hi"
	run --separate-stderr xs-majmin -t -o netbsd "$B"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 18876468 ]
}

@test "no xenstore is a system failure" {
	xsd_stop
	run --separate-stderr xs-majmin "$B" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-majmin: fatal: unable to connect to xenstore: "* ]]
}
