#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031 # probe snippets are expanded by the probed script, not here; run's status and output belong to the test that called it
# Sourced-API compatibility (docs/api-compat.md): every public function and
# variable that upstream's xen-hotplug-common.sh, block-common.sh,
# locking.sh, logging.sh and xen-script-common.sh define is defined by ours,
# and behaves the same: same xenstore writes, exit and return codes, stdout
# and syslog calls.
#
# Upstream's libraries come from Debian's xen-utils-common, downloaded at
# test time (tests/fetch-upstream.sh), never committed, in both versions:
# every check runs once against Debian 12's 4.17 and once against Debian
# 13's 4.20 (compat_helper.bash; the test's name says which). Each probe
# runs twice, in bash as upstream requires: once in a copy of upstream's
# script directory, once in the same directory with our files installed
# over upstream's, which is what a block-* script that sources our
# block-common.sh gets (the Debian package keeps upstream's libraries for
# upstream's own scripts). Both runs are inside a private mount namespace
# where /var/log is a tmpfs and logger is a stub that records its
# arguments (no syslog daemon here).
#
# And, for the two versions side by side: the files of /etc/xen/scripts
# that differ between them (xen-utils-common, and drbd-utils' block-drbd)
# are the ones docs/api-compat.md lists.

load ../test_helper
load compat_helper

BE=/local/domain/0/backend/vbd/5/51712

setup_file() {
	local suite scripts
	compat_fetch xen-utils-common drbd-utils
	# For each suite: up, a copy of upstream's script directory, and ours,
	# the same with our files over upstream's.
	for suite in $CF_SUITES; do
		[ -s "$CF_DIR/$suite/xen-utils-common.dir" ] || continue
		scripts=$(cat "$CF_DIR/$suite/xen-utils-common.dir")
		mkdir -p "$CF_DIR/$suite/up" "$CF_DIR/$suite/ours"
		cp -p "$scripts"/* "$CF_DIR/$suite/up"/
		cp -p "$scripts"/* "$CF_DIR/$suite/ours"/
		cp -p "$XHP_TOP"/scripts/Linux/* "$XHP_TOP"/scripts/common/* "$CF_DIR/$suite/ours"/
	done
	# ns.sh CMD...: CMD in a private mount namespace with a tmpfs /var/log
	# (upstream logs to /var/log/xen unconditionally) and the logger stub.
	cat > "$BATS_FILE_TMPDIR/ns.sh" <<-'EOF'
	mount --make-rprivate / 2>/dev/null
	mount -t tmpfs xhp /var/log || exit 99
	mkdir -p /var/log/xen
	mount --bind "$XHP_LOGGER_STUB" "$(command -v logger)" || exit 99
	exec "$@"
	EOF
	unshare -m sh -c 'mount -t tmpfs xhp /var/log' 2>/dev/null && : > "$BATS_FILE_TMPDIR/ns-ok"
	return 0
}

setup() {
	require_root
	compat_suite
	if [ -n "$SUITE" ]; then
		API_UP=$SD/up API_OURS=$SD/ours
		command -v unshare >/dev/null 2>&1 || skip "unshare not installed"
		[ -e "$BATS_FILE_TMPDIR/ns-ok" ] || skip "no private mount namespace here (unshare -m)"
	fi
	xhp_setup
	unset XEN_HOTPLUG_LOGFILE XEN_HOTPLUG_DEBUG XEN_BLOCK_PATH_ONLY
	export XEN_HOTPLUG_LOCK_BASEDIR=$XHP_TMP/lock
}

teardown() {
	free_my_loops
	xhp_teardown
}

# fixture: the backend directory libxl would have written.
fixture() {
	xenstore-rm /local/domain/0/backend 2>/dev/null || true
	xenstore-rm /local/domain/5 2>/dev/null || true
	xenstore-write "$BE/frontend-id" 5 "$BE/params" /dev/null "$BE/mode" w \
		"$BE/state" 2 /local/domain/5/vm /vm/uuid-5
}

# probe WHICH SNIPPET [ARG...]: run SNIPPET in bash after sourcing
# block-common.sh from WHICH (up or ours) as a script named "probe" given
# ARGs (default: add). Sets RC, OUT (stdout), STORE (the backend tree and
# domain 5) and LOGGED (logger calls).
probe() {
	local d=$API_UP
	[ "$1" = ours ] && d=$API_OURS
	local snippet=$2
	shift 2
	[ "$#" -gt 0 ] || set -- add
	fixture
	printf '#!/bin/bash\n. "$(dirname "$0")/block-common.sh"\nLOCK_BASEDIR=%s\n%s\n' \
		"$XHP_TMP/lock" "$snippet" > "$d/probe"
	: > "$XHP_TMP/logger.log"
	RC=0
	OUT=$(XHP_LOGGER_STUB=$XHP_TOP/tests/stubs/linux/logger \
		XHP_LOGGER_LOG=$XHP_TMP/logger.log XENBUS_PATH=backend/vbd/5/51712 \
		timeout -k 5 60 unshare -m sh "$BATS_FILE_TMPDIR/ns.sh" bash "$d/probe" "$@" 2>"$XHP_TMP/stderr" </dev/null 3>&-) || RC=$?
	# xenstore-ls lists in creation order, which is not part of the API.
	STORE=$({ xenstore-ls -f /local/domain/0/backend; xenstore-ls -f /local/domain/5; } |
		sed "s|$d/||g" | sort)
	# Upstream sends every debug message to syslog; ours only with
	# XEN_HOTPLUG_DEBUG (docs/api-compat.md). The rest must match.
	LOGGED=$(sed -e "s|$d/||g" -e '/^-p daemon\.debug /d' "$XHP_TMP/logger.log")
}

# same SNIPPET [ARG...]: upstream and ours give the same RC, OUT, STORE and
# LOGGED; leaves ours in those variables, upstream's in UP_*.
same() {
	probe up "$@"
	UP_RC=$RC UP_OUT=$OUT UP_STORE=$STORE UP_LOGGED=$LOGGED
	probe ours "$@"
	local bad=0
	[ "$RC" = "$UP_RC" ] || { echo "exit: upstream $UP_RC, ours $RC"; bad=1; }
	[ "$OUT" = "$UP_OUT" ] || { printf 'stdout: upstream\n%s\nours\n%s\n' "$UP_OUT" "$OUT"; bad=1; }
	[ "$STORE" = "$UP_STORE" ] || { diff <(echo "$UP_STORE") <(echo "$STORE"); bad=1; }
	[ "$LOGGED" = "$UP_LOGGED" ] || { printf 'logger: upstream\n%s\nours\n%s\n' "$UP_LOGGED" "$LOGGED"; bad=1; }
	return "$bad"
}

# defs WHICH: the public functions and variables sourcing block-common.sh
# adds, "f NAME" / "v NAME", sorted. Names starting with "_" are private;
# "arg" is only the loop variable upstream's findCommand leaves behind.
defs() {
	probe "$1" 'compgen -A function | sed "s/^/f /"; compgen -v | sed "s/^/v /"'
	local after=$OUT
	probe "$1" 'exit 0'
	# shellcheck disable=SC2016
	local base
	base=$(XENBUS_PATH=x bash -c 'compgen -A function | sed "s/^/f /"; compgen -v | sed "s/^/v /"' probe add)
	comm -23 <(echo "$after" | sort -u) <(echo "$base" | sort -u) |
		grep -v -e '^. _' -e '^v BASH' -e '^v FUNCNAME$' -e '^v PIPESTATUS$' \
			-e '^v LINENO$' -e '^v COLUMNS$' -e '^v LINES$' -e '^v arg$' -e '^v XHP_'
}

# ---- both versions ----------------------------------------------------------

@test "every check of this suite runs against both 4.17 and 4.20" {
	run compat_unpaired
	echo "$output"
	[ -z "$output" ]
	# And the checks are really there: the count of this file's own tests.
	[ "$(grep -c '^@test "4.20: ' "$BATS_TEST_FILENAME")" -ge 20 ]
}

# changed_files: "PACKAGE FILE" for every file of /etc/xen/scripts that
# differs between 4.17's and 4.20's packages, or is in one only.
changed_files() {
	local pkg a b f
	for pkg in xen-utils-common drbd-utils; do
		a=$(cat "$CF_DIR/bookworm/$pkg.dir") b=$(cat "$CF_DIR/trixie/$pkg.dir")
		for f in $( (ls "$a"; ls "$b") | sort -u); do
			cmp -s "$a/$f" "$b/$f" || echo "$pkg $f"
		done
	done
}

@test "the scripts of 4.17 and 4.20 differ in the files docs/api-compat.md lists, and no other" {
	local suite pkg
	for suite in $CF_SUITES; do
		for pkg in xen-utils-common drbd-utils; do
			[ -s "$CF_DIR/$suite/$pkg.dir" ] ||
				skip "$pkg of Debian $suite unavailable: $(cat "$CF_DIR/$suite/$pkg.err")"
		done
	done
	found=$(changed_files)
	# The rows of the table in the section "Between 4.17 and 4.20".
	listed=$(sed -n '/^## Between 4.17 and 4.20/,/^## /p' "$XHP_TOP/docs/api-compat.md" |
		sed -n 's/^| `\([^`]*\)` | \([a-z-]*\) |.*/\2 \1/p' | sort)
	echo "differing: $found"
	echo "listed: $listed"
	[ -n "$listed" ]
	diff <(echo "$found" | sort) <(echo "$listed")
}

# ---- the list ----------------------------------------------------------------

c_names_defined() {
	up=$(defs up)
	ours=$(defs ours)
	# The upstream list must be the real one, not an empty probe.
	[[ "$up" == *"f write_dev"* ]]
	[[ "$up" == *"v LOCK_BASEDIR"* ]]
	run comm -23 <(echo "$up") <(echo "$ours")
	echo "upstream names missing from ours:"
	echo "$output"
	[ -z "$output" ]
}
@test "4.20: ours defines every public function and variable upstream's libraries define" { c_names_defined; }
@test "4.17: ours defines every public function and variable upstream's libraries define" { c_names_defined; }

c_names_documented() {
	up=$(defs up)
	[ -n "$up" ]
	while read -r _ name; do
		grep -q "^| \`$name\`" "$XHP_TOP/docs/api-compat.md" ||
			{ echo "$name not listed in docs/api-compat.md"; return 1; }
	done <<< "$up"
}
@test "4.20: every upstream name is accounted for in docs/api-compat.md" { c_names_documented; }
@test "4.17: every upstream name is accounted for in docs/api-compat.md" { c_names_documented; }

# ---- xenstore functions ----------------------------------------------------

c_xenstore_write() {
	same 'xenstore_write "$XENBUS_PATH/a" 1 "$XENBUS_PATH/b" "two words"; echo rc=$?'
	[ "$OUT" = rc=0 ]
	[[ "$STORE" == *"$BE/b = \"two words\""* ]]
}
@test "4.20: xenstore_write writes every pair, as upstream" { c_xenstore_write; }
@test "4.17: xenstore_write writes every pair, as upstream" { c_xenstore_write; }

c_xenstore_read() {
	same 'xenstore_read "$XENBUS_PATH/mode" "$XENBUS_PATH/state"'
	[ "$OUT" = "$(printf 'w\n2')" ]
	same 'xenstore_read "$XENBUS_PATH/nothing"; echo not reached'
	[ "$RC" -eq 1 ]
	[ -z "$OUT" ]
	[[ "$STORE" == *"$BE/hotplug-error = \"xenstore-read backend/vbd/5/51712/nothing failed.\""* ]]
	[[ "$STORE" == *"$BE/hotplug-status = \"error\""* ]]
}
@test "4.20: xenstore_read prints values; a missing node is fatal with upstream's message" { c_xenstore_read; }
@test "4.17: xenstore_read prints values; a missing node is fatal with upstream's message" { c_xenstore_read; }

c_xenstore_read_default() {
	same 'xenstore_read_default "$XENBUS_PATH/mode" x; xenstore_read_default "$XENBUS_PATH/nothing" "d e"; echo rc=$?'
	[ "$OUT" = "$(printf 'w\nd e\nrc=0')" ]
}
@test "4.20: xenstore_read_default prints the value or the default" { c_xenstore_read_default; }
@test "4.17: xenstore_read_default prints the value or the default" { c_xenstore_read_default; }

# ---- reporting -------------------------------------------------------------

c_fatal() {
	same 'fatal "it broke" here; echo not reached'
	[ "$RC" -eq 1 ]
	[[ "$STORE" == *"$BE/hotplug-error = \"it broke here\""* ]]
	[[ "$LOGGED" == *"-p daemon.err -- probe: it broke here"* ]]
}
@test "4.20: fatal writes hotplug-error and hotplug-status=error, logs at err and exits 1" { c_fatal; }
@test "4.17: fatal writes hotplug-error and hotplug-status=error, logs at err and exits 1" { c_fatal; }

c_success() {
	same 'success; echo rc=$?'
	[ "$OUT" = rc=0 ]
	[[ "$STORE" == *"$BE/hotplug-status = \"connected\""* ]]
}
@test "4.20: success writes hotplug-status=connected and returns" { c_success; }
@test "4.17: success writes hotplug-status=connected and returns" { c_success; }

c_ebusy() {
	same 'ebusy "in use"; echo not reached'
	[ "$RC" -eq 1 ]
	[[ "$STORE" == *"$BE/hotplug-status = \"busy\""* ]]
	[[ "$STORE" == *"$BE/hotplug-error = \"in use\""* ]]
}
@test "4.20: ebusy writes hotplug-status=busy with the message and exits 1" { c_ebusy; }
@test "4.17: ebusy writes hotplug-status=busy with the message and exits 1" { c_ebusy; }

c_do_or_die() {
	same 'do_or_die true; echo ok; do_or_die false now; echo not reached'
	[ "$OUT" = ok ]
	[ "$RC" -eq 1 ]
	[[ "$STORE" == *"$BE/hotplug-error = \"false now failed\""* ]]
}
@test "4.20: do_or_die runs the command and is fatal with upstream's message when it fails" { c_do_or_die; }
@test "4.17: do_or_die runs the command and is fatal with upstream's message when it fails" { c_do_or_die; }

c_do_without_error() {
	same 'do_without_error ls /nonexistent; echo rc=$?'
	[ "$OUT" = rc=0 ]
	[ "$RC" -eq 0 ]
}
@test "4.20: do_without_error hides the failure and the script goes on" { c_do_without_error; }
@test "4.17: do_without_error hides the failure and the script goes on" { c_do_without_error; }

c_sigerr() {
	same 'false; echo not reached'
	[ "$RC" -eq 1 ]
	[[ "$STORE" == *"$BE/hotplug-error = \""*"probe failed; error detected.\""* ]]
}
@test "4.20: a failing command in a bash caller trips the ERR trap and sigerr reports it" { c_sigerr; }
@test "4.17: a failing command in a bash caller trips the ERR trap and sigerr reports it" { c_sigerr; }

c_log() {
	same 'log info "hello there"; log err x; echo rc=$?'
	[ "$OUT" = rc=0 ]
	[[ "$LOGGED" == *"-p daemon.info -- probe: hello there"* ]]
}
@test "4.20: log sends the level and message to syslog through logger" { c_log; }
@test "4.17: log sends the level and message to syslog through logger" { c_log; }

# ---- block-common ------------------------------------------------------------

c_write_dev() {
	truncate -s 1M "$XHP_TMP/img"
	loop=$(losetup -f --show "$XHP_TMP/img")
	same "write_dev $loop; echo rc=\$?"
	[ "$OUT" = rc=0 ]
	[[ "$STORE" == *"$BE/physical-device = \"$(printf '%x:%x' "0x$(stat -c %t "$loop")" "0x$(stat -c %T "$loop")")\""* ]]
	[[ "$STORE" == *"$BE/physical-device-path = \"$loop\""* ]]
	[[ "$STORE" == *"$BE/hotplug-status = \"connected\""* ]]
}
@test "4.20: write_dev publishes physical-device, physical-device-path and hotplug-status" { c_write_dev; }
@test "4.17: write_dev publishes physical-device, physical-device-path and hotplug-status" { c_write_dev; }

c_write_dev_missing() {
	probe up 'write_dev /dev/xhp-nonexistent; echo not reached'
	UP_RC=$RC UP_STORE=$STORE
	[ "$UP_RC" -eq 1 ]
	[[ "$UP_STORE" != *physical-device* ]]
	probe ours 'write_dev /dev/xhp-nonexistent; echo not reached'
	[ "$RC" -eq "$UP_RC" ]
	[ -z "$OUT" ]
	[[ "$STORE" != *physical-device* ]]
	# Upstream dies silently under set -e (its ERR trap is not inherited by
	# functions), leaving libxl no reason; ours reports the error the way
	# fatal always does: in the store and in the log.
	[[ "$STORE" == *'hotplug-status = "error"'* ]]
	[[ "$STORE" == *hotplug-error*xhp-nonexistent* ]]
	[[ "$LOGGED" == *"-p daemon.err -- probe: "*"/dev/xhp-nonexistent"* ]]
}
@test "4.20: write_dev of a device that does not exist exits 1 and publishes nothing, as upstream, but says why" { c_write_dev_missing; }
@test "4.17: write_dev of a device that does not exist exits 1 and publishes nothing, as upstream, but says why" { c_write_dev_missing; }

c_device_major_minor() {
	truncate -s 1M "$XHP_TMP/img"
	loop=$(losetup -f --show "$XHP_TMP/img")
	same "device_major_minor $loop"
	[ "$OUT" = "$(printf '%x:%x' "0x$(stat -c %t "$loop")" "0x$(stat -c %T "$loop")")" ]
}
@test "4.20: device_major_minor prints a block device's major:minor in hex" { c_device_major_minor; }
@test "4.17: device_major_minor prints a block device's major:minor in hex" { c_device_major_minor; }

c_canonicalise_mode() {
	same 'for m in r w rw ro w! rw! "" x "!" "r!" W wr; do printf "%s=%s\n" "$m" "$(canonicalise_mode "$m")"; done'
	[[ "$OUT" == *"w!=!"* ]]
	[[ "$OUT" == *"ro=r"* ]]
}
@test "4.20: canonicalise_mode maps every mode spelling as upstream" { c_canonicalise_mode; }
@test "4.17: canonicalise_mode maps every mode spelling as upstream" { c_canonicalise_mode; }

c_same_vm() {
	xs='xenstore-write /local/domain/6/vm /vm/uuid-5 /local/domain/7/vm /vm/other \
		/local/domain/8/vm /vm/stub /local/domain/8/target 5 /local/domain/9/target 7 /local/domain/9/vm /vm/nine'
	same "$xs"'
		FRONTEND_ID=5; FRONTEND_UUID=/vm/uuid-5
		for d in 5 6 7 8 9 42; do if same_vm $d; then echo "$d same"; else echo "$d other"; fi; done'
	[ "$OUT" = "$(printf '5 same\n6 same\n7 other\n8 same\n9 other\n42 same')" ]
}
@test "4.20: same_vm agrees with upstream on vm nodes, stubdomain targets and vanished domains" { c_same_vm; }
@test "4.17: same_vm agrees with upstream on vm nodes, stubdomain targets and vanished domains" { c_same_vm; }

c_arguments() {
	same 'findCommand a=1 online b=2; echo "$command"; evalVariables x=1 y=two =z; echo "$x $y"' remove
	[ "$OUT" = "$(printf 'online\n1 two')" ]
}
@test "4.20: findCommand and evalVariables read the arguments as upstream" { c_arguments; }
@test "4.17: findCommand and evalVariables read the arguments as upstream" { c_arguments; }

c_bad_command() {
	probe up 'echo not reached' frobnicate
	[ "$RC" -eq 1 ]
	[ -z "$OUT" ]
	[[ "$STORE" != *hotplug-error* ]]
	probe ours 'echo not reached' frobnicate
	[ "$RC" -eq 1 ]
	[ -z "$OUT" ]
	[[ "$STORE" == *"$BE/hotplug-error = \"Invalid command: frobnicate\""* ]]
	[[ "$LOGGED" == *"-p daemon.err -- probe: Invalid command: frobnicate"* ]]
}
@test "4.20: block-common.sh refuses a command other than add or remove, and ours also says so in hotplug-error" { c_bad_command; }
@test "4.17: block-common.sh refuses a command other than add or remove, and ours also says so in hotplug-error" { c_bad_command; }

c_debug() {
	probe up 'xenstore_write "$XENBUS_PATH/a" 1'
	up=$(grep 'daemon.debug' "$XHP_TMP/logger.log" | sed "s|$API_UP/||")
	[ -n "$up" ]
	XEN_HOTPLUG_DEBUG=1 probe ours 'xenstore_write "$XENBUS_PATH/a" 1'
	ours=$(grep 'daemon.debug' "$XHP_TMP/logger.log" | sed "s|$API_OURS/||")
	echo "upstream: $up"; echo "ours: $ours"
	while read -r line; do
		grep -qxF -- "$line" <<< "$ours" || { echo "missing: $line"; return 1; }
	done <<< "$up"
}
@test "4.20: with XEN_HOTPLUG_DEBUG set, ours sends upstream's debug messages to syslog too" { c_debug; }
@test "4.17: with XEN_HOTPLUG_DEBUG set, ours sends upstream's debug messages to syslog too" { c_debug; }

c_variables() {
	same 'echo "$command|$LANG|$LOCK_BASEDIR|$XEN_SCRIPT_DIR|$XEN_LOG_DIR|$bindir|$sbindir|${PATH%%:*}"
		echo "$LIBEXEC|$LIBEXEC_BIN|$XENFIRMWAREDIR|${PATH%%:/sbin:*}"
		[ "$dir" = "$(dirname "$0")" ] && echo dir-ok'
	[[ "$OUT" == "add|POSIX|"* ]]
	[[ "$OUT" == *dir-ok ]]
	# The version's own paths, from its hotplugpath.sh, and in PATH.
	[[ "$OUT" == *"|/usr/lib/xen-$SERIES/bin|/usr/lib/xen-$SERIES/boot|/usr/bin:/usr/sbin:/usr/lib/xen-$SERIES/bin"$'\n'* ]]
}
@test "4.20: the sourced variables have upstream's values" { c_variables; }
@test "4.17: the sourced variables have upstream's values" { c_variables; }

# ---- locks -------------------------------------------------------------------

c_lock() {
	# Upstream holds the lock for 2 s; ours must wait for it, then get it.
	probe up "claim_lock block; sleep 2; release_lock block" 3>&- &
	holder=$!
	for _ in $(seq 1 50); do
		[ -e "$XHP_TMP/lock/block" ] && break
		sleep 0.1
	done
	start=$(date +%s%N)
	probe ours 'claim_lock block; echo got; release_lock block; [ ! -e "$LOCK_BASEDIR/block" ] && echo released'
	end=$(date +%s%N)
	# Not a bare wait: the test xenstore is a background job too.
	wait "$holder"
	echo "ours: exit $RC, stdout '$OUT'"; cat "$XHP_TMP/stderr"
	[ "$RC" -eq 0 ]
	[ "$OUT" = "$(printf 'got\nreleased')" ]
	[ $(((end - start) / 1000000)) -ge 1000 ]
}
@test "4.20: claim_lock and release_lock of ours and upstream's exclude each other" { c_lock; }
@test "4.17: claim_lock and release_lock of ours and upstream's exclude each other" { c_lock; }

# ---- sourcing ----------------------------------------------------------------

c_sourcing() {
	cat > "$API_OURS/probe" <<-'EOF'
	dir=$(dirname "$0")
	. "$dir/block-common.sh"
	f() { local dir=inner mode; mode=$(canonicalise_mode rw); echo "$dir $mode"; }
	f
	echo "$dir" | grep -q ours && echo outer-ok
	EOF
	for sh in bash dash "busybox sh"; do
		fixture
		# shellcheck disable=SC2086
		run env XENBUS_PATH=backend/vbd/5/51712 XEN_HOTPLUG_LOGFILE= $sh "$API_OURS/probe" add
		[ "$status" -eq 0 ] || { echo "$sh: $output"; return 1; }
		[ "$output" = "$(printf 'inner w\nouter-ok')" ] || { echo "$sh: $output"; return 1; }
	done
}
@test "4.20: our libraries source cleanly in a bash script that uses local, and under dash and busybox" { c_sourcing; }
@test "4.17: our libraries source cleanly in a bash script that uses local, and under dash and busybox" { c_sourcing; }
