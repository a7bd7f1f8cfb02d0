# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# logging.sh: the log function of the hotplug scripts (sourced), for
# every system.
#
# Environment:
#   XEN_HOTPLUG_DEBUG   non-empty: debug messages are logged; otherwise they
#                       cost nothing (no process is started for them).
# Variables read: XHP_LOG_STDERR (set by the NetBSD and FreeBSD
# libraries, where libxl collects the script's stderr and upstream's
# scripts never used syslog): stderr only. Unset (Linux, and any script
# that sources this file alone): syslog, as upstream's Linux library.
#
# Sourced by xhp-status.sh; third-party scripts may source it alone (Linux
# keeps upstream's name). POSIX sh; also fine when sourced by bash scripts
# that use `local`.

##
# log LEVEL MESSAGE...
#
# Takes a syslog level (debug, info, notice, warning, err, ...) and the words
# of a message. Debug messages are dropped unless XEN_HOTPLUG_DEBUG is set.
# By default sends "$0: MESSAGE" to syslog (facility daemon) with
# logger; when logger is missing or fails, writes "$0 MESSAGE" to stderr
# instead; levels err and warning (every level in debug mode) are also
# copied to stderr as "$0: MESSAGE", so the hotplug log file holds the
# reason of a failure even on hosts without a syslog daemon.
# With XHP_LOG_STDERR: writes "SCRIPT: LEVEL: MESSAGE" to stderr, SCRIPT
# being the script's name without its directory.
# Prints nothing on stdout. Returns 0.
#
log() {
	_xhp_log_level=${1:-info}
	[ "$#" -gt 0 ] && shift
	case $_xhp_log_level in
	debug) [ -n "${XEN_HOTPLUG_DEBUG:-}" ] || return 0 ;;
	esac
	if [ -n "${XHP_LOG_STDERR:-}" ]; then
		printf '%s: %s: %s\n' "${0##*/}" "$_xhp_log_level" "$*" >&2
	elif command -v logger >/dev/null 2>&1 &&
	    logger -p "daemon.$_xhp_log_level" -- "$0:" "$@" 2>/dev/null; then
		case $_xhp_log_level in
		err | error | warning | crit | alert | emerg)
			printf '%s: %s\n' "$0" "$*" >&2
			;;
		*)
			[ -z "${XEN_HOTPLUG_DEBUG:-}" ] ||
			    printf '%s: %s\n' "$0" "$*" >&2
			;;
		esac
	else
		printf '%s %s\n' "$0" "$*" >&2
	fi
	return 0
}
