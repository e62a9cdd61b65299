#!/bin/sh
# tests/fuzz/run-fuzz.sh SECONDS — build the libFuzzer harnesses with clang in
# build-fuzz/ (library instrumented for coverage, ASan+UBSan) and run each for
# SECONDS over a scratch copy of its committed corpus, CJ_FUZZ_JOBS at a time
# (default: one per CPU). The committed corpus is
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

# One harness over its scratch corpus; its exit status left in $work/$h/rc.
run_one() {
	mkdir -p "$work/$1/corpus" "$work/$1/artifacts"
	cp "$root/tests/fuzz/corpus/$1/"* "$work/$1/corpus/"
	rc=0
	"$build/tests/fuzz/fuzz_$1" -max_total_time="$secs" \
		-rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/$1/artifacts/" "$work/$1/corpus" \
		> "$work/$1/log.txt" 2>&1 || rc=$?
	echo "$rc" > "$work/$1/rc"
}

# CJ_FUZZ_JOBS harnesses at a time (default: one per CPU; each is one
# thread), reported in order once each group ends.
jobs=${CJ_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
status=0
set -- $targets
while [ $# -gt 0 ]; do
	group=""
	n=0
	while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
		run_one "$1" &
		group="$group $1"
		n=$((n + 1))
		shift
	done
	wait
	for h in $group; do
		echo "== fuzz_$h for ${secs}s (scratch: $work/$h)"
		if [ "$(cat "$work/$h/rc" 2>/dev/null || echo 1)" != 0 ]; then
			echo "fuzz_$h FOUND A PROBLEM: see $work/$h/log.txt and $work/$h/artifacts/"
			tail -n 40 "$work/$h/log.txt"
			status=1
		else
			grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' "$work/$h/log.txt" | tail -n 3
		fi
	done
done
echo "scratch corpora and logs: $work"
exit $status
