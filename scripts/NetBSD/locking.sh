# locking.sh: the hotplug lock for NetBSD, shared with upstream's scripts.
#
# Sourced by xen-hotplug-common.sh. The lock file is
# $XEN_HOTPLUG_LOCKDIR/NAME (default /var/run/xen-hotplug/NAME, the path
# upstream's scripts use), so old and new scripts exclude each other while
# a host is being upgraded.
#
# The protocol is upstream's: open the file, flock(2) it, then check that
# the descriptor is still the file at that path (it may have been unlinked
# by the previous holder in between), else reopen and retry. Release
# unlinks the file while still holding the lock. flock-wrap does the
# flock, the dev/inode check and the unlink; the shell only owns the
# descriptor, fd 9, so the lock lives exactly as long as this shell keeps
# fd 9 open, and dies with it even on SIGKILL.
#
# Needs: XEN_HOTPLUG_HELPERDIR (set by xen-hotplug-common.sh), fatal.

: "${XEN_HOTPLUG_LOCKDIR:=/var/run/xen-hotplug}"

# claim_lock NAME: take the lock NAME on fd 9, waiting at most flock-wrap's
# bounded time (well inside libxl's 40 s). Prints nothing. Returns 0 once
# held; on timeout or error calls fatal with flock-wrap's message, which
# names the holder.
claim_lock() {
	_lock_file=$XEN_HOTPLUG_LOCKDIR/$1
	mkdir -p "$XEN_HOTPLUG_LOCKDIR" ||
		fatal "unable to create lock directory $XEN_HOTPLUG_LOCKDIR"
	while :; do
		# `command` keeps a failed redirection from killing the shell.
		command exec 9<>"$_lock_file" ||
			fatal "unable to open lock file $_lock_file"
		_lock_out=$("$XEN_HOTPLUG_HELPERDIR/flock-wrap" -F 9 \
		    "$_lock_file" 2>&1)
		case $? in
		0) return 0 ;;
		2) exec 9<&- ;; # stale: the holder unlinked it; reopen
		*)
			exec 9<&-
			fatal "${_lock_out:-unable to lock $_lock_file}"
			;;
		esac
	done
}

# release_lock NAME: unlink the lock file while still holding it, then
# close fd 9. Prints nothing; returns 0 (a failure to unlink only leaves
# the file for the next locker to reuse, which the protocol allows).
release_lock() {
	_lock_file=$XEN_HOTPLUG_LOCKDIR/$1
	"$XEN_HOTPLUG_HELPERDIR/flock-wrap" -u -F 9 "$_lock_file" ||
		log warning "unable to remove lock file $_lock_file"
	exec 9<&-
	return 0
}
