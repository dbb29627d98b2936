#!/usr/bin/env bash
# Sets up, builds with AddressSanitizer + UndefinedBehaviorSanitizer, and runs every test:
# the GoogleTest unit tests and the black-box tests against the real binary (with the real
# clients of docs/real-clients). Exit status is the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
(cd tests/blackbox && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
# -g1: line tables, all a sanitizer report needs to name file and line; full debug information
# (-g) costs a fifth more compile time and twice the object size.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPROVISIOND_SANITIZE=ON -DPROVISIOND_TESTS=ON \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
# The suites' failing tests (assertion and stack) are printed inside CTest's long output; they
# are collected here and printed again last, where the end of a CI log shows them.
export PROVISIOND_FAILURE_LOG="$PWD/failures"
rm -rf "$PROVISIOND_FAILURE_LOG" && mkdir -p "$PROVISIOND_FAILURE_LOG"
# Two tests at a time (CMakeLists.txt says which are long): ~35 minutes one by one on 2 cores.
status=0
ctest --output-on-failure --timeout 900 -j2 || status=$?
if [[ $status -ne 0 ]]; then
  for f in "$PROVISIOND_FAILURE_LOG"/*.txt; do
    [[ -e "$f" ]] || continue
    echo "=== failing tests of $(basename "$f" .txt)"
    head -60 "$f"
  done
fi
exit $status
