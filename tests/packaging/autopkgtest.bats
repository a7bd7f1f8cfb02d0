#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# The autopkgtest (debian/tests/installed) and the switch it uses,
# XHP_INSTALLED=1 (tests/test_helper.bash): the suites then test the files
# of an installed tree, never the source tree's. Here the installed tree
# is a `make install` into a temporary prefix (its xen-hotplug-paths.sh
# tells the truth), and the suite is xen-hotplug-common.bats, which needs
# neither root nor the network. The whole autopkgtest runs against the
# package itself (docs/packaging.md).

load ../test_helper

INSTALLED=$XHP_TOP/debian/tests/installed

setup() {
	xhp_tmp
}

teardown() {
	rm -rf "$XHP_TMP"
}

# install_tree: $P, a make install of the tree.
install_tree() {
	P=$XHP_TMP/inst
	make -C "$XHP_TOP" -s install OS=Linux PREFIX="$P/usr" \
		SCRIPTDIR="$P/etc/xen/scripts" LIBEXECDIR="$P/usr/lib/xen-hotplug" \
		DEFAULTDIR="$P/etc/default" >/dev/null
}

# suite_installed SUITE: run tests/scripts/SUITE under dash with
# XHP_INSTALLED=1 against $P, with none of this suite's own helper
# directory in the environment: not XEN_HOTPLUG_HELPERDIR, and not XHP_BIN
# either, which make check-asan sets to its own build for every suite.
suite_installed() {
	run env -u XEN_HOTPLUG_HELPERDIR -u XHP_BIN -u XHP_LIBDIR \
		PATH="${PATH#"$XHP_BIN:"}" \
		XHP_INSTALLED=1 XHP_SCRIPTDIR="$P/etc/xen/scripts" HOTPLUG_SH=dash \
		bats --tap "$XHP_TOP/tests/scripts/$1"
}

@test "debian/tests/installed is clean under shellcheck" {
	run shellcheck "$INSTALLED"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every suite the autopkgtest leaves out exists and is listed with its reason" {
	left=$(eval "$(grep '^LEFT_OUT=' "$INSTALLED")" && printf %s "$LEFT_OUT")
	[ -n "$left" ]
	for f in $left; do
		[ -f "$XHP_TOP/$f" ] || { echo "$f: no such suite"; return 1; }
		grep -q "^#   $f  *[a-z]" "$INSTALLED" ||
			{ echo "$f: no reason given in the comment"; return 1; }
	done
}

@test "with XHP_INSTALLED=1 a script suite passes against an installed tree, taking the paths from its xen-hotplug-paths.sh" {
	install_tree
	suite_installed xen-hotplug-common.bats
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"not ok"* ]]
	[[ "$output" == *"ok "*" findCommand takes the first argument"* ]]
}

@test "with XHP_INSTALLED=1 the suite tests the installed libraries, not the source tree's" {
	install_tree
	# Broken in the installed tree only: the source tree's is intact.
	printf 'findCommand() { command=broken; }\n' \
		>>"$P/usr/lib/xen-hotplug/xen-script-common.sh"
	suite_installed xen-hotplug-common.bats
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not ok "*" findCommand takes the first argument"* ]]
	if grep -q 'command=broken' "$XHP_TOP/scripts/Linux/xen-script-common.sh"; then return 1; fi
}
