# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# locking.sh: the hotplug lock for NetBSD, shared with upstream's scripts.
#
# Sourced by xen-hotplug-common.sh. claim_lock NAME / release_lock NAME
# serialise on the file $LOCK_BASEDIR/NAME (default
# /var/run/xen-hotplug/NAME, the path upstream's scripts use), so old and
# new scripts exclude each other while a host is being upgraded.
#
# The protocol is upstream's: open the file, flock(2) it, then check that
# the descriptor is still the file at that path (the previous holder may
# have unlinked it in between), else reopen and retry. Release unlinks the
# file while still holding the lock. flock-wrap does the flock, the
# dev/inode check and the unlink; the shell only owns the descriptor, fd 9,
# so the lock lives exactly as long as this shell keeps fd 9 open, and dies
# with it even on SIGKILL. NetBSD has flock(2), so this is the Linux design
# unchanged; the NetBSD scripts take only one lock ("block"), hence one
# descriptor.
#
# Environment (names shared with the Linux scripts):
#   XEN_HOTPLUG_LOCK_BASEDIR  lock directory (wins over LOCK_BASEDIR);
#                             default /var/run/xen-hotplug
#   XEN_HOTPLUG_LOCK_TIMEOUT  seconds to wait before giving up with an
#                             error naming the holder; default 30, well
#                             inside libxl's 40 s
#   XEN_HOTPLUG_HELPERDIR     where flock-wrap is (xen-hotplug-common.sh)
# Variables set: LOCK_BASEDIR; _lockfd and _lockfile, as upstream's
# _setlockfd leaves them.

LOCK_BASEDIR=${XEN_HOTPLUG_LOCK_BASEDIR:-${LOCK_BASEDIR:-/var/run/xen-hotplug}}
_xhp_lock_held=

# _setlockfd NAME: set _lockfd (always 9) and _lockfile for lock NAME.
# Prints nothing. Returns 0, or calls fatal for a NAME that is not
# [A-Za-z0-9._-]+ (it becomes a path).
_setlockfd() {
	case $1 in
	'' | *[!A-Za-z0-9._-]* | . | ..) fatal "invalid lock name '$1'" ;;
	esac
	_lockfd=9
	_lockfile=$LOCK_BASEDIR/$1
}

# claim_lock NAME: take the lock NAME on fd 9, waiting at most
# XEN_HOTPLUG_LOCK_TIMEOUT seconds. Prints nothing. Returns 0 once held;
# on timeout or error calls fatal with flock-wrap's message, which names
# the holder.
claim_lock() {
	_setlockfd "$1"
	if [ ! -d "$LOCK_BASEDIR" ]; then
		mkdir -p "$LOCK_BASEDIR" ||
			fatal "unable to create lock directory $LOCK_BASEDIR"
	fi
	while :; do
		# `command` keeps a failed redirection from killing the shell.
		command exec 9<>"$_lockfile" ||
			fatal "unable to open lock file $_lockfile"
		_lock_out=$("$XEN_HOTPLUG_HELPERDIR/flock-wrap" \
		    -w "${XEN_HOTPLUG_LOCK_TIMEOUT:-30}" -F 9 "$_lockfile" 2>&1)
		case $? in
		0)
			_xhp_lock_held=$1
			return 0
			;;
		2) exec 9<&- ;; # stale: the holder unlinked it; reopen
		*)
			exec 9<&-
			fatal "${_lock_out:-unable to lock $_lockfile}"
			;;
		esac
	done
}

# release_lock NAME: if this shell holds NAME, unlink the lock file while
# still holding it, then close fd 9. A lock not held is left alone
# (unlinking it would break another holder's lock). Prints nothing;
# returns 0 (a failed unlink only leaves the file for the next locker to
# reuse, which the protocol allows).
release_lock() {
	_setlockfd "$1"
	[ "$_xhp_lock_held" = "$1" ] || return 0
	"$XEN_HOTPLUG_HELPERDIR/flock-wrap" -u -F 9 "$_lockfile" ||
		log warning "unable to remove lock file $_lockfile"
	exec 9<&-
	_xhp_lock_held=
	return 0
}
