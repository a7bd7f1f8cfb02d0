# mk/netbsd.mk: check-netbsd-build, the helpers compiled as for a NetBSD
# target on a Linux (glibc) host.
#
# What changes against the normal build:
#   -U__linux__        the Linux-only parts (loop ioctls, /proc) drop out
#   XHP_FMT_DEFAULT    the helpers default to NetBSD's decimal dev_t, as
#                      when __NetBSD__ is defined (which cannot be defined
#                      here: gcc's own <stddef.h> then wants NetBSD's
#                      <machine/ansi.h>); used once xhp.h lets it be set
#   NB_INC wrappers    NetBSD's header visibility: with plain
#                      _POSIX_C_SOURCE, NetBSD's <sys/types.h> hides
#                      major()/minor()/makedev() and <fcntl.h> hides flock()
#                      unless the file defines _NETBSD_SOURCE. glibc puts
#                      major() in <sys/sysmacros.h> and shows flock()
#                      always, so the wrappers make glibc behave like
#                      NetBSD: major() appears only with _NETBSD_SOURCE,
#                      and flock() without it is a compile error.
# Flags are fixed, not $(CFLAGS), because they are the promise being tested.

NB_B        = $(B)/netbsd-build
NB_INC      = $(NB_B)/include
NB_CC       = $(CC)
NB_FLAGS    = -std=c99 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
              -U__linux__ -I$(NB_INC) $(NB_FMT)
NB_FMT      = $(shell grep -q 'ifndef XHP_FMT_DEFAULT' helpers/lib/xhp.h && \
              echo -DXHP_FMT_DEFAULT=XHP_FMT_NETBSD)

check-netbsd-build:
	@rm -rf $(NB_B)
	@mkdir -p $(NB_INC)/sys $(NB_B)/obj $(NB_B)/bin
	@printf '%s\n' '#include_next <sys/types.h>' \
	    '#if defined(_NETBSD_SOURCE) && !defined(major)' \
	    '#include <sys/sysmacros.h>' '#endif' >$(NB_INC)/sys/types.h
	@printf '%s\n' '#include_next <sys/file.h>' '#ifndef _NETBSD_SOURCE' \
	    '#define flock(fd, op) flock_needs__NETBSD_SOURCE_on_NetBSD(fd, op)' \
	    '#endif' >$(NB_INC)/sys/file.h
	@set -e; for f in $(LIBSRC); do \
	    echo "  CC(NetBSD) $$f"; \
	    $(NB_CC) $(NB_FLAGS) $(XS_CFLAGS) -Ihelpers/lib -c \
	        -o $(NB_B)/obj/$$(basename $$f .c).o $$f; \
	done
	@ar rcs $(NB_B)/libxhp.a $(NB_B)/obj/*.o
	@set -e; for f in $(wildcard helpers/*.c); do \
	    echo "  CCLD(NetBSD) $$f"; \
	    $(NB_CC) $(NB_FLAGS) $(XS_CFLAGS) -Ihelpers/lib \
	        -o $(NB_B)/bin/$$(basename $$f .c) $$f $(NB_B)/libxhp.a \
	        $(LDFLAGS) $(XS_LIBS); \
	done
	@echo "check-netbsd-build: all helpers build as for NetBSD in $(NB_B)/bin"

.PHONY: check-netbsd-build
