# xen-hotplug build configuration. Override on the command line:
#   make PREFIX=/usr LIBEXECDIR=/usr/libexec/xen-hotplug install
VERSION    = 0.1.0

PREFIX     = /usr
LIBEXECDIR = $(PREFIX)/lib/xen-hotplug
SCRIPTDIR  = /etc/xen/scripts
DOCDIR     = $(PREFIX)/share/doc/xen-hotplug
MANDIR     = $(PREFIX)/share/man
LOCKDIR    = /var/run/xen-hotplug

# Script set to install: Linux or NetBSD. Defaults to the build host.
OS         = $(shell uname -s)

CC         = cc
PKG_CONFIG = pkg-config
CFLAGS     = -std=c99 -O2 -g -Wall -Wextra -Werror
CPPFLAGS   = -D_POSIX_C_SOURCE=200809L
LDFLAGS    =
XS_CFLAGS  = $(shell $(PKG_CONFIG) --cflags xenstore)
XS_LIBS    = $(shell $(PKG_CONFIG) --libs xenstore)

# Shells the script suites run under in `make check`.
TEST_SHELLS = dash bash busybox
