#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# Lint: shellcheck on everything we ship and on the tests themselves.

load ../test_helper

shipped_scripts() {
	# Every file under scripts/ that is a shell script (not docs).
	find "$XHP_TOP/scripts" -type f ! -name '*.md' | sort
}

@test "shellcheck is installed" {
	run shellcheck --version
	[ "$status" -eq 0 ]
}

@test "every shipped script is clean under shellcheck -s sh" {
	files=$(shipped_scripts)
	[ -n "$files" ] || skip "no scripts yet"
	cd "$XHP_TOP"
	# -x follows sourced files; scripts source relative to their own dir.
	# shellcheck disable=SC2086 # the list is split on purpose
	run shellcheck -s sh -x -P SCRIPTDIR $files
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every test shell script is clean under shellcheck -s sh" {
	files=$(find "$XHP_TOP/tests" "$XHP_TOP/bench" "$XHP_TOP/.ci" -type f \
		\( -name '*.sh' -o -path '*/stubs/*' \) 2>/dev/null | sort)
	[ -n "$files" ] || skip "no shell files"
	# shellcheck disable=SC2086
	run shellcheck -x $files
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every bats suite is clean under shellcheck" {
	files=$(find "$XHP_TOP/tests" -name '*.bats' -o -name '*.bash' | sort)
	# SC2153/SC2154: variables come from test_helper.bash through bats'
	# `load`, which shellcheck cannot follow.
	# shellcheck disable=SC2086
	run shellcheck -s bash -e SC2153,SC2154 $files
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "no shipped script uses bash-only syntax that dash rejects" {
	files=$(shipped_scripts)
	[ -n "$files" ] || skip "no scripts yet"
	for f in $files; do
		head -1 "$f" | grep -q '^#!/bin/sh' || continue
		run dash -n "$f"
		[ "$status" -eq 0 ] || { echo "$f: $output"; return 1; }
		run busybox sh -n "$f"
		[ "$status" -eq 0 ] || { echo "$f: $output"; return 1; }
	done
}
