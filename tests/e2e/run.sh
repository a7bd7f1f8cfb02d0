#!/bin/sh
# make e2e: the end-to-end proof on real Xen under QEMU (software emulation).
#
#   sh tests/e2e/run.sh
#
# 1. Build (or reuse) the dom0 image: build-image.sh, cached in
#    $XHP_E2E_CACHE (default ~/.cache/xen-hotplug), keyed by the recipe.
# 2. Snapshot the work tree into build/e2e/src and build it there on the
#    host (dom0 has no compiler; same bookworm userspace and libxenstore ABI).
# 3. Boot Xen + dom0 once per xenstored (oxenstored, C xenstored); dom0 runs
#    dom0-run.sh from the 9p share: make install, xs-transcript, the
#    scenarios with upstream's stock block script (baseline) and with ours.
# 4. Diff the xenstore transcripts: real xenstoreds against our test one.
#
# Environment: XHP_E2E_CACHE, XHP_E2E_XSD (default "oxenstored xenstored"),
# XHP_E2E_UPSTREAM (first: run the upstream baseline in the first boot only;
# all; none), XHP_E2E_FILTER (a bats -f regex: run only the matching
# scenarios),
# XHP_E2E_BOOT_TIMEOUT (s, default 2400), XHP_E2E_IMAGE_TIMEOUT (s, 3600).
# Results: build/e2e/out/<xsd>/ (markers, *.log, TAP, timing), serial-<xsd>.log.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/e2e
cache=${XHP_E2E_CACHE:-${HOME:-/root}/.cache/xen-hotplug}
xsds=${XHP_E2E_XSD:-oxenstored xenstored}
boot_timeout=${XHP_E2E_BOOT_TIMEOUT:-2400}
image_timeout=${XHP_E2E_IMAGE_TIMEOUT:-3600}
upstream=${XHP_E2E_UPSTREAM:-first}
filter=${XHP_E2E_FILTER:-}
R=$top/build/e2e
status=0
t0=$(date +%s)

say() { printf 'e2e: %s\n' "$*"; }
die() { printf 'e2e: fatal: %s\n' "$*" >&2; exit 1; }

case $filter in *"'"*) die "XHP_E2E_FILTER must not contain a single quote" ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, loop devices in dom0 image build)"
for c in qemu-system-x86_64 debootstrap mkfs.ext4 timeout; do
	command -v "$c" >/dev/null || die "missing $c (Debian: qemu-system-x86 debootstrap e2fsprogs coreutils)"
done

img=$(timeout "$image_timeout" sh "$here/build-image.sh" "$cache") ||
	die "image build failed or timed out after ${image_timeout}s"
t_img=$(date +%s)
say "image $img ($((t_img - t0)) s)"

rm -rf "$R"
mkdir -p "$R/src" "$R/bin" "$R/guest" "$R/out"
# A private snapshot: colleagues may be editing the tree while we run.
tar -C "$top" --exclude=./.git --exclude=./build -cf - . | tar -C "$R/src" -xf - ||
	die "unable to snapshot the work tree"
make -C "$R/src" all > "$R/host-build.log" 2>&1 || {
	tail -n 40 "$R/host-build.log"
	die "host build of the suite failed (build/e2e/host-build.log)"
}
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror \
	$(pkg-config --cflags xenstore) -o "$R/bin/xs-transcript" \
	"$here/xs-transcript.c" $(pkg-config --libs xenstore) ||
	die "unable to build xs-transcript"
cp "$img/vmlinuz" "$R/guest/vmlinuz"
install -m 0755 "$here/dom0-run.sh" "$R/run"

for xsd in $xsds; do
	case $upstream in
	all) up=1 ;;
	first) up=1; upstream=none ;;
	*) up=0 ;;
	esac
	printf "XSD=%s\nUPSTREAM=%s\nFILTER='%s'\n" "$xsd" "$up" "$filter" > "$R/config"
	log=$R/serial-$xsd.log
	say "booting Xen + dom0 with $xsd (timeout ${boot_timeout}s, serial log $log)"
	tb=$(date +%s)
	: > "$log"
	timeout -k 10 "$boot_timeout" qemu-system-x86_64 \
		-machine pc -cpu qemu64 -m 2048 -smp 1 \
		-display none -vga none -monitor none -serial stdio -net none -no-reboot \
		-kernel "$img/xen.elf" \
		-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 bootscrub=0" \
		-initrd "$img/vmlinuz root=/dev/vda rw console=hvc0 init=/sbin/xhp-e2e-init,$img/initrd.img" \
		-drive "file=$img/rootfs.img,format=raw,if=virtio,snapshot=on" \
		-virtfs "local,path=$R,mount_tag=xhp,security_model=none,id=xhp" \
		< /dev/null > "$log" 2>&1 &
	qpid=$!
	# Live progress: the marker lines and the TAP lines.
	tail -n +1 -f "$log" --pid="$qpid" 2>/dev/null |
		grep --line-buffered -E '^(XHP-E2E|ok |not ok |#)' &
	wait "$qpid"
	qrc=$?
	sleep 1
	te=$(date +%s)
	out=$R/out/$xsd
	if [ ! -f "$out/status" ]; then
		say "$xsd: no END marker (qemu status $qrc after $((te - tb)) s): serial log follows"
		tail -n 80 "$log"
		status=1
	elif [ "$(cat "$out/status")" -ne 0 ]; then
		say "$xsd: FAILED ($((te - tb)) s); failed TAP lines and stage results:"
		grep -h '^not ok' "$out"/*.log
		grep -h '^XHP-E2E RESULT' "$out/markers"
		say "last lines of the serial log ($log):"
		tail -n 60 "$log"
		status=1
	else
		say "$xsd: passed ($((te - tb)) s)"
	fi
	printf '%s %s\n' "$xsd" "$((te - tb))" >> "$R/boot-times"
done

# The differential check of our test xenstore.
xsd_bin=$R/src/build/tests/test-xenstored
if [ -x "$xsd_bin" ]; then
	sock=$R/test-xenstored.sock
	"$xsd_bin" -s "$sock" &
	tpid=$!
	n=0
	until XENSTORED_PATH=$sock xenstore-read / >/dev/null 2>&1 || [ "$n" -ge 100 ]; do
		n=$((n + 1)); sleep 0.05
	done
	XENSTORED_PATH=$sock timeout 60 "$R/bin/xs-transcript" > "$R/out/transcript-test-xenstored.txt" 2>&1
	echo "exit $?" >> "$R/out/transcript-test-xenstored.txt"
	kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
else
	say "test xenstore not built ($xsd_bin): differential check against it skipped"
	status=1
fi
# Where the two real implementations disagree (implementation-defined
# behaviour), ours may match either; everywhere else it must match both.
# With one real xenstored only, lines marked (impl-defined) are not held.
reals=""
for xsd in $xsds; do
	real=$R/out/$xsd/transcript.txt
	[ -f "$real" ] || { say "no transcript from $xsd"; status=1; continue; }
	printf 'exit %s\n' "$(cat "$R/out/$xsd/transcript.rc")" >> "$real"
	reals="$reals $real"
done
# shellcheck disable=SC2086 # the list is meant to split
set -- $reals
if [ "$#" -eq 2 ]; then
	if diff -u "$1" "$2" > "$R/out/transcript-real.diff"; then
		say "xenstore transcript: the two real xenstoreds agree"
	else
		say "xenstore transcript: the real xenstoreds differ (implementation-defined):"
		cat "$R/out/transcript-real.diff"
	fi
fi
tx=$R/out/transcript-test-xenstored.txt
if [ "$#" -ge 1 ] && [ -f "$tx" ]; then
	ok=1
	for real in "$@"; do
		[ "$(wc -l < "$real")" -eq "$(wc -l < "$tx")" ] || ok=0
		diff -u "$real" "$tx" > "$R/out/transcript-$(basename "$(dirname "$real")").diff"
	done
	if [ "$ok" -eq 1 ]; then
		paste -d '|' "$@" "$tx" | awk -F '|' -v n="$#" '
			{ t = $(n + 1); hit = 0
			  for (i = 1; i <= n; i++) if ($i == t) hit = 1
			  if (n == 1 && t ~ /\(impl-defined\)/) hit = 1
			  if (!hit) { print "  test-xenstored: " t; for (i = 1; i <= n; i++) print "  real " i ":        " $i; bad = 1 } }
			END { exit bad }' || ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		say "xenstore transcript: test-xenstored matches the real xenstored(s):$xsds"
	else
		say "xenstore transcript: test-xenstored DIFFERS from the real xenstored(s) (build/e2e/out/transcript-*.diff):"
		cat "$R"/out/transcript-*xenstored.diff
		status=1
	fi
fi

for xsd in $xsds; do
	for f in "$R/out/$xsd"/timing-*.txt; do
		[ -f "$f" ] && { say "timing ($xsd, $(basename "$f" .txt)):"; cat "$f"; }
	done
done
t1=$(date +%s)
say "total $((t1 - t0)) s (image $((t_img - t0)) s)"
if [ "$status" -eq 0 ]; then say "PASSED"; else say "FAILED"; fi
exit "$status"
