# SPDX-License-Identifier: LGPL-2.1-only
# Parser fuzzers of the xenstore and identity helpers (clang/libFuzzer):
# physical-device values, mode canonicalisation, NODE=DEFAULT arguments,
# UTF-8/control-byte validation, mountinfo lines, FreeBSD's GEOM conftxt
# lines. Each checks its parser against a reference or a round trip, not
# only for crashes.
# `make fuzz-xs` runs each for FUZZ_XS_TIME seconds from its seed corpus in
# tests/fuzz/corpus/NAME (read-only; new inputs go to build/fuzz/NAME).
FUZZ_XS_CC    = clang-14
FUZZ_XS_TIME  = 20
FUZZ_XS_NAMES = physdev canon_mode nodearg value_ok mountinfo conftxt vndtab
FUZZ_XS       = $(patsubst %,$(B)/fuzz/%_fuzz,$(FUZZ_XS_NAMES))
# The parsers (parse.c, table.c) and, for physdev's round trip, xhp_id_fmt
# (id.c): linked with the whole library, as the parser fuzzers are (but the
# argument fuzzers, which stub modules), so that no list goes stale.
FUZZ_XS_LIB   = $(LIBSRC)

$(FUZZ_XS): $(B)/fuzz/%_fuzz: tests/fuzz/%_fuzz.c $(FUZZ_XS_LIB) helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(FUZZ_XS_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(CPPFLAGS) -Wall -Wextra -Werror \
	    $(XS_CFLAGS) -Ihelpers/lib -o $@ $< $(FUZZ_XS_LIB) $(XS_LIBS)

fuzz-xs: $(FUZZ_XS)
	for n in $(FUZZ_XS_NAMES); do mkdir -p $(B)/fuzz/$$n && \
	    $(B)/fuzz/$${n}_fuzz -max_total_time=$(FUZZ_XS_TIME) \
	    $(B)/fuzz/$$n tests/fuzz/corpus/$$n || exit 1; done

# Seeds only, a few milliseconds each: for `make check`-like smoke runs.
fuzz-xs-seeds: $(FUZZ_XS)
	for n in $(FUZZ_XS_NAMES); do \
	    $(B)/fuzz/$${n}_fuzz -runs=0 tests/fuzz/corpus/$$n || exit 1; done


.PHONY: fuzz-xs fuzz-xs-seeds fuzz
