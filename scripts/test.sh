#!/usr/bin/env bash
# scripts/test.sh — set everything up and run the whole test suite: a
# -Werror build with every test, the same under ASan+UBSan, and (with
# FUZZ_SECONDS > 0, default 60 under CI) new libFuzzer runs per target.
# Ends with one line "N passed, N failed" counted from meson's test logs.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! ./scripts/setup.sh build >/tmp/chatjournal-setup.log 2>&1; then
	cat /tmp/chatjournal-setup.log >&2
	echo "0 passed, 1 failed"
	exit 1
fi

pass=0
fail=0
count() { # count results in a meson testlog.json
	local log="$1/meson-logs/testlog.json"
	[ -f "$log" ] || return 0
	read -r p f < <(python3 - "$log" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r != "SKIP":
        f += 1
print(p, f)
PY
)
	pass=$((pass + p))
	fail=$((fail + f))
}

suite() { # name, build dir, meson args...
	local name="$1" dir="$2"
	shift 2
	echo "== $name" >&2
	if [ ! -f "$dir/build.ninja" ]; then
		rm -rf "$dir"
		meson setup "$dir" -Dwerror=true "$@" >/dev/null || { fail=$((fail + 1)); return; }
	fi
	if ! ninja -C "$dir" >/dev/null; then
		ninja -C "$dir" 2>&1 | tail -30 >&2
		echo "$name: build failed" >&2
		fail=$((fail + 1))
		return
	fi
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs --num-processes 2 >&2
	count "$dir"
}

suite plain build-ci --buildtype=debugoptimized
ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	suite asan+ubsan build-ci-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

FUZZ_SECONDS="${FUZZ_SECONDS:-$([ "${CI:-}" = true ] && echo 60 || echo 0)}"
if [ "$FUZZ_SECONDS" -gt 0 ] && [ -x tests/fuzz/run-fuzz.sh ]; then
	echo "== fuzz ($FUZZ_SECONDS s per target)" >&2
	if tests/fuzz/run-fuzz.sh "$FUZZ_SECONDS" >&2; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
