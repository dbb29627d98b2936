#!/usr/bin/env bash
# Shows that a layering break fails the build: configures a copy of the project with one
# forbidden include added (oauth/, a lower layer, including web/, a higher one) and expects
# CMake to stop with the layering message; then the unchanged copy must configure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d /tmp/provisiond-layering-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
cp -r "$root/CMakeLists.txt" "$root/cmake" "$root/tools" "$tmp/"
cp -r "$root/src/." "$tmp/src/"
mkdir -p "$tmp/docs" && cp "$root/docs/openapi.json" "$tmp/docs/"
configure() { cmake -S "$tmp" -B "$tmp/build" -DPROVISIOND_TESTS=OFF >"$tmp/configure.log" 2>&1; }

sed -i '1a #include "web/page.hpp"' "$tmp/src/oauth/pkce.cpp"
if configure; then
  echo "FAIL: a forbidden include (oauth/pkce.cpp → web/page.hpp) configured without error" >&2
  exit 1
fi
grep -q 'layering: src/oauth/pkce.cpp includes "web/…"' "$tmp/configure.log" || {
  echo "FAIL: configuration failed, but not with the layering message:" >&2
  cat "$tmp/configure.log" >&2
  exit 1
}
echo "ok: oauth/pkce.cpp including web/page.hpp stops the build:"
grep -A3 "layering:" "$tmp/configure.log" | sed 's/^/    /'

cp "$root/src/oauth/pkce.cpp" "$tmp/src/oauth/pkce.cpp"
rm -rf "$tmp/build"
touch "$tmp/src/oauth/stray.cpp"
if configure; then
  echo "FAIL: a .cpp in no SOURCES list configured without error" >&2
  exit 1
fi
grep -q "src/oauth/stray.cpp is in no library" "$tmp/configure.log" || { cat "$tmp/configure.log" >&2; exit 1; }
echo "ok: a source file no library lists stops the build"

rm "$tmp/src/oauth/stray.cpp"
rm -rf "$tmp/build"
configure || { echo "FAIL: the unchanged copy does not configure:" >&2; cat "$tmp/configure.log" >&2; exit 1; }
echo "ok: the unchanged copy configures"
