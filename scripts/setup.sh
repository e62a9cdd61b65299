#!/usr/bin/env bash
# scripts/setup.sh — install the Debian packages chatjournal builds and tests
# with (only those missing; apt-get update once), then configure and build
# into build/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential meson ninja-build pkg-config clang
      liblmdb-dev libsqlite3-dev libmsgpack-dev libxxhash-dev libjansson-dev
      libmicrohttpd-dev libcmocka-dev libclang-rt-14-dev
      python3 sqlite3 lmdb-utils
      libpq-dev       # the PostgreSQL sink (sink/)
      libarchive-dev  # a Slack export's .zip (import/)
      postgresql      # tests/sink/test_sink.py runs a throwaway server with its binaries
      tzdata      # time zone names are checked against it (docs/events.md, "Time zones")
      sqlite-utils  # tests/projection/test_sqlite_utils.py skips without it
      python3-yaml python3-jsonschema) # tests/http/test_openapi.py (docs/openapi.yaml), tests/cli/test_export.py (docs/schemas/)

# The clients' tests (tests/clients): pip install in a venv, node --test, tsc
# on the declarations; npm packs the Node client: Debian's npm, unless the
# node installed already brings its own (NodeSource's nodejs provides npm and
# conflicts with Debian's).
PKGS+=(python3-venv python3-setuptools python3-wheel nodejs node-typescript)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
	echo "setup: installing ${missing[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD="${1:-build}"
if [ ! -f "$BUILD/build.ninja" ]; then
	rm -rf "$BUILD" # a half-configured folder from an interrupted run
	meson setup "$BUILD" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" >/dev/null
echo "setup: built $BUILD/tools/chatjournal" >&2
