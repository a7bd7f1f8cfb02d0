#!/bin/sh
# PID 1 of the e2e dom0 image (baked in as /sbin/xhp-e2e-init). It only
# mounts the kernel filesystems and the 9p share, then hands over to the
# run script on the share, so changing the scenarios never rebuilds the
# image. Whatever happens, the machine powers off: a hang is left to the
# host's timeout, which shows the serial log.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs tmp /tmp
mount -o remount,rw /
modprobe 9pnet_virtio
modprobe 9p
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 xhp /mnt/e2e &&
	[ -x /mnt/e2e/run ]; then
	/mnt/e2e/run
else
	echo "XHP-E2E-RESULT boot 111 (no 9p share or no /mnt/e2e/run)"
fi
sync
echo o > /proc/sysrq-trigger
sleep 30
