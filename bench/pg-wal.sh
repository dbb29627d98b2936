#!/usr/bin/env bash
# What one token request costs PostgreSQL in WAL, and whether its updates stay HOT: wrk's refresh
# rotation (or PKCE code exchange) against one provisiond on a throwaway PostgreSQL cluster, then
# PostgreSQL's own counters over the window: WAL records, bytes and full-page images per request
# (pg_stat_wal) and, per table, rows inserted, updated, and updated in place (HOT: no new entry
# in any index, so neither index pages nor their full-page images reach the WAL;
# pg_stat_user_tables). Counts, not timings: they do not move with the machine's load, so they
# are what to compare when a schema change means to write less. Loopback only.
#
#   bash bench/pg-wal.sh [PROVISIOND] [refresh|code] [CLIENTS] [SECONDS]
#                     # defaults: build-release/provisiond, refresh, 8 clients, 6 s
#
# full_page_writes is on, as in production, and a CHECKPOINT starts the window, so each page's
# first change in it writes its full image, as the first change after every checkpoint does.
# fsync is off: it changes what the WAL costs in time, not what it holds. Needs PostgreSQL
# (scripts/setup.sh --test), wrk, and bench/run.sh's toolchain (node_modules).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PROVISIOND=$(realpath "${1:-$REPO/build-release/provisiond}")
MODE=${2:-refresh}
CLIENTS=${3:-8}
SECONDS_=${4:-6}
[[ $MODE == refresh || $MODE == code ]] || { echo "pg-wal: the second argument is refresh or code" >&2; exit 2; }
NODE=$HERE/node_modules/.bin/node
TMP=$(mktemp -d)
chmod 755 "$TMP" # the cluster runs as nobody when we are root
PG_DIR=$TMP/pg
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; bash "$REPO/tests/pg/cluster.sh" stop "$PG_DIR" 2>/dev/null || true; rm -rf "$TMP"' EXIT

# tests/pg/cluster.sh makes the cluster; its defaults are for tests (full_page_writes off).
URL=$(PG_SETTINGS="-c full_page_writes=on -c synchronous_commit=on -c shared_buffers=128MB" \
  bash "$REPO/tests/pg/cluster.sh" start "$PG_DIR")
psql -X -q "$URL/postgres" -c "CREATE DATABASE bench"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$URL/bench" "$@"; }

# shellcheck source-path=SCRIPTDIR source=lib/one-server.sh
source "$HERE/lib/one-server.sh"
start_one_server "$PROVISIOND" "$TMP" "$URL/bench"

if [[ $MODE == refresh ]]; then
  make_pool refresh $((CLIENTS * 3)) "$TMP/pool.txt"
  sleep 2 # the set-up's welcome emails leave the outbox before the window
else
  make_pool code $((SECONDS_ * 2000)) "$TMP/pool.txt"
fi
requests() {
  curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '/^provisiond_http_request_duration_seconds_count\{route="\/oauth\/token"\}/ { print $2 }'
}
sql -c "CHECKPOINT" -c "SELECT pg_stat_reset()" -c "SELECT pg_stat_reset_shared('wal')" > /dev/null
before=$(requests)
run_wrk "$MODE" "$CLIENTS" "$SECONDS_" "$TMP/pool.txt"
sleep 1 # the statistics collector's last report
n=$(($(requests) - before))
echo "$n $MODE requests at $CLIENTS clients"
sql -tA -c "SELECT format('WAL per request: %s records, %s bytes, %s full-page images (%s in all)',
                           round(wal_records::numeric / $n, 1), round(wal_bytes / $n),
                           round(wal_fpi::numeric / $n, 3), wal_fpi) FROM pg_stat_wal"
sql -c "SELECT relname AS table, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot,
               round(100.0 * n_tup_hot_upd / nullif(n_tup_upd, 0)) AS hot_pct
        FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd > 0 ORDER BY relname"
