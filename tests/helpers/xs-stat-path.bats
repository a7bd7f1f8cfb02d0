#!/usr/bin/env bats
# xs-stat-path: device identity, and the one-process sharing check
# (docs/xs-stat-path.md). Real test xenstore, real block nodes (mknod),
# real loop devices for image files; mounts through -M with a file we write.

load ../test_helper
bats_require_minimum_version 1.5.0

# The scan tests fill the store with bench/populate (make check builds it).
setup_file() {
	need_built "$XHP_TOP/build/bench/populate"
}

setup() {
	xhp_setup
	: > "$XHP_TMP/loops"
}

teardown() {
	# Detach only the loop devices this test attached (others' tests run
	# at the same time).
	if [ -f "$XHP_TMP/loops" ]; then
		while read -r l; do
			losetup -d "$l" 2>/dev/null || true
		done < "$XHP_TMP/loops"
	fi
	xhp_teardown
}

# blk NAME MAJ MIN: a block device node in $XHP_TMP (mknod: root).
blk() {
	require_root
	mknod "$XHP_TMP/$1" b "$2" "$3"
}

# loop FILE: attach a loop device over FILE, print it, remember it.
loop() {
	local l
	l=$(losetup -f --show "$1") || return 1
	echo "$l" >> "$XHP_TMP/loops"
	echo "$l"
}

# hexmm DEV: blkback-format major:minor of block device DEV.
hexmm() {
	stat -L -c '%t:%T' "$1"
}

# backend DOM DEV [NODE VALUE]...: a vbd backend of domain DOM (vm
# /vm/vm-DOM unless already set) with the given nodes.
backend() {
	local dom=$1 b
	b=backend/vbd/$1/$2
	shift 2
	xenstore-write "$b/frontend-id" "$dom" "$b/mode" w
	xenstore-read "/local/domain/$dom/vm" >/dev/null 2>&1 ||
		xenstore-write "/local/domain/$dom/vm" "/vm/vm-$dom"
	while [ "$#" -ge 2 ]; do
		xenstore-write "$b/$1" "$2"
		shift 2
	done
}

# Our own backend: domain 1, device 51712.
SELF=backend/vbd/1/51712

mountinfo_empty() {
	: > "$XHP_TMP/mountinfo"
}

# --- usage ---------------------------------------------------------------

@test "no arguments is a usage error" {
	usage_refused xs-stat-path
}

@test "-h prints the usage on stdout and exits 0" {
	usage_shown xs-stat-path "usage:"
}

@test "an unknown output format is a usage error" {
	blk sda 8 0
	usage_refused xs-stat-path -o solaris "$XHP_TMP/sda"
}

@test "-c without -m or -s is a usage error" {
	blk sda 8 0
	run --separate-stderr xs-stat-path -c -s "$SELF" "$XHP_TMP/sda"
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
	run --separate-stderr xs-stat-path -c -m w "$XHP_TMP/sda"
	[ "$status" -eq 100 ]
	[[ "$stderr" == usage:* ]]
}

@test "-c with both TARGET and -i, or with a malformed -i, is a usage error" {
	blk sda 8 0
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -i 803:12 "$XHP_TMP/sda"
	[ "$status" -eq 100 ]
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -i 803
	[ "$status" -eq 100 ]
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -i 0x803:12
	[ "$status" -eq 100 ]
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -i 803:-1
	[ "$status" -eq 100 ]
	[ -z "$output" ]
}

@test "check options without -c are a usage error" {
	blk sda 8 0
	run --separate-stderr xs-stat-path -m w "$XHP_TMP/sda"
	[ "$status" -eq 100 ]
	run --separate-stderr xs-stat-path -n some/node "$XHP_TMP/sda"
	[ "$status" -eq 100 ]
	[ -z "$output" ]
}

# --- identity of one device ----------------------------------------------

@test "a block device prints its major:minor in lowercase hex without padding" {
	blk sdb1 8 17
	blk big 259 65546
	run --separate-stderr xs-stat-path "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = "8:11" ]
	[ -z "$stderr" ]
	run --separate-stderr xs-stat-path -o linux "$XHP_TMP/big"
	[ "$status" -eq 0 ]
	[ "$output" = "103:1000a" ]
}

@test "-- ends the options, as the scripts call it" {
	blk sdb1 8 17
	run --separate-stderr xs-stat-path -- "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = "8:11" ]
}

@test "-o netbsd prints the decimal NetBSD dev_t" {
	blk sdb1 8 17
	blk hi 8 4660
	run --separate-stderr xs-stat-path -o netbsd "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = "2065" ]
	# minor 0x1234: low byte 0x34, the rest shifted to bits 20..31
	run --separate-stderr xs-stat-path -o netbsd "$XHP_TMP/hi"
	[ "$status" -eq 0 ]
	[ "$output" = "18876468" ]
}

@test "the largest Linux device number fills the NetBSD dev_t exactly" {
	blk max 4095 1048575
	run --separate-stderr xs-stat-path -o netbsd "$XHP_TMP/max"
	[ "$status" -eq 0 ]
	[ "$output" = 4294967295 ]
	run --separate-stderr xs-stat-path "$XHP_TMP/max"
	[ "$output" = fff:fffff ]
}

@test "a symlink to a block device gives the device's identity" {
	blk sdc 8 32
	ln -s sdc "$XHP_TMP/link"
	run --separate-stderr xs-stat-path "$XHP_TMP/link"
	[ "$status" -eq 0 ]
	[ "$output" = "8:20" ]
}

@test "a regular file is refused with exit 1" {
	: > "$XHP_TMP/file"
	run --separate-stderr xs-stat-path "$XHP_TMP/file"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-stat-path: fatal: $XHP_TMP/file is not a block device" ]
}

@test "a missing path is exit 1 with the stat error" {
	run --separate-stderr xs-stat-path "$XHP_TMP/nope"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-stat-path: fatal: unable to stat $XHP_TMP/nope: No such file or directory" ]
}

@test "-n reads the path from a xenstore node" {
	blk sdd 8 48
	xenstore-write backend/vbd/1/51712/physical-device-path "$XHP_TMP/sdd"
	run --separate-stderr xs-stat-path -n backend/vbd/1/51712/physical-device-path
	[ "$status" -eq 0 ]
	[ "$output" = "8:30" ]
	[ -z "$stderr" ]
}

@test "-n with an absent node is exit 1" {
	run --separate-stderr xs-stat-path -n backend/vbd/1/51712/physical-device-path
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == "xs-stat-path: fatal: unable to read backend/vbd/1/51712/physical-device-path: No such file or directory" ]]
}

# --- the sharing check: basics ------------------------------------------

@test "mode w! skips the check and prints ok" {
	blk sda 8 0
	backend 2 51712 physical-device 8:0
	run --separate-stderr xs-stat-path -c -m 'w!' -s "$SELF" "$XHP_TMP/sda"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	[ -z "$stderr" ]
}

@test "a device no one uses is ok" {
	blk sda 8 0
	mountinfo_empty
	backend 1 51712 physical-device-path "$XHP_TMP/sda"
	backend 2 51712 physical-device 8:10
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sda"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	[ -z "$stderr" ]
}

@test "our own backend is skipped however it and BASE are spelled, and only it" {
	blk sda 8 0
	mountinfo_empty
	backend 1 51712 physical-device 8:0
	# Our frontend is not domain 1: were our backend not skipped, the
	# same-VM exemption would not hide it.
	xenstore-write "$SELF/frontend-id" 12 /local/domain/12/vm /vm/twelve
	for self in "$SELF" "/local/domain/0/$SELF" "backend//vbd/1/51712/"; do
		for base in backend /local/domain/0/backend; do
			run --separate-stderr xs-stat-path -c -m w -s "$self" -B "$base" \
			    -M "$XHP_TMP/mountinfo" "$XHP_TMP/sda"
			[ "$status" -eq 0 ]
			[ "$output" = ok ]
		done
	done
	# The same name in another domain, another name in our domain: not
	# us.
	backend 11 51712 physical-device 8:0
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sda"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:0 backend/vbd/11/51712" ]
	xenstore-rm backend/vbd/11
	backend 1 517120 physical-device 8:0
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sda"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:0 backend/vbd/1/517120" ]
}

@test "a missing backend tree is ok" {
	blk sda 8 0
	mountinfo_empty
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sda"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "another guest's hex physical-device with the same device conflicts" {
	blk sdb1 8 17
	mountinfo_empty
	backend 2 51728 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/51728" ]
	[ -z "$stderr" ]
}

@test "uppercase or zero-padded hex is parsed as the same device" {
	blk big 259 10
	mountinfo_empty
	backend 2 51728 physical-device 0103:A
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/big"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 103:a backend/vbd/2/51728" ]
}

@test "-o netbsd parses decimal dev_t values and prints them" {
	blk hi 8 4660
	mountinfo_empty
	backend 2 51728 physical-device 18876468
	run --separate-stderr xs-stat-path -o netbsd -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/hi"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 18876468 backend/vbd/2/51728" ]
	# The same value is not a hex major:minor, so in linux format it
	# names nothing.
	run --separate-stderr xs-stat-path -o linux -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/hi"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a backend with only physical-device-path still conflicts" {
	blk sdb1 8 17
	ln -s sdb1 "$XHP_TMP/other-name"
	mountinfo_empty
	backend 3 768 physical-device-path "$XHP_TMP/other-name"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/3/768" ]
}

@test "an unparsable physical-device falls back to physical-device-path" {
	blk sdb1 8 17
	mountinfo_empty
	backend 3 768 physical-device 'junk' physical-device-path "$XHP_TMP/sdb1"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/3/768" ]
}

@test "physical-device wins over a physical-device-path naming another device" {
	blk sdb1 8 17
	blk sdc 8 32
	mountinfo_empty
	backend 3 768 physical-device 8:20 physical-device-path "$XHP_TMP/sdb1"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "the scan reads hundreds of backends in flight and still finds the one conflict" {
	# More backends than requests go out at once (64), over several
	# domains: a conflict listed late, and a path-only writer after it.
	"$XHP_TOP/build/bench/populate" -V 300 -D 3 -f 10
	blk sdb1 8 17
	blk sdc 8 32
	mountinfo_empty
	backend 12 999 physical-device 8:11
	backend 13 5 physical-device-path "$XHP_TMP/sdc"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/12/999" ]
	[ -z "$stderr" ]
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdc"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:20 backend/vbd/13/5" ]
	xenstore-rm backend/vbd/12/999 backend/vbd/13/5
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a domain with more backends than one directory reply holds is listed in parts" {
	# 800 device names are over the 4096 bytes of one XS_DIRECTORY reply
	# (E2BIG); the check then lists that domain as libxenstore does.
	"$XHP_TOP/build/bench/populate" -V 800 -D 1 -f 10
	run xenstore-list backend/vbd/10
	[ "$(printf '%s\n' "$output" | wc -c)" -gt 4096 ]
	blk sdb1 8 17
	mountinfo_empty
	backend 10 999999 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/10/999999" ]
	[ -z "$stderr" ]
}

@test "a backend listed but gone before its read is no conflict and no error" {
	# The test xenstore answers each request 1 ms late, so the remove
	# lands between the listing and the reads.
	xsd_stop
	xsd_start -D 1
	blk sdb1 8 17
	mountinfo_empty
	for i in $(seq 1 40); do backend 2 "$i" physical-device 8:11; done
	( sleep 0.02; xenstore-rm backend/vbd/2 ) 3>&- &
	rmpid=$!
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	wait "$rmpid"
	# Either it saw a backend before the remove, or none at all: never
	# an error for the ones that went.
	case $status:$output in
	1:"guest 8:11 backend/vbd/2/"*) ;;
	0:ok) ;;
	*) echo "status $status: $output / $stderr"; false ;;
	esac
	[ -z "$stderr" ]
}

@test "a physical-device-path that no longer exists is not a conflict" {
	blk sdb1 8 17
	mountinfo_empty
	backend 3 768 physical-device-path "$XHP_TMP/gone"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "the backend given as SELF is skipped, relative or absolute" {
	blk sdb1 8 17
	mountinfo_empty
	backend 1 51712 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	run --separate-stderr xs-stat-path -c -m w -s "/local/domain/0/$SELF/" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	# and another device of the same domain is not SELF
	run --separate-stderr xs-stat-path -c -m w -s backend/vbd/1/51728 -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/1/51712" ]
}

@test "vbd3 backends are scanned by default and -T restricts the types" {
	blk sdb1 8 17
	mountinfo_empty
	xenstore-write backend/vbd3/4/768/physical-device 8:11 /local/domain/4/vm /vm/vm-4
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd3/4/768" ]
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -T vbd -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "-B scans another base, given absolute" {
	blk sdb1 8 17
	mountinfo_empty
	xenstore-write /local/domain/0/alt/vbd/4/768/physical-device 8:11 /local/domain/4/vm /vm/vm-4
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -B /local/domain/0/alt -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 /local/domain/0/alt/vbd/4/768" ]
}

# --- read and write modes --------------------------------------------------

@test "a reader does not conflict with another reader" {
	blk sdb1 8 17
	mountinfo_empty
	backend 2 768 physical-device 8:11 mode r
	run --separate-stderr xs-stat-path -c -m r -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a reader conflicts with a writer, whose mode is canonicalised" {
	blk sdb1 8 17
	mountinfo_empty
	backend 2 768 physical-device 8:11 mode rw
	run --separate-stderr xs-stat-path -c -m ro -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/768" ]
}

@test "a reader does not conflict with a writer that asked for no checks (w!)" {
	blk sdb1 8 17
	mountinfo_empty
	backend 2 768 physical-device 8:11 mode 'w!'
	run --separate-stderr xs-stat-path -c -m r -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a writer conflicts with another reader" {
	blk sdb1 8 17
	mountinfo_empty
	backend 2 768 physical-device 8:11 mode r
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/768" ]
}

# --- same VM ---------------------------------------------------------------

@test "two backends of the same VM may share a device" {
	blk sdb1 8 17
	mountinfo_empty
	xenstore-write /local/domain/1/vm /vm/abc /local/domain/2/vm /vm/abc
	backend 1 51712 physical-device-path "$XHP_TMP/sdb1"
	backend 2 768 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a different VM conflicts even when an earlier backend was exempt" {
	blk sdb1 8 17
	mountinfo_empty
	xenstore-write /local/domain/1/vm /vm/abc /local/domain/2/vm /vm/abc /local/domain/3/vm /vm/def
	backend 1 51712
	backend 2 768 physical-device 8:11
	backend 3 768 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/3/768" ]
}

@test "a backend whose domain has no vm any more (being destroyed) is exempt" {
	blk sdb1 8 17
	mountinfo_empty
	backend 1 51712
	xenstore-write backend/vbd/5/768/physical-device 8:11 backend/vbd/5/768/mode w
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a vm or target we may not read (EACCES, a driver domain) counts as absent" {
	blk sdb1 8 17
	mountinfo_empty
	backend 1 51712
	backend 2 768 physical-device 8:11
	xenstore-write /local/domain/2/target 3 /local/domain/3/vm /vm/vm-3
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/768" ]
	# Refused: another domain's target, our own vm; still a conflict.
	for node in /local/domain/2/target /local/domain/1/vm; do
		run "$XHP_TOP/build/tests/xsraw" "CONTROL:fault-read\\0$node\\0"
		[ "$output" = 'CONTROL OK\0' ]
		run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
		[ "$status" -eq 1 ]
		[ "$output" = "guest 8:11 backend/vbd/2/768" ]
		[ -z "$stderr" ]
	done
	# Refused: the other domain's vm, which exempts as a missing one does.
	"$XHP_TOP/build/tests/xsraw" 'CONTROL:fault-read\0/local/domain/2/vm\0'
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "our vm equal to the other's plus -1 is the same VM, but not the reverse" {
	blk sdb1 8 17
	mountinfo_empty
	xenstore-write /local/domain/1/vm /vm/abc-1 /local/domain/2/vm /vm/abc
	backend 1 51712
	backend 2 768 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	xenstore-write /local/domain/1/vm /vm/abc /local/domain/2/vm /vm/abc-1
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/768" ]
}

@test "a stubdomain shares with its target guest, from either side" {
	blk sdb1 8 17
	mountinfo_empty
	# domain 1 is our frontend, a stubdomain serving guest 2
	xenstore-write /local/domain/1/vm /vm/stub /local/domain/1/target 2 /local/domain/2/vm /vm/guest
	backend 1 51712
	backend 2 768 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	# other side: we are guest 2, domain 1 (the stubdomain) holds it
	run --separate-stderr xs-stat-path -c -m w -s backend/vbd/2/768 -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	# an unrelated stubdomain is not exempt
	xenstore-write /local/domain/1/target 6 /local/domain/6/vm /vm/else
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/768" ]
}

@test "without our frontend-id only a vm-less domain is exempt" {
	blk sdb1 8 17
	mountinfo_empty
	xenstore-write /local/domain/2/vm /vm/abc /local/domain/1/vm /vm/abc
	backend 2 768 physical-device 8:11
	run --separate-stderr xs-stat-path -c -m w -s backend/vbd/9/1 -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "guest 8:11 backend/vbd/2/768" ]
}

# --- dom0 mounts ------------------------------------------------------------

# mnt MAJ:MIN MOUNTPOINT MNTOPTS SOURCE SBOPTS: one mountinfo line.
mnt() {
	printf '30 1 %s / %s %s shared:1 - ext4 %s %s\n' "$1" "$2" "$3" "$4" "$5" >> "$XHP_TMP/mountinfo"
}

@test "a read-write dom0 mount conflicts with both modes" {
	blk sdb1 8 17
	mountinfo_empty
	mnt 8:1 / rw,relatime /dev/sda1 rw
	mnt 8:17 /srv/my\\040data rw,relatime /dev/sdb1 rw,errors=remount-ro
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = 'local 8:11 /srv/my\040data' ]
	[ -z "$stderr" ]
	run --separate-stderr xs-stat-path -c -m r -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = 'local 8:11 /srv/my\040data' ]
}

@test "a read-only dom0 mount conflicts with w only" {
	blk sdb1 8 17
	mountinfo_empty
	mnt 8:17 /mnt ro,relatime /dev/sdb1 ro
	run --separate-stderr xs-stat-path -c -m r -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "local 8:11 /mnt" ]
}

@test "a read-only bind of a read-write filesystem still conflicts with r" {
	blk sdb1 8 17
	mountinfo_empty
	mnt 8:17 /ro-view ro,relatime /dev/sdb1 rw
	run --separate-stderr xs-stat-path -c -m r -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "local 8:11 /ro-view" ]
}

@test "a mount with major 0 is matched through its source device" {
	blk sdb1 8 17
	mountinfo_empty
	mnt 0:45 /data rw "$XHP_TMP/sdb1" rw,space_cache
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "local 8:11 /data" ]
}

@test "mountinfo can come from stdin, with 0:0 and the source to stat (NetBSD script)" {
	blk sdb1 8 17
	# shellcheck disable=SC2016 # $1 expands in the inner shell
	run --separate-stderr sh -c 'printf "1 1 0:0 / /home rw - ffs %s rw\n" "$1" |
		xs-stat-path -c -m r -s backend/vbd/1/51712 -M /dev/stdin -o netbsd "$1"' sh "$XHP_TMP/sdb1"
	[ "$status" -eq 1 ]
	[ "$output" = "local 2065 /home" ]
	[ -z "$stderr" ]
}

@test "mounts of other devices and malformed lines are ignored" {
	blk sdb1 8 17
	mountinfo_empty
	mnt 8:16 /whole rw /dev/sdb rw
	echo 'garbage 8:17 line' >> "$XHP_TMP/mountinfo"
	mnt 0:22 /proc rw proc rw
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "an unreadable mountinfo is a system failure" {
	blk sdb1 8 17
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/none" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-stat-path: fatal: unable to open $XHP_TMP/none: No such file or directory" ]
}

@test "the real /proc/self/mountinfo is read by default" {
	# The root filesystem's device is mounted read-write here.
	root=$(awk '$5 == "/" { print $3; exit }' /proc/self/mountinfo)
	maj=${root%:*} min=${root#*:}
	[ "$maj" -ne 0 ] || skip "root filesystem has no real block device"
	blk root "$maj" "$min"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" "$XHP_TMP/root"
	[ "$status" -eq 1 ]
	[[ "$output" == "local $(printf '%x:%x' "$maj" "$min") "* ]]
}

# --- image files and loop devices -------------------------------------------

@test "an image file conflicts with a guest using a loop device over it" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img"
	l=$(loop "$XHP_TMP/disk.img")
	mountinfo_empty
	backend 2 768 physical-device "$(hexmm "$l")" params "$XHP_TMP/disk.img"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/disk.img"
	[ "$status" -eq 1 ]
	[ "$output" = "guest $(hexmm "$l") backend/vbd/2/768" ]
}

@test "the same image file by a symlink or a hard link is the same file" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img"
	ln -s disk.img "$XHP_TMP/sym.img"
	ln "$XHP_TMP/disk.img" "$XHP_TMP/hard.img"
	l=$(loop "$XHP_TMP/hard.img")
	mountinfo_empty
	backend 2 768 physical-device-path "$l"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sym.img"
	[ "$status" -eq 1 ]
	[ "$output" = "guest $(hexmm "$l") backend/vbd/2/768" ]
}

@test "-i DEVHEX:INO finds the loop devices over that file" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img"
	l=$(loop "$XHP_TMP/disk.img")
	mountinfo_empty
	backend 2 768 physical-device "$(hexmm "$l")"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" \
		-i "$(stat -c %D "$XHP_TMP/disk.img"):$(stat -c %i "$XHP_TMP/disk.img")"
	[ "$status" -eq 1 ]
	[ "$output" = "guest $(hexmm "$l") backend/vbd/2/768" ]
}

@test "a loop device target conflicts with another loop device over the same file" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img"
	l1=$(loop "$XHP_TMP/disk.img")
	l2=$(loop "$XHP_TMP/disk.img")
	mountinfo_empty
	backend 2 768 physical-device "$(hexmm "$l1")"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$l2"
	[ "$status" -eq 1 ]
	[ "$output" = "guest $(hexmm "$l1") backend/vbd/2/768" ]
}

@test "a loop device target conflicts with a backend whose path is the image file" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img"
	l=$(loop "$XHP_TMP/disk.img")
	mountinfo_empty
	backend 2 768 physical-device-path "$XHP_TMP/disk.img"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$l"
	[ "$status" -eq 1 ]
	[[ "$output" == "guest "*" backend/vbd/2/768" ]]
}

@test "an image file mounted in dom0 through a loop device conflicts" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img"
	l=$(loop "$XHP_TMP/disk.img")
	mountinfo_empty
	mnt "$(printf '%d:%d' "$(stat -c '0x%t' "$l")" "$(stat -c '0x%T' "$l")")" /mnt/img rw "$l" rw
	run --separate-stderr xs-stat-path -c -m r -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/disk.img"
	[ "$status" -eq 1 ]
	[ "$output" = "local $(hexmm "$l") /mnt/img" ]
}

@test "a different image file with its own loop device is ok" {
	require_root
	truncate -s 1M "$XHP_TMP/disk.img" "$XHP_TMP/other.img"
	l=$(loop "$XHP_TMP/other.img")
	mountinfo_empty
	backend 2 768 physical-device "$(hexmm "$l")" physical-device-path "$l"
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/disk.img"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "a target that is neither a block device nor a regular file is refused" {
	mountinfo_empty
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-stat-path: fatal: $XHP_TMP is not a block device or a regular file" ]
}

@test "a missing target is exit 1" {
	mountinfo_empty
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/nope"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "xs-stat-path: fatal: unable to stat $XHP_TMP/nope: No such file or directory" ]
}

@test "a dead xenstore is a system failure" {
	blk sdb1 8 17
	mountinfo_empty
	xsd_stop
	run --separate-stderr xs-stat-path -c -m w -s "$SELF" -M "$XHP_TMP/mountinfo" "$XHP_TMP/sdb1"
	[ "$status" -eq 111 ]
	[ -z "$output" ]
	[[ "$stderr" == "xs-stat-path: fatal: unable to connect to xenstore: "* ]]
}
