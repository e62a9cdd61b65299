#!/usr/bin/env bash
# scripts/run.sh — set everything up and run the main job: the HTTP service
# (`chatjournal serve`) on the default store ./data, in the foreground, until
# Ctrl-C. A new store is created and loaded with the sample events; on the
# first start serve prints a read+write token and a curl line to try it.
# Extra arguments go to serve (e.g. --listen 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh build
CJ=build/tools/chatjournal
if [ ! -f data/chatjournal.conf ]; then
	$CJ init data
	$CJ append data tests/data/sample-events.jsonl
fi
exec "$CJ" serve data "$@"
