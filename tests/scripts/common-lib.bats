#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# scripts/common (xhp-status.sh, logging.sh, locking.sh,
# xen-hotplug-helperdir.sh): the contract every system's scripts share,
# proven once per system. Each check runs three times, its name starting
# with "Linux: ", "NetBSD: " or "FreeBSD: ": in the layout `make install
# OS=...` gives that system (Linux: the library private in LIBEXECDIR,
# found through xen-hotplug-paths.sh; NetBSD and FreeBSD: beside the
# scripts), loaded the way that system's scripts load it:
#   Linux    a block-* script sourcing block-common.sh, XENBUS_PATH from
#            the environment, argv `add`
#   NetBSD   xen-hotplug-common.sh (what NetBSD's block-common.sh
#            sources), XENBUS_PATH from argv[1]
#   FreeBSD  the lookup and xhp-status.sh, as its block does, under
#            env -i, XENBUS_PATH from argv[1]
# with no helper directory from the tests: the installed one is found.
# shellcheck disable=SC2016 # probe bodies are expanded by the shell under test
# shellcheck disable=SC2030,SC2031 # bats runs each test in its own subshell

load ../test_helper

bats_require_minimum_version 1.5.0

B=/local/domain/0/backend/vbd/5/51712

setup_file() {
	local os
	for os in Linux NetBSD FreeBSD; do
		# -o all: a suite does not rebuild the tree it tests.
		make -s -C "$XHP_TOP" -o all install OS="$os" \
		    PREFIX="$BATS_FILE_TMPDIR/$os" SCRIPTDIR="$BATS_FILE_TMPDIR/$os/scripts" \
		    LIBEXECDIR="$BATS_FILE_TMPDIR/$os/lib" \
		    DEFAULTDIR="$BATS_FILE_TMPDIR/$os/default" \
		    >"$BATS_FILE_TMPDIR/$os.log" 2>&1 || return 1
	done
}

setup() {
	require_root
	xhp_setup
	OS=${BATS_TEST_DESCRIPTION%%:*}
	S=$BATS_FILE_TMPDIR/$OS/scripts
	xenstore-write "$B/state" 2 "$B/frontend-id" 5
}

teardown() {
	local p
	for p in ${BG:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	xhp_teardown
}

# probe BODY: BODY run under $HOTPLUG_SH by a script in $OS's script
# directory that loaded the library as that system's scripts do. Sets
# status, output (stdout) and stderr.
probe() {
	case $OS in
	Linux) printf '#!/bin/sh\n. "${0%%/*}/block-common.sh"\nset +e\n' ;;
	NetBSD) printf '#!/bin/sh\n. "${0%%/*}/xen-hotplug-common.sh"\nXENBUS_PATH=$1\n' ;;
	FreeBSD)
		printf '#!/bin/sh\ndir=${0%%/*}\n. "$dir/xen-hotplug-helperdir.sh"\n'
		printf 'XHP_LOG_STDERR=1\n. "$XHP_COMMON/xhp-status.sh"\nXENBUS_PATH=$1\n'
		;;
	esac >"$S/t"
	printf '%s\n' "$1" >>"$S/t"
	local arg=$B
	[ "$OS" != Linux ] || arg=add
	# shellcheck disable=SC2086 # HOTPLUG_SH may be "busybox sh"
	run --separate-stderr env -i PATH="$PATH" XENSTORED_PATH="$XENSTORED_PATH" \
	    XENBUS_PATH="$B" XEN_HOTPLUG_CONFIG=/dev/null XEN_HOTPLUG_LOGFILE= \
	    XEN_HOTPLUG_LOCK_BASEDIR="$XHP_TMP/lock" XHP_TMP="$XHP_TMP" \
	    ${DEBUG:+XEN_HOTPLUG_DEBUG=1} ${DEADLINE:+XEN_HOTPLUG_DEADLINE=$DEADLINE} \
	    $HOTPLUG_SH "$S/t" "$arg" </dev/null
}

# logged MESSAGE: stderr holds MESSAGE at level err in $OS's format (the
# BSDs: "t: err: MESSAGE"; Linux: syslog, copied to stderr as "$0: ...",
# or "$0 ..." without a working logger).
logged() {
	case $OS in
	Linux) [[ "$stderr" == *"$S/t"*" $1"* ]] ;;
	*) [[ "$stderr" == *"t: err: $1"* ]] ;;
	esac
}

hold_lock() {
	mkdir -p "$XHP_TMP/lock"
	flock-wrap "$XHP_TMP/lock/block" sh -c ': >"$1"; exec sleep 10' _ "$XHP_TMP/held" 3>&- &
	BG="${BG:-} $!"
	HOLDER=$!
	while [ ! -e "$XHP_TMP/held" ]; do sleep 0.02; done
}

@test "every check of this suite runs for Linux, NetBSD and FreeBSD" {
	local os n
	n=$(grep -c '^@test "Linux: ' "$BATS_TEST_FILENAME")
	[ "$n" -ge 10 ]
	for os in NetBSD FreeBSD; do
		[ "$(grep -c "^@test \"$os: " "$BATS_TEST_FILENAME")" -eq "$n" ]
	done
	# The same sentences, in the same order.
	diff <(sed -n 's/^@test "Linux: //p' "$BATS_TEST_FILENAME") \
	    <(sed -n 's/^@test "NetBSD: //p' "$BATS_TEST_FILENAME")
	diff <(sed -n 's/^@test "Linux: //p' "$BATS_TEST_FILENAME") \
	    <(sed -n 's/^@test "FreeBSD: //p' "$BATS_TEST_FILENAME")
}

# ---- the status contract -------------------------------------------------

c_fatal() {
	probe 'fatal "it broke" badly; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(rd "$B/hotplug-error")" = "it broke badly" ]
	[ "$(rd "$B/hotplug-status")" = error ]
	logged "it broke badly"
}
@test "Linux: fatal writes hotplug-error and hotplug-status=error, logs the reason and exits 1" { c_fatal; }
@test "NetBSD: fatal writes hotplug-error and hotplug-status=error, logs the reason and exits 1" { c_fatal; }
@test "FreeBSD: fatal writes hotplug-error and hotplug-status=error, logs the reason and exits 1" { c_fatal; }

c_fatal_gone() {
	probe 'xenstore-rm "$XENBUS_PATH"; fatal "too late"'
	[ "$status" -eq 1 ]
	logged "too late"
	run xenstore-exists "$B"
	[ "$status" -ne 0 ]
}
@test "Linux: fatal after the backend was removed logs, and never recreates the backend" { c_fatal_gone; }
@test "NetBSD: fatal after the backend was removed logs, and never recreates the backend" { c_fatal_gone; }
@test "FreeBSD: fatal after the backend was removed logs, and never recreates the backend" { c_fatal_gone; }

c_ebusy() {
	probe 'ebusy "in use by domain 7"; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(rd "$B/hotplug-status")" = busy ]
	[ "$(rd "$B/hotplug-error")" = "in use by domain 7" ]
	logged "in use by domain 7"
}
@test "Linux: ebusy writes hotplug-status=busy with the reason and exits 1" { c_ebusy; }
@test "NetBSD: ebusy writes hotplug-status=busy with the reason and exits 1" { c_ebusy; }
@test "FreeBSD: ebusy writes hotplug-status=busy with the reason and exits 1" { c_ebusy; }

c_success_write() {
	probe 'success; xenstore_write "$XENBUS_PATH/a" "two words" "$XENBUS_PATH/b" 1; echo "rc=$?"
		xenstore_write "bad path!" v; echo after'
	[ "$status" -eq 1 ]
	[ "$output" = rc=0 ]
	[ "$(rd "$B/hotplug-status")" = error ]
	[ "$(rd "$B/a")" = "two words" ]
	[ "$(rd "$B/b")" = 1 ]
	[ "$(rd "$B/hotplug-error")" = "Writing bad path! v to xenstore failed." ]
}
@test "Linux: success and xenstore_write write their nodes, and a failed write is fatal with upstream's message" { c_success_write; }
@test "NetBSD: success and xenstore_write write their nodes, and a failed write is fatal with upstream's message" { c_success_write; }
@test "FreeBSD: success and xenstore_write write their nodes, and a failed write is fatal with upstream's message" { c_success_write; }

c_read() {
	xenstore-write "$B/mode" w "$B/params" "/dev/x y"
	probe 'xenstore_read "$XENBUS_PATH/mode" "$XENBUS_PATH/params"
		xenstore_read "$XENBUS_PATH/vnd=" "$XENBUS_PATH/mode=r"
		xenstore_read_default "$XENBUS_PATH/nothing" "d e"
		xenstore_read "$XENBUS_PATH/nothing"; echo after'
	[ "$status" -eq 1 ]
	[ "$output" = "w
/dev/x y

w
d e" ]
	[ "$(rd "$B/hotplug-error")" = "xenstore-read $B/nothing failed." ]
}
@test "Linux: xenstore_read prints the values, takes NODE=DEFAULT, and a missing node is fatal with upstream's message" { c_read; }
@test "NetBSD: xenstore_read prints the values, takes NODE=DEFAULT, and a missing node is fatal with upstream's message" { c_read; }
@test "FreeBSD: xenstore_read prints the values, takes NODE=DEFAULT, and a missing node is fatal with upstream's message" { c_read; }

c_read_default_failure() {
	probe 'XENSTORED_PATH=$XHP_TMP/no-such-socket
		xenstore_read_default "$XENBUS_PATH/vm" "/vm/guessed"; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	logged "xenstore-read $B/vm failed."
}
@test "Linux: xenstore_read_default takes only a missing node for the default: a store it cannot reach is fatal" { c_read_default_failure; }
@test "NetBSD: xenstore_read_default takes only a missing node for the default: a store it cannot reach is fatal" { c_read_default_failure; }
@test "FreeBSD: xenstore_read_default takes only a missing node for the default: a store it cannot reach is fatal" { c_read_default_failure; }

# ---- log -------------------------------------------------------------------

c_log_debug() {
	probe 'log debug quiet; log warning "a warning"'
	[ "$status" -eq 0 ]
	[[ "$stderr" != *quiet* ]]
	[[ "$stderr" == *"a warning"* ]]
	DEBUG=1 probe 'log debug now-heard'
	[[ "$stderr" == *now-heard* ]]
	[ "$OS" = Linux ] || [ "$stderr" = "t: debug: now-heard" ]
}
@test "Linux: log drops debug messages unless XEN_HOTPLUG_DEBUG is set" { c_log_debug; }
@test "NetBSD: log drops debug messages unless XEN_HOTPLUG_DEBUG is set" { c_log_debug; }
@test "FreeBSD: log drops debug messages unless XEN_HOTPLUG_DEBUG is set" { c_log_debug; }

# ---- the helper directory --------------------------------------------------

c_helperdir() {
	probe 'echo "$XHP_H"; echo "$XHP_COMMON"; "$XHP_H/xs-readv" "$XENBUS_PATH/state"'
	[ "$status" -eq 0 ]
	local lib=$S
	[ "$OS" != Linux ] || lib=$BATS_FILE_TMPDIR/Linux/lib
	[ "$output" = "$BATS_FILE_TMPDIR/$OS/lib
$lib
2" ]
	[ -f "$lib/xhp-status.sh" ]
	[ ! -e "$S/../common" ]
}
@test "Linux: the installed scripts find the helpers and the shared library through xen-hotplug-paths.sh" { c_helperdir; }
@test "NetBSD: the installed scripts find the helpers and the shared library through xen-hotplug-paths.sh" { c_helperdir; }
@test "FreeBSD: the installed scripts find the helpers and the shared library through xen-hotplug-paths.sh" { c_helperdir; }

# ---- the lock and the deadline -------------------------------------------------

c_lock_symlink() {
	mkdir -p "$XHP_TMP/lock"
	ln -s "$XHP_TMP/victim" "$XHP_TMP/lock/block"
	probe 'claim_lock block; echo after'
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ ! -e "$XHP_TMP/victim" ]
	[ "$(rd "$B/hotplug-error")" = "lock file $XHP_TMP/lock/block is a symlink: not following it" ]
}
@test "Linux: claim_lock refuses a symbolic link planted as the lock file and never creates its target" { c_lock_symlink; }
@test "NetBSD: claim_lock refuses a symbolic link planted as the lock file and never creates its target" { c_lock_symlink; }
@test "FreeBSD: claim_lock refuses a symbolic link planted as the lock file and never creates its target" { c_lock_symlink; }

c_lock_cycle() {
	probe 'claim_lock block || exit 1
		flock -n "$_lockfile" true && echo free || echo held
		release_lock block
		[ -e "$_lockfile" ] && echo exists || echo unlinked'
	[ "$status" -eq 0 ]
	[ "$output" = "held
unlinked" ]
}
@test "Linux: claim_lock holds the lock file and release_lock unlinks it while holding it" { c_lock_cycle; }
@test "NetBSD: claim_lock holds the lock file and release_lock unlinks it while holding it" { c_lock_cycle; }
@test "FreeBSD: claim_lock holds the lock file and release_lock unlinks it while holding it" { c_lock_cycle; }

c_deadline() {
	hold_lock
	local start end
	DEADLINE=1 probe 'sleep 1.2; date +%s%N >"$XHP_TMP/t0"; claim_lock block; echo after'
	end=$(date +%s%N)
	start=$(cat "$XHP_TMP/t0")
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$(rd "$B/hotplug-error")" == *"within 1 s: held by pid $HOLDER"* ]]
	# One deadline for the run: it had passed, so one try. A fresh
	# deadline would have waited a whole second in claim_lock.
	[ $(((end - start) / 1000000)) -lt 1000 ]
}
@test "Linux: claim_lock late in a run gets what is left of the one deadline, and names the holder" { c_deadline; }
@test "NetBSD: claim_lock late in a run gets what is left of the one deadline, and names the holder" { c_deadline; }
@test "FreeBSD: claim_lock late in a run gets what is left of the one deadline, and names the holder" { c_deadline; }
