# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-only
# xen-script-common.sh: argument helpers shared by every Xen script (sourced).
#
# Like upstream, sourcing this file turns on `set -e`: third-party scripts
# written for upstream expect a failing command to abort them. Our own
# `block` turns it off again and checks every step explicitly.

set -e

##
# evalVariables ARG...
#
# Takes the script's arguments; every one of the form NAME=VALUE (an "=" that
# is not the first character) is evaluated as a shell assignment, as upstream
# does for vif scripts called as `vif-bridge online bridge=xenbr0`. The
# arguments come from the caller's command line, never from xenstore.
# Prints nothing. Returns 0.
#
evalVariables() {
	for _xhp_arg in "$@"; do
		case $_xhp_arg in
		?*=*) eval "$_xhp_arg" ;;
		esac
	done
	return 0
}

##
# findCommand ARG...
#
# Sets the global variable `command` to the first argument that contains no
# "=" (add, remove, online, offline, ...). Leaves it unchanged when there is
# none. Prints nothing. Returns 0.
#
findCommand() {
	for _xhp_arg in "$@"; do
		case $_xhp_arg in
		*=*) ;;
		*)
			# shellcheck disable=SC2034 # read by the sourcing script
			command=$_xhp_arg
			return 0
			;;
		esac
	done
	return 0
}
