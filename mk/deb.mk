# SPDX-License-Identifier: LGPL-2.1-only
# make deb: build the Debian package (docs/packaging.md) in a copy of the
# tree under build/deb, so that dpkg-buildpackage's clean step never
# touches the working tree, then check it with lintian when installed.
DEB_DIR = $(B)/deb

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/xen-hotplug
	tar -cf - --exclude=./build --exclude=./.git . | tar -C $(DEB_DIR)/xen-hotplug -xf -
	cd $(DEB_DIR)/xen-hotplug && dpkg-buildpackage -us -uc -b
	if command -v lintian >/dev/null 2>&1; then \
		lintian --fail-on error,warning $(DEB_DIR)/xen-hotplug_*.changes; \
	else echo "deb: lintian not installed, package not checked"; fi
	@ls $(DEB_DIR)/*.deb

.PHONY: deb
