#!/usr/bin/env bats
# scripts/Linux/xen-hotplug-common.sh, xen-script-common.sh and logging.sh:
# the upstream library API (xenstore_*, fatal, success, do_or_die, log,
# findCommand, evalVariables, call_hooks), paths, logging and the exit trap.
# Scripts under test live next to symlinks of our libraries, as a
# third-party script in /etc/xen/scripts would.
# shellcheck disable=SC2016 # script bodies are expanded by the shell under test

load ../test_helper

BE=/local/domain/0/backend/vbd/1/51712

setup() {
	xhp_setup
	mkdir "$XHP_TMP/s"
	beside "$XHP_TMP/s"
	script_env
	export XENBUS_PATH=backend/vbd/1/51712
	xenstore-write "$BE/state" 2
}

teardown() {
	xhp_teardown
}

# sc BODY [ARGS...]: a script in $XHP_TMP/s that sources LIB (default
# xen-hotplug-common.sh) then runs BODY, run under $HOTPLUG_SH.
sc() {
	local body=$1
	shift
	printf '#!/bin/sh\n. "${0%%/*}/%s"\n%s\n' "${LIB:-xen-hotplug-common.sh}" "$body" \
	    > "$XHP_TMP/s/t"
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run $HOTPLUG_SH "$XHP_TMP/s/t" "$@" </dev/null
}

@test "xenstore_read prints each value and is fatal for a missing node" {
	xenstore-write "$BE/a" one "$BE/b" two
	sc 'xenstore_read "$XENBUS_PATH/a" "$XENBUS_PATH/b"'
	[ "$status" -eq 0 ]
	[ "$output" = "one
two" ]
	sc 'xenstore_read "$XENBUS_PATH/nothing"; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "xenstore-read backend/vbd/1/51712/nothing failed." ]
	[ "$(xenstore-read "$BE/hotplug-status")" = error ]
}

@test "xenstore_read_default prints the default for a missing node" {
	xenstore-write "$BE/a" one
	sc 'xenstore_read_default "$XENBUS_PATH/a" dflt; xenstore_read_default "$XENBUS_PATH/z" dflt'
	[ "$status" -eq 0 ]
	[ "$output" = "one
dflt" ]
}

@test "xenstore_write writes every pair, and a failed write is fatal" {
	sc 'xenstore_write "$XENBUS_PATH/x" "a b" "$XENBUS_PATH/y" "c"'
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$BE/x")" = "a b" ]
	[ "$(xenstore-read "$BE/y")" = c ]
	sc 'xenstore_write "bad path!" v; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "Writing bad path! v to xenstore failed." ]
}

@test "fatal writes hotplug-error and hotplug-status=error, logs and exits 1" {
	sc 'fatal "it broke" badly; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "it broke badly" ]
	[ "$(xenstore-read "$BE/hotplug-status")" = error ]
	grep -q "it broke badly" "$XEN_HOTPLUG_LOGFILE"
}

@test "success writes hotplug-status=connected" {
	sc success
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$BE/hotplug-status")" = connected ]
}

@test "do_or_die runs the command, and its failure is fatal with the command line" {
	sc 'do_or_die echo hello; do_or_die false an arg; echo after'
	[ "$status" -eq 1 ]
	[ "$output" = hello ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "false an arg failed" ]
}

@test "do_without_error swallows a failure and its stderr" {
	sc 'do_without_error sh -c "echo noise >&2; exit 3"; echo "rc=$?"'
	[ "$status" -eq 0 ]
	[ "$output" = rc=0 ]
	[ ! -e "$XEN_HOTPLUG_LOGFILE" ] || [ "$(grep -c noise "$XEN_HOTPLUG_LOGFILE")" -eq 0 ]
}

@test "sigerr is fatal with upstream's message" {
	sc sigerr
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "$XHP_TMP/s/t failed; error detected." ]
}

@test "a failing command under set -e is reported like upstream's ERR trap" {
	sc 'false; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(xenstore-read "$BE/hotplug-status")" = error ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "$XHP_TMP/s/t failed; error detected." ]
}

@test "a plain exit 0 leaves no error behind" {
	sc 'exit 0'
	[ "$status" -eq 0 ]
	run xenstore-read "$BE/hotplug-error"
	[ "$status" -ne 0 ]
}

@test "stderr goes to XEN_HOTPLUG_LOGFILE" {
	sc 'echo to-stderr >&2'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(cat "$XEN_HOTPLUG_LOGFILE")" = to-stderr ]
}

@test "log debug is silent and starts nothing unless XEN_HOTPLUG_DEBUG is set" {
	mkdir "$XHP_TMP/bin"
	printf '#!/bin/sh\necho "$@" >> "%s/logger.calls"\n' "$XHP_TMP" > "$XHP_TMP/bin/logger"
	chmod +x "$XHP_TMP/bin/logger"
	PATH=$XHP_TMP/bin:$PATH sc 'PATH=$XHP_TMP/bin:$PATH; log debug quiet; log err loud'
	[ "$status" -eq 0 ]
	[ "$(cat "$XHP_TMP/logger.calls")" = "-p daemon.err -- $XHP_TMP/s/t: loud" ]
	[ "$(cat "$XEN_HOTPLUG_LOGFILE")" = "$XHP_TMP/s/t: loud" ]
	rm "$XHP_TMP/logger.calls"
	XEN_HOTPLUG_DEBUG=1 sc 'PATH=$XHP_TMP/bin:$PATH; log debug now-heard'
	grep -q -- "-p daemon.debug -- $XHP_TMP/s/t: now-heard" "$XHP_TMP/logger.calls"
}

@test "log falls back to stderr when logger fails" {
	mkdir "$XHP_TMP/bin"
	printf '#!/bin/sh\nexit 1\n' > "$XHP_TMP/bin/logger"
	chmod +x "$XHP_TMP/bin/logger"
	sc 'PATH=$XHP_TMP/bin:$PATH; log info hello world'
	[ "$status" -eq 0 ]
	[ "$(cat "$XEN_HOTPLUG_LOGFILE")" = "$XHP_TMP/s/t hello world" ]
}

@test "findCommand takes the first argument without =, evalVariables the assignments" {
	sc 'findCommand a=1 online b=2; evalVariables a=1 online bridge=xenbr0 =x; echo "$command $a $bridge"' \
	    a=1 online bridge=xenbr0
	[ "$status" -eq 0 ]
	[ "$output" = "online 1 xenbr0" ]
}

@test "dir, XEN_SCRIPT_DIR and the helper directory default to the scripts' own" {
	unset XEN_HOTPLUG_HELPERDIR
	# The helpers: in the tree, build/bin beside scripts/; installed, the
	# directory that xen-hotplug-paths.sh (copied beside) records.
	h=$XHP_TMP/s/../../build/bin
	[ -z "${XHP_INSTALLED:-}" ] || h=$XHP_BIN
	sc 'echo "$dir|$XEN_SCRIPT_DIR|$XEN_HOTPLUG_HELPERDIR|$LANG|${LC_ALL:-unset}"'
	[ "$status" -eq 0 ]
	[ "$output" = "$XHP_TMP/s|$XHP_TMP/s|$h|POSIX|unset" ]
}

@test "hotplugpath.sh and xen-hotplug-paths.sh are sourced when present; the environment wins" {
	printf 'XEN_SCRIPT_DIR=/from/hotplugpath\nLIBEXEC_BIN=/x/bin\n' > "$XHP_TMP/s/hotplugpath.sh"
	printf 'XEN_HOTPLUG_HELPERDIR=/from/paths\n' > "$XHP_TMP/s/xen-hotplug-paths.sh"
	unset XEN_HOTPLUG_HELPERDIR
	sc 'echo "$XEN_SCRIPT_DIR $XEN_HOTPLUG_HELPERDIR $LIBEXEC_BIN"; case $PATH in *:/x/bin:*) echo inpath ;; esac'
	[ "$status" -eq 0 ]
	[ "$output" = "/from/hotplugpath /from/paths /x/bin
inpath" ]
	XEN_HOTPLUG_HELPERDIR=/from/env sc 'echo "$XEN_HOTPLUG_HELPERDIR"'
	[ "$output" = /from/env ]
}

@test "call_hooks sources the executable hooks of a device type" {
	mkdir -p "$XHP_TMP/etc/scripts/block-add.d"
	printf 'echo hook-one\n' > "$XHP_TMP/etc/scripts/block-add.d/1.hook"
	printf 'echo not-executable\n' > "$XHP_TMP/etc/scripts/block-add.d/2.hook"
	chmod +x "$XHP_TMP/etc/scripts/block-add.d/1.hook"
	sc 'XEN_CONFIG_DIR=$XHP_TMP/etc; call_hooks block add'
	[ "$status" -eq 0 ]
	[ "$output" = hook-one ]
}

@test "a bash script that uses local sources the libraries and keeps upstream's ERR trap" {
	printf '#!/bin/bash\n. "${0%%/*}/block-common.sh"\nf() { local x=$1; echo "x=$x"; }\nf 1\nfalse\necho after\n' \
	    > "$XHP_TMP/s/b"
	run bash "$XHP_TMP/s/b" add
	[ "$status" -eq 1 ]
	[ "$output" = "x=1" ]
	[ "$(xenstore-read "$BE/hotplug-error")" = "$XHP_TMP/s/b failed; error detected." ]
}
