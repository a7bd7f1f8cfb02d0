# Sanitizers, valgrind and fuzzing (issue #7, part 4). See docs/security.md
# and tests/fuzz/README.md.
#
#   make check-asan   helpers and test-xenstored rebuilt with ASan+UBSan in
#                     build/asan, then the unit suites and the script suites
#                     (under ASAN_SHELLS) run against them. Any sanitizer
#                     report fails the target, even one from a helper whose
#                     failure a test expected: reports go to files
#                     (log_path) and the target fails if one exists.
#   make valgrind     the helper suites with every helper run under
#                     valgrind (tests/valgrind.sh): zero errors, zero leaks.
#   make fuzz         every libFuzzer target in tests/fuzz for FUZZ_TIME
#                     seconds each (tests/fuzz/run.sh).
ASAN_B      = $(B)/asan
ASAN_CC     = $(CC)
ASAN_FLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all
ASAN_LIBOBJ = $(patsubst helpers/lib/%.c,$(ASAN_B)/obj/lib/%.o,$(LIBSRC))
ASAN_LIB    = $(ASAN_B)/libxhp.a
ASAN_BINS   = $(patsubst helpers/%.c,$(ASAN_B)/bin/%,$(wildcard helpers/*.c))
ASAN_XSD    = $(ASAN_B)/tests/test-xenstored
ASAN_LOG    = $(ASAN_B)/log
# One shell is enough to exercise the helpers from the scripts; the other
# two only change the shell, which no sanitizer looks at.
ASAN_SHELLS = dash

$(ASAN_B)/obj/lib/%.o: helpers/lib/%.c helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(XS_CFLAGS) -Ihelpers/lib -c -o $@ $<

$(ASAN_LIB): $(ASAN_LIBOBJ)
	rm -f $@
	ar rcs $@ $(ASAN_LIBOBJ)

$(ASAN_B)/bin/%: helpers/%.c $(ASAN_LIB) helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(XS_CFLAGS) -Ihelpers/lib \
	    -o $@ $< $(ASAN_LIB) $(LDFLAGS) $(XS_LIBS)

$(ASAN_XSD): $(XSD_SRC) $(wildcard tests/xenstored/*.h)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -Itests/xenstored -o $@ $(XSD_SRC) $(LDFLAGS)

asan-build: $(ASAN_BINS) $(ASAN_XSD)

check-asan: all asan-build
	rm -rf $(ASAN_LOG) && mkdir -p $(ASAN_LOG)
	rc=0; XHP_BIN=$(abspath $(ASAN_B)/bin) XHP_XSD=$(abspath $(ASAN_XSD)) \
	TEST_SHELLS='$(ASAN_SHELLS)' \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(abspath $(ASAN_LOG))/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(abspath $(ASAN_LOG))/ubsan \
	    sh tests/run.sh || rc=$$?; \
	if [ -n "$$(ls -A $(ASAN_LOG))" ]; then \
	    echo "check-asan: sanitizer reports in $(ASAN_LOG):"; \
	    head -n 40 $(ASAN_LOG)/*; exit 1; fi; \
	echo "check-asan: no sanitizer report"; exit $$rc

valgrind: all
	sh tests/valgrind.sh

FUZZ_TIME = 30

fuzz-all: all
	FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run.sh

fuzz: fuzz-all

.PHONY: asan-build check-asan valgrind fuzz-all fuzz
