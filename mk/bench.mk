# SPDX-License-Identifier: LGPL-2.1-only
# make bench: upstream's block script vs ours vs a floor program (issue #5).
# The tools live in bench/ and are built here, never installed.
BENCH_BIN  = $(B)/bench
BENCH_C    = $(BENCH_BIN)/floor $(BENCH_BIN)/timerun $(BENCH_BIN)/populate
BENCH_SHIM = $(BENCH_BIN)/lockshim.so
# Runs per figure (the median of these; the issue asks for at least 5,
# and this shared 2-core machine is noisy enough to want a few more).
BENCH_RUNS = 9

$(BENCH_BIN)/%: bench/%.c $(LIB) helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(XS_CFLAGS) -Ihelpers/lib -o $@ $< $(LIB) $(LDFLAGS) $(XS_LIBS)

$(BENCH_SHIM): bench/lockshim.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS) -ldl

bench-tools: $(BENCH_C) $(BENCH_SHIM)

bench: all bench-tools
	BENCH_RUNS=$(BENCH_RUNS) sh bench/run.sh

.PHONY: bench bench-tools

# The bench tools' own suite (floor, timerun, populate, shim, report).
bench-check: all bench-tools
	bats bench/bench.bats

.PHONY: bench-check

# make check runs bench/bench.bats too, so it needs the bench tools built.
check: bench-tools
