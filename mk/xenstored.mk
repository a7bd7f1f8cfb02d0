# Test clients for test-xenstored (tests/unit/xenstored.bats):
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

# Protocol fuzzer (clang/libFuzzer), see docs/test-xenstored.md.
FUZZ_CC = clang-14
$(B)/fuzz/xs_proto_fuzz: tests/fuzz/xs_proto_fuzz.c $(filter-out tests/xenstored/main.c,$(XSD_SRC)) tests/xenstored/xsd.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -Itests/xenstored \
	    -o $@ tests/fuzz/xs_proto_fuzz.c $(filter-out tests/xenstored/main.c,$(XSD_SRC))
