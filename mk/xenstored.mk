# SPDX-License-Identifier: LGPL-2.1-only
# Test clients for test-xenstored (tests/helpers/xenstored.bats):
#   xsraw     raw wire protocol, no libxenstore
#   xsclient  libxenstore script runner (transactions, watches)
XSCLIENTS = $(B)/tests/xsraw $(B)/tests/xsclient

all: $(XSCLIENTS)

$(B)/tests/xsraw: tests/xsclient/xsraw.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ tests/xsclient/xsraw.c $(LDFLAGS)

$(B)/tests/xsclient: tests/xsclient/xsclient.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(XS_CFLAGS) -o $@ tests/xsclient/xsclient.c $(LDFLAGS) $(XS_LIBS)

# Fuzzer of test-xenstored's protocol reader, request handling and store
# (clang/libFuzzer; docs/test-xenstored.md). `make fuzz-xenstored` runs it
# for FUZZ_XSD_TIME seconds from tests/fuzz/corpus/xs_proto (read-only; new
# inputs go to build/fuzz/xs_proto).
FUZZ_XSD_CC   = clang-14
FUZZ_XSD_TIME = 20
FUZZ_XSD_SRC  = tests/fuzz/xs_proto_fuzz.c $(filter-out tests/xenstored/main.c,$(XSD_SRC))

$(B)/fuzz/xs_proto_fuzz: $(FUZZ_XSD_SRC) tests/xenstored/xsd.h
	@mkdir -p $(@D)
	$(FUZZ_XSD_CC) -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) \
	    -Itests/xenstored -o $@ $(FUZZ_XSD_SRC)

fuzz-xenstored: $(B)/fuzz/xs_proto_fuzz
	mkdir -p $(B)/fuzz/xs_proto
	$(B)/fuzz/xs_proto_fuzz -max_total_time=$(FUZZ_XSD_TIME) -rss_limit_mb=1024 \
	    $(B)/fuzz/xs_proto tests/fuzz/corpus/xs_proto


.PHONY: fuzz-xenstored fuzz
