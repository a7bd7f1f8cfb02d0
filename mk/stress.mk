# SPDX-License-Identifier: LGPL-2.1-only
# make stress: the long reliability runs of issue #7 (parts 1 and 2); the
# short versions are in `make check` (tests/stress/stress-short.bats,
# tests/scripts/faults.bats). Needs root, real loop devices, and the network
# once to fetch upstream's scripts (tests/fetch-upstream.sh) for the mixed
# rounds. Prints the figures; logs in build/stress/. See
# docs/reliability.md.
#
#   STRESS_SHELLS    shells our scripts run under (the first gets the long
#                    run, the others a quarter of it)
#   STRESS_ROUNDS    concurrency rounds          STRESS_WRITERS  adds a round
#   STRESS_KILLS     random-moment SIGKILLs      STRESS_POINTS   rounds over
#                                                every fixed kill point
#   STRESS_UPSTREAM  yes (fail if upstream's scripts cannot be fetched),
#                    auto or no
#   STRESS_KILLPCT   share of our adds SIGKILLed during the concurrent rounds
#   STRESS_SEED      random seed (default: the time; printed)
STRESS_SHELLS   = dash bash busybox
STRESS_ROUNDS   = 40
STRESS_WRITERS  = 16
STRESS_KILLS    = 120
STRESS_POINTS   = 5
STRESS_UPSTREAM = yes
STRESS_KILLPCT  = 15
STRESS_SEED     =

stress: all
	STRESS_SHELLS='$(STRESS_SHELLS)' STRESS_ROUNDS='$(STRESS_ROUNDS)' \
	STRESS_WRITERS='$(STRESS_WRITERS)' STRESS_KILLS='$(STRESS_KILLS)' \
	STRESS_POINTS='$(STRESS_POINTS)' STRESS_UPSTREAM='$(STRESS_UPSTREAM)' \
	STRESS_KILLPCT='$(STRESS_KILLPCT)' STRESS_SEED='$(STRESS_SEED)' \
	sh tests/stress/run.sh

.PHONY: stress
