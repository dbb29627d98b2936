#!/usr/bin/env bash
# Builds the CIMD libFuzzer target with clang (libFuzzer is clang's) and runs it for a bounded
# time from the checked-in corpus. Usage: tests/fuzz/run.sh [seconds] (default 30).
# Compiles only the sources the parsers need, so it does not depend on the main (GCC) build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(cd ../.. && pwd)
SECONDS_TO_RUN=${1:-30}
OUT=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
mkdir -p "$OUT" "$OUT/corpus"
CXX=${FUZZ_CXX:-clang++-14}
SOURCES=(
  "$ROOT/src/cimd/client_id_url.cpp" "$ROOT/src/cimd/client_metadata.cpp" "$ROOT/src/cimd/address_policy.cpp"
  "$ROOT/src/oauth/scopes.cpp" "$ROOT/src/core/strings.cpp" "$ROOT/src/core/unicode.cpp" "$ROOT/src/core/error.cpp"
  "$ROOT/src/core/url.cpp"
  cimd_fuzz.cpp
)
BIN="$OUT/cimd_fuzz"
if [[ ! -x "$BIN" ]] || [[ -n "$(find "${SOURCES[@]}" "$ROOT/src/cimd" -newer "$BIN" 2>/dev/null | head -1)" ]]; then
  "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT/src" -DBOOST_JSON_DYN_LINK -DBOOST_URL_DYN_LINK "${SOURCES[@]}" \
    -lboost_json -lboost_url -lunistring -o "$BIN"
fi
# New inputs go to the build directory; the checked-in corpus stays as it is.
exec "$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=6000 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$OUT/" "$OUT/corpus" corpus
