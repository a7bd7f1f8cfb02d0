# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# locking.sh: named, upstream-compatible hotplug locks, and the deadline
# of a script run (sourced; one copy for every system: NetBSD and FreeBSD
# have flock(2) too).
#
# claim_lock NAME / release_lock NAME serialise on the file
# "$LOCK_BASEDIR/NAME" with the protocol of upstream Xen's locking.sh:
# flock(LOCK_EX), then check that the locked file is still the one linked at
# that path (dev and inode), retry if not; release unlinks the path while
# still holding the lock. Old (bash) and new scripts running side by side on
# one host therefore exclude each other.
#
# The shell itself owns the lock: claim_lock opens the lock file on one of
# the shell's descriptors (9 for the first lock name used, then 8, 7, 6, 5;
# POSIX sh cannot name descriptors above 9) and `flock-wrap -F FD` locks that
# open file description, so the lock lives exactly as long as the descriptor:
# until release_lock closes it, or until the shell exits or is killed.
#
# Environment:
#   XEN_HOTPLUG_LOCK_BASEDIR   directory of the lock files (wins over
#                              LOCK_BASEDIR from the environment);
#                              default /var/run/xen-hotplug
#   XEN_HOTPLUG_DEADLINE       seconds from the start of this script run
#                              (the shell $$) after which no lock wait
#                              goes on: the wait gives up with an error
#                              that names the holder; default 30, inside
#                              libxl's 40 s, which count from the same
#                              start. Every wait of the run (claim_lock,
#                              the helpers) honours the one deadline.
#   XEN_HOTPLUG_LOCK_TIMEOUT   older name of XEN_HOTPLUG_DEADLINE
#   XEN_HOTPLUG_HELPERDIR      where flock-wrap is installed
#                              (xen-hotplug-helperdir.sh)
#
# Variables set: LOCK_BASEDIR (callers may change it after sourcing, as with
# upstream), _lockfd and _lockfile (the descriptor and file of the last lock
# named, as upstream's _setlockfd leaves them), XHP_DEADLINE (xhp_deadline).

LOCK_BASEDIR=${XEN_HOTPLUG_LOCK_BASEDIR:-${LOCK_BASEDIR:-/var/run/xen-hotplug}}

##
# xhp_deadline
#
# Sets XHP_DEADLINE to the seconds, counted from the start of this script
# run ($$), after which no wait goes on: XEN_HOTPLUG_DEADLINE, else the
# older XEN_HOTPLUG_LOCK_TIMEOUT, else 30. Read at each call, so a value
# set after sourcing counts. Every helper that waits gets it as
# `-w "$XHP_DEADLINE" -s "$$"`. Prints nothing. Returns 0.
#
xhp_deadline() {
	XHP_DEADLINE=${XEN_HOTPLUG_DEADLINE:-${XEN_HOTPLUG_LOCK_TIMEOUT:-30}}
}

# " NAME=FD ..." for every lock name seen, and " NAME ..." for those held.
_xhp_lock_map=' '
_xhp_locks_held=' '

# _xhp_lock_fail MESSAGE: report through fatal when the caller has it
# (xen-hotplug-common.sh), else on stderr. Returns 1.
_xhp_lock_fail() {
	if command -v fatal >/dev/null 2>&1; then
		fatal "$@"
	fi
	printf '%s: %s\n' "$0" "$*" >&2
	return 1
}

##
# _setlockfd NAME
#
# Takes a lock name. Sets _lockfd to the descriptor for that name (a new one
# from 9 downwards the first time) and _lockfile to its path. Prints
# nothing. Returns 0, or 1 for a name that is not [A-Za-z0-9._-]+ or when
# more than five lock names are in use.
#
_setlockfd() {
	case $1 in
	'' | *[!A-Za-z0-9._-]* | . | ..)
		_xhp_lock_fail "invalid lock name '$1'"
		return 1
		;;
	esac
	case $_xhp_lock_map in
	*" $1="*)
		_lockfd=${_xhp_lock_map#* "$1"=}
		_lockfd=${_lockfd%% *}
		;;
	*)
		_lockfd=9
		for _xhp_lock_used in $_xhp_lock_map; do
			_lockfd=$((_lockfd - 1))
		done
		if [ "$_lockfd" -lt 5 ]; then
			_xhp_lock_fail "too many lock names (at most five)"
			return 1
		fi
		_xhp_lock_map="$_xhp_lock_map$1=$_lockfd "
		;;
	esac
	_lockfile=$LOCK_BASEDIR/$1
	return 0
}

# _xhp_lock_open FD FILE / _xhp_lock_close FD: descriptor numbers must be
# literal in POSIX sh, hence one branch per descriptor. `command exec` keeps
# a failed redirection from killing the shell (exec is a special built-in).
_xhp_lock_open() {
	case $1 in
	9) command exec 9<>"$2" ;;
	8) command exec 8<>"$2" ;;
	7) command exec 7<>"$2" ;;
	6) command exec 6<>"$2" ;;
	5) command exec 5<>"$2" ;;
	*) return 1 ;;
	esac
}

_xhp_lock_close() {
	case $1 in
	9) exec 9>&- ;;
	8) exec 8>&- ;;
	7) exec 7>&- ;;
	6) exec 6>&- ;;
	5) exec 5>&- ;;
	esac
}

##
# claim_lock NAME
#
# Takes a lock name (upstream uses "block", "iptables", ...). Blocks until
# this shell holds the lock, waiting no later than XEN_HOTPLUG_DEADLINE
# seconds after this script's start; a lock file replaced while we waited
# (the holder released it) is reopened and tried again. Prints nothing. Returns 0 when
# locked. On timeout or error calls fatal (hotplug-error names the holder);
# without fatal (library sourced alone) prints the reason on stderr and
# returns 1.
#
claim_lock() {
	_setlockfd "$1" || return 1
	if [ ! -d "$LOCK_BASEDIR" ]; then
		mkdir -p "$LOCK_BASEDIR" ||
			{ _xhp_lock_fail "unable to create lock directory $LOCK_BASEDIR"; return 1; }
	fi
	while :; do
		# Opening would follow a planted symlink and create its target;
		# flock-wrap refuses such a file too, but only after the open.
		if [ -L "$_lockfile" ]; then
			_xhp_lock_fail "lock file $_lockfile is a symlink: not following it"
			return 1
		elif [ -p "$_lockfile" ] || [ -d "$_lockfile" ] ||
		    [ -b "$_lockfile" ] || [ -c "$_lockfile" ] ||
		    [ -S "$_lockfile" ]; then
			# Each kind tested for itself: "exists and not a
			# regular file" took two tests, and a holder's release
			# (an unlink) between them looked the same.
			_xhp_lock_fail "lock file $_lockfile is not a regular file"
			return 1
		fi
		if ! _xhp_lock_open "$_lockfd" "$_lockfile"; then
			_xhp_lock_fail "unable to open lock file $_lockfile"
			return 1
		fi
		# "|| rc=$?": callers may run under set -e, and 2 is routine.
		_xhp_lock_rc=0
		xhp_deadline
		_xhp_lock_err=$("${XEN_HOTPLUG_HELPERDIR:-/usr/lib/xen-hotplug}/flock-wrap" \
		    -w "$XHP_DEADLINE" -s "$$" -F "$_lockfd" "$_lockfile" 2>&1) ||
		    _xhp_lock_rc=$?
		if [ "$_xhp_lock_rc" -eq 0 ]; then
			_xhp_locks_held="$_xhp_locks_held$1 "
			return 0
		fi
		_xhp_lock_close "$_lockfd"
		if [ "$_xhp_lock_rc" -ne 2 ]; then
			_xhp_lock_fail "${_xhp_lock_err:-unable to lock $_lockfile (flock-wrap exit $_xhp_lock_rc)}"
			return 1
		fi
		# Stale: the holder unlinked the file as we got it. Retry;
		# flock-wrap counts the wait from the script's start (-s).
	done
}

##
# release_lock NAME
#
# Takes a lock name. If this shell holds that lock, unlinks the lock file
# while still holding it (upstream's protocol) and closes the descriptor.
# A lock that is not held is left alone (upstream would delete the file
# under another holder). Prints nothing. Returns 0.
#
release_lock() {
	_setlockfd "$1" || return 1
	case $_xhp_locks_held in
	*" $1 "*) ;;
	*) return 0 ;;
	esac
	if ! _xhp_lock_err=$("${XEN_HOTPLUG_HELPERDIR:-/usr/lib/xen-hotplug}/flock-wrap" \
	    -u -F "$_lockfd" "$_lockfile" 2>&1); then
		# Closing the descriptor below still drops the lock.
		command -v log >/dev/null 2>&1 && log warning "$_xhp_lock_err"
	fi
	_xhp_lock_close "$_lockfd"
	_xhp_locks_held=${_xhp_locks_held%%" $1 "*}" ${_xhp_locks_held#*" $1 "}"
	return 0
}
