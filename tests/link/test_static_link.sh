#!/usr/bin/env bash
# tests/link/test_static_link.sh — the core library links statically from
# what `pkg-config --static` says: install the build into a temporary
# folder, build tests/link/client.c with -static and the flags of the
# installed chatjournal.pc, run it, and check the HTTP service's .pc is
# there and names the core as a requirement.
# Usage: test_static_link.sh BUILD_ROOT SOURCE_ROOT [SANITIZERS]
# In a sanitized build (SANITIZERS, meson's b_sanitize, not "none") the
# archive holds instrumented code: the client is compiled with the same
# -fsanitize and links libchatjournal.a and the .pc's static line, but not
# -static (the sanitizer runtimes do not support a fully static program).
set -euo pipefail
build="$1" src="$2" san="${3:-none}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cjtest-link.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pcdir=$(dirname "$(find "$tmp/root" -name chatjournal.pc | head -n 1)")
[ -f "$pcdir/chatjournal.pc" ] || { echo "no chatjournal.pc installed"; exit 1; }
[ -f "$pcdir/chatjournal-http.pc" ] || { echo "no chatjournal-http.pc installed"; exit 1; }
# The .pc files name the install prefix: read them through the destdir as a
# sysroot (system libraries' -L/-I then point at absent folders, harmless).
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
pc() { pkg-config "$@"; }
if pc --static --libs chatjournal | grep -q microhttpd; then
	echo "the core library's static link line names libmicrohttpd: $(pc --static --libs chatjournal)"
	exit 1
fi
pc --print-requires chatjournal-http | grep -qx chatjournal || {
	echo "chatjournal-http.pc does not require chatjournal"; exit 1; }
# -static: every dependency from its .a (glibc warns about dlopen in SQLite).
mode=(-static)
[ "$san" = none ] || mode=("-fsanitize=$san")
libdir=$(pc --variable=libdir chatjournal)
cc -std=c11 -o "$tmp/client" "$src/tests/link/client.c" $(pc --cflags chatjournal) "${mode[@]}" \
	"$libdir/libchatjournal.a" $(pc --static --libs chatjournal | sed 's/-lchatjournal//') \
	2>"$tmp/ld.log" || { cat "$tmp/ld.log"; exit 1; }
if [ "$san" = none ] && file "$tmp/client" | grep -q 'dynamically linked'; then
	echo "client is dynamically linked"; exit 1
fi
if ldd "$tmp/client" 2>/dev/null | grep -q libchatjournal; then
	echo "client loads libchatjournal.so: the archive was not linked"; exit 1
fi
out=$("$tmp/client" "$tmp/store")
[ "$out" = "$(pc --modversion chatjournal) 1" ] || { echo "client printed '$out'"; exit 1; }
echo "static client: $out"
