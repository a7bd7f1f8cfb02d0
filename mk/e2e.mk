# make e2e: end-to-end proof on real Xen under QEMU (see docs/e2e.md).
# Needs root, qemu-system-x86, debootstrap, e2fsprogs, network on first run.
e2e:
	sh tests/e2e/run.sh

.PHONY: e2e
