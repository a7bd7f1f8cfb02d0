# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# xhp-status.sh: the status contract of every hotplug script, written once
# for Linux, NetBSD and FreeBSD (sourced by each system's library after
# xen-hotplug-helperdir.sh). Sources logging.sh (log) and locking.sh
# (claim_lock, release_lock, xhp_deadline) from the same directory.
#
# The contract, as libxl reads it: success is exit 0 and, by convention,
# hotplug-status=connected; a failure is exit 1 with hotplug-error (the
# reason) and hotplug-status=error, or busy for a sharing conflict. The
# names and messages are upstream's Linux library's (docs/api-compat.md).
#
# Variables read: XENBUS_PATH (the backend directory: set by libxl on
# Linux, from argv by the BSD scripts), XHP_H and XHP_COMMON
# (xen-hotplug-helperdir.sh). Variables set: _xhp_reported (a failure was
# reported already), _xhp_bad_path (non-empty: never write into
# XENBUS_PATH; set by the callers that check it).
# xenstore nodes written: $XENBUS_PATH/hotplug-status, hotplug-error.

# shellcheck source=../common/logging.sh
. "$XHP_COMMON/logging.sh"
# shellcheck source=../common/locking.sh
. "$XHP_COMMON/locking.sh"

_xhp_reported=
_xhp_bad_path=

##
# _xenstore_write (PATH VALUE)...
#
# Takes path/value pairs and writes them with xenstore-write (one
# process, one request per pair). Prints nothing. Returns
# xenstore-write's status.
#
_xenstore_write() {
	log debug "Writing $* to xenstore."
	xenstore-write "$@"
}

##
# xenstore_write (PATH VALUE)...
#
# As _xenstore_write, but a failure is fatal.
#
xenstore_write() {
	_xenstore_write "$@" || fatal "Writing $* to xenstore failed."
}

##
# xenstore_read NODE[=DEFAULT]...
#
# Takes xenstore paths (relative ones are under this domain's home).
# Prints each value on its own line, read in one process and one round
# trip (xs-readv); NODE=DEFAULT prints DEFAULT when NODE is absent. All or
# nothing: a missing bare NODE, a failed read or a value with a control
# byte is fatal with upstream's message "xenstore-read NODE... failed.",
# and so is an empty answer when no DEFAULT was given (upstream: nothing
# read is a failure).
#
xenstore_read() {
	_xhp_rc=0
	_xhp_v=$("$XHP_H/xs-readv" "$@") || _xhp_rc=$?
	[ "$_xhp_rc" -eq 0 ] || fatal "xenstore-read $* failed."
	if [ -z "$_xhp_v" ]; then
		case $* in
		*=*) ;; # a DEFAULT was asked for: empty is an answer
		*) fatal "xenstore-read $* failed." ;;
		esac
	fi
	printf '%s\n' "$_xhp_v"
}

##
# xenstore_read_default NODE DEFAULT
#
# Prints the value at NODE, or DEFAULT when NODE does not exist. Any other
# failure (no xenstore, permission) is fatal, never taken for the default:
# a sharing decision must not rest on a value nobody read.
#
xenstore_read_default() {
	_xhp_rc=0
	_xhp_v=$("$XHP_H/xs-readv" "$1=$2") || _xhp_rc=$?
	[ "$_xhp_rc" -eq 0 ] || fatal "xenstore-read $1 failed."
	printf '%s\n' "$_xhp_v"
}

##
# _xhp_report STATUS MESSAGE...
#
# Writes hotplug-error=MESSAGE and hotplug-status=STATUS into XENBUS_PATH
# (once per run, and only while that directory still exists, so that a
# late failure never recreates a backend libxl removed), logs MESSAGE at
# level err and exits 1. Locks still held are dropped by the exit itself
# (the descriptor closes); the lock file is left for the next locker,
# which the protocol allows.
#
_xhp_report() {
	_xhp_st=$1
	shift
	if [ -n "${XENBUS_PATH:-}" ] && [ -z "$_xhp_bad_path" ] &&
	    [ -z "$_xhp_reported" ] && xenstore-exists "$XENBUS_PATH" 2>/dev/null; then
		_xenstore_write "$XENBUS_PATH/hotplug-error" "$*" \
		    "$XENBUS_PATH/hotplug-status" "$_xhp_st" 2>/dev/null || :
	fi
	_xhp_reported=1
	log err "$@"
	exit 1
}

##
# fatal MESSAGE...
#
# A failure: hotplug-status=error and hotplug-error=MESSAGE (_xhp_report),
# logged at err; exits 1.
#
fatal() {
	_xhp_report error "$@"
}

##
# ebusy MESSAGE...
#
# A sharing conflict: as fatal, with hotplug-status=busy; exits 1.
#
ebusy() {
	_xhp_report busy "$@"
}

##
# success
#
# Writes hotplug-status=connected. Fatal if the write fails.
#
success() {
	xenstore_write "$XENBUS_PATH/hotplug-status" connected
}

##
# do_or_die COMMAND [ARG...]
#
# Runs the command; if it fails, fatal "COMMAND ARG... failed".
#
do_or_die() {
	"$@" || fatal "$* failed"
}
