# Test driver for the loop functions of helpers/lib (xhp_loop_backing,
# xhp_loop_users, xhp_loop_decode_dev), used by tests/unit/loop-attach.bats.
LOOP_PROBE = $(B)/tests/loop-probe

all: $(LOOP_PROBE)

$(LOOP_PROBE): tests/loopprobe/loop-probe.c $(LIB) helpers/lib/xhp.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Ihelpers/lib -o $@ tests/loopprobe/loop-probe.c $(LIB) $(LDFLAGS)
