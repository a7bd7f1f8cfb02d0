# SPDX-License-Identifier: LGPL-2.1-only
# make e2e: end-to-end proof on real Xen under QEMU (see docs/e2e.md).
# Needs root, qemu-system-x86, debootstrap, e2fsprogs, network on first run.
# E2E_SUITE picks the Debian dom0s: trixie (Xen 4.20, the primary target),
# bookworm (Xen 4.17), or both, in the order given.
E2E_SUITE ?= trixie bookworm

e2e:
	E2E_SUITE='$(E2E_SUITE)' sh tests/e2e/run.sh

e2e-trixie:
	E2E_SUITE=trixie sh tests/e2e/run.sh

e2e-bookworm:
	E2E_SUITE=bookworm sh tests/e2e/run.sh

.PHONY: e2e e2e-trixie e2e-bookworm
