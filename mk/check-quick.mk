# SPDX-License-Identifier: LGPL-2.1-only
# make check-quick: the hermetic part of the fast tier, for contributors and
# Debian's dh_auto_test. Needs neither root nor the network: tests/run.sh
# --quick runs only the suites and tests that need neither, and counts only
# those in its closing line (see tests/run.sh). The same build as check.
check-quick: all bench-tools
	sh tests/run.sh --quick

.PHONY: check-quick
