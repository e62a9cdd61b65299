#!/usr/bin/env bash
# scripts/test.sh — set everything up and run the whole test suite: a
# -Werror build with every test, the release build (what scripts/run.sh
# builds) with -Werror and the event tests, every test under ASan+UBSan, the
# threaded tests under ThreadSanitizer, and (with FUZZ_SECONDS > 0, default 20
# under CI) new libFuzzer runs per target.
# Ends with one line "N passed, N failed" counted from meson's test logs; a
# build that fails counts as a failure, skipped tests are listed on stderr
# (a skip is not a pass) and phase times too.
set -uo pipefail
cd "$(dirname "$0")/.."

phase_times=()
phase_start=$SECONDS
phase_end() { # name: record the time since the previous phase ended
	phase_times+=("$1 $((SECONDS - phase_start))s")
	phase_start=$SECONDS
}

if ! ./scripts/setup.sh build >/tmp/chatjournal-setup.log 2>&1; then
	cat /tmp/chatjournal-setup.log >&2
	echo "0 passed, 1 failed"
	exit 1
fi
phase_end setup

pass=0
fail=0
skipped=()
count() { # name, build dir: count results in its meson testlog.json
	local name="$1" log="$2/meson-logs/testlog.json" p f
	[ -f "$log" ] || return 0
	local out
	out=$(python3 - "$log" <<'PY'
import json, sys
p = f = 0
skips = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    res = r.get("result")
    if res in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif res == "SKIP":
        skips.append(r.get("name", "?"))
    else:
        f += 1
print(p, f)
for s in skips:
    print(s)
PY
	) || { fail=$((fail + 1)); echo "$name: cannot read $log" >&2; return; }
	read -r p f <<<"$(head -n 1 <<<"$out")"
	pass=$((pass + p))
	fail=$((fail + f))
	while IFS= read -r s; do
		[ -n "$s" ] && skipped+=("$name: $s")
	done < <(tail -n +2 <<<"$out")
	CJ_LAST_FAILED=$f
}

build() { # name, build dir, meson setup args...: 0 if built; a failure counts
	local name="$1" dir="$2"
	shift 2
	echo "== $name" >&2
	if [ ! -f "$dir/build.ninja" ]; then
		rm -rf "$dir" # a half-configured folder from an interrupted run
		if ! meson setup "$dir" -Dwerror=true "$@" >/dev/null; then
			echo "$name: meson setup failed" >&2
			fail=$((fail + 1))
			return 1
		fi
	fi
	if ! ninja -C "$dir" >/dev/null; then
		ninja -C "$dir" 2>&1 | tail -30 >&2
		echo "$name: build failed" >&2
		fail=$((fail + 1))
		return 1
	fi
}

run_tests() { # name, build dir, meson test args...: run and count
	local name="$1" dir="$2" rc
	shift 2
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" >&2
	rc=$?
	CJ_LAST_FAILED=0
	count "$name" "$dir"
	# meson test failing with no failed test in the log (a test name that no
	# longer exists, a crash of meson itself) is a failure too.
	if [ "$rc" -ne 0 ] && [ "$CJ_LAST_FAILED" -eq 0 ]; then
		echo "$name: meson test exited $rc" >&2
		fail=$((fail + 1))
	fi
}

if build plain build-ci --buildtype=debugoptimized; then
	run_tests plain build-ci
fi
phase_end plain

# The release configuration scripts/run.sh builds: gcc's -O2 flow analysis
# warns where -O1 (debugoptimized) does not, so -Werror must see it. Only the
# fast event tests (decoders, codec, corpus replays) run: the rest of the
# suite runs in the other configurations.
if build release build-ci-rel --buildtype=release; then
	run_tests release build-ci-rel --suite event
fi
phase_end release

if build asan+ubsan build-ci-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false; then
	# The power-loss loops and the damage test's flips run at half their
	# plain counts under ASan (about 2x slower there; the damage test took
	# 120 s of the suite's 25 minutes): the plain run keeps the full counts.
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		CJ_POWER_CYCLES=50 CJ_POWER_TORN_CYCLES=50 CJ_DAMAGE_FLIPS=100 CJ_DAMAGE_TARGETED=50 \
		run_tests asan+ubsan build-ci-asan
fi
phase_end asan+ubsan

# ThreadSanitizer on the tests where threads meet: concurrent appenders and
# idempotent retries from threads (component), the materializer thread against
# the tests' queries, readers and a replay in place (the projection suite),
# kill -9 during materialization with an appender thread in the child
# (crash/materialize), and the HTTP server's event loop, workers, sweeper and
# the library callbacks that resume its requests (http/*, cli-serve). Left
# out, both for timing assertions that TSan's slowdown breaks:
# crash/kill9, whose map-growth variant asserts that kills landed during map
# growth (0-18 growth cycles of 100 seen under TSan), and component/map, whose
# ceiling test asserts that an append refused as full is refused again (under
# TSan the retry succeeded in about 1 run in 6: space freed in between).
TSAN_TESTS=(component/concurrency component/idempotency component/health component/follow
	projection/effects projection/deletions projection/history projection/isolation
	projection/hostile_fts projection/replay projection/readers projection/damaged projection/catch_up
	projection/fts_side
	projection/regression/check-fts-content projection/regression/diff-uri-path
	projection/regression/replay-concurrent-readers projection/sqlite-utils
	crash/materialize http/robust http/attacks http/edges http/fuzz http/feed http/options http/read cli-serve cli
	compact/canary compact/two_process compact/two_process-negative crash/compact)
if build tsan build-ci-tsan --buildtype=debugoptimized -Db_sanitize=thread; then
	reports="$PWD/build-ci-tsan/tsan-reports"
	rm -rf "$reports"
	mkdir -p "$reports"
	# Reports go to files (one per process): children killed by the tests or
	# whose stderr a Python test swallows still leave theirs. No suppressions.
	tsan_opts="halt_on_error=1:log_path=$reports/tsan"
	wrapper=()
	# gcc 12's TSan cannot map its shadow memory under the 32 bits of mmap
	# randomization some kernels use ("unexpected memory mapping"): if a
	# TSan binary cannot even start, run the tests without ASLR.
	probe=build-ci-tsan/tools/chatjournal
	if ! TSAN_OPTIONS=halt_on_error=1 "$probe" --version >/dev/null 2>&1 &&
		TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R "$probe" --version >/dev/null 2>&1; then
		wrapper=(--wrapper "setarch $(uname -m) -R")
		echo "tsan: running without ASLR (setarch -R)" >&2
	fi
	# Fewer crash cycles (75, three fresh stores) on a smaller backlog than
	# the plain run's 300 x 20,000: TSan makes applying ~5x slower.
	TSAN_OPTIONS="$tsan_opts" CJ_CRASH_CYCLES=50 CJ_CRASH_MAT_EVENTS=5000 CJ_CRASH_COMPACT_CYCLES=30 \
		run_tests tsan build-ci-tsan "${wrapper[@]}" "${TSAN_TESTS[@]}"
	if compgen -G "$reports/tsan*" >/dev/null; then
		for r in "$reports"/tsan*; do
			echo "---- $r" >&2
			cat "$r" >&2
		done
		echo "tsan: $(ls "$reports" | wc -l) process(es) reported (files in $reports)" >&2
		fail=$((fail + 1))
	fi
fi
phase_end tsan

FUZZ_SECONDS="${FUZZ_SECONDS:-$([ "${CI:-}" = true ] && echo 20 || echo 0)}"
if [ "$FUZZ_SECONDS" -gt 0 ] && [ -x tests/fuzz/run-fuzz.sh ]; then
	echo "== fuzz ($FUZZ_SECONDS s per target)" >&2
	if tests/fuzz/run-fuzz.sh "$FUZZ_SECONDS" >&2; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
	phase_end fuzz
fi

if ((${#skipped[@]})); then
	echo "SKIPPED (${#skipped[@]}; a skip is not a pass):" >&2
	printf '  %s\n' "${skipped[@]}" >&2
fi
(IFS=,; echo "phase times: ${phase_times[*]}" | sed "s/,/, /g") >&2
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
