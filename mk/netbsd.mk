# SPDX-License-Identifier: LGPL-2.1-only
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
#                      unless the file defines _NETBSD_SOURCE (NetBSD has
#                      no <sys/sysmacros.h> at all). glibc shows them from
#                      <sys/sysmacros.h> and <sys/file.h> whatever is
#                      defined, so the wrappers (-I, ahead of the system
#                      headers) make glibc behave like NetBSD: without
#                      _NETBSD_SOURCE a use is a compile error that names
#                      the fix (major_needs__NETBSD_SOURCE_on_NetBSD...),
#                      however the header was reached.
#   XHP_VND_IOCTL      vndkern.c's kernel code (VNDIOCGET, VNDIOCSET,
#                      VNDIOCCLR) is compiled as on NetBSD, against a
#                      generated <dev/vndvar.h> with NetBSD's structures
#                      (struct vnd_ioctl, struct vnd_user) and ioctl
#                      numbers in NetBSD's encoding (<sys/ioccom.h>:
#                      direction bits, 13-bit length, group, number).
# Flags are fixed, not $(CFLAGS), because they are the promise being tested.

NB_B        = $(B)/netbsd-build
NB_INC      = $(NB_B)/include
NB_CC       = $(CC)
NB_FLAGS    = -std=c99 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
              -U__linux__ -DXHP_VND_IOCTL -I$(NB_INC) $(NB_FMT)
NB_FMT      = $(shell grep -q 'ifndef XHP_FMT_DEFAULT' helpers/lib/xhp.h && \
              echo -DXHP_FMT_DEFAULT=XHP_FMT_NETBSD)

check-netbsd-build:
	@rm -rf $(NB_B)
	@mkdir -p $(NB_INC)/sys $(NB_INC)/dev $(NB_B)/obj $(NB_B)/bin
	@printf '%s\n' '#include <stdint.h>' '#include <sys/types.h>' \
	    '#define NB_IOC(dir, g, n, t) ((unsigned long)(dir) | ((sizeof(t) & 0x1fffUL) << 16) | ((unsigned long)(g) << 8) | (n))' \
	    'struct vndgeom { uint32_t vng_secsize, vng_nsectors, vng_ntracks, vng_ncylinders; };' \
	    'struct vnd_ioctl { char *vnd_file; int vnd_flags; struct vndgeom vnd_geom; unsigned int vnd_osize; uint64_t vnd_size; };' \
	    'struct vnd_user { int vnu_unit; dev_t vnu_dev; ino_t vnu_ino; };' \
	    '#define VNDIOF_HASGEOM 0x01' '#define VNDIOF_READONLY 0x02' '#define VNDIOF_FORCE 0x04' \
	    "#define VNDIOCSET NB_IOC(0xc0000000UL, 'F', 0, struct vnd_ioctl)" \
	    "#define VNDIOCCLR NB_IOC(0x80000000UL, 'F', 1, struct vnd_ioctl)" \
	    "#define VNDIOCGET NB_IOC(0xc0000000UL, 'F', 3, struct vnd_user)" \
	    >$(NB_INC)/dev/vndvar.h
	@printf '%s\n' '#include_next <sys/types.h>' '#include <sys/sysmacros.h>' \
	    >$(NB_INC)/sys/types.h
	@printf '%s\n' '#ifdef _NETBSD_SOURCE' '#include_next <sys/sysmacros.h>' \
	    '#elif !defined(major)' \
	    '#define major(d) major_needs__NETBSD_SOURCE_on_NetBSD(d)' \
	    '#define minor(d) minor_needs__NETBSD_SOURCE_on_NetBSD(d)' \
	    '#define makedev(a, b) makedev_needs__NETBSD_SOURCE_on_NetBSD(a, b)' \
	    '#endif' >$(NB_INC)/sys/sysmacros.h
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
