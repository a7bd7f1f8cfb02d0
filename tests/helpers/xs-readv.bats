#!/usr/bin/env bats
# xs-readv: several xenstore reads in one process (docs/xs-readv.md).
# Values with hostile bytes are written through xenstore-write, which
# expands \xNN escapes (so NUL bytes reach the store too).
# SC2030/SC2031: bats runs each test in its own subshell; `refused` runs
# `run` for its caller.
# shellcheck disable=SC2030,SC2031

load ../test_helper
bats_require_minimum_version 1.5.0

setup() { xhp_setup; }
teardown() { xhp_teardown; }

# --- usage ---------------------------------------------------------------

@test "no arguments is a usage error" {
	usage_refused xs-readv
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown xs-readv "usage:"
}

@test "an unknown option is a usage error" {
	run --separate-stderr xs-readv -x a
	[ "$status" -eq 100 ]
	[ -z "$output" ]
}

@test "an empty node name or one with a forbidden byte is a usage error" {
	run --separate-stderr xs-readv =default
	[ "$status" -eq 100 ]
	[ -z "$output" ]
	[[ "$stderr" == "xs-readv: fatal: invalid node name: "* ]]
	run --separate-stderr xs-readv 'a b'
	[ "$status" -eq 100 ]
	run --separate-stderr xs-readv 'a;b=x'
	[ "$status" -eq 100 ]
}

# --- values ------------------------------------------------------------------

@test "values are printed one per line in argument order" {
	xenstore-write b/one 1 b/two 'two words' b/three 'x=y'
	run --separate-stderr xs-readv b/three b/one b/two
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'x=y\n1\ntwo words')" ]
	[ -z "$stderr" ]
}

@test "an empty value is an empty line" {
	xenstore-write b/empty '' b/one 1
	run --separate-stderr xs-readv b/empty b/one
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '\n1')" ]
}

@test "an absent node with a default prints the default" {
	xenstore-write b/one 1
	run --separate-stderr xs-readv b/missing=fallback b/one b/gone= b/eq=a=b
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'fallback\n1\n\na=b')" ]
	[ -z "$stderr" ]
}

@test "a present node ignores its default" {
	xenstore-write b/one 1
	run --separate-stderr xs-readv b/one=fallback
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
}

@test "an absent node without a default is exit 1 and prints nothing" {
	xenstore-write b/one 1
	run --separate-stderr xs-readv b/one b/missing
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-readv: fatal: unable to read b/missing: No such file or directory" ]
}

@test "relative nodes resolve against /local/domain/0" {
	xenstore-write /local/domain/0/backend/vbd/1/2/mode w /vm/x 1
	run --separate-stderr xs-readv backend/vbd/1/2/mode /local/domain/0/backend/vbd/1/2/mode /vm/x
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'w\nw\n1')" ]
}

@test "valid multi-byte UTF-8 is passed through unchanged" {
	xenstore-write b/u 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe'
	run --separate-stderr xs-readv b/u
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'caf\303\251 \342\202\254 \360\237\222\276')" ]
}

# refused NODE ESCAPED-VALUE MESSAGE-TAIL
refused() {
	xenstore-write "b/$1" "$2"
	run --separate-stderr xs-readv b/ok "b/$1"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-readv: fatal: value of b/$1 $3" ]
}

@test "a value with a newline is refused" {
	xenstore-write b/ok fine
	refused nl 'a\nb' 'contains a control character'
}

@test "a value with a NUL byte is refused" {
	xenstore-write b/ok fine
	refused nul 'a\x00b' 'contains a control character'
	refused nulend 'ab\x00' 'contains a control character'
}

@test "values with tab, escape, DEL or a C1 control are refused" {
	xenstore-write b/ok fine
	refused tab 'a\tb' 'contains a control character'
	refused esc 'a\x1b[31m' 'contains a control character'
	refused del 'a\x7f' 'contains a control character'
	refused c1 'a\xc2\x9b' 'is not valid UTF-8'
}

@test "invalid UTF-8 is refused" {
	xenstore-write b/ok fine
	refused latin1 'caf\xe9' 'is not valid UTF-8'
	refused overlong 'a\xc0\xaf' 'is not valid UTF-8'
	refused surrogate '\xed\xa0\x80' 'is not valid UTF-8'
	refused truncated 'x\xe2\x82' 'is not valid UTF-8'
	refused toobig '\xf4\x90\x80\x80' 'is not valid UTF-8'
	refused cont '\x80' 'is not valid UTF-8'
}

@test "a refused value is refused even when the node has a default" {
	xenstore-write b/bad 'a\nb'
	run --separate-stderr xs-readv b/bad=default
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-readv: fatal: value of b/bad contains a control character" ]
}

@test "no xenstore is a system failure" {
	xsd_stop
	run --separate-stderr xs-readv a=b
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[[ "$stderr" == "xs-readv: fatal: unable to connect to xenstore: "* ]]
}

@test "a full stdout is a system failure" {
	xenstore-write b/one 1
	run --separate-stderr sh -c 'xs-readv b/one > /dev/full'
	[ "$status" -eq 111 ]
	[[ "$stderr" == "xs-readv: fatal: unable to write to stdout: "* ]]
}
