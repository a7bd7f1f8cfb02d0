#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-only
# The fuzzers of tests/fuzz (make fuzz) against the library as it is now:
# each builds (clang-14, libFuzzer, ASan and UBSan; `make fuzz-build`) and
# replays its seed corpus without a finding, or, without seeds, a fixed
# number of inputs from a fixed seed. A module added to the library that a
# fuzzer's link list missed used to show only when someone ran make fuzz.

load ../test_helper

setup() {
	xhp_tmp
}

teardown() {
	rm -rf "$XHP_TMP"
}

@test "every fuzzer builds against the current library and replays its seeds clean" {
	command -v clang-14 >/dev/null || {
		echo "clang-14 is missing: .ci/run and README.md install it"
		return 1
	}
	B=$XHP_TMP/b
	make -C "$XHP_TOP" -s B="$B" fuzz-build >"$XHP_TMP/build.log" 2>&1 ||
		{ tail -n 30 "$XHP_TMP/build.log"; return 1; }
	n=0
	for f in "$B"/fuzz/*_fuzz "$B"/fuzz/args_fuzz_*; do
		[ -x "$f" ] || continue
		name=${f##*/}
		seeds=$XHP_TOP/tests/fuzz/corpus/${name%_fuzz}
		if [ -d "$seeds" ]; then
			set -- -runs=0 "$seeds"
		else
			set -- -runs=20000 -seed=1
		fi
		"$f" -rss_limit_mb=1024 -timeout=10 "$@" >"$XHP_TMP/$name.log" 2>&1 ||
			{ echo "$name:"; tail -n 30 "$XHP_TMP/$name.log"; return 1; }
		n=$((n + 1))
	done
	# Every fuzzer of tests/fuzz was built and run.
	[ "$n" -eq "$(find "$XHP_TOP/tests/fuzz" -maxdepth 1 -name '*.c' | wc -l)" ]
}
