# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# xen-hotplug-common.sh: the NetBSD shim over scripts/common.
#
# Sourced by `block` (through block-common.sh) and by other people's
# scripts. POSIX sh, as NetBSD's /bin/sh runs it: no GNU tools; what the
# shell cannot do portably (stat, xenstore transactions, locking) is done
# by the C helpers. The shared library (xhp-status.sh, logging.sh,
# locking.sh) gives log, fatal, ebusy, success, do_or_die, xenstore_read,
# xenstore_read_default, xenstore_write, claim_lock, release_lock and
# xhp_deadline; this file adds only what is NetBSD's: where the sourcing
# script is, the system directories in PATH, and the log on stderr
# (libxl collects it; NetBSD's scripts never used syslog).
#
# Environment read (all optional):
#   XEN_HOTPLUG_HELPERDIR  directory of the helpers; `make install` records
#                          it in xen-hotplug-paths.sh next to this file, and
#                          in a source tree it defaults to build/bin.
#                          A value already in the environment wins.
#   XEN_HOTPLUG_LOCK_BASEDIR,
#   XEN_HOTPLUG_DEADLINE,
#   XEN_HOTPLUG_LOCK_TIMEOUT  the lock and the deadline (locking.sh)
#   XEN_HOTPLUG_DEBUG      non-empty: debug messages on stderr
#   XEN_HOTPLUG_DEVDIR     device directory (block-common.sh)
# Variables the caller sets before using fatal/success/ebusy:
#   XENBUS_PATH            absolute backend directory (argv[1] on NetBSD)
# Variables set: xhp_nl, xhp_scriptdir, XHP_H, XHP_COMMON, XHP_LOG_STDERR,
# PATH, and those of scripts/common.
#
# Functions return 0 for yes and 1 for no unless said otherwise.

# shellcheck disable=SC2034 # some are used only by scripts that source us
xhp_nl='
'

# Where the sourcing script lives: libxl runs it by absolute path, so
# ${0%/*} is right without a dirname process.
case $0 in
*/*) xhp_scriptdir=${0%/*} ;;
*) xhp_scriptdir=. ;;
esac

# The lookup, beside the scripts when installed, in ../common in the source
# tree, reads the `dir` of upstream's libraries.
dir=$xhp_scriptdir
_xhp_lookup=$dir/xen-hotplug-helperdir.sh
[ -f "$_xhp_lookup" ] || _xhp_lookup=$dir/../common/xen-hotplug-helperdir.sh
# shellcheck source=../common/xen-hotplug-helperdir.sh
. "$_xhp_lookup"

# shellcheck disable=SC2034 # read by logging.sh
XHP_LOG_STDERR=1
# shellcheck source=../common/xhp-status.sh
. "$XHP_COMMON/xhp-status.sh"

# libxl on NetBSD adds nothing to the environment and the toolstack's PATH
# may lack the system directories (vnconfig, sysctl and mount live in /sbin
# and /usr/sbin, the Xen tools in /usr/pkg). Appended, so a PATH set on
# purpose still comes first.
PATH=$PATH:/sbin:/usr/sbin:/bin:/usr/bin:/usr/pkg/sbin:/usr/pkg/bin
export PATH
