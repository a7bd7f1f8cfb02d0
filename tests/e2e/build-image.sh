#!/bin/sh
# Builds the dom0 image of one Debian suite for the end-to-end tier (make
# e2e), or reuses a cached one.
#
#   build-image.sh CACHEDIR [SUITE]   prints the image directory on stdout
#
# SUITE is trixie (Debian 13, Xen 4.20, the primary target) or bookworm
# (Debian 12, Xen 4.17); default $E2E_SUITE, else trixie. The image
# directory holds: xen.elf (uncompressed, for QEMU's multiboot loader),
# vmlinuz, initrd.img, rootfs.img (ext4, made with mkfs.ext4 -d, no mount
# needed), and stamp (written last; its presence means complete).
#
# The cache key is a hash of everything the image is made from: the suite,
# the mirrors, the debootstrap version, this file and dom0-boot.sh (which
# becomes PID 1). Editing a scenario never rebuilds the image.
# Needs root, debootstrap, e2fsprogs, and network access to the Debian mirror.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: build-image.sh CACHEDIR [trixie|bookworm]}
suite=${2:-${E2E_SUITE:-trixie}}
mirror=${E2E_MIRROR:-http://deb.debian.org/debian}
secmirror=${E2E_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

case $suite in
trixie) xenver=4.20 ;;
bookworm) xenver=4.17 ;;
*) echo "e2e-image: unknown suite '$suite' (trixie or bookworm)" >&2; exit 100 ;;
esac

# Debian packages only. make runs `make install` in dom0 (helpers are built
# on the host, against bookworm's libxenstore4; its ABI is the same in 4.20).
# The device stacks of the sharing check (issue 12): lvm2, dmsetup, mdadm
# (its debconf questions take their defaults), fdisk for sfdisk. udev comes
# in anyway and is never started: libdevmapper and LVM make their own nodes.
# iproute2 (Priority: important, so on every real host, but not in minbase)
# for the package stage's bridge: upstream's vif-bridge runs `ip`, and uses
# brctl only if bridge-utils is there, which it is not here.
pkgs="xen-hypervisor-$xenver-amd64 xen-utils-$xenver xenstore-utils linux-image-amd64
initramfs-tools kmod util-linux procps busybox bats make e2fsprogs
coreutils findutils grep sed gawk lvm2 dmsetup mdadm fdisk iproute2"

key=$({
	printf 'suite=%s mirror=%s secmirror=%s\n' "$suite" "$mirror" "$secmirror"
	debootstrap --version 2>/dev/null || echo 'debootstrap ?'
	cat "$here/build-image.sh" "$here/dom0-boot.sh"
} | sha256sum | cut -c1-16)
out=$cache/dom0-$suite-$key
if [ -f "$out/stamp" ]; then
	printf '%s\n' "$out"
	exit 0
fi

mkdir -p "$cache"
work=$cache/work-$suite-$key
rm -rf "$work"
mkdir -p "$work"
root=$work/root
log=$work/build.log
say() { printf 'e2e-image: %s\n' "$*" >&2; }

cleanup() {
	for m in proc sys dev/pts dev; do
		umount "$root/$m" 2>/dev/null || true
	done
}
trap cleanup EXIT INT TERM

say "building $out (log: $log)"
# Only the base from debootstrap; everything else from the suite plus its
# updates and security suites in one apt run, so that the tools and the
# hypervisor come from the same point release. The host's (bookworm's)
# archive keyring also holds trixie's keys.
debootstrap --variant=minbase \
	--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
	"$suite" "$root" "$mirror" >"$log" 2>&1 ||
	{ tail -n 30 "$log" >&2; exit 1; }

cat > "$root/etc/apt/sources.list" <<SRC
deb $mirror $suite main
deb $mirror $suite-updates main
deb $secmirror $suite-security main
SRC
# A kernel postinst inside the chroot must not try to boot anything, and no
# package may start a daemon there (mdadm's monitor, dmeventd, lvmpolld).
printf 'do_symlinks = no\ndo_bootloader = no\n' > "$root/etc/kernel-img.conf"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
# shellcheck disable=SC2086 # the package list is meant to split
{
	in_root apt-get update &&
	in_root apt-get -y dist-upgrade &&
	in_root apt-get -y --no-install-recommends install $pkgs
} >>"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }

# A small initramfs: only what finds and mounts the virtio root disk. The
# root is never on LVM or md, so their hooks and boot scripts stay out.
printf 'MODULES=list\nCOMPRESS=gzip\n' > "$root/etc/initramfs-tools/conf.d/xhp-e2e"
find "$root/usr/share/initramfs-tools" -type f \
	\( -name lvm2 -o -name mdadm -o -name dmsetup \) -exec rm -f {} +
rm -f "$root/usr/sbin/policy-rc.d"
printf '%s\n' virtio_pci virtio_blk ext4 >> "$root/etc/initramfs-tools/modules"
in_root update-initramfs -u -k all >>"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }

# PID 1 of the test dom0 (no systemd: it saves boot time and keeps /run exec).
install -m 0755 "$here/dom0-boot.sh" "$root/sbin/xhp-e2e-init"
echo xhp-e2e > "$root/etc/hostname"
mkdir -p "$root/mnt/e2e"

cleanup
trap - EXIT INT TERM

mkdir -p "$work/img"
zcat "$root/boot/xen-$xenver-amd64.gz" > "$work/img/xen.elf"
cp "$root"/boot/vmlinuz-* "$work/img/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/img/initrd.img"
# Nothing in the test dom0 reads these; they only cost image size. Of the
# documentation only the files go: the directories stay, as dpkg's database
# lists them. A package unpacked later (ours, in the package stage) that
# finds a directory it shares with another package missing takes it over,
# and dpkg then rewrites that package's file list without every path the
# two share, diverted ones included: xen-utils-common lost its block family
# that way (dpkg 1.22, trixie) and dpkg -S no longer found them.
find "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" ! -type d -delete
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/lib/modules/*/kernel/sound "$root"/lib/modules/*/kernel/drivers/gpu \
	"$root"/lib/modules/*/kernel/drivers/net/wireless "$root"/lib/modules/*/kernel/drivers/media \
	"$root"/lib/modules/*/kernel/drivers/infiniband "${root:?}"/boot/*
mkfs.ext4 -q -F -L xhp-e2e -d "$root" "$work/img/rootfs.img" 2G >>"$log" 2>&1 ||
	{ tail -n 30 "$log" >&2; exit 1; }
in_ver=$(ls "$root/lib/modules")
# shellcheck disable=SC2016 # ${Version} is dpkg-query's format, not ours
printf 'suite %s\nkernel %s\nxen %s\n' "$suite" "$in_ver" \
	"$(chroot "$root" dpkg-query -W -f '${Version}' "xen-hypervisor-$xenver-amd64")" > "$work/img/stamp"
rm -rf "$out"
mv "$work/img" "$out"
rm -rf "$work"
say "done: $out"
printf '%s\n' "$out"
