# Sourced by the suites' run.sh: with PROVISIOND_TEST_BACKEND=postgres (and no cluster given in
# PROVISIOND_TEST_PG_URL), start a throwaway PostgreSQL cluster for this run, export its URL and
# directory for harness.mjs, and remove it when the run ends.
if [[ "${PROVISIOND_TEST_BACKEND:-sqlite}" == postgres && -z "${PROVISIOND_TEST_PG_URL:-}" ]]; then
  _pg_script="$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
  PROVISIOND_TEST_PG_DIR=$(mktemp -d /tmp/provisiond-pg-XXXXXX)
  trap 'bash "$_pg_script" stop "$PROVISIOND_TEST_PG_DIR"' EXIT
  PROVISIOND_TEST_PG_URL=$(bash "$_pg_script" start "$PROVISIOND_TEST_PG_DIR")
  export PROVISIOND_TEST_PG_URL PROVISIOND_TEST_PG_DIR
  echo "# backend: PostgreSQL at $PROVISIOND_TEST_PG_URL" >&2
fi
