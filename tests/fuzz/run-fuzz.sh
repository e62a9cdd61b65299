#!/bin/sh
# tests/fuzz/run-fuzz.sh SECONDS — build the libFuzzer harnesses with clang in
# build-fuzz/ (library instrumented for coverage, ASan+UBSan) and run each for
# SECONDS over a scratch copy of its committed corpus. The committed corpus is
# never modified; new interesting inputs and crash files stay in the scratch
# dir, whose path is printed. Exit status: 0 if no harness found anything.
set -eu

secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CJ_FUZZ_BUILD:-$root/build-fuzz}
work=$(mktemp -d "${TMPDIR:-/tmp}/cj-fuzz.XXXXXX")

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$root" -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
		-Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined"
fi
targets="record_decode event_json fts_query http_body read_params feed export import_jsonl import_slack import_slack_zip import_discord import_chatgpt import_tape"
ninja -C "$build" $(for h in $targets; do printf 'tests/fuzz/fuzz_%s ' "$h"; done)

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=64

status=0
for h in $targets; do
	mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
	cp "$root/tests/fuzz/corpus/$h/"* "$work/$h/corpus/"
	echo "== fuzz_$h for ${secs}s (scratch: $work/$h)"
	if ! "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" \
		-rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/$h/artifacts/" "$work/$h/corpus" \
		> "$work/$h/log.txt" 2>&1; then
		echo "fuzz_$h FOUND A PROBLEM: see $work/$h/log.txt and $work/$h/artifacts/"
		tail -n 40 "$work/$h/log.txt"
		status=1
	else
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' "$work/$h/log.txt" | tail -n 3
	fi
done
echo "scratch corpora and logs: $work"
exit $status
