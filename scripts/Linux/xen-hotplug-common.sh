# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# xen-hotplug-common.sh: the library every hotplug script sources.
#
# Sets up paths, logging and locks, and defines the xenstore and
# error-reporting functions of upstream Xen's library of the same name.
# POSIX sh: runs under dash, bash and busybox sh, and stays sourceable by
# third-party bash scripts (vif-bridge, block-iscsi, ...) that use `local`.
#
# Environment read:
#   XENBUS_PATH             backend directory (set by libxl)
#   XEN_HOTPLUG_HELPERDIR   where the C helpers are (default: the value in
#                           xen-hotplug-paths.sh next to this file, else the
#                           source tree's build/bin)
#   XEN_HOTPLUG_LOGFILE     where stderr goes (default
#                           /var/log/xen/xen-hotplug.log when /var/log/xen
#                           exists; empty: leave stderr alone)
#   XEN_HOTPLUG_DEBUG       non-empty: log debug messages and timings
#   XEN_HOTPLUG_LIBDIR      where the libraries it sources are
#                           (xen-hotplug-helperdir.sh)
#   XEN_HOTPLUG_CONFIG      the configuration file (default
#                           /etc/default/xen-hotplug): KEY=VALUE lines for
#                           the XEN_HOTPLUG_* and XEN_BLOCK_* settings that
#                           the scripts document; the environment wins
# Variables set: dir, PATH, LANG, the hotplugpath.sh variables (sbindir,
# bindir, LIBEXEC, LIBEXEC_BIN, XEN_SCRIPT_DIR, XEN_LOG_DIR, ...),
# XEN_HOTPLUG_HELPERDIR, XEN_HOTPLUG_LIBDIR, XHP_H, XHP_COMMON.
#
# The Linux shim over scripts/common (xhp-status.sh: fatal, ebusy,
# success, xenstore_*, log, claim_lock, release_lock): what only Linux
# has is here, upstream's Linux library's extras (hotplugpath.sh, the
# settings file, the log file, LANG, do_without_error, sigerr and its
# ERR trap, call_hooks) and syslog as the log's destination.
# xenstore nodes written on failure: $XENBUS_PATH/hotplug-error,
# $XENBUS_PATH/hotplug-status.

case $0 in
*/*) dir=${0%/*} ;;
*) dir=. ;;
esac

# The lookup is beside the scripts when installed, in ../common in the
# source tree.
_xhp_lookup=$dir/xen-hotplug-helperdir.sh
[ -f "$_xhp_lookup" ] || _xhp_lookup=$dir/../common/xen-hotplug-helperdir.sh
# shellcheck source=../common/xen-hotplug-helperdir.sh
. "$_xhp_lookup"

##
# _xhp_read_config FILE
#
# Takes the path of the configuration file. Sets each known setting that
# the environment does not set from its KEY=VALUE lines (a value may be
# quoted with " or '; # starts a comment line). The file is read, never
# run. What it ignores (an unknown key, a line that is no setting) is
# logged once logging is set up (_xhp_cf_warn). Returns 0.
#
_xhp_read_config() {
	[ -r "$1" ] || return 0
	while IFS= read -r _xhp_cf_line || [ -n "$_xhp_cf_line" ]; do
		case $_xhp_cf_line in
		'' | '#'*) continue ;;
		*=*) ;;
		*)
			_xhp_cf_warn="$_xhp_cf_warn${_xhp_cf_warn:+; }$1: ignoring \"$_xhp_cf_line\""
			continue
			;;
		esac
		_xhp_cf_v=${_xhp_cf_line#*=}
		case $_xhp_cf_v in
		\"*\") _xhp_cf_v=${_xhp_cf_v#\"}; _xhp_cf_v=${_xhp_cf_v%\"} ;;
		\'*\') _xhp_cf_v=${_xhp_cf_v#\'}; _xhp_cf_v=${_xhp_cf_v%\'} ;;
		esac
		case ${_xhp_cf_line%%=*} in
		XEN_HOTPLUG_LOCK_BASEDIR) : "${XEN_HOTPLUG_LOCK_BASEDIR=$_xhp_cf_v}" ;;
		XEN_HOTPLUG_DEADLINE) : "${XEN_HOTPLUG_DEADLINE=$_xhp_cf_v}" ;;
		XEN_HOTPLUG_LOCK_TIMEOUT) : "${XEN_HOTPLUG_LOCK_TIMEOUT=$_xhp_cf_v}" ;;
		XEN_BLOCK_PATH_ONLY) : "${XEN_BLOCK_PATH_ONLY=$_xhp_cf_v}" ;;
		XEN_HOTPLUG_DEBUG) : "${XEN_HOTPLUG_DEBUG=$_xhp_cf_v}" ;;
		XEN_HOTPLUG_LOGFILE) : "${XEN_HOTPLUG_LOGFILE=$_xhp_cf_v}" ;;
		XEN_HOTPLUG_LOOP_TAG) : "${XEN_HOTPLUG_LOOP_TAG=$_xhp_cf_v}" ;;
		*)
			_xhp_cf_warn="$_xhp_cf_warn${_xhp_cf_warn:+; }$1: unknown setting \"${_xhp_cf_line%%=*}\", ignored"
			;;
		esac
	done <"$1"
	return 0
}
_xhp_cf_warn=
_xhp_read_config "${XEN_HOTPLUG_CONFIG:-/etc/default/xen-hotplug}"

if [ -f "$dir/hotplugpath.sh" ]; then
	# shellcheck source=/dev/null # installed by Xen's own packages
	. "$dir/hotplugpath.sh"
fi
# Same names and meanings as Xen's generated hotplugpath.sh.
: "${sbindir:=/usr/sbin}"
: "${bindir:=/usr/bin}"
: "${LIBEXEC:=/usr/lib/xen}"
: "${LIBEXEC_BIN:=$LIBEXEC/bin}"
: "${SHAREDIR:=/usr/share}"
: "${XENFIRMWAREDIR:=$LIBEXEC/boot}"
: "${XEN_CONFIG_DIR:=/etc/xen}"
: "${XEN_SCRIPT_DIR:=$dir}"
: "${XEN_LOCK_DIR:=/var/lock}"
: "${XEN_RUN_DIR:=/var/run/xen}"
: "${XEN_PAGING_DIR:=/var/lib/xen/xenpaging}"
: "${XEN_DUMP_DIR:=/var/lib/xen/dump}"
: "${XEN_LOG_DIR:=/var/log/xen}"
: "${XEN_LIB_DIR:=/var/lib/xen}"
: "${XEN_RUN_STORED:=/var/run/xenstored}"

# The status contract, log, locks and deadline (scripts/common).
# shellcheck source=../common/xhp-status.sh
. "$XHP_COMMON/xhp-status.sh"
# shellcheck source=xen-script-common.sh
. "$XEN_HOTPLUG_LIBDIR/xen-script-common.sh"

if [ -z "${XEN_HOTPLUG_LOGFILE+set}" ] && [ -d /var/log/xen ]; then
	XEN_HOTPLUG_LOGFILE=/var/log/xen/xen-hotplug.log
fi
if [ -n "${XEN_HOTPLUG_LOGFILE:-}" ]; then
	exec 2>>"$XEN_HOTPLUG_LOGFILE"
fi

[ -z "$_xhp_cf_warn" ] || log warning "$_xhp_cf_warn"

export PATH="${bindir}:${sbindir}:${LIBEXEC_BIN}:/sbin:/bin:/usr/bin:/usr/sbin:$PATH"
export LANG="POSIX"
# Upstream unsets every LC_* variable found with set|grep|cut; naming them
# costs no process.
unset LC_ALL LC_CTYPE LC_COLLATE LC_MESSAGES LC_NUMERIC LC_TIME LC_MONETARY \
    LC_PAPER LC_NAME LC_ADDRESS LC_TELEPHONE LC_MEASUREMENT LC_IDENTIFICATION

##
# do_without_error COMMAND [ARG...]
#
# Runs the command with stderr discarded; a failure is only logged (debug).
# Returns 0.
#
do_without_error() {
	"$@" 2>/dev/null || log debug "$* failed"
	return 0
}

##
# sigerr
#
# Fatal "$0 failed; error detected.". Upstream installs it as bash's ERR
# trap; POSIX sh has no ERR trap, so a failure that ends the script (set -e
# or a bare non-zero exit) is reported by the EXIT trap below instead.
#
sigerr() {
	_xhp_generic_failure 1 "$0 failed; error detected."
}

# _xhp_generic_failure STATUS LOGLINE: a failure nobody explained (the ERR and EXIT
# traps): hotplug-error "... failed; error detected.", unless this run
# wrote a reason already. A fatal or ebusy inside $(...) wrote it from a
# subshell, whose variables are gone, so the store is asked. Exits STATUS.
_xhp_generic_failure() {
	if [ -z "$_xhp_reported" ]; then
		_xhp_reported=1
		if [ -n "${XENBUS_PATH:-}" ] && [ -z "$_xhp_bad_path" ]; then
			case $(xenstore-read "$XENBUS_PATH/hotplug-status" 2>/dev/null) in
			error | busy) _xhp_bad_path="reported already" ;;
			esac
		fi
		if [ -n "${XENBUS_PATH:-}" ] && [ -z "$_xhp_bad_path" ]; then
			_xenstore_write "$XENBUS_PATH/hotplug-error" \
			    "$0 failed; error detected." \
			    "$XENBUS_PATH/hotplug-status" error || :
		fi
		log err "$2"
	fi
	exit "$1"
}

##
# call_hooks DEVTYPE HOOK
#
# Sources every executable $XEN_CONFIG_DIR/scripts/DEVTYPE-HOOK.d/*.hook
# (upstream: /etc/xen/scripts/...). Returns 0.
#
call_hooks() {
	for _xhp_hook in "${XEN_CONFIG_DIR:-/etc/xen}/scripts/${1}-${2}.d/"*.hook; do
		if [ -x "$_xhp_hook" ]; then
			# shellcheck source=/dev/null # site-provided hooks
			. "$_xhp_hook"
		fi
	done
	return 0
}

# A script that dies with a non-zero status without having said why
# (set -e, a killed helper, a plain `exit 1`) still leaves a hotplug-error
# for libxl to log.
_xhp_on_exit() {
	_xhp_exit_rc=$?
	[ "$_xhp_exit_rc" -eq 0 ] || _xhp_generic_failure "$_xhp_exit_rc" \
	    "$0 failed (exit status $_xhp_exit_rc); error detected."
	exit 0
}
trap _xhp_on_exit EXIT

# Bash callers written for upstream rely on its ERR trap; keep it for them.
# _xhp_no_err_trap is set by our own scripts, which check every step.
if [ -n "${BASH_VERSION:-}" ] && [ -z "${_xhp_no_err_trap:-}" ]; then
	# shellcheck disable=SC3047 # only reached under bash
	trap sigerr ERR
fi

log debug "$@" "XENBUS_PATH=${XENBUS_PATH:-}"
