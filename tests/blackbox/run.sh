#!/usr/bin/env bash
# Black-box suite for provisiond. Installs nothing: run `npm ci` here first (the setup script does).
# Usage: tests/blackbox/run.sh [test files…]   (PROVISIOND_BIN overrides ../../build/provisiond)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NODE=node_modules/.bin/node
if [[ ! -x "$NODE" ]]; then
  echo "tests/blackbox: $NODE is missing; run 'npm ci' in tests/blackbox" >&2
  exit 2
fi
# Many servers run at once: each gets its admin listener on a port the kernel picks.
export PROVISIOND_ADMIN_LISTEN="${PROVISIOND_ADMIN_LISTEN:-127.0.0.1:0}"
export PROVISIOND_BIN="${PROVISIOND_BIN:-$(pwd)/../../build/provisiond}"
# PROVISIOND_TEST_BACKEND=postgres: the whole suite on a throwaway PostgreSQL cluster (one
# database per server), started here and removed at the end.
source ../pg/backend.sh
if [[ $# -eq 0 ]]; then
  set -- *.test.mjs
fi
# TAP on stdout; the spec reporter's summary into a file, whose list of failing tests is printed
# last, so that the end of a long log names what failed.
summary=$(mktemp /tmp/provisiond-bb-summary-XXXXXX)
status=0
"$NODE" --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=180000 \
  --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=spec --test-reporter-destination="$summary" "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "# tests/blackbox (${PROVISIOND_TEST_BACKEND:-sqlite}): failing tests"
  sed -n '/failing tests:/,$p' "$summary" | head -200 || true # head may close the pipe early
  # scripts/test.sh prints these again after CTest, at the very end of the CI log.
  if [[ -n "${PROVISIOND_FAILURE_LOG:-}" ]]; then
    sed -n '/failing tests:/,$p' "$summary" >"$PROVISIOND_FAILURE_LOG/blackbox-${PROVISIOND_TEST_BACKEND:-sqlite}.txt" || true
  fi
fi
rm -f "$summary"
exit $status
