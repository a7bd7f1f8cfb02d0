# SPDX-License-Identifier: LGPL-2.1-only
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

# LeakSanitizer cannot work in a process traced by strace (block.bats
# counts execve calls that way): a strace first in PATH turns leak
# detection off for what it traces, and only for that.
check-asan: all bench-tools asan-build
	rm -rf $(ASAN_LOG) $(ASAN_B)/wrap && mkdir -p $(ASAN_LOG) $(ASAN_B)/wrap
	printf '#!/bin/sh\nASAN_OPTIONS="$${ASAN_OPTIONS:-}:detect_leaks=0" exec %s "$$@"\n' \
	    "$$(command -v strace || echo strace)" >$(ASAN_B)/wrap/strace
	chmod 0755 $(ASAN_B)/wrap/strace
	rc=0; XHP_BIN=$(abspath $(ASAN_B)/bin) XHP_XSD=$(abspath $(ASAN_XSD)) \
	PATH=$(abspath $(ASAN_B)/wrap):$$PATH TEST_SHELLS='$(ASAN_SHELLS)' \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(abspath $(ASAN_LOG))/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(abspath $(ASAN_LOG))/ubsan \
	    sh tests/run.sh || rc=$$?; \
	if [ -n "$$(ls -A $(ASAN_LOG))" ]; then \
	    echo "check-asan: sanitizer reports in $(ASAN_LOG):"; \
	    head -n 40 $(ASAN_LOG)/*; exit 1; fi; \
	echo "check-asan: no sanitizer report"; exit $$rc

valgrind: all
	sh tests/valgrind.sh

# New parser fuzzers of this file; the others come with their own rules in
# mk/loop.mk, mk/xs.mk, mk/xenstored.mk and mk/publish.mk. fuzz-build
# builds them all (a recipe, so that the other files' variables are known
# by then; tests/packaging/fuzz.bats builds them and replays their seeds)
# and fuzz-all then runs each for FUZZ_TIME seconds (tests/fuzz/run.sh).
FUZZ_TIME   = 30
FUZZ_SAN_CC = clang-14
FUZZ_SAN    = $(B)/fuzz/ulong_fuzz $(B)/fuzz/normalise_fuzz
# Linked with the whole library (mk/xs.mk says why).
$(FUZZ_SAN): $(LIBSRC)

$(FUZZ_SAN): $(B)/fuzz/%: tests/fuzz/%.c helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(FUZZ_SAN_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(CPPFLAGS) $(XS_CFLAGS) -Wall -Wextra \
	    -Werror -Ihelpers/lib -o $@ $< $(filter %.c,$(filter-out $<,$^)) \
	    $(XS_LIBS)

fuzz-build: all
	$(MAKE) $(FUZZ_SAN) $(FUZZ_ARGS) $(FUZZ_XS) $(FUZZ_PUB) $(B)/fuzz/xs_proto_fuzz

fuzz-all: fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) sh tests/fuzz/run.sh $(FUZZ_SAN) $(FUZZ_ARGS) \
	    $(FUZZ_XS) $(FUZZ_PUB) $(B)/fuzz/xs_proto_fuzz

fuzz: fuzz-all

.PHONY: asan-build check-asan valgrind fuzz-build fuzz-all fuzz
