# SPDX-License-Identifier: LGPL-2.1-only
# Test driver for the loop functions of helpers/lib/loopmap.c and loop.c
# (xhp_loopmap_backing, xhp_loopmap_users, xhp_loopmap_decode_dev,
# xhp_loop_status), used by tests/helpers/loop-attach.bats.
LOOP_PROBE = $(B)/tests/loop-probe

all: $(LOOP_PROBE)

$(LOOP_PROBE): tests/loopprobe/loop-probe.c $(LIB) helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Ihelpers/lib -o $@ tests/loopprobe/loop-probe.c $(LIB) $(LDFLAGS)

# Argument-parser fuzzers for flock-wrap and loop-detach (clang/libFuzzer,
# differential against reference grammars). `make fuzz-args` runs each for
# FUZZ_ARGS_TIME seconds.
FUZZ_ARGS_CC   = clang-14
FUZZ_ARGS_TIME = 20
FUZZ_ARGS_LIB  = helpers/lib/parse.c helpers/lib/loop.c helpers/lib/loopmap.c \
                 helpers/lib/xhp.c
FUZZ_ARGS      = $(B)/fuzz/args_fuzz_flock_wrap $(B)/fuzz/args_fuzz_loop_detach

$(B)/fuzz/args_fuzz_flock_wrap: tests/fuzz/args_fuzz_flock_wrap.c helpers/flock-wrap.c $(FUZZ_ARGS_LIB) helpers/lib/xhp.h
$(B)/fuzz/args_fuzz_loop_detach: tests/fuzz/args_fuzz_loop_detach.c helpers/loop-detach.c $(FUZZ_ARGS_LIB) helpers/lib/xhp.h

$(FUZZ_ARGS):
	@mkdir -p $(@D)
	$(FUZZ_ARGS_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(CPPFLAGS) -Wno-unused-function \
	    -Ihelpers/lib -o $@ $< $(FUZZ_ARGS_LIB)

fuzz-args: $(FUZZ_ARGS)
	for f in $(FUZZ_ARGS); do $$f -max_total_time=$(FUZZ_ARGS_TIME) || exit 1; done


.PHONY: fuzz-args fuzz
