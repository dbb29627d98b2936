#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL cluster: starts one (tests/pg/cluster.sh) in a
# temporary directory, exports its URL as PROVISIOND_TEST_PG_URL, runs the command, and stops and
# removes the cluster however the command ends. Exits with the command's status.
#   tests/pg/with-cluster.sh build/storage_conformance [--gtest_filter=…]
# With PROVISIOND_TEST_PG_URL already set, the command runs against that server instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -eq 0 ]]; then
  echo "usage: tests/pg/with-cluster.sh COMMAND [ARGS…]" >&2
  exit 2
fi

if [[ -z "${PROVISIOND_TEST_PG_URL:-}" ]]; then
  pgdir=$(mktemp -d "${TMPDIR:-/tmp}/provisiond-pg-XXXXXX")
  trap 'bash "$here/cluster.sh" stop "$pgdir"' EXIT
  # A signal ends the script through `exit`, so that the EXIT trap stops the cluster.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  PROVISIOND_TEST_PG_URL=$(bash "$here/cluster.sh" start "$pgdir")
  export PROVISIOND_TEST_PG_URL
  echo "# PostgreSQL at $PROVISIOND_TEST_PG_URL (cluster in $pgdir)" >&2
fi

status=0
"$@" || status=$?
exit "$status"
