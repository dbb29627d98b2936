#!/usr/bin/env bash
# End-to-end suite for provisiond: real SMTP (aiosmtpd), headless Chromium (playwright-core), nginx
# with a throwaway CA for client metadata documents, openid-client and the MCP SDK as real clients.
# Installs nothing: run `npm ci` here first, and have the Debian packages chromium,
# python3-aiosmtpd, nginx and openssl installed.
# Usage: tests/e2e/run.sh [test files…]   (PROVISIOND_BIN overrides ../../build/provisiond;
#        SCREENSHOTS=1 saves page screenshots into docs/screenshots/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NODE=node_modules/.bin/node
if [[ ! -x "$NODE" ]]; then
  echo "tests/e2e: $NODE is missing; run 'npm ci' in tests/e2e" >&2
  exit 2
fi
if [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
  echo "tests/e2e: ${CHROMIUM_PATH:-/usr/bin/chromium} is missing (apt-get install -y chromium)" >&2
  exit 2
fi
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null && [[ -z "${SMTP_PYTHON:-}" ]]; then
  echo "tests/e2e: python3-aiosmtpd is missing (apt-get install -y python3-aiosmtpd)" >&2
  exit 2
fi
# Many servers run at once: each gets its admin listener on a port the kernel picks.
export PROVISIOND_ADMIN_LISTEN="${PROVISIOND_ADMIN_LISTEN:-127.0.0.1:0}"
export PROVISIOND_BIN="${PROVISIOND_BIN:-$(pwd)/../../build/provisiond}"
# PROVISIOND_TEST_BACKEND=postgres: every server on its own database of a throwaway cluster.
source ../pg/backend.sh
if [[ $# -eq 0 ]]; then
  set -- *.test.mjs
fi
# One file at a time: each starts Chromium, and the machine has two cores. A file gets three
# minutes, as in tests/blackbox: its run time while CTest runs another suite beside it, plus up to
# a minute of waiting for a rate-limit window to turn (avoidWindowBoundary). password_lifecycle
# takes 38 s alone on PostgreSQL and ran out of an earlier 90 s limit in CI.
summary=$(mktemp /tmp/provisiond-e2e-summary-XXXXXX)
status=0
"$NODE" --disable-warning=ExperimentalWarning --test --test-concurrency=1 --test-timeout=180000 \
  --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=spec --test-reporter-destination="$summary" "$@" || status=$?
if [[ $status -ne 0 ]]; then
  # Last, so that the end of a long log names what failed.
  echo "# tests/e2e (${PROVISIOND_TEST_BACKEND:-sqlite}): failing tests"
  sed -n '/failing tests:/,$p' "$summary" | head -200 || true # head may close the pipe early
  # scripts/test.sh prints these again after CTest, at the very end of the CI log.
  if [[ -n "${PROVISIOND_FAILURE_LOG:-}" ]]; then
    sed -n '/failing tests:/,$p' "$summary" >"$PROVISIOND_FAILURE_LOG/e2e-${PROVISIOND_TEST_BACKEND:-sqlite}.txt" || true
  fi
fi
rm -f "$summary"
exit $status
