#!/usr/bin/env bats
# Hostile and bad input for scripts/Linux/block (issue #7, part 3), run under
# $HOTPLUG_SH. Table-driven: each test is one row, a call to refused (the
# add must fail, say why in hotplug-error and leak nothing) or to accepted
# (a positive control: the same shape of input, but legitimate, succeeds).
# "Leaks nothing" is checked the same way for every row: the xenstore tree
# is the same as before except for hotplug-status and hotplug-error, no loop
# device maps a file of the test, the hotplug lock is free and in no one's
# hands, and no command smuggled in through the input ran (the marker file
# $XHP_TMP/pwned never appears).

# bats' run sets status in the shell of each test; helpers read it there.
# shellcheck disable=SC2030,SC2031
load ../test_helper

VBD=/local/domain/0/backend/vbd
# The backend under test; rd and absent name its nodes.
BE=$VBD/1/51712
# Longer than NAME_MAX and any sane path, within xenstore's 4096-byte
# message payload.
LONG=$(printf '%03000d' 0)

setup_file() {
	# xenstore-write cannot write a NUL byte; this client can.
	XS_RAWWRITE=$BATS_FILE_TMPDIR/xs-rawwrite
	export XS_RAWWRITE
	# shellcheck disable=SC2046 # pkg-config output is a list of flags
	${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
	    $(pkg-config --cflags xenstore) -o "$XS_RAWWRITE" \
	    "$BATS_TEST_DIRNAME/../hostile/xs-rawwrite.c" \
	    $(pkg-config --libs xenstore)
}

setup() {
	require_root
	xhp_setup
	script_env
	export XEN_HOTPLUG_LOCK_TIMEOUT=5
	# The script runs from here, so that a relative path or a command
	# smuggled in would act in a place the test looks at.
	mkdir "$XHP_TMP/cwd"
	truncate -s 4M "$XHP_TMP/img"
	XP=backend/vbd/1/51712
}

teardown() {
	[ -z "${STACK_IMG:-}" ] || stack_teardown
	free_my_loops
	xhp_teardown
}

# raw NODE: write stdin, byte for byte, to backend node NODE.
raw() { "$XS_RAWWRITE" "$BE/$1"; }

# tree: the whole store, one node a line, sorted.
tree() { xenstore-ls -f / | LC_ALL=C sort; }

# blk CMD [XENBUS_PATH]: run the script as libxl does, from $XHP_TMP/cwd.
blk() { SCRIPT_CWD=$XHP_TMP/cwd run_script "$BLOCK" "$1" "${2-$XP}"; }

# lock_clean: the lock is free: if the file exists, no lock on its inode
# in /proc/locks, and no process has anything in the lock directory open.
lock_clean() {
	local ino fd
	if [ -e "$XHP_TMP/lock/block" ] && [ ! -L "$XHP_TMP/lock/block" ]; then
		ino=$(stat -c %i "$XHP_TMP/lock/block")
		if grep -q ":$ino " /proc/locks; then
			echo "lock on inode $ino still in /proc/locks" >&2
			return 1
		fi
	fi
	fd=$(find /proc/[0-9]*/fd -lname "$XHP_TMP/lock/*" 2>/dev/null || :)
	[ -z "$fd" ] || { echo "held open: $fd" >&2; return 1; }
}

# no_leak BEFORE [EXTRA-ALLOWED-PATH]: the store differs from BEFORE only in
# hotplug-status and hotplug-error of the backend; no loop device; no lock;
# no marker.
no_leak() {
	local diffs
	diffs=$(tree | LC_ALL=C comm -3 "$1" - |
	    grep -v "^[[:space:]]*$BE/hotplug-\(status\|error\) = " || :)
	if [ -n "$diffs" ]; then
		printf 'stray nodes:\n%s\n' "$diffs" >&2
		return 1
	fi
	[ -z "$(my_loops)" ] || { echo "loop device left: $(my_loops)" >&2; return 1; }
	lock_clean
	[ ! -e "$XHP_TMP/pwned" ] || { echo "input was executed" >&2; return 1; }
	[ ! -e "$XHP_TMP/cwd/pwned" ] || { echo "input was executed" >&2; return 1; }
}

# refused STATUS PATTERN [CMD [XENBUS_PATH]]: with the backend as it is
# now, CMD (add) exits 1, writes hotplug-status STATUS and a hotplug-error
# matching the shell PATTERN, and leaks nothing.
refused() {
	tree >"$XHP_TMP/before"
	blk "${3:-add}" ${4+"$4"}
	echo "status=$status output=$output" >&2
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(rd hotplug-status)" = "$1" ]
	err=$(rd hotplug-error)
	echo "hotplug-error=$err" >&2
	# shellcheck disable=SC2254 # the pattern is meant to match
	case $err in
	$2) ;;
	*) echo "hotplug-error does not match: $2" >&2; return 1 ;;
	esac
	absent physical-device
	absent physical-device-path
	no_leak "$XHP_TMP/before"
}

# refused_unwritable PATTERN [XENBUS_PATH]: a XENBUS_PATH that is no backend
# directory: exit 1, the reason in the log, and nothing at all written
# (there is no place where hotplug-error could safely go).
refused_unwritable() {
	tree >"$XHP_TMP/before"
	if [ "$#" -ge 2 ]; then
		blk add "$2"
	else
		# shellcheck disable=SC2086
		run env -u XENBUS_PATH $HOTPLUG_SH "$BLOCK" add </dev/null
	fi
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(tree)" = "$(cat "$XHP_TMP/before")" ]
	grep -q -- "$1" "$XEN_HOTPLUG_LOGFILE"
	no_leak "$XHP_TMP/before"
}

# accepted [XENBUS_PATH]: positive control: add succeeds and connects,
# remove frees everything again, nothing ran.
accepted() {
	blk add ${1+"$1"}
	echo "status=$status output=$output" >&2
	[ "$status" -eq 0 ]
	[ "$(rd hotplug-status)" = connected ]
	rd physical-device-path >/dev/null
	blk remove ${1+"$1"}
	[ "$status" -eq 0 ]
	[ -z "$(my_loops)" ]
	lock_clean
	[ ! -e "$XHP_TMP/pwned" ]
	[ ! -e "$XHP_TMP/cwd/pwned" ]
}

# ---- params: shell metacharacters ---------------------------------------

@test "params with spaces naming no file is refused as missing" {
	mkbe 1 51712 "$XHP_TMP/my disk.img" w
	refused error "$XHP_TMP/my disk.img does not exist"
}

@test "control: params with spaces naming an existing image is attached" {
	mv "$XHP_TMP/img" "$XHP_TMP/my disk.img"
	mkbe 1 51712 "$XHP_TMP/my disk.img" w
	accepted
}

@test "params with a newline is refused as a control character" {
	mkbe 1 51712 "$(printf '%s\ntouch %s/pwned' "$XHP_TMP/img" "$XHP_TMP")" w
	refused error "*control character*"
}

@test "params with \$(...) is not run and is refused as missing" {
	mkbe 1 51712 "\$(touch $XHP_TMP/pwned)" w
	refused error "/dev/\$(touch $XHP_TMP/pwned) does not exist"
}

@test "params with backquotes is not run and is refused as missing" {
	mkbe 1 51712 "$XHP_TMP/\`touch $XHP_TMP/pwned\`" w
	refused error "$XHP_TMP/\`touch $XHP_TMP/pwned\` does not exist"
}

@test "params with ; and | is not run and is refused as missing" {
	mkbe 1 51712 "$XHP_TMP/img;touch $XHP_TMP/pwned|touch $XHP_TMP/pwned" w
	refused error "$XHP_TMP/img;touch * does not exist"
}

@test "control: an image whose name is \$(touch pwned) is attached and nothing runs" {
	mv "$XHP_TMP/img" "$XHP_TMP/cwd/\$(touch pwned);\`touch pwned\`"
	mkbe 1 51712 "$XHP_TMP/cwd/\$(touch pwned);\`touch pwned\`" w
	accepted
}

@test "params with a glob is not expanded and is refused as missing" {
	truncate -s 1M "$XHP_TMP/a.img" "$XHP_TMP/b.img"
	mkbe 1 51712 "$XHP_TMP/*.img" w
	refused error "$XHP_TMP/\\*.img does not exist"
}

@test "params with a leading - is not taken as an option" {
	mkbe 1 51712 "$XHP_TMP/img" w
	# xenstore-write itself would take it for an option.
	printf %s -rf | raw params
	refused error "/dev/-rf does not exist"
}

@test "params --help is not taken as an option" {
	mkbe 1 51712 "$XHP_TMP/img" r
	printf %s --help | raw params
	refused error "/dev/--help does not exist"
}

# ---- params: paths -------------------------------------------------------

@test "a relative params is looked up under /dev, not in the working directory" {
	truncate -s 1M "$XHP_TMP/cwd/disk"
	mkbe 1 51712 disk w
	refused error "/dev/disk does not exist"
}

@test "a relative params with .. climbing out of /dev is refused" {
	mkbe 1 51712 "..$XHP_TMP/img" w
	refused error "*..*"
}

@test "a symbolic link loop is refused" {
	ln -s "$XHP_TMP/loop2" "$XHP_TMP/loop1"
	ln -s "$XHP_TMP/loop1" "$XHP_TMP/loop2"
	mkbe 1 51712 "$XHP_TMP/loop1" w
	refused error "$XHP_TMP/loop1 is a dangling symbolic link"
}

@test "a dangling symbolic link is refused" {
	ln -s "$XHP_TMP/gone" "$XHP_TMP/link"
	mkbe 1 51712 "$XHP_TMP/link" w
	refused error "$XHP_TMP/link is a dangling symbolic link"
}

@test "control: a symbolic link to an image is attached" {
	ln -s "$XHP_TMP/img" "$XHP_TMP/link"
	mkbe 1 51712 "$XHP_TMP/link" w
	accepted
}

@test "a directory is refused" {
	mkdir "$XHP_TMP/dir"
	mkbe 1 51712 "$XHP_TMP/dir" w
	refused error "$XHP_TMP/dir is a directory, not a block device or image file"
}

@test "a fifo is refused without blocking on it" {
	mkfifo "$XHP_TMP/fifo"
	mkbe 1 51712 "$XHP_TMP/fifo" w
	refused error "$XHP_TMP/fifo is a fifo, not a block device or image file"
}

@test "a character device is refused" {
	mknod "$XHP_TMP/chr" c 1 3
	mkbe 1 51712 "$XHP_TMP/chr" w
	refused error "$XHP_TMP/chr is a character device, not a block device or image file"
}

@test "a socket is refused" {
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	    "$XHP_TMP/sock" 2>/dev/null || skip "no python3 to make a socket"
	mkbe 1 51712 "$XHP_TMP/sock" w
	refused error "$XHP_TMP/sock is not a block device or image file"
}

@test "an empty image file is refused" {
	: >"$XHP_TMP/empty"
	mkbe 1 51712 "$XHP_TMP/empty" w
	refused error "*empty*"
}

@test "a file without write permission bits is busy for mode w" {
	chmod 0444 "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" w
	refused busy "File $XHP_TMP/img is read-only, and so will not be attached read-write to a guest."
}

@test "control: a file without write permission bits is attached for mode r" {
	chmod 0444 "$XHP_TMP/img"
	mkbe 1 51712 "$XHP_TMP/img" r
	accepted
}

@test "params of 3000 bytes is refused as missing" {
	mkbe 1 51712 "$XHP_TMP/$LONG" w
	refused error "$XHP_TMP/$LONG does not exist"
}

# ---- other nodes ----------------------------------------------------------

@test "a missing mode is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-rm "$BE/mode"
	refused error "backend/vbd/1/51712 has no mode"
}

@test "an empty mode is refused" {
	mkbe 1 51712 "$XHP_TMP/img" ''
	refused error "backend/vbd/1/51712 has no mode"
}

@test "an unknown mode is refused" {
	mkbe 1 51712 "$XHP_TMP/img" x
	refused error "unknown mode 'x' in backend/vbd/1/51712 (expected r, w or w!)"
}

@test "a mode with a command in it is refused and not run" {
	mkbe 1 51712 "$XHP_TMP/img" "w;touch $XHP_TMP/pwned"
	refused error "unknown mode 'w;touch $XHP_TMP/pwned' in *"
}

@test "a mode of 3000 bytes is refused" {
	mkbe 1 51712 "$XHP_TMP/img" "w$LONG"
	refused error "unknown mode 'w$LONG' in *"
}

@test "a missing frontend-id is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-rm "$BE/frontend-id"
	refused error "backend/vbd/1/51712 has no frontend-id"
}

@test "a frontend-id with a command in it is refused and not run" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-write "$BE/frontend-id" "1\$(touch $XHP_TMP/pwned)"
	refused error "invalid frontend-id '1\$(touch $XHP_TMP/pwned)' in *"
}

@test "a frontend-id of 40 digits is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-write "$BE/frontend-id" "1$(printf '%039d' 0)"
	refused error "*frontend-id*"
}

@test "a missing params is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-rm "$BE/params"
	refused error "backend/vbd/1/51712 has no params: no device or image to attach"
}

@test "an empty params is refused" {
	mkbe 1 51712 '' w
	refused error "backend/vbd/1/51712 has no params: no device or image to attach"
}

@test "a type naming a path is refused and nothing is executed" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-write "$BE/type" "../../../$XHP_TMP/cwd/x"
	printf '#!/bin/sh\ntouch %s/pwned\n' "$XHP_TMP" >"$XHP_TMP/cwd/block-x"
	chmod +x "$XHP_TMP/cwd/block-x"
	refused error "invalid backend type '*'"
}

# ---- bytes no shell string can hold -----------------------------------------

@test "params with a NUL byte is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	printf '%s\0;touch %s/pwned' "$XHP_TMP/img" "$XHP_TMP" | raw params
	refused error "*params*"
}

@test "params with bytes that are not UTF-8 is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	printf '%s\377\376' "$XHP_TMP/img" | raw params
	refused error "*params*"
}

@test "a mode with a NUL byte after w is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	printf 'w\0' | raw mode
	refused error "*mode*"
}

@test "a frontend-id with a NUL byte is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	printf '1\0002' | raw frontend-id
	refused error "*frontend-id*"
}

# ---- XENBUS_PATH and the command ----------------------------------------------

@test "a missing XENBUS_PATH is refused and nothing is written" {
	mkbe 1 51712 "$XHP_TMP/img" w
	refused_unwritable 'XENBUS_PATH is not set'
}

@test "a XENBUS_PATH outside backend/ is refused and nothing is written" {
	mkbe 1 51712 "$XHP_TMP/img" w
	refused_unwritable 'is not a backend directory' device/vbd/1/51712
}

@test "a XENBUS_PATH with .. is refused and nothing is written" {
	mkbe 1 51712 "$XHP_TMP/img" w
	refused_unwritable 'is not a backend directory' backend/vbd/../vbd/1/51712
}

@test "a XENBUS_PATH with a command in it is refused and not run" {
	mkbe 1 51712 "$XHP_TMP/img" w
	tree >"$XHP_TMP/before"
	blk add "backend/vbd/1/\$(touch $XHP_TMP/pwned)"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	no_leak "$XHP_TMP/before"
}

@test "a XENBUS_PATH pointing at a vif backend is refused in plain words" {
	b=/local/domain/0/backend/vif/1/0
	xenstore-write "$b/frontend" /local/domain/1/device/vif/0 \
	    "$b/frontend-id" 1 "$b/state" 2 "$b/mac" 00:16:3e:00:00:01 \
	    "$b/script" /etc/xen/scripts/vif-bridge
	tree >"$XHP_TMP/before"
	blk add backend/vif/1/0
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$b/hotplug-status")" = error ]
	[ "$(xenstore-read "$b/hotplug-error")" = "backend/vif/1/0 has no params: no device or image to attach" ]
	diffs=$(tree | LC_ALL=C comm -3 "$XHP_TMP/before" - |
	    grep -v "^[[:space:]]*$b/hotplug-\(status\|error\) = " || :)
	[ -z "$diffs" ]
	lock_clean
}

@test "control: an absolute /local/domain/0/backend XENBUS_PATH works" {
	mkbe 1 51712 "$XHP_TMP/img" w
	accepted /local/domain/0/backend/vbd/1/51712
}

@test "an unknown command is refused" {
	mkbe 1 51712 "$XHP_TMP/img" w
	refused error "Invalid command: online" online
}

@test "a command with shell syntax is refused and not run" {
	mkbe 1 51712 "$XHP_TMP/img" w
	refused error "Invalid command: add;touch $XHP_TMP/pwned" "add;touch $XHP_TMP/pwned"
}

# ---- the lock directory -------------------------------------------------------

@test "a symbolic link planted as the lock file is never followed to create a file" {
	mkdir -p "$XHP_TMP/lock"
	ln -s "$XHP_TMP/victim" "$XHP_TMP/lock/block"
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add
	[ "$status" -eq 1 ]
	[[ "$(rd hotplug-error)" == *symlink* ]]
	# The shell's open of the lock file must not create the link's target
	# (a root-owned file anywhere, named by whoever planted the link).
	[ ! -e "$XHP_TMP/victim" ]
}

@test "a symbolic link planted as the lock file leaves its target whole and in place" {
	mkdir -p "$XHP_TMP/lock"
	printf 'precious\n' >"$XHP_TMP/victim"
	ln -s "$XHP_TMP/victim" "$XHP_TMP/lock/block"
	mkbe 1 51712 "$XHP_TMP/img" w
	tree >"$XHP_TMP/before"
	blk add
	[ "$status" -eq 1 ]
	[ "$(cat "$XHP_TMP/victim")" = precious ]
	[ "$(rd hotplug-status)" = error ]
	[[ "$(rd hotplug-error)" == *symlink* ]]
	[ "$(grep -c ":$(stat -c %i "$XHP_TMP/victim") " /proc/locks)" -eq 0 ]
	no_leak "$XHP_TMP/before"
}

# ---- remove trusts nothing it did not record itself ---------------------------

# other_and_ours: backend 2 attached to $XHP_TMP/other, backend 1 to
# $XHP_TMP/img, then backend 1's node rewritten to backend 2's loop device.
other_and_ours() {
	truncate -s 4M "$XHP_TMP/other"
	b2=$VBD/2/51712
	xenstore-write "$b2/params" "$XHP_TMP/other" "$b2/mode" w \
	    "$b2/frontend-id" 2 "$b2/state" 2 "$b2/type" phy
	blk add backend/vbd/2/51712
	[ "$status" -eq 0 ]
	theirs=$(xenstore-read "$b2/node")
	mkbe 1 51712 "$XHP_TMP/img" w
	blk add
	[ "$status" -eq 0 ]
	xenstore-write "$BE/node" "$theirs"
}

@test "remove with node naming another backend's loop device leaves that device alone" {
	other_and_ours
	blk remove
	[ "$status" -eq 0 ]
	[ "$(losetup -n -O BACK-FILE "$theirs")" = "$XHP_TMP/other" ]
	blk remove backend/vbd/2/51712
	[ "$status" -eq 0 ]
	[ "$(losetup -j "$XHP_TMP/other" | wc -l)" -eq 0 ]
}

@test "remove with a rewritten node still frees its own loop device by its tag" {
	other_and_ours
	blk remove
	[ "$status" -eq 0 ]
	[ "$(losetup -j "$XHP_TMP/img" | wc -l)" -eq 0 ]
}

@test "remove with a node carrying a command runs nothing, and frees nothing that is not ours" {
	mkbe 1 51712 "$XHP_TMP/img" w
	xenstore-write "$BE/node" "/dev/loop0;touch $XHP_TMP/pwned" \
	    "$BE/loop-file-id" "1:\$(touch $XHP_TMP/pwned)"
	blk remove
	# Not a device of ours: nothing to free, which a remove is done with.
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	absent hotplug-error
	[ ! -e "$XHP_TMP/pwned" ]
	[ ! -e "$XHP_TMP/cwd/pwned" ]
	lock_clean
}

@test "a backend whose devid makes the loop tag longer than 63 bytes is refused for an image" {
	long=$(printf '%0200d' 7)
	b=$VBD/1/$long
	xenstore-write "$b/params" "$XHP_TMP/img" "$b/mode" w \
	    "$b/frontend-id" 1 "$b/state" 2 "$b/type" phy
	blk add "backend/vbd/1/$long"
	[ "$status" -eq 1 ]
	[ "$(xenstore-read "$b/hotplug-status")" = error ]
	[[ "$(xenstore-read "$b/hotplug-error")" == *"longer than 63 bytes"* ]]
	[ -z "$(my_loops)" ]
	lock_clean
}

# ---- the device stack and dom0's own use (docs/block-scripts.md, "In use") ---

# stack_setup: a partitioned loop disk (part_disk) over an image outside
# the test's directory, so that no_leak's loop check sees only what the
# add might leak; other guest 2.
stack_setup() {
	STACK_IMG=$XHP_TMP.disk.img
	part_disk "$STACK_IMG"
	mkbe 2 51712 /dev/null w
}

stack_teardown() {
	[ -z "${SWAP:-}" ] || swapoff "$SWAP" 2>/dev/null
	umount "$XHP_TMP/mnt" 2>/dev/null
	[ -z "${D:-}" ] || losetup -d "$D" 2>/dev/null
	rm -f "$STACK_IMG"
}

# theirs DEV: guest 2 has DEV read-write, published.
theirs() {
	xenstore-write "$VBD/2/51712/params" "$1" \
	    "$VBD/2/51712/physical-device" "$(majmin "$1")" \
	    "$VBD/2/51712/state" 4
}

@test "a whole disk is busy while another guest has its partition read-write" {
	stack_setup
	theirs "$P1"
	mkbe 1 51712 "$D" r
	refused busy "Device $D is the whole disk of the partition $P1 (device *), already used read-write by another guest through backend/vbd/2/51712*"
}

@test "a partition is busy while another guest has its whole disk read-write" {
	stack_setup
	theirs "$D"
	mkbe 1 51712 "$P2" w
	refused busy "Device $P2 is a partition of $D (device *), already used by another guest*"
}

@test "a logical partition is busy while another guest has the extended one" {
	stack_setup
	theirs "$P3"
	mkbe 1 51712 "$P5" w
	refused busy "Device $P5 overlaps $P3 (device *)*"
}

@test "control: a partition disjoint from another guest's is attached" {
	stack_setup
	theirs "$P1"
	mkbe 1 51712 "$P2" w
	accepted
}

@test "a device dom0 swaps on is busy, even for mode r" {
	stack_setup
	mkswap -q "$P2" >/dev/null
	swapon "$P2"
	SWAP=$P2
	mkbe 1 51712 "$P2" r
	refused busy "Device $P2 (device *) is active swap in the privileged domain, and so cannot be attached read-only to a guest."
}

@test "the whole disk of a partition dom0 has mounted is busy" {
	command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4 (e2fsprogs)"
	stack_setup
	mkfs.ext4 -q "$P1"
	mkdir "$XHP_TMP/mnt"
	mount "$P1" "$XHP_TMP/mnt"
	mkbe 1 51712 "$D" w
	refused busy "Device $D is the whole disk of the partition $P1 (device *), which is mounted in the privileged domain at $XHP_TMP/mnt*"
	umount "$XHP_TMP/mnt"
}

@test "an image another guest's QEMU (qdisk) serves is busy, found by its params" {
	xenstore-write /local/domain/0/backend/qdisk/2/51712/params "raw:$XHP_TMP/img" \
	    /local/domain/0/backend/qdisk/2/51712/mode w \
	    /local/domain/0/backend/qdisk/2/51712/frontend-id 2 \
	    /local/domain/2/vm /vm/uuid-2
	mkbe 1 51712 "$XHP_TMP/img" w
	refused busy "File $XHP_TMP/img * is already used by another guest through backend/qdisk/2/51712*"
}

# ---- every helper against hostile arguments ------------------------------------

# argv_row HELPER ARG...: one run, from the scratch directory; it must end
# with an exit code of the table in docs/exit-codes.md (no signal, no
# sanitizer abort; 126/127 only for flock-wrap's chainload, whose PROG is
# an argument by design and is exec'd, never given to a shell), say why on
# stderr in the suite's grammar when it fails, and run nothing.
argv_row() {
	local h=$1 rc=0 err
	shift
	(cd "$XHP_TMP/cwd" && exec "$XHP_BIN/$h" "$@" </dev/null \
	    >"$XHP_TMP/argv.out" 2>"$XHP_TMP/argv.err") || rc=$?
	err=$(cat "$XHP_TMP/argv.err")
	case $h:$rc in
	*:0 | *:1 | *:3 | *:4 | *:5 | *:100 | *:111 | flock-wrap:2 | flock-wrap:126 | flock-wrap:127) ;;
	*)
		printf '%s %s: exit %s\n%s\n' "$h" "$*" "$rc" "$err" >&2
		return 1
		;;
	esac
	# getopt's own complaint names the program as it was called (a full
	# path here), then the usage follows.
	if [ "$rc" -ne 0 ]; then
		case $err in
		"$h: "* | */"$h: "* | usage:*) ;;
		*)
			printf '%s %s: stderr not in the grammar: %s\n' "$h" "$*" "$err" >&2
			return 1
			;;
		esac
	fi
	case $err in
	*Sanitizer* | *"runtime error"*)
		printf '%s %s: %s\n' "$h" "$*" "$err" >&2
		return 1
		;;
	esac
	[ ! -e "$XHP_TMP/pwned" ] && [ ! -e "$XHP_TMP/cwd/pwned" ]
}

# argv_table HELPER: the helper's options given each hostile value, and
# hostile positional arguments.
argv_table() {
	# Helpers do not depend on the shell the scripts run under: once is
	# enough (about 400 runs a helper).
	case $HOTPLUG_SH in
	dash) ;;
	*) skip "helper arguments are checked once, under dash" ;;
	esac
	local h=$1 o v
	local bad8 cmd
	bad8=$(printf 'a\377\376b')
	cmd="\$(touch $XHP_TMP/pwned)"
	for v in '' - -- -1 +1 ' 1' '1 ' 0x10 1e3 99999999999999999999999 \
	    18446744073709551616 4294967296 1.5.5 .5 1: :1 1:2:3 \
	    "$LONG" "$bad8" "$cmd" "\`touch $XHP_TMP/pwned\`" '*' '../..'; do
		argv_row "$h" "$v"
		argv_row "$h" -- "$v"
		argv_row "$h" "$v" "$v"
		for o in -w -o -m -i -t -F -e -B -T -M -n -s -l -x; do
			argv_row "$h" "$o" "$v" "$v"
		done
	done
	argv_row "$h"
	argv_row "$h" -h
	argv_row "$h" --help
}

@test "flock-wrap answers every hostile argument with an exit code of the table" {
	argv_table flock-wrap
}

@test "loop-attach answers every hostile argument with an exit code of the table" {
	argv_table loop-attach
	[ -z "$(my_loops)" ]
}

@test "loop-detach answers every hostile argument with an exit code of the table" {
	argv_table loop-detach
}

@test "xs-majmin answers every hostile argument with an exit code of the table" {
	tree >"$XHP_TMP/before"
	argv_table xs-majmin
	[ "$(tree)" = "$(cat "$XHP_TMP/before")" ]
}

@test "xs-publish answers every hostile argument with an exit code of the table" {
	tree >"$XHP_TMP/before"
	argv_table xs-publish
	[ "$(tree)" = "$(cat "$XHP_TMP/before")" ]
}

@test "xs-readv answers every hostile argument with an exit code of the table" {
	argv_table xs-readv
}

@test "xs-stat-path answers every hostile argument with an exit code of the table" {
	argv_table xs-stat-path
}
