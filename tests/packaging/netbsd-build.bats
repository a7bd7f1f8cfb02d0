#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# shellcheck disable=SC2153,SC2154 # XHP_* come from test_helper.bash through bats' load, $stderr from run --separate-stderr
# The NetBSD side on Linux CI: the helpers built as for NetBSD
# (make check-netbsd-build, mk/netbsd.mk), and make install OS=NetBSD.
# SC2030/SC2031: bats runs each test in its own subshell.
# shellcheck disable=SC2030,SC2031

load ../test_helper

bats_require_minimum_version 1.5.0

NB_BIN=$XHP_TOP/build/netbsd-build/bin

setup() {
	XHP_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/xhp.XXXXXX")
	export XHP_TMP
}

teardown() {
	xhp_teardown
}

# nb_build: build once per run of this file; later tests reuse it.
nb_build() {
	if [ ! -e "$BATS_FILE_TMPDIR/built" ]; then
		make -C "$XHP_TOP" -s check-netbsd-build >"$BATS_FILE_TMPDIR/log" 2>&1 ||
			{ cat "$BATS_FILE_TMPDIR/log"; return 1; }
		: >"$BATS_FILE_TMPDIR/built"
	fi
}

# emul_cc FILE DEFINES...: compile FILE with the NetBSD emulation flags.
emul_cc() {
	local f=$1
	shift
	cc -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -U__linux__ \
		-I"$XHP_TOP/build/netbsd-build/include" "$@" -c -o /dev/null "$f"
}

@test "make check-netbsd-build compiles and links every helper with the Linux parts out" {
	run nb_build
	echo "$output"
	[ "$status" -eq 0 ]
	for h in "$XHP_TOP"/helpers/*.c; do
		n=$(basename "$h" .c)
		[ -x "$NB_BIN/$n" ] || { echo "missing $n"; return 1; }
	done
}

@test "the NetBSD build is clean under clang too (NetBSD builds with gcc or clang)" {
	local clang
	clang=$(command -v clang-14 || command -v clang) || skip "no clang installed"
	run make -C "$XHP_TOP" -s check-netbsd-build NB_CC="$clang" \
		NB_B="$XHP_TMP/nb-clang"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -x "$XHP_TMP/nb-clang/bin/xs-stat-path" ]
}

@test "the emulation hides major() and flock() unless _NETBSD_SOURCE, as NetBSD does" {
	# the wrappers are written before any helper is compiled
	nb_build || true
	[ -f "$XHP_TOP/build/netbsd-build/include/sys/types.h" ]
	printf '#include <sys/types.h>\nunsigned f(dev_t d) { return (unsigned)major(d); }\n' \
		>"$XHP_TMP/maj.c"
	run emul_cc "$XHP_TMP/maj.c"
	[ "$status" -ne 0 ]
	[[ "$output" == *major_needs__NETBSD_SOURCE_on_NetBSD* ]]
	run emul_cc "$XHP_TMP/maj.c" -D_NETBSD_SOURCE
	[ "$status" -eq 0 ]
	# glibc's own header does not get around it either
	printf '#include <sys/sysmacros.h>\nunsigned f(unsigned a) { return (unsigned)makedev(a, a); }\n' \
		>"$XHP_TMP/mk.c"
	run emul_cc "$XHP_TMP/mk.c"
	[ "$status" -ne 0 ]
	[[ "$output" == *makedev_needs__NETBSD_SOURCE_on_NetBSD* ]]
	run emul_cc "$XHP_TMP/mk.c" -D_NETBSD_SOURCE
	[ "$status" -eq 0 ]
	printf '#include <sys/file.h>\nint f(int fd) { return flock(fd, LOCK_EX); }\n' \
		>"$XHP_TMP/fl.c"
	run emul_cc "$XHP_TMP/fl.c"
	[ "$status" -ne 0 ]
	[[ "$output" == *flock_needs__NETBSD_SOURCE_on_NetBSD* ]]
	run emul_cc "$XHP_TMP/fl.c" -D_NETBSD_SOURCE
	[ "$status" -eq 0 ]
}

@test "the NetBSD-built loop helpers refuse to run: loop devices are Linux only" {
	nb_build || skip "the NetBSD build itself fails (first test)"
	[ -x "$NB_BIN/loop-attach" ] || skip "no loop-attach helper"
	run --separate-stderr "$NB_BIN/loop-attach" -t tag /dev/null
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[[ "$stderr" == "loop-attach: fatal: "*"Linux only"* ]]
}

@test "the NetBSD-built xs-stat-path prints NetBSD's decimal dev_t and Linux's hex on demand" {
	require_root
	nb_build || skip "the NetBSD build itself fails (first test)"
	mknod "$XHP_TMP/sd16d" b 4 259
	run --separate-stderr "$NB_BIN/xs-stat-path" -o netbsd "$XHP_TMP/sd16d"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# (4 << 8) | ((259 << 12) & 0xfff00000) | (259 & 0xff)
	[ "$output" = 1049603 ]
	run --separate-stderr "$NB_BIN/xs-stat-path" -o linux "$XHP_TMP/sd16d"
	[ "$status" -eq 0 ]
	[ "$output" = 4:103 ]
}

@test "the NetBSD-built helpers print the decimal dev_t by default" {
	require_root
	grep -q 'ifndef XHP_FMT_DEFAULT' "$XHP_TOP/helpers/lib/xhp.h" ||
		skip "xhp.h does not yet let XHP_FMT_DEFAULT be set from the build"
	nb_build || skip "the NetBSD build itself fails (first test)"
	mknod "$XHP_TMP/vnd0d" b 14 3
	run --separate-stderr "$NB_BIN/xs-stat-path" "$XHP_TMP/vnd0d"
	[ "$status" -eq 0 ]
	[ "$output" = 3587 ]
}

@test "make install OS=NetBSD installs exactly the NetBSD script set with packager modes" {
	D=$XHP_TMP/root
	run make -C "$XHP_TOP" -s install DESTDIR="$D" OS=NetBSD
	echo "$output"
	[ "$status" -eq 0 ]
	S=$D/usr/pkg/etc/xen/scripts
	[ "$(stat -c %a "$S/block")" = 755 ]
	cmp "$XHP_TOP/scripts/NetBSD/block" "$S/block"
	for lib in block-common.sh xen-hotplug-common.sh locking.sh \
	    xen-hotplug-paths.sh; do
		[ "$(stat -c %a "$S/$lib")" = 644 ] || { echo "$lib"; return 1; }
	done
	cmp "$XHP_TOP/scripts/common/locking.sh" "$S/locking.sh"
	# nothing from scripts/Linux: NetBSD's and the shared library
	expected=$( (cd "$XHP_TOP/scripts/NetBSD" && ls; cd ../common && ls
		echo xen-hotplug-paths.sh) | sort)
	[ "$(find "$S" -mindepth 1 -printf '%f\n' | sort)" = "$expected" ]
}

@test "make uninstall OS=NetBSD leaves no script behind" {
	D=$XHP_TMP/root
	run make -C "$XHP_TOP" -s install DESTDIR="$D" OS=NetBSD
	[ "$status" -eq 0 ]
	run make -C "$XHP_TOP" -s uninstall DESTDIR="$D" OS=NetBSD
	[ "$status" -eq 0 ]
	run ls -A "$D/usr/pkg/etc/xen/scripts"
	[ "$output" = "" ]
}

@test "the installed NetBSD block finds the installed helpers and attaches a device" {
	require_root
	P=$XHP_TMP/inst
	run make -C "$XHP_TOP" -s install OS=NetBSD PREFIX="$P" \
		SCRIPTDIR="$P/scripts" LIBEXECDIR="$P/libexec"
	[ "$status" -eq 0 ]
	xsd_start
	mkdir "$XHP_TMP/dev"
	mknod "$XHP_TMP/dev/sd1d" b 4 19
	B=/local/domain/0/backend/vbd/3/768
	xenstore-write "$B/params" "$XHP_TMP/dev/sd1d" "$B/mode" w \
		"$B/frontend-id" 3 "$B/state" 2 /local/domain/3/vm /vm/3
	: >"$XHP_TMP/mounts"
	run --separate-stderr env -u XEN_HOTPLUG_HELPERDIR \
		PATH="/usr/bin:/bin:/usr/sbin:/sbin" XEN_HOTPLUG_MOUNTS="$XHP_TMP/mounts" \
		XEN_HOTPLUG_LOCK_BASEDIR="$XHP_TMP/lock" sh "$P/scripts/block" "$B" 2
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(xenstore-read "$B/physical-device")" = 1043 ]
	[ "$(xenstore-read "$B/hotplug-status")" = connected ]
}

@test "the NetBSD build compiles vndkern.c's kernel code, with NetBSD's ioctl numbers" {
	nb_build
	# the VNDIOCSET/VNDIOCGET/VNDIOCCLR branch is in, not the no-vnd one
	run nm "$XHP_TOP/build/netbsd-build/obj/vndkern.o"
	[[ "$output" == *" U ioctl"* ]]
	# NetBSD's <sys/ioccom.h> encoding on LP64: direction, 13-bit size,
	# group 'F' (0x46), number; struct vnd_ioctl is 40 bytes, vnd_user 24.
	printf '%s\n' '#include <dev/vndvar.h>' \
	    '_Static_assert(VNDIOCSET == 0xc0284600UL, "VNDIOCSET");' \
	    '_Static_assert(VNDIOCCLR == 0x80284601UL, "VNDIOCCLR");' \
	    '_Static_assert(VNDIOCGET == 0xc0184603UL, "VNDIOCGET");' \
	    >"$XHP_TMP/ioc.c"
	run emul_cc "$XHP_TMP/ioc.c" -std=c11
	echo "$output"
	[ "$status" -eq 0 ]
}
