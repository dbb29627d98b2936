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
if [[ $# -eq 0 ]]; then
  set -- *.test.mjs
fi
exec "$NODE" --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=180000 "$@"
