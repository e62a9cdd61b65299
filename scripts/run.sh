#!/usr/bin/env bash
# scripts/run.sh — set everything up and run the main job on the default
# store ./data. Until the HTTP service lands (issue 4) the main job is a
# short demo: init, append sample events, stats.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh build
CJ=build/tools/chatjournal
if [ ! -f data/chatjournal.conf ]; then
	$CJ init data
fi
$CJ append data tests/data/sample-events.jsonl
$CJ stats data
