#!/usr/bin/env bats
# End-to-end scenarios on real Xen: xl (libxl), the real xenstored and Linux
# blkback/blkfront. Runs inside the e2e dom0 only (see docs/e2e.md), once with
# E2E_IMPL=upstream (the stock block script of the image's Debian, Xen 4.20
# on trixie or 4.17 on bookworm: the baseline) and once with E2E_IMPL=ours
# (installed by make install).

load e2e_helper

# A scenario skipped before it did anything needs no clean-up.
# shellcheck disable=SC2034 # E2E_UNTOUCHED is read by e2e_teardown
ours_only() { [ "$E2E_IMPL" = ours ] || { E2E_UNTOUCHED=1; skip "ours only"; }; }
# shellcheck disable=SC2034 # the same
upstream_only() { [ "$E2E_IMPL" = upstream ] || { E2E_UNTOUCHED=1; skip "upstream baseline only"; }; }

@test "block-attach of a loop device to dom0 itself connects blkback and blkfront" {
	img=$(make_image a)
	loop=$(losetup -f --show "$img")
	run xl block-attach 0 "$(disk_spec "$loop" xvdb w)"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_node "$BE/0/$XVDB/state" 4
	wait_node "/local/domain/0/device/vbd/$XVDB/state" 4
	[ "$(xsr "$BE/0/$XVDB/hotplug-status")" = connected ]
	[ "$(xsr "$BE/0/$XVDB/physical-device")" = "$(majmin "$loop")" ]
	[ "$(xsr "$BE/0/$XVDB/physical-device-path")" = "$loop" ]
	run head -n 1 /dev/xvdb
	[ "$output" = "xhp-e2e:a" ]
}

@test "block-detach of a loop device leaves the caller's own loop device bound" {
	img=$(make_image a)
	loop=$(losetup -f --show "$img")
	xl block-attach 0 "$(disk_spec "$loop" xvdb w)"
	wait_node "$BE/0/$XVDB/state" 4
	run xl block-detach 0 xvdb
	echo "$output"
	[ "$status" -eq 0 ]
	wait_gone "$BE/0/$XVDB"
	[ ! -e /dev/xvdb ]
	[ "$(loops_of "$img")" = "$loop" ]
}

@test "block-attach of an image file to dom0 creates a loop device and publishes it" {
	img=$(make_image b)
	run xl block-attach 0 "$(disk_spec "$img" xvdb w)"
	echo "$output"
	[ "$status" -eq 0 ]
	wait_node "$BE/0/$XVDB/state" 4
	wait_node "/local/domain/0/device/vbd/$XVDB/state" 4
	[ "$(xsr "$BE/0/$XVDB/hotplug-status")" = connected ]
	pdp=$(xsr "$BE/0/$XVDB/physical-device-path")
	echo "physical-device-path=$pdp"
	case $pdp in /dev/loop[0-9]*) ;; *) false ;; esac
	[ "$(loops_of "$img")" = "$pdp" ]
	[ "$(xsr "$BE/0/$XVDB/physical-device")" = "$(majmin "$pdp")" ]
	run head -n 1 /dev/xvdb
	[ "$output" = "xhp-e2e:b" ]
}

@test "block-detach of an image file frees the loop device the script created" {
	img=$(make_image b)
	xl block-attach 0 "$(disk_spec "$img" xvdb w)"
	wait_node "$BE/0/$XVDB/state" 4
	pdp=$(xsr "$BE/0/$XVDB/physical-device-path")
	[ -n "$pdp" ]
	run xl block-detach 0 xvdb
	echo "$output"
	[ "$status" -eq 0 ]
	wait_gone "$BE/0/$XVDB"
	run loops_of "$img"
	[ "$output" = "" ]
	[ ! -e "/sys/block/${pdp#/dev/}/loop/backing_file" ]
}

@test "a paused PV guest gets its disks set up before it runs, and destroy frees them" {
	img1=$(make_image g1a)
	img2=$(make_image g1b)
	img3=$(make_image g1c)
	loop2=$(losetup -f --show "$img2")
	cfg=$(guest_cfg g1 "$(disk_spec "$img1" xvda w)" "$(disk_spec "$loop2" xvdb r)")
	run xl create -p "$cfg"
	echo "$output"
	[ "$status" -eq 0 ]
	dom=$(xl domid g1)
	xl list g1 | awk 'NR == 2 { print $5 }' | grep -q p
	for v in "$XVDA" "$XVDB"; do
		[ "$(xsr "$BE/$dom/$v/hotplug-status")" = connected ]
		pdp=$(xsr "$BE/$dom/$v/physical-device-path")
		[ "$(xsr "$BE/$dom/$v/physical-device")" = "$(majmin "$pdp")" ]
	done
	[ "$(xsr "$BE/$dom/$XVDB/physical-device-path")" = "$loop2" ]
	[ "$(loops_of "$img1")" = "$(xsr "$BE/$dom/$XVDA/physical-device-path")" ]
	run xl block-attach g1 "$(disk_spec "$img3" xvdc w)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(xsr "$BE/$dom/$XVDC/hotplug-status")" = connected ]
	[ -n "$(loops_of "$img3")" ]
	run xl destroy g1
	[ "$status" -eq 0 ]
	wait_gone "$BE/$dom"
	run loops_of "$img1"
	[ "$output" = "" ]
	run loops_of "$img3"
	[ "$output" = "" ]
	[ "$(loops_of "$img2")" = "$loop2" ]
}

@test "an image shared read-only by two paused guests is given to both" {
	img=$(make_image shared)
	run xl create -p "$(guest_cfg g1 "$(disk_spec "$img" xvda r)")"
	[ "$status" -eq 0 ]
	run xl create -p "$(guest_cfg g2 "$(disk_spec "$img" xvda r)")"
	echo "$output"
	[ "$status" -eq 0 ]
	d1=$(xl domid g1) d2=$(xl domid g2)
	[ "$(xsr "$BE/$d1/$XVDA/hotplug-status")" = connected ]
	[ "$(xsr "$BE/$d2/$XVDA/hotplug-status")" = connected ]
}

@test "ours: the same image cannot be given read-write to a second paused guest" {
	ours_only
	img=$(make_image shared)
	run xl create -p "$(guest_cfg g1 "$(disk_spec "$img" xvda w)")"
	[ "$status" -eq 0 ]
	d1=$(xl domid g1)
	run xl create -p "$(guest_cfg g2 "$(disk_spec "$img" xvda w)")"
	echo "$output"
	printf '%s\n' "$output" > "$E2E_OUT/xl-sharing-$E2E_IMPL.txt"
	[ "$status" -ne 0 ]
	# xl relays the script's hotplug-error; ours names the conflicting backend.
	printf '%s\n' "$output" | grep -E 'hotplug|script' | grep -F "backend/vbd/$d1/$XVDA"
	run xl domid g2
	[ "$status" -ne 0 ]
	[ "$(xsr "$BE/$d1/$XVDA/hotplug-status")" = connected ]
	[ "$(loops_of "$img" | wc -l)" -eq 1 ]
}

@test "upstream baseline: the stock block gives the same image read-write to two guests" {
	upstream_only
	img=$(make_image shared)
	run xl create -p "$(guest_cfg g1 "$(disk_spec "$img" xvda w)")"
	[ "$status" -eq 0 ]
	run xl create -p "$(guest_cfg g2 "$(disk_spec "$img" xvda w)")"
	echo "$output"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$E2E_OUT/xl-sharing-$E2E_IMPL.txt"
	[ "$(loops_of "$img" | wc -l)" -eq 2 ]
}

@test "ours: a backend carrying only physical-device-path blocks a conflicting add" {
	ours_only
	img=$(make_image pathonly)
	loop=$(losetup -f --show "$img")
	run xl create -p "$(guest_cfg g1 "$(disk_spec "$loop" xvda w)")"
	[ "$status" -eq 0 ]
	d1=$(xl domid g1)
	xenstore-rm "$BE/$d1/$XVDA/physical-device"
	[ "$(xsr "$BE/$d1/$XVDA/physical-device-path")" = "$loop" ]
	run xl create -p "$(guest_cfg g2 "$(disk_spec "$loop" xvda w)")"
	echo "$output"
	printf '%s\n' "$output" > "$E2E_OUT/xl-pathonly-$E2E_IMPL.txt"
	[ "$status" -ne 0 ]
	printf '%s\n' "$output" | grep -E 'hotplug|script' | grep -F "backend/vbd/$d1/$XVDA"
	run xl domid g2
	[ "$status" -ne 0 ]
}

@test "ours: behind 300 other backends the real xenstored answers the pipelined scan and the conflicts are found" {
	ours_only
	# 300 backends of three made-up domains (9001-9003, never real
	# domids here), more than the 64 reads the check sends at once; the
	# last domain also holds a path-only backend of a second device.
	img=$(make_image crowd)
	loop=$(losetup -f --show "$(make_image crowd2)")
	args=
	for d in 9001 9002 9003; do
		args="$args /local/domain/$d/vm /vm/e2e-fake-$d"
		for i in $(seq 1 100); do
			args="$args $BE/$d/$i/physical-device f1:$i $BE/$d/$i/mode w"
		done
	done
	# shellcheck disable=SC2086 # pairs of words on purpose
	xenstore-write $args
	xenstore-write "$BE/9003/101/physical-device-path" "$loop" "$BE/9003/101/mode" w
	run xl create -p "$(guest_cfg g1 "$(disk_spec "$img" xvda w)")"
	[ "$status" -eq 0 ]
	d1=$(xl domid g1)
	run xl create -p "$(guest_cfg g2 "$(disk_spec "$img" xvda w)")"
	echo "$output"
	[ "$status" -ne 0 ]
	printf '%s\n' "$output" | grep -E 'hotplug|script' | grep -F "backend/vbd/$d1/$XVDA"
	run xl create -p "$(guest_cfg g3 "$(disk_spec "$loop" xvda w)")"
	echo "$output"
	[ "$status" -ne 0 ]
	printf '%s\n' "$output" | grep -E 'hotplug|script' | grep -F "backend/vbd/9003/101"
	# Once the made-up backends are gone the second device is free.
	e2e_rm_fakes
	xl destroy g1
	run xl create -p "$(guest_cfg g3 "$(disk_spec "$loop" xvda w)")"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "upstream baseline: a backend carrying only physical-device-path does not block a conflicting add" {
	upstream_only
	img=$(make_image pathonly)
	loop=$(losetup -f --show "$img")
	run xl create -p "$(guest_cfg g1 "$(disk_spec "$loop" xvda w)")"
	[ "$status" -eq 0 ]
	d1=$(xl domid g1)
	xenstore-rm "$BE/$d1/$XVDA/physical-device"
	run xl create -p "$(guest_cfg g2 "$(disk_spec "$loop" xvda w)")"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "xl create with four disks runs four scripts at once and destroy leaves no loop device or lock" {
	set --
	for n in a b c d; do
		img=$(make_image "four$n")
		set -- "$@" "$(disk_spec "$img" "xvd$n" w)"
	done
	cfg=$(guest_cfg g4 "$@")
	t0=$(now_ms)
	run xl create -p "$cfg"
	t1=$(now_ms)
	echo "$output"
	if [ "$E2E_IMPL" = upstream ] && [ "$status" -ne 0 ] &&
		printf '%s\n' "$output" | grep -q 'block add because of timeout'; then
		# Upstream's serialised scripts can exceed libxl's 40 s on a loaded
		# TCG host. That is the baseline's own result, so record it (and what
		# it leaked) instead of failing the run.
		printf 'xl create -p with 4 image disks: FAILED after %s ms, libxl killed the scripts at 40 s; loop devices left: %s\n' \
			"$((t1 - t0))" "$(losetup -n -a | wc -l)" >> "$E2E_OUT/timing-$E2E_IMPL.txt"
		skip "upstream baseline: libxl killed the 4 concurrent scripts at its 40 s timeout"
	fi
	[ "$status" -eq 0 ]
	printf 'xl create -p with 4 image disks: %s ms\n' "$((t1 - t0))" >> "$E2E_OUT/timing-$E2E_IMPL.txt"
	dom=$(xl domid g4)
	devs=""
	for v in "$XVDA" "$XVDB" "$XVDC" "$XVDD"; do
		[ "$(xsr "$BE/$dom/$v/hotplug-status")" = connected ]
		devs="$devs $(xsr "$BE/$dom/$v/physical-device")"
	done
	echo "physical-devices:$devs"
	# shellcheck disable=SC2086 # one device per word
	[ "$(printf '%s\n' $devs | sort -u | wc -l)" -eq 4 ]
	t0=$(now_ms)
	run xl destroy g4
	[ "$status" -eq 0 ]
	wait_gone "$BE/$dom"
	t1=$(now_ms)
	printf 'xl destroy with 4 image disks: %s ms\n' "$((t1 - t0))" >> "$E2E_OUT/timing-$E2E_IMPL.txt"
	for n in a b c d; do
		run loops_of "$E2E_TMP/four$n.img"
		[ "$output" = "" ]
	done
	run losetup -a
	[ "$output" = "" ]
	run lock_holders
	[ "$output" = "" ]
	run pgrep -f '/etc/xen/scripts'
	[ "$status" -eq 1 ]
}

# held_add_destroyed: issue 11. A process in dom0 holds the hotplug lock
# (upstream's protocol) while one xl creates a paused guest with an image
# disk, so that the add script waits for the lock; another xl destroys the
# guest; then the holder lets go. Leaves dom, create_rc, destroy_rc and
# released_after (whether the destroy had returned before the release) for
# the caller, and a record in E2E_OUT/xl-held-add-E2E_IMPL.txt. Progress
# goes to the console as TAP comments. No wait is unbounded: an xl still
# running at the end is recorded, then killed.
held_add_destroyed() {
	img=$(make_image held)
	cfg=$(guest_cfg g11 "$(disk_spec "$img" xvda w)")
	hold_lock "$E2E_TMP/held" "$E2E_TMP/release" 3>&- &
	E2E_HOLDER=$!
	wait_until 10 test -e "$E2E_TMP/held" || note "the holder has not got the lock"
	note "lock held by $E2E_HOLDER: $(lock_holders | tr '\n' ' ')"
	(xl create -p "$cfg" > "$E2E_TMP/create.out" 2>&1; echo "$?" > "$E2E_TMP/create.rc") 3>&- &
	E2E_XLS="$E2E_XLS $!"
	# The add script has started, so it is waiting for the lock.
	wait_until 60 pgrep -f '/block add' >/dev/null || note "no add script after 60 s"
	note "add running: $(pgrep -a -f '/block add' | tr '\n' ' ')"
	dom=$(xl domid g11)
	note "guest $dom, backend: $(xenstore-ls -f "$BE/$dom" 2>&1 | tr '\n' ' ')"
	sleep 1
	(xl destroy "$dom" > "$E2E_TMP/destroy.out" 2>&1; echo "$?" > "$E2E_TMP/destroy.rc") 3>&- &
	E2E_XLS="$E2E_XLS $!"
	# Hold on until the destroy has returned, or 15 s, well inside both
	# libxl's 40 s and the 30 s our add waits for the lock.
	released_after=destroy
	wait_until 15 test -e "$E2E_TMP/destroy.rc" || released_after=15s
	note "releasing the lock after $released_after; backend online=$(xsr "$BE/$dom/$XVDA/online") state=$(xsr "$BE/$dom/$XVDA/state"); scripts: $(pgrep -a -f '/block (add|remove)' | tr '\n' ' ')"
	: > "$E2E_TMP/release"
	wait_until 10 test ! -e "$HOTPLUG_LOCK" || note "the holder has not let go"
	wait_until 60 test -e "$E2E_TMP/destroy.rc" || note "xl destroy still running"
	wait_until 60 test -e "$E2E_TMP/create.rc" || note "xl create still running"
	destroy_rc=$(cat "$E2E_TMP/destroy.rc" 2>/dev/null || echo none)
	create_rc=$(cat "$E2E_TMP/create.rc" 2>/dev/null || echo none)
	note "xl create: $create_rc, xl destroy: $destroy_rc"
	# Whatever libxl gave up on may still run: wait for every script and
	# helper to end (libxl's 40 s and more), then a little longer for a
	# late write to land.
	wait_until 60 test -z "$(hotplug_procs)" || note "still running: $(hotplug_procs | tr '\n' ' ')"
	sleep 2
	{
		echo "impl $E2E_IMPL, guest $dom, lock released after $released_after"
		echo "xl create -p: status $create_rc"; cat "$E2E_TMP/create.out"
		echo "xl destroy: status $destroy_rc"; cat "$E2E_TMP/destroy.out"
		echo "xl processes: $(pgrep -a -x xl | tr '\n' ' ')"
		echo "domains: $(xl list | awk 'NR > 1 { printf "%s(%s) ", $1, $2 }')"
		echo "left in $BE/$dom:"; xenstore-ls -f "$BE/$dom" 2>&1 || true
		echo "loop devices of the image:"; loops_of "$img" || true
		echo "hotplug processes:"; hotplug_procs
		echo "lock holders:"; lock_holders
	} > "$E2E_OUT/xl-held-add-$E2E_IMPL.txt"
	cat "$E2E_OUT/xl-held-add-$E2E_IMPL.txt"
}

@test "ours: an add held up by the lock whose guest is destroyed meanwhile publishes nothing and leaves no loop device" {
	ours_only
	held_add_destroyed
	run xl domid g11
	[ "$status" -ne 0 ]
	[ "$destroy_rc" = 0 ]
	# Nothing published for that backend, and no backend directory
	# written again after libxl removed it.
	run xsr "$BE/$dom/$XVDA/physical-device"
	[ "$output" = "" ]
	run xsr "$BE/$dom/$XVDA/physical-device-path"
	[ "$output" = "" ]
	run xenstore-exists "$BE/$dom"
	[ "$status" -ne 0 ]
	run loops_of "$img"
	[ "$output" = "" ]
	run hotplug_procs
	[ "$output" = "" ]
	run lock_holders
	[ "$output" = "" ]
}

@test "upstream baseline: an add held up by the lock whose guest is destroyed meanwhile (recorded, not judged)" {
	upstream_only
	held_add_destroyed
	run xl domid g11
	[ "$status" -ne 0 ]
	{
		printf 'stale backend directory: '
		if xenstore-exists "$BE/$dom"; then echo yes; else echo no; fi
		printf 'physical-device published: %s\n' "$(xsr "$BE/$dom/$XVDA/physical-device")"
		printf 'loop devices left on the image: %s\n' "$(loops_of "$img" | wc -l)"
	} | tee -a "$E2E_OUT/xl-held-add-$E2E_IMPL.txt"
}

@test "timing: attach of an image file to dom0 until connected, ours and upstream's alternating" {
	# Both scripts in the same boot, round by round, so that the noise of a
	# shared TCG host falls on both alike.
	ours_only
	img=$(make_image timing)
	f=$E2E_OUT/timing-attach.txt
	: > "$E2E_TMP/ms"
	for round in 1 2 3 4 5; do
		for impl in upstream ours; do
			t0=$(now_ms)
			xl block-attach 0 "$(E2E_IMPL=$impl disk_spec "$img" xvdb w)"
			t1=$(now_ms)
			[ "$(xsr "$BE/0/$XVDB/hotplug-status")" = connected ]
			wait_node "$BE/0/$XVDB/state" 4
			wait_node "/local/domain/0/device/vbd/$XVDB/state" 4
			t2=$(now_ms)
			xl block-detach 0 xvdb
			wait_gone "$BE/0/$XVDB"
			t3=$(now_ms)
			run loops_of "$img"
			[ "$output" = "" ]
			printf '%s %s %s %s %s\n' "$impl" "$round" "$((t1 - t0))" "$((t2 - t0))" "$((t3 - t2))" >> "$E2E_TMP/ms"
		done
	done
	{
		echo "impl round xl-block-attach-ms until-state-4-both-ends-ms block-detach-ms"
		cat "$E2E_TMP/ms"
		for impl in upstream ours; do
			for col in 3 4 5; do
				awk -v i="$impl" -v c="$col" '$1 == i { print $c }' "$E2E_TMP/ms" |
					sort -n | awk 'NR == 3'
			done | tr '\n' ' ' | sed "s/^/median $impl (attach, connected, detach ms): /; s/ \$/\n/"
		done
	} > "$f"
	cat "$f"
	[ "$(grep -c '^median' "$f")" -eq 2 ]
}

# The device stacks (issue 12): two backends, or a backend and dom0, that
# reach the same sectors through different devices. Only the dom0 kernel
# under QEMU has device-mapper and md, so these run here and not in make
# check. Every disk is a loop device over an image file (given as phy, so
# the script makes no loop device of its own); each refused ask is a
# paused guest of its own, since a refused xl create leaves nothing.
# shellcheck disable=SC2034 # E2E_UNTOUCHED is read by e2e_teardown
stack_only() {
	ours_only
	[ "${E2E_STACK:-1}" = 1 ] || { E2E_UNTOUCHED=1; skip "device stacks: another boot of this suite runs them"; }
	for _c in dmsetup lvm sfdisk; do
		command -v "$_c" >/dev/null || { E2E_UNTOUCHED=1; skip "no $_c in this dom0 image"; }
	done
	modprobe dm_mod
}

# dm_linear NAME DEV: a device-mapper device NAME mapping the whole of DEV.
dm_linear() {
	dmsetup create "$1" --table "0 $(blockdev --getsz "$2") linear $2 0"
	wait_until 5 test -b "/dev/mapper/$1"
}

@test "ours: device-mapper over a disk: the disk it holds is refused read-write, and so is the dm device beside a guest writing the disk" {
	stack_only
	loop=$(losetup -f --show "$(make_image rawdm)")
	# Guest A has the disk read-write before anything is stacked on it.
	allowed g1 "$(disk_spec "$loop" xvda w)"
	dm_linear xhp-a "$loop"
	dm=$(kname /dev/mapper/xhp-a)
	refused g2 "$(disk_spec /dev/mapper/xhp-a xvda w)" "$(be_re g1)"
	xl destroy g1
	# Now only device-mapper holds the disk.
	refused g3 "$(disk_spec "$loop" xvda w)" "$dm([^0-9]|$)|xhp-a"
}

@test "ours: LVM: two LVs of one PV go to two writers; the PV and an LV that a guest writes are refused" {
	stack_only
	loop=$(losetup -f --show "$(make_image pv 32M)")
	vgcreate -y xhpvg "$loop"
	lvcreate -y -l 2 -n lv1 xhpvg
	lvcreate -y -l 2 -n lv2 xhpvg
	lv1=/dev/mapper/xhpvg-lv1 lv2=/dev/mapper/xhpvg-lv2
	wait_until 5 test -b "$lv2"
	dm1=$(kname "$lv1") dm2=$(kname "$lv2")
	allowed g1 "$(disk_spec "$lv1" xvda w)"
	# Disjoint extents of one PV: the common LVM host, must keep working.
	allowed g2 "$(disk_spec "$lv2" xvda w)"
	refused g3 "$(disk_spec "$lv1" xvda w)" "$(be_re g1)"
	# The PV is below both (and held by both LVs in dom0).
	refused g3 "$(disk_spec "$loop" xvda w)" \
		"$(be_re g1)|$(be_re g2)|$dm1([^0-9]|$)|$dm2([^0-9]|$)|xhpvg-lv[12]|xhpvg/lv[12]"
}

@test "ours: one device-mapper device under two names, /dev/mapper/NAME and /dev/dm-N, is refused to a second writer" {
	stack_only
	loop=$(losetup -f --show "$(make_image twonames)")
	dm_linear xhp-c "$loop"
	dm=$(kname /dev/mapper/xhp-c)
	[ -b "/dev/$dm" ]
	allowed g1 "$(disk_spec /dev/mapper/xhp-c xvda w)"
	refused g2 "$(disk_spec "/dev/$dm" xvda w)" "$(be_re g1)"
}

@test "ours: a partition and its whole disk: p1 and p2 go to two writers, the whole disk is refused" {
	stack_only
	img=$(make_image parts 32M)
	printf 'label: dos\n,10M\n,10M\n' | sfdisk -q "$img"
	loop=$(losetup -P -f --show "$img")
	# devtmpfs makes the partitions' nodes; should they lag, from sysfs.
	for p in p1 p2; do
		# shellcheck disable=SC2046 # major and minor, two words
		wait_until 5 test -b "$loop$p" ||
			mknod "$loop$p" b $(tr : ' ' < "/sys/class/block/${loop#/dev/}$p/dev")
	done
	[ -b "${loop}p1" ] && [ -b "${loop}p2" ]
	allowed g1 "$(disk_spec "${loop}p1" xvda w)"
	# Two disjoint partitions of one disk, two writers: must keep working.
	allowed g2 "$(disk_spec "${loop}p2" xvda w)"
	refused g3 "$(disk_spec "$loop" xvda w)" "$(be_re g1)|$(be_re g2)"
}

@test "ours: dom0's own use: a dm device mounted read-write is refused to a reader, and the disk under it to a writer" {
	stack_only
	loop=$(losetup -f --show "$(make_image mounted)")
	dm_linear xhp-e "$loop"
	dm=$(kname /dev/mapper/xhp-e)
	mkfs.ext4 -q -F /dev/mapper/xhp-e
	mnt=$E2E_TMP/mnt
	mkdir "$mnt"
	# Beside a read-only mount a reader is welcome.
	mount -o ro /dev/mapper/xhp-e "$mnt"
	allowed g1 "$(disk_spec /dev/mapper/xhp-e xvda r)"
	xl destroy g1
	mount -o remount,rw "$mnt"
	refused g2 "$(disk_spec /dev/mapper/xhp-e xvda r)" "$mnt"
	refused g2 "$(disk_spec "$loop" xvda w)" "$dm([^0-9]|$)|xhp-e|$mnt"
}

@test "ours: md RAID1 over two disks: the array goes to a writer, a member of it is refused" {
	stack_only
	command -v mdadm >/dev/null || skip "no mdadm in this dom0 image"
	modprobe raid1
	l1=$(losetup -f --show "$(make_image md1)")
	l2=$(losetup -f --show "$(make_image md2)")
	mdadm --create /dev/md9 --run --level=1 --raid-devices=2 --metadata=1.2 \
		--assume-clean "$l1" "$l2" < /dev/null
	wait_until 5 test -b /dev/md9
	allowed g1 "$(disk_spec /dev/md9 xvda w)"
	refused g2 "$(disk_spec "$l2" xvda w)" "$(be_re g1)|md9([^0-9]|$)"
}
