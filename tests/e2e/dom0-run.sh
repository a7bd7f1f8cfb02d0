#!/bin/sh
# Runs inside the e2e dom0, started by the image's PID 1 from the 9p share
# (the host copies this file to SHARE/run). It brings up the Xen toolstack
# with the xenstored named in SHARE/config, runs the package stage (when
# SHARE/config says PACKAGE=1: package.bats against the host-built .deb in
# SHARE/deb, on xen-utils-common's pristine /etc/xen/scripts, which it
# leaves as it found it), installs the suite with `make install` from the
# host-built tree, runs every stage under a timeout
# and writes marker lines to the console and to SHARE/out/SUITE/XSD/markers:
#   XHP-E2E BOOT <suite> <xsd> <kernel> <uptime>
#   XHP-E2E BEGIN <stage>
#   XHP-E2E RESULT <stage> <exit status>
#   XHP-E2E END <overall status> <uptime>
# and, from scenarios.bats, per scenario (BEGIN/RESULT scenario ...).
# A stage that hangs is killed by its timeout; a hang of the whole machine is
# caught by the host's timeout on QEMU.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
S=/mnt/e2e
SUITE=trixie
XSD=oxenstored
UPSTREAM=1
STACK=1
PACKAGE=0
FILTER=
# shellcheck source=/dev/null
. "$S/config"
OUT=$S/out/$SUITE/$XSD
mkdir -p "$OUT"
# The one Xen the image has: /usr/lib/xen-4.20 (trixie) or xen-4.17 (bookworm).
XENLIB=
for d in /usr/lib/xen-4.*/bin; do
	[ -x "$d/xen-init-dom0" ] && XENLIB=$d
done
overall=0

mark() {
	printf 'XHP-E2E %s\n' "$*"
	printf 'XHP-E2E %s\n' "$*" >> "$OUT/markers"
}

# stage NAME SECS CMD...: output to OUT/NAME.log (and the console).
stage() {
	_name=$1 _secs=$2
	shift 2
	mark "BEGIN $_name"
	{ timeout -k 5 "$_secs" "$@" 2>&1; echo "$?" > "$OUT/$_name.rc"; } |
		tee "$OUT/$_name.log"
	_rc=$(cat "$OUT/$_name.rc")
	mark "RESULT $_name $_rc"
	[ "$_rc" -eq 0 ] || overall=1
	return "$_rc"
}

xen_up() {
	for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd \
		loop xen-blkback xen-blkfront; do
		modprobe "$m" || echo "modprobe $m failed"
	done
	[ -n "$XENLIB" ] || { echo "no /usr/lib/xen-4.*/bin/xen-init-dom0"; return 1; }
	mount -t xenfs xenfs /proc/xen || return 1
	grep -q control_d /proc/xen/capabilities || { echo "not dom0"; return 1; }
	mkdir -p /run/xen /run/xenstored /var/log/xen /var/lib/xen /var/run/xen-hotplug
	case $XSD in
	oxenstored) bin=$XENLIB/oxenstored ;;
	xenstored) bin=$XENLIB/xenstored ;;
	*) echo "unknown xenstored $XSD"; return 1 ;;
	esac
	XENSTORED_ROOTDIR=/run/xenstored "$bin" --pid-file /run/xenstore.pid || return 1
	n=0
	until xenstore-read -s / >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || { echo "xenstored did not come up"; return 1; }
		sleep 0.2
	done
	"$XENLIB/xen-init-dom0" || return 1
	"$XENLIB/xenconsoled" --pid-file /run/xenconsoled.pid || return 1
	xl info | grep -E '^(xen_version|total_memory|free_memory|nr_cpus)'
	ps -o pid,args -C "$(basename "$bin")"
}

install_suite() {
	# Keep Debian's stock scripts, intact and self-contained, for the
	# baseline and the timing comparison; then install ours over them.
	rm -rf /etc/xen/scripts-upstream
	cp -a /etc/xen/scripts /etc/xen/scripts-upstream || return 1
	# The tree was built on the host; make must find nothing to compile
	# (there is no compiler here), only files to install.
	make -C "$S/src" -q all || { echo "build tree is not up to date"; return 1; }
	make -C "$S/src" install || return 1
	guest_kernel || return 1
	ls -l /etc/xen/scripts /usr/lib/xen-hotplug
}

# guest_kernel: the kernel of the paused guests (dom0's own, from the host).
guest_kernel() {
	mkdir -p /var/lib/xhp-e2e
	cp "$S/guest/vmlinuz" /var/lib/xhp-e2e/vmlinuz
}

# The upgrade path with the real package (package.bats).
package() {
	_t0=$(cut -d' ' -f1 /proc/uptime)
	guest_kernel || return 1
	set -- "$S"/deb/xen-hotplug_*.deb
	echo "package: $1"
	dpkg-deb -f "$1" Package Version Architecture Depends
	E2E_IMPL=package E2E_OUT=$OUT E2E_DEB=$1 bats --tap "$S/src/tests/e2e/package.bats"
	_rc=$?
	_t1=$(cut -d' ' -f1 /proc/uptime)
	printf 'package stage: %s s (uptime %s s to %s s), bats status %s\n' \
		"$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.1f", b - a }')" \
		"$_t0" "$_t1" "$_rc" > "$OUT/timing-package.txt"
	return "$_rc"
}

# package_gone: after the package stage, even one killed by its timeout,
# dom0 must be as before for make install: the package purged, no
# diversion of it left.
package_gone() {
	_rc=0
	if dpkg -s xen-hotplug >/dev/null 2>&1; then
		echo "package: xen-hotplug is still installed after the package stage; purging it"
		xl list | awk 'NR > 2 { print $1 }' | xargs -r -n 1 xl destroy
		dpkg -P xen-hotplug
		_rc=1
	fi
	if dpkg-divert --list | grep xen-hotplug; then
		echo "package: diversions of xen-hotplug left after the package stage"
		_rc=1
	fi
	return "$_rc"
}

# E2E_STACK=1: this boot runs the device-stack scenarios (run.sh gives them
# to one boot of each suite).
scenarios() {
	if [ -n "$FILTER" ]; then
		E2E_IMPL=$1 E2E_OUT=$OUT E2E_STACK=$STACK bats --tap -f "$FILTER" "$S/src/tests/e2e/scenarios.bats"
	else
		E2E_IMPL=$1 E2E_OUT=$OUT E2E_STACK=$STACK bats --tap "$S/src/tests/e2e/scenarios.bats"
	fi
}

# A stage runs as `run --stage FUNCTION ARGS` so that timeout can kill it.
if [ "${1:-}" = --stage ]; then
	shift
	"$@"
	exit
fi

: > "$OUT/markers"
mark "BOOT $SUITE $XSD $(uname -r) $(cut -d' ' -f1 /proc/uptime)s"
if stage xen-up 300 "$0" --stage xen_up; then
	# Before make install: the package goes over xen-utils-common's own
	# scripts, as on a real host.
	if [ "$PACKAGE" = 1 ]; then
		stage package 900 "$0" --stage package
		package_gone >> "$OUT/package.log" 2>&1 || {
			mark "RESULT package-gone 1"
			overall=1
		}
	fi
	stage install 300 "$0" --stage install_suite
	stage transcript 120 "$S/bin/xs-transcript"
	cp "$OUT/transcript.log" "$OUT/transcript.txt" 2>/dev/null
	if [ "$UPSTREAM" = 1 ]; then
		stage upstream 1500 "$0" --stage scenarios upstream
	fi
	if [ ! -f "$S/src/scripts/Linux/block" ]; then
		mark "RESULT ours 111 (no scripts/Linux/block in the tree yet)"
		overall=1
	elif [ "$(cat "$OUT/install.rc")" -eq 0 ]; then
		stage ours 1500 "$0" --stage scenarios ours
	else
		mark "RESULT ours 111 (not installed)"
		overall=1
	fi
fi
cp /var/log/xen/*.log "$OUT/" 2>/dev/null
dmesg > "$OUT/dmesg.txt" 2>&1
xl dmesg > "$OUT/xl-dmesg.txt" 2>&1
mark "END $overall $(cut -d' ' -f1 /proc/uptime)s"
echo "$overall" > "$OUT/status"
sync
