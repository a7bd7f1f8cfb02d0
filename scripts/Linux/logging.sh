# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# logging.sh: the log function of the hotplug scripts (sourced).
#
# Environment:
#   XEN_HOTPLUG_DEBUG   non-empty: debug messages are logged; otherwise they
#                       cost nothing (no process is started for them).
#
# Sourced by xen-hotplug-common.sh; third-party scripts may source it alone.
# POSIX sh; also fine when sourced by bash scripts that use `local`.

##
# log LEVEL MESSAGE...
#
# Takes a syslog level (debug, info, notice, warning, err, ...) and the words
# of a message. Sends "$0: MESSAGE" to syslog (facility daemon) with logger;
# when logger is missing or fails, writes "$0 MESSAGE" to stderr instead.
# Levels err and warning (every level in debug mode) are also copied to
# stderr, so the hotplug log file holds the reason of a failure even on
# hosts without a syslog daemon.
# Prints nothing on stdout. Returns 0.
#
log() {
	_xhp_log_level=${1:-info}
	[ "$#" -gt 0 ] && shift
	case $_xhp_log_level in
	debug) [ -n "${XEN_HOTPLUG_DEBUG:-}" ] || return 0 ;;
	esac
	if command -v logger >/dev/null 2>&1 &&
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
