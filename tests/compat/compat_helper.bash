# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-only
# Shared by the suites of tests/compat: every check runs once against each
# upstream version, Debian 12's xen-utils-common 4.17 (bookworm) and Debian
# 13's 4.20 (trixie). A test says which by the start of its name, "4.17: "
# or "4.20: ", and each check is written once, as a function that both of
# its @test lines call; the pairing test of each suite (compat_unpaired)
# fails when a check has only one of them.
#
#   load ../test_helper
#   load compat_helper
#
#   compat_fetch PACKAGE...    (setup_file) download each PACKAGE of each
#                              suite (tests/fetch-upstream.sh); CF_DIR/SUITE
#                              /PACKAGE is its scripts directory, or
#                              CF_DIR/SUITE/PACKAGE.err says why not
#   compat_suite [PACKAGE...]  (setup) from the test's name: SUITE
#                              (bookworm, trixie), SERIES (4.17, 4.20), SD
#                              (CF_DIR/SUITE); skip, with the reason, unless
#                              every PACKAGE (default xen-utils-common) of
#                              that suite was had
#   compat_unpaired            the checks of this suite that do not run
#                              against both versions, one per line
#
# CF_DIR is $BATS_FILE_TMPDIR/compat. Under make check-quick (XHP_QUICK)
# nothing is downloaded: the suites need root and are left out whole.

CF_SUITES='bookworm trixie'

compat_series() {
	case $1 in
	bookworm) echo 4.17 ;;
	trixie) echo 4.20 ;;
	esac
}

compat_fetch() {
	local suite pkg d
	export CF_DIR=$BATS_FILE_TMPDIR/compat
	for suite in $CF_SUITES; do
		d=$CF_DIR/$suite
		mkdir -p "$d"
		for pkg in "$@"; do
			if [ -n "${XHP_QUICK:-}" ]; then
				echo "check-quick: needs the network" > "$d/$pkg.err"
			elif ! UPSTREAM_SUITE=$suite sh "$XHP_TOP/tests/fetch-upstream.sh" "$pkg" \
			    > "$d/$pkg.dir" 2> "$d/$pkg.err"; then
				rm -f "$d/$pkg.dir"
			fi
		done
	done
}

compat_suite() {
	local pkg
	case $BATS_TEST_DESCRIPTION in
	"4.17: "*) SUITE=bookworm ;;
	"4.20: "*) SUITE=trixie ;;
	*) SUITE='' SERIES='' SD=''; return 0 ;;
	esac
	SERIES=$(compat_series "$SUITE")
	SD=$CF_DIR/$SUITE
	[ "$#" -gt 0 ] || set -- xen-utils-common
	for pkg in "$@"; do
		[ -s "$SD/$pkg.dir" ] ||
			skip "$pkg of Debian $SUITE (Xen $SERIES) unavailable: $(cat "$SD/$pkg.err" 2>/dev/null)"
	done
}

# compat_dir PACKAGE: the scripts directory of PACKAGE for this test's suite.
compat_dir() { cat "$SD/$1.dir"; }

compat_unpaired() {
	# "4.17: NAME { BODY }" and "4.20: NAME { BODY }" must both be there,
	# with the same body; a test without a version prefix is not a check
	# against upstream and is left alone.
	sed -n 's/^@test "\(4\.17\|4\.20\): \(.*\)" *{\(.*\)$/\1|\2|\3/p' "$BATS_TEST_FILENAME" |
	    awk -F'|' '
		{ key = $2 "|" $3; seen[key] = seen[key] " " $1 }
		END {
			for (k in seen)
				if (seen[k] != " 4.17 4.20" && seen[k] != " 4.20 4.17")
					print "only" seen[k] ": " k
		}'
}
