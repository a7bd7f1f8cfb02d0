# SPDX-License-Identifier: LGPL-2.1-only
# mk/publish.mk: the fuzzer of xs-majmin's and xs-publish's -e NODE=VALUE
# check (xhp_parse_extra; clang/libFuzzer, differential against a reference
# reading of the rule). `make fuzz-publish` runs it for FUZZ_PUB_TIME seconds
# from tests/fuzz/corpus/extra (read-only; new inputs go to
# build/fuzz/extra).
FUZZ_PUB_CC   = clang-14
FUZZ_PUB_TIME = 20
FUZZ_PUB      = $(B)/fuzz/extra_fuzz
FUZZ_PUB_LIB  = $(LIBSRC)

$(FUZZ_PUB): tests/fuzz/extra_fuzz.c $(FUZZ_PUB_LIB) helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(FUZZ_PUB_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(CPPFLAGS) -Wall -Wextra -Werror \
	    $(XS_CFLAGS) -Ihelpers/lib -o $@ $< $(FUZZ_PUB_LIB) $(XS_LIBS)

fuzz-publish: $(FUZZ_PUB)
	mkdir -p $(B)/fuzz/extra
	$(FUZZ_PUB) -max_total_time=$(FUZZ_PUB_TIME) $(B)/fuzz/extra \
	    tests/fuzz/corpus/extra


.PHONY: fuzz-publish fuzz
