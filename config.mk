# SPDX-License-Identifier: LGPL-2.1-only
# xen-hotplug build configuration. Override on the command line:
#   make PREFIX=/usr LIBEXECDIR=/usr/libexec/xen-hotplug install
VERSION    = 0.2.0

PREFIX     = /usr
# The helpers and the libraries only our scripts source (Linux).
LIBEXECDIR = $(PREFIX)/lib/xen-hotplug
# What libxl runs, and block-common.sh, which others' block-* source.
SCRIPTDIR  = /etc/xen/scripts
# /etc/default/xen-hotplug: the administrator's settings (Linux).
DEFAULTDIR = /etc/default
DOCDIR     = $(PREFIX)/share/doc/xen-hotplug
MANDIR     = $(PREFIX)/share/man
LOCKDIR    = /var/run/xen-hotplug

# Script set to install: Linux or NetBSD. Defaults to the build host.
OS         = $(shell uname -s)

CC         = cc
PKG_CONFIG = pkg-config
# What the code needs whoever builds it: a packager's CFLAGS/CPPFLAGS go
# on top of these (debian/rules). _FILE_OFFSET_BITS=64: large files on
# 32-bit targets (armhf), image files over 2 GiB and 64-bit inodes in stat.
XHP_CFLAGS   = -std=c99 -Wall -Wextra
XHP_CPPFLAGS = -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64
# The developer build: warnings are errors.
CFLAGS     = $(XHP_CFLAGS) -O2 -g -Werror
CPPFLAGS   = $(XHP_CPPFLAGS)
LDFLAGS    =
XS_CFLAGS  = $(shell $(PKG_CONFIG) --cflags xenstore)
XS_LIBS    = $(shell $(PKG_CONFIG) --libs xenstore)

# Shells the script suites run under in `make check`.
TEST_SHELLS = dash bash busybox
