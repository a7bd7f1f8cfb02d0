#!/usr/bin/env bats
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# test-xenstored: the xenstore daemon of the fast test tier. Driven with the
# real xenstore-* tools (libxenstore), plus two small clients from
# tests/xsclient: xsclient (libxenstore scripts: transactions held open while
# others write) and xsraw (raw wire messages: exact replies, malformed input).
# SC2016: sh -c bodies take their arguments as $1.., unexpanded on purpose.
# SC2030/SC2031: bats runs each test in a subshell; variables stay there.
# shellcheck disable=SC2016,SC2030,SC2031

load ../test_helper

bats_require_minimum_version 1.5.0

XSRAW=$XHP_TOP/build/tests/xsraw
XSCLIENT=$XHP_TOP/build/tests/xsclient

setup_file() {
	need_built "$XHP_XSD" "$XSRAW" "$XSCLIENT"
}

setup() {
	xhp_setup
	BG=
}

teardown() {
	for p in $BG; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	xhp_teardown
}

# wait_for CMD...: retry CMD for up to 10 s.
wait_for() {
	local i
	for i in $(seq 1 500); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

# lines_in FILE N: FILE has at least N lines.
lines_in() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# restart_xsd ARGS...: this test's daemon again, with options.
restart_xsd() {
	xsd_stop
	xsd_start "$@"
}

# ---- usage and start-up ----

@test "without -s the daemon prints its usage and exits 100" {
	run --separate-stderr "$XHP_XSD"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "usage: test-xenstored -s SOCKET"* ]]
}

@test "a non-numeric fault count is a usage error" {
	run --separate-stderr "$XHP_XSD" -s "$XHP_TMP/other.sock" -E 1x
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
	[ ! -e "$XHP_TMP/other.sock" ]
}

@test "a socket still served by a live daemon is not stolen" {
	run --separate-stderr "$XHP_XSD" -s "$XENSTORED_PATH"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "test-xenstored: fatal: unable to bind $XENSTORED_PATH: Address already in use" ]
	run xenstore-read /
	[ "$status" -eq 0 ]
}

@test "a stale socket left by a killed daemon is replaced" {
	kill -9 "$XSD_PID"
	wait "$XSD_PID" 2>/dev/null || true
	XSD_PID=
	[ -S "$XENSTORED_PATH" ]
	xsd_start
	run xenstore-read /
	[ "$status" -eq 0 ]
}

@test "xsd_start leaves a daemon that answers at the root with an empty value" {
	run --separate-stderr xenstore-read /
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "-P writes the daemon's pid and SIGTERM removes socket and pid file" {
	xsd_stop
	xsd_start -P "$XHP_TMP/xsd.pid"
	[ "$(cat "$XHP_TMP/xsd.pid")" = "$XSD_PID" ]
	kill -TERM "$XSD_PID"
	wait "$XSD_PID"
	XSD_PID=
	[ ! -e "$XENSTORED_PATH" ]
	[ ! -e "$XHP_TMP/xsd.pid" ]
}

@test "SIGUSR1 dumps the whole tree to stdout" {
	"$XHP_XSD" -s "$XHP_TMP/d.sock" >"$XHP_TMP/dump" 3>&- &
	BG=$!
	XENSTORED_PATH=$XHP_TMP/d.sock wait_for xenstore-write /a/b 'x"y'
	kill -USR1 "$BG"
	wait_for lines_in "$XHP_TMP/dump" 3
	run cat "$XHP_TMP/dump"
	[ "${lines[0]}" = '/ = "" (n0)' ]
	[ "${lines[1]}" = '/a = "" (n0)' ]
	[ "${lines[2]}" = '/a/b = "x\"y" (n0)' ]
}

# ---- read, write, mkdir, rm, directory ----

@test "a written value reads back byte for byte" {
	xenstore-write /t/v 'two words  and "quotes"'
	run --separate-stderr xenstore-read /t/v
	[ "$status" -eq 0 ]
	[ "$output" = 'two words  and "quotes"' ]
	[ "$stderr" = "" ]
}

@test "write creates the missing parents with empty values" {
	xenstore-write /p/q/r/s leaf
	run xenstore-read /p/q
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run xenstore-ls /p
	[ "$output" = "$(printf 'q = ""\n r = ""\n  s = "leaf"')" ]
}

@test "relative paths resolve under /local/domain/0" {
	xenstore-write backend/vbd/1/51712/params /img
	run xenstore-read /local/domain/0/backend/vbd/1/51712/params
	[ "$status" -eq 0 ]
	[ "$output" = /img ]
	run "$XSRAW" 'READ:backend/vbd/1/51712/params\0' 'GET_DOMAIN_PATH:0\0'
	[ "${lines[0]}" = 'READ /img' ]
	[ "${lines[1]}" = 'GET_DOMAIN_PATH /local/domain/0\0' ]
}

@test "reading a missing node is ENOENT" {
	run --separate-stderr xenstore-read /nothing
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "xenstore-read: couldn't read path /nothing" ]
	run "$XSRAW" 'READ:/nothing\0' 'DIRECTORY:/nothing\0' 'GET_PERMS:/nothing\0'
	[ "$output" = "$(printf 'ERROR ENOENT\\0\nERROR ENOENT\\0\nERROR ENOENT\\0')" ]
}

@test "malformed paths are EINVAL, as in cxenstored" {
	long=$(printf '%02100d' 0)
	run "$XSRAW" 'READ:/a//b\0' 'READ:/a/\0' 'WRITE:/a b\0v' \
		'WRITE:/a.b\0v' 'READ:\0' "READ:/$long\\0" 'WRITE:@x\0v'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 7 ]
	for l in "${lines[@]}"; do [ "$l" = 'ERROR EINVAL\0' ]; done
	run xenstore-exists /a
	[ "$status" -eq 1 ]
}

@test "the path length limit counts only below /local/domain/N" {
	ok=$(printf '%02048d' 0)
	run "$XSRAW" "WRITE:/local/domain/0/$ok\\0v" "WRITE:/local/domain/0/$ok/x\\0v"
	[ "${lines[0]}" = 'WRITE OK\0' ]
	[ "${lines[1]}" = 'ERROR EINVAL\0' ]
}

@test "rm removes the whole subtree and leaves the parent" {
	xenstore-write /r/a/1 x /r/a/2 y /r/b z
	run xenstore-rm /r/a
	[ "$status" -eq 0 ]
	run xenstore-list /r
	[ "$output" = b ]
	run xenstore-exists /r/a/1
	[ "$status" -eq 1 ]
}

@test "rm of a missing node is OK when the parent exists, ENOENT when not" {
	xenstore-write /r/a x
	run "$XSRAW" 'RM:/r/missing\0' 'RM:/r/missing/deeper\0' 'RM:/\0'
	[ "${lines[0]}" = 'RM OK\0' ]
	[ "${lines[1]}" = 'ERROR ENOENT\0' ]
	[ "${lines[2]}" = 'ERROR EINVAL\0' ]
}

@test "mkdir creates an empty node and leaves an existing one alone" {
	xenstore-write /m/keep v
	run "$XSRAW" 'MKDIR:/m/new/sub\0' 'MKDIR:/m/keep\0' 'READ:/m/keep\0' 'READ:/m/new/sub\0'
	[ "$output" = "$(printf 'MKDIR OK\\0\nMKDIR OK\\0\nREAD v\nREAD ')" ]
}

@test "children are listed in insertion order, also after a removal" {
	xenstore-write /o/zeta 1 /o/alpha 2 /o/mid 3
	xenstore-rm /o/alpha
	xenstore-write /o/alpha 4 /o/beta 5
	run xenstore-list /o
	[ "$output" = "$(printf 'zeta\nmid\nalpha\nbeta')" ]
	run "$XSRAW" 'DIRECTORY:/o\0' 'DIRECTORY:/o/zeta\0'
	[ "${lines[0]}" = 'DIRECTORY zeta\0mid\0alpha\0beta\0' ]
	[ "${lines[1]}" = 'DIRECTORY ' ]
}

@test "a directory of 2000 children lists completely through DIRECTORY_PART" {
	args=()
	for i in $(seq 1 2000); do args+=("/big/child-$i" "$i"); done
	xenstore-write "${args[@]}"
	run xenstore-list /big
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2000 ]
	[ "${lines[0]}" = child-1 ]
	[ "${lines[1999]}" = child-2000 ]
	[ "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" -eq 2000 ]
	run "$XSRAW" 'DIRECTORY:/big\0'
	[ "$output" = 'ERROR E2BIG\0' ]
}

@test "a large directory lists completely inside a transaction too" {
	args=()
	for i in $(seq 1 1500); do args+=("/bigtx/entry-$i" "$i"); done
	xenstore-write "${args[@]}"
	run "$XSCLIENT" <<-EOF
	start
	write /bigtx/entry-new 1
	ls /bigtx
	commit
	EOF
	[ "${lines[0]}" = OK ]
	[ "${lines[1]}" = OK ]
	read -ra names <<<"${lines[2]}"
	[ "${#names[@]}" -eq 1501 ]
	[ "${names[0]}" = entry-1 ]
	[ "${names[1500]}" = entry-new ]
	[ "${lines[3]}" = OK ]
}

@test "DIRECTORY_PART gives the generation, whole names and an end marker" {
	xenstore-write /dp/aa 1 /dp/bbb 2
	run "$XSRAW" 'DIRECTORY_PART:/dp\0000\0' 'DIRECTORY_PART:/dp\0003\0' \
		'DIRECTORY_PART:/dp\0007\0' 'DIRECTORY_PART:/dp\0'
	[[ "${lines[0]}" =~ ^DIRECTORY_PART\ [0-9]+\\0aa\\0bbb\\0\\0$ ]]
	gen=${lines[0]#DIRECTORY_PART }
	gen=${gen%%\\0*}
	[ "${lines[1]}" = "DIRECTORY_PART $gen\\0bbb\\0\\0" ]
	[ "${lines[2]}" = "DIRECTORY_PART $gen\\0\\0" ]
	[ "${lines[3]}" = 'ERROR EINVAL\0' ]
	xenstore-write /dp/c 3
	run "$XSRAW" 'DIRECTORY_PART:/dp\0000\0'
	[ "$output" != "DIRECTORY_PART $gen\\0aa\\0bbb\\0c\\0\\0" ]
	[[ "$output" == *'\0aa\0bbb\0c\0\0' ]]
}

@test "permissions default to n0, inherit from the parent and read back" {
	xenstore-write /perm/a 1
	run "$XSCLIENT" <<-EOF
	perms /perm/a
	EOF
	[ "$output" = n0 ]
	run xenstore-chmod /perm n0 r5 w7
	[ "$status" -eq 0 ]
	xenstore-write /perm/b 2
	run "$XSRAW" 'GET_PERMS:/perm\0' 'GET_PERMS:/perm/b\0' 'GET_PERMS:/perm/a\0'
	[ "${lines[0]}" = 'GET_PERMS n0\0r5\0w7\0' ]
	[ "${lines[1]}" = 'GET_PERMS n0\0r5\0w7\0' ]
	[ "${lines[2]}" = 'GET_PERMS n0\0' ]
}

@test "malformed permissions and a missing node are refused, a tail ignored" {
	xenstore-write /perm/a 1
	run "$XSRAW" 'SET_PERMS:/perm/a\0x1\0' 'SET_PERMS:/perm/a\0' \
		'SET_PERMS:/perm/nope\0n0\0' 'GET_PERMS:/perm/a\0' \
		'SET_PERMS:/perm/a\0r3\0junk' 'GET_PERMS:/perm/a\0'
	[ "${lines[0]}" = 'ERROR EINVAL\0' ]
	[ "${lines[1]}" = 'ERROR EINVAL\0' ]
	[ "${lines[2]}" = 'ERROR ENOENT\0' ]
	[ "${lines[3]}" = 'GET_PERMS n0\0' ]
	[ "${lines[4]}" = 'SET_PERMS OK\0' ]
	[ "${lines[5]}" = 'GET_PERMS r3\0' ]
}

@test "only dom0 is an introduced domain; introduce and release are ENOSYS" {
	run "$XSRAW" 'IS_DOMAIN_INTRODUCED:0\0' 'IS_DOMAIN_INTRODUCED:5\0' \
		'GET_DOMAIN_PATH:12\0' 'INTRODUCE:1\0002\0003\0' 'RELEASE:1\0'
	[ "$output" = "$(printf '%s\n' 'IS_DOMAIN_INTRODUCED T\0' \
		'IS_DOMAIN_INTRODUCED F\0' 'GET_DOMAIN_PATH /local/domain/12\0' \
		'ERROR ENOSYS\0' 'ERROR ENOSYS\0')" ]
}

@test "unknown message types are ENOSYS, bad arguments and commands EINVAL" {
	run "$XSRAW" '99:x\0' 'READ:/a\0/b\0' 'READ:/a' 'WATCH:/a\0' \
		'TRANSACTION_END:T\0' 'CONTROL:no-such-command\0' 'CONTROL:check\0' \
		'WATCH_EVENT:/a\0t\0' 'ERROR:EINVAL\0' '20:\0'
	[ "${lines[0]}" = 'ERROR ENOSYS\0' ]
	[ "${lines[1]}" = 'ERROR EINVAL\0' ]
	[ "${lines[2]}" = 'ERROR EINVAL\0' ]
	[ "${lines[3]}" = 'ERROR EINVAL\0' ]
	[ "${lines[4]}" = 'ERROR ENOENT\0' ]
	[ "${lines[5]}" = 'ERROR EINVAL\0' ]
	[ "${lines[6]}" = 'CONTROL OK\0' ]
	[ "${lines[7]}" = 'ERROR ENOSYS\0' ]
	[ "${lines[8]}" = 'ERROR ENOSYS\0' ]
	[ "${lines[9]}" = 'ERROR ENOSYS\0' ]
}

@test "a transaction id is checked for every request except the watch calls" {
	run "$XSRAW" 'GET_DOMAIN_PATH@77:0\0' 'WATCH@77:/a\0t\0' \
		'UNWATCH@77:/a\0t\0' 'TRANSACTION_START@77:\0' \
		'TRANSACTION_START:' 'TRANSACTION_START@T:\0'
	[ "${lines[0]}" = 'ERROR ENOENT\0' ]
	[ "${lines[1]}" = 'WATCH OK\0' ]
	[ "${lines[2]}" = 'WATCH_EVENT /a\0t\0' ]
	[ "${lines[3]}" = 'UNWATCH OK\0' ]
	[ "${lines[4]}" = 'ERROR ENOENT\0' ]
	[[ "${lines[5]}" == 'TRANSACTION_START '* ]]
	[ "${lines[6]}" = 'ERROR EBUSY\0' ]
}

# ---- watches ----

@test "a watch fires once on registration with its own path and token" {
	run timeout 20 xenstore-watch -n 1 /w/none
	[ "$status" -eq 0 ]
	[ "$output" = /w/none ]
	run "$XSRAW" -w 200 'WATCH:/w/none\0tok\0'
	[ "${lines[0]}" = 'WATCH OK\0' ]
	[ "${lines[1]}" = 'WATCH_EVENT /w/none\0tok\0' ]
}

@test "a watch fires for changes to the node and its descendants only" {
	timeout 20 xenstore-watch -n 3 /w/dir >"$XHP_TMP/ev" 3>&- &
	BG=$!
	wait_for lines_in "$XHP_TMP/ev" 1
	xenstore-write /w/other 1 /w/dirx 1
	xenstore-write /w/dir/a/b 1
	xenstore-write /w/dir 2
	wait "$BG"
	BG=
	run cat "$XHP_TMP/ev"
	[ "$output" = "$(printf '/w/dir\n/w/dir/a/b\n/w/dir')" ]
}

@test "removing a subtree fires watches on its nodes and its ancestors" {
	xenstore-write /w/t/a/b 1 /w/t/c 2
	run "$XSRAW" 'WATCH:/w/t/a/b\0deep\0' 'WATCH:/w\0up\0' \
		'WATCH:/w/t/c\0side\0' 'WATCH:/w/elsewhere\0no\0' 'RM:/w/t\0'
	[ "$status" -eq 0 ]
	# Deepest first, each removed node firing its own watches; only the
	# top of the removal fires the watches above it (cxenstored's order).
	[ "$output" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT /w/t/a/b\0deep\0' \
		'WATCH OK\0' 'WATCH_EVENT /w\0up\0' 'WATCH OK\0' \
		'WATCH_EVENT /w/t/c\0side\0' 'WATCH OK\0' \
		'WATCH_EVENT /w/elsewhere\0no\0' 'WATCH_EVENT /w/t/a/b\0deep\0' \
		'WATCH_EVENT /w/t/c\0side\0' 'WATCH_EVENT /w/t\0up\0' 'RM OK\0')" ]
}

@test "a relative watch reports relative event paths" {
	run "$XSRAW" -w 300 'WATCH:backend\0rel\0' 'WRITE:backend/vbd/1\0x' \
		'WRITE:/local/domain/0/backend/q\0y'
	[ "$output" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT backend\0rel\0' \
		'WATCH_EVENT backend/vbd/1\0rel\0' 'WRITE OK\0' \
		'WATCH_EVENT backend/q\0rel\0' 'WRITE OK\0')" ]
	run timeout 20 xenstore-watch -n 1 rel/x
	[ "$output" = rel/x ]
}

@test "a duplicate watch is EEXIST and unknown unwatch is ENOENT" {
	run "$XSRAW" 'WATCH:/d\0t\0' 'WATCH:/d\0t\0' 'WATCH:/d\0t2\0' \
		'UNWATCH:/d\0t\0' 'UNWATCH:/d\0t\0' 'WRITE:/d\0v'
	[ "$output" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT /d\0t\0' \
		'ERROR EEXIST\0' 'WATCH OK\0' 'WATCH_EVENT /d\0t2\0' \
		'UNWATCH OK\0' 'ERROR ENOENT\0' 'WATCH_EVENT /d\0t2\0' 'WRITE OK\0')" ]
}

@test "special watch paths are accepted and fire their initial event" {
	run "$XSRAW" -w 200 'WATCH:@releaseDomain\0r\0' 'WATCH:@introduceDomain\0i\0'
	[ "$output" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT @releaseDomain\0r\0' \
		'WATCH OK\0' 'WATCH_EVENT @introduceDomain\0i\0')" ]
}

@test "RESET_WATCHES drops the connection's watches" {
	run "$XSRAW" -w 200 'WATCH:/rw\0t\0' 'RESET_WATCHES:\0' 'WRITE:/rw\0v'
	[ "$output" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT /rw\0t\0' \
		'RESET_WATCHES OK\0' 'WRITE OK\0')" ]
}

@test "an event too large for one message is dropped, the connection lives on" {
	tok=$(printf '%03000d' 0)
	long=/$(printf '%01200d' 0)
	run "$XSRAW" -w 200 "WATCH:/\\0$tok\\0" "WRITE:$long\\0v" 'WRITE:/s\0v'
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = 'WATCH OK\0' ]
	[ "${lines[1]}" = "WATCH_EVENT /\\0$tok\\0" ]
	[ "${lines[2]}" = 'WRITE OK\0' ]
	[ "${lines[3]}" = "WATCH_EVENT /s\\0$tok\\0" ]
	[ "${lines[4]}" = 'WRITE OK\0' ]
}

@test "one change reaches every watching connection" {
	for i in 1 2 3; do
		timeout 20 xenstore-watch -n 2 /fan >"$XHP_TMP/ev$i" 3>&- &
		BG="$BG $!"
	done
	for i in 1 2 3; do wait_for lines_in "$XHP_TMP/ev$i" 1; done
	xenstore-write /fan/x 1
	for p in $BG; do wait "$p"; done
	BG=
	for i in 1 2 3; do
		[ "$(cat "$XHP_TMP/ev$i")" = "$(printf '/fan\n/fan/x')" ]
	done
}

# ---- transactions ----

@test "a transaction sees its own writes, others see them only after commit" {
	xenstore-write /tx/old 1
	run "$XSCLIENT" <<-EOF
	start
	write /tx/new 2
	read /tx/new
	sh xenstore-exists /tx/new
	rm /tx/old
	ls /tx
	sh xenstore-read /tx/old >/dev/null
	commit
	read /tx/new
	EOF
	[ "$output" = "$(printf '%s\n' OK OK 2 'status 1' OK new 'status 0' OK 2)" ]
	run xenstore-exists /tx/old
	[ "$status" -eq 1 ]
}

@test "a commit fails with EAGAIN when a node it read was changed" {
	xenstore-write /tx/a 1
	run "$XSCLIENT" <<-EOF
	start
	read /tx/a
	write /tx/b 1
	sh xenstore-write /tx/a 2
	commit
	read /tx/b
	EOF
	[ "$output" = "$(printf '%s\n' OK 1 OK 'status 0' 'ERR EAGAIN' 'ERR ENOENT')" ]
}

@test "a commit fails when a node it saw absent was created" {
	run "$XSCLIENT" <<-EOF
	start
	read /tx/ghost
	write /tx/other 1
	sh xenstore-write /tx/ghost 1
	commit
	EOF
	[ "$output" = "$(printf '%s\n' OK 'ERR ENOENT' OK 'status 0' 'ERR EAGAIN')" ]
}

@test "a commit fails when a directory it listed gained a child" {
	xenstore-write /tx/d/a 1
	run "$XSCLIENT" <<-EOF
	start
	ls /tx/d
	write /tx/flag 1
	sh xenstore-write /tx/d/b 1
	commit
	EOF
	[ "$output" = "$(printf '%s\n' OK a OK 'status 0' 'ERR EAGAIN')" ]
}

@test "a commit fails when a node it only wrote was written by someone else" {
	run "$XSCLIENT" <<-EOF
	start
	write /tx/w mine
	sh xenstore-write /tx/w theirs
	commit
	EOF
	[ "${lines[3]}" = 'ERR EAGAIN' ]
	run xenstore-read /tx/w
	[ "$output" = theirs ]
}

@test "changes elsewhere in the tree do not fail a transaction" {
	xenstore-write /tx/mine/a 1 /elsewhere/x 1
	run "$XSCLIENT" <<-EOF
	start
	read /tx/mine/a
	write /tx/mine/a 2
	sh xenstore-write /elsewhere/x 2 /elsewhere/y 3
	commit
	EOF
	[ "${lines[4]}" = OK ]
	run xenstore-read /tx/mine/a
	[ "$output" = 2 ]
}

@test "an aborted transaction changes nothing and fires no watch" {
	xenstore-write /tx/keep 1
	timeout 20 "$XSRAW" -w 1500 'WATCH:/tx\0t\0' >"$XHP_TMP/ev" 3>&- &
	BG=$!
	wait_for lines_in "$XHP_TMP/ev" 2
	run "$XSCLIENT" <<-EOF
	start
	write /tx/new 1
	rm /tx/keep
	abort
	EOF
	[ "$output" = "$(printf '%s\n' OK OK OK OK)" ]
	wait "$BG"
	BG=
	[ "$(cat "$XHP_TMP/ev")" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT /tx\0t\0')" ]
	run xenstore-list /tx
	[ "$output" = keep ]
}

@test "watches fire when the transaction commits, not before" {
	timeout 20 "$XSRAW" -w 15000 -n 3 'WATCH:/txw\0t\0' >"$XHP_TMP/ev" 3>&- &
	BG=$!
	wait_for lines_in "$XHP_TMP/ev" 2
	run "$XSCLIENT" <<-EOF
	start
	write /txw/a 1
	sh sleep 0.3; cp "$XHP_TMP/ev" "$XHP_TMP/before"
	commit
	EOF
	[ "${lines[3]}" = OK ]
	wait "$BG"
	BG=
	[ "$(cat "$XHP_TMP/before")" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT /txw\0t\0')" ]
	[ "$(cat "$XHP_TMP/ev")" = "$(printf '%s\n' 'WATCH OK\0' 'WATCH_EVENT /txw\0t\0' 'WATCH_EVENT /txw/a\0t\0')" ]
}

@test "a transaction removing a subtree applies it whole on commit" {
	xenstore-write /txr/a/b/c 1 /txr/a/d 2 /txr/e 3
	run "$XSCLIENT" <<-EOF
	start
	rm /txr/a
	read /txr/a/b/c
	ls /txr
	write /txr/a/new 4
	commit
	EOF
	[ "$output" = "$(printf '%s\n' OK OK 'ERR ENOENT' e OK OK)" ]
	run xenstore-ls /txr
	[ "$output" = "$(printf 'e = "3"\na = ""\n new = "4"')" ]
}

@test "transaction ids end in ENOENT once used, and belong to their connection" {
	run "$XSRAW" 'TRANSACTION_START:\0' 'WRITE@T:/tid\0v' \
		'TRANSACTION_END@T:X\0' 'TRANSACTION_END@T:F\0' 'TRANSACTION_END@T:T\0' \
		'READ@T:/\0' 'READ:/tid\0'
	[[ "${lines[0]}" =~ ^TRANSACTION_START\ [1-9][0-9]*\\0$ ]]
	[ "${lines[1]}" = 'WRITE OK\0' ]
	[ "${lines[2]}" = 'ERROR EINVAL\0' ]
	[ "${lines[3]}" = 'TRANSACTION_END OK\0' ]
	[ "${lines[4]}" = 'ERROR ENOENT\0' ]
	[ "${lines[5]}" = 'ERROR ENOENT\0' ]
	[ "${lines[6]}" = 'ERROR ENOENT\0' ]
	id=${lines[0]#TRANSACTION_START }
	id=${id%\\0}
	run "$XSRAW" 'TRANSACTION_START:\0' "READ@$id:/\\0"
	[ "${lines[1]}" = 'ERROR ENOENT\0' ]
}

@test "a client that hangs up mid-transaction leaves no trace" {
	run "$XSRAW" 'TRANSACTION_START:\0' 'WRITE@T:/gone/x\0v'
	[ "${lines[1]}" = 'WRITE OK\0' ]
	run xenstore-exists /gone
	[ "$status" -eq 1 ]
	run xenstore-write /gone/y 1
	[ "$status" -eq 0 ]
}

@test "-E 2 fails the next two commits with EAGAIN, then commits succeed" {
	restart_xsd -E 2
	run "$XSCLIENT" <<-EOF
	start
	write /f/a 1
	commit
	start
	write /f/a 2
	commit
	start
	write /f/a 3
	commit
	read /f/a
	EOF
	[ "$output" = "$(printf '%s\n' OK OK 'ERR EAGAIN' OK OK 'ERR EAGAIN' OK OK OK 3)" ]
}

@test "-R 3 fails every third commit, and aborts do not count" {
	restart_xsd -R 3
	run "$XSCLIENT" <<-EOF
	start
	abort
	start
	commit
	start
	commit
	start
	commit
	start
	commit
	EOF
	[ "$output" = "$(printf '%s\n' OK OK OK OK OK OK OK 'ERR EAGAIN' OK OK)" ]
}

@test "the fault-eagain control command arms failures at run time" {
	run "$XSRAW" 'CONTROL:fault-eagain\0001\0' 'TRANSACTION_START:\0' \
		'TRANSACTION_END@T:T\0' 'TRANSACTION_START:\0' 'TRANSACTION_END@T:T\0' \
		'CONTROL:fault-eagain\0x\0'
	[ "${lines[0]}" = 'CONTROL OK\0' ]
	[ "${lines[2]}" = 'ERROR EAGAIN\0' ]
	[ "${lines[4]}" = 'TRANSACTION_END OK\0' ]
	[ "${lines[5]}" = 'ERROR EINVAL\0' ]
}

@test "-K 2 hangs up on each client's second request, without effect" {
	restart_xsd -K 2
	run "$XSRAW" 'WRITE:/k\0v' 'WRITE:/k2\0v'
	[ "$status" -eq 3 ]
	[ "$output" = "$(printf '%s\n' 'WRITE OK\0' closed)" ]
	run xenstore-read /k
	[ "$status" -eq 0 ]
	[ "$output" = v ]
	run xenstore-exists /k2
	[ "$status" -eq 1 ]
}

@test "-D 150 stalls the daemon before every request" {
	restart_xsd -D 150
	start=$(date +%s%N)
	run "$XSRAW" 'READ:/\0' 'READ:/\0' 'READ:/\0' 'READ:/\0'
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$ms" -ge 600 ]
}

@test "fault-drop and fault-delay can be set and cleared at run time" {
	run "$XSRAW" 'CONTROL:fault-drop\0003\0' 'READ:/\0' 'READ:/\0'
	[ "$status" -eq 3 ]
	[ "$output" = "$(printf '%s\n' 'CONTROL OK\0' 'READ ' closed)" ]
	run "$XSRAW" 'CONTROL:fault-drop\0000\0' 'CONTROL:fault-delay\0x\0' \
		'CONTROL:fault-delay\0000\0' 'READ:/\0' 'READ:/\0'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'CONTROL OK\0' 'ERROR EINVAL\0' \
		'CONTROL OK\0' 'READ ' 'READ ')" ]
}

@test "fault-write refuses writes of nodes of that name only, and - clears it" {
	run "$XSRAW" 'CONTROL:fault-write\0pd\0' 'WRITE:/a/pd\0x' 'WRITE:/a/pdx\0y' \
		'WRITE:/pd/b\0z' 'CONTROL:fault-write\0-\0' 'WRITE:/a/pd\0x'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'CONTROL OK\0' 'ERROR EACCES\0' 'WRITE OK\0' \
		'WRITE OK\0' 'CONTROL OK\0' 'WRITE OK\0')" ]
}

# ---- robustness ----

@test "an oversized header closes that connection and nothing else" {
	timeout 20 xenstore-watch -n 2 /survive >"$XHP_TMP/ev" 3>&- &
	BG=$!
	wait_for lines_in "$XHP_TMP/ev" 1
	run "$XSRAW" 'hdr:WRITE:4097' 'READ:/\0'
	[ "$status" -eq 3 ]
	[ "$output" = closed ]
	run "$XSRAW" 'bytes:\xff\xff\xff\xff\0\0\0\0\0\0\0\0\xff\xff\xff\xff' 'READ:/\0'
	[ "$status" -eq 3 ]
	xenstore-write /survive 1
	wait "$BG"
	BG=
	[ "$(cat "$XHP_TMP/ev")" = "$(printf '/survive\n/survive')" ]
}

@test "a path 1023 levels deep works in and out of transactions" {
	deep=$(printf '/a%.0s' $(seq 1 1023))
	run "$XSRAW" "WRITE:$deep\\0v" "READ:$deep\\0" 'RM:/a\0' 'READ:/a\0' \
		'TRANSACTION_START:\0' "WRITE@T:$deep\\0w" 'TRANSACTION_END@T:T\0' \
		"READ:$deep\\0" 'TRANSACTION_START:\0' 'RM@T:/a\0' \
		'TRANSACTION_END@T:T\0' 'READ:/a\0'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 'WRITE OK\0' ]
	[ "${lines[1]}" = 'READ v' ]
	[ "${lines[2]}" = 'RM OK\0' ]
	[ "${lines[3]}" = 'ERROR ENOENT\0' ]
	[ "${lines[5]}" = 'WRITE OK\0' ]
	[ "${lines[6]}" = 'TRANSACTION_END OK\0' ]
	[ "${lines[7]}" = 'READ w' ]
	[ "${lines[9]}" = 'RM OK\0' ]
	[ "${lines[10]}" = 'TRANSACTION_END OK\0' ]
	[ "${lines[11]}" = 'ERROR ENOENT\0' ]
}

@test "CONTROL check finds the tree consistent after a busy mix of changes" {
	xenstore-write /ck/a/b 1 /ck/c 2 /ck/a/d 3
	xenstore-rm /ck/a
	printf 'start\nwrite /ck/t/x 1\nrm /ck/c\nwrite /ck/c/y 2\ncommit\n' | "$XSCLIENT"
	run "$XSRAW" 'CONTROL:check\0' 'CONTROL:nodes\0' 'DIRECTORY:/ck\0'
	[ "$output" = "$(printf '%s\n' 'CONTROL OK\0' 'CONTROL 6\0' 'DIRECTORY t\0c\0')" ]
}

@test "a payload of exactly XENSTORE_PAYLOAD_MAX bytes is accepted" {
	v=$(printf '%04089d' 0)
	run "$XSRAW" "WRITE:/max\\0$v" 'READ:/max\0'
	[ "${lines[0]}" = 'WRITE OK\0' ]
	[ "${lines[1]}" = "READ $v" ]
}

@test "a request split across many writes is reassembled" {
	# WRITE, request id 7, 4 payload bytes "/a\0v", in three pieces.
	run "$XSRAW" 'bytes:\x0b\0\0\0\x07\0\0\0\0\0' sleep:50 \
		'bytes:\0\0\x04\0\0\0/' sleep:50 'bytes:a' sleep:50 'bytes:\0v' \
		'READ:/a\0'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'WRITE OK\0' 'READ v')" ]
}

@test "a client that stops reading, then vanishes, blocks nobody" {
	tok=$(printf '%02000d' 0)
	timeout 60 "$XSRAW" "WATCH:/flood\\0$tok\\0" sleep:60000 >"$XHP_TMP/out" 3>&- &
	BG=$!
	wait_for lines_in "$XHP_TMP/out" 1
	# About 6 MB of events for a client that reads none of them: far more
	# than a socket buffer holds, so the daemon has to queue them.
	args=()
	for i in $(seq 1 3000); do args+=("/flood/w$i" x); done
	run timeout 10 xenstore-write "${args[@]}"
	[ "$status" -eq 0 ]
	kill -0 "$BG"
	run timeout 10 xenstore-list /flood
	[ "${#lines[@]}" -eq 3000 ]
	kill "$BG"
	wait "$BG" || true
	BG=
	run timeout 10 xenstore-read /flood/w3000
	[ "$status" -eq 0 ]
	[ "$output" = x ]
}

@test "32 concurrent clients each complete 50 transactions" {
	args=()
	for c in $(seq 1 32); do args+=("/cc/count-$c" 0); done
	xenstore-write "${args[@]}"
	for c in $(seq 1 32); do
		(
			for i in $(seq 1 50); do
				printf 'start\nincr /cc/count-%s\ncommit\n' "$c"
			done | "$XSCLIENT" >"$XHP_TMP/c$c"
		) 3>&- &
		BG="$BG $!"
	done
	for p in $BG; do wait "$p"; done
	BG=
	# Disjoint nodes: no commit may fail.
	for c in $(seq 1 32); do
		run xenstore-read "/cc/count-$c"
		[ "$output" = 50 ]
		[ "$(grep -c '^OK$' "$XHP_TMP/c$c")" -eq 100 ]
	done
}

@test "concurrent increments in retried transactions lose no update" {
	xenstore-write /inc 0
	worker() {
		local n=0
		while [ "$n" -lt 20 ]; do
			if [ "$(printf 'start\nincr /inc\ncommit\n' | "$XSCLIENT" |
				sed -n 3p)" = OK ]; then
				n=$((n + 1))
			fi
		done
	}
	for c in 1 2 3 4; do
		worker 3>&- &
		BG="$BG $!"
	done
	for p in $BG; do wait "$p"; done
	BG=
	run xenstore-read /inc
	[ "$output" = 80 ]
}

@test "10000 nodes of 1000 backends are written and listed quickly" {
	for d in $(seq 1 1000); do
		for n in params mode state type frontend physical-device-path \
			frontend-id online removable dev; do
			echo "write backend/vbd/$d/51712/$n value-$d"
		done
	done >"$XHP_TMP/script"
	start=$(date +%s%N)
	"$XSCLIENT" <"$XHP_TMP/script" >"$XHP_TMP/out"
	for d in $(seq 1 1000); do echo "ls backend/vbd/$d/51712"; done |
		"$XSCLIENT" >"$XHP_TMP/ls"
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "# 10000 writes + 1000 listings: $ms ms" >&3
	[ "$(grep -c '^OK$' "$XHP_TMP/out")" -eq 10000 ]
	[ "$(grep -c '^params mode state' "$XHP_TMP/ls")" -eq 1000 ]
	run xenstore-list backend/vbd
	[ "${#lines[@]}" -eq 1000 ]
	[ "$ms" -lt 20000 ]
}
