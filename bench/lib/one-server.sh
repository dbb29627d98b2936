# shellcheck shell=bash
# Sourced by profile.sh, wal-frames.sh and pg-wal.sh: one `provisiond serve` on a fresh database
# (a SQLite file in DIR, or the PostgreSQL database given), with the partner client `bench` and
# every limit unlimited, on free loopback ports. (run.sh has its own pvd_init/pvd_start: it runs
# many servers per run.)
#
#   start_one_server PROVISIOND DIR [DATABASE_URL]
#                     # sets DB, PORT, ADMIN_PORT and SERVER_PID; logs to DIR/serve.log
#   make_pool refresh|code N FILE
#                     # what the token requests spend, in FILE: N refresh tokens, each the start
#                     # of its own family, through the API; or N "CODE VERIFIER" lines whose rows
#                     # are written straight into DB (prep.mjs pvd-codes, as run.sh's code
#                     # workload has them). Runs prep.mjs with $NODE, or the system's node.
#   run_wrk refresh|code CLIENTS SECONDS FILE
#                     # wrk's token workload against the server, on the pool in FILE; prints
#                     # wrk's Requests/sec line

HERE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_one_server() {
  local provisiond=$1 dir=$2 ep
  DB=${3:-$dir/p.db}
  "$provisiond" migrate --database "$DB" > /dev/null
  "$provisiond" clients add --database "$DB" --client-id bench --name Bench \
    --redirect-uri https://bench.example/cb --scopes "project:read user:read" > /dev/null
  for ep in account_requests token_exchanges resource_creates; do
    "$provisiond" clients set-limit --database "$DB" bench "$ep" unlimited > /dev/null
  done
  PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  (cd "$dir" && exec "$provisiond" serve --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --public-url "http://127.0.0.1:$PORT" --database "$DB" --outbox-dir "$dir/outbox" --log-level warn) \
    > "$dir/serve.log" 2>&1 &
  # shellcheck disable=SC2034 # read by the scripts that source this file
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/_ready" || true)" == 200 ]] && return 0
    sleep 0.1
  done
  echo "provisiond did not become ready; its log:" >&2
  tail -30 "$dir/serve.log" >&2
  return 1
}

make_pool() {
  local mode=$1 n=$2 file=$3 prep=$HERE_LIB/../prep.mjs
  if [[ $mode == refresh ]]; then
    "${NODE:-node}" "$prep" refresh --server provisiond --target "http://127.0.0.1:$PORT" --n "$n" --out "$file" > /dev/null
    return
  fi
  "${NODE:-node}" "$prep" pvd-codes --n "$n" --project-start 1 --sql "$file.sql" --out "$file" > /dev/null
  if [[ $DB == postgres* ]]; then
    psql -X -q -v ON_ERROR_STOP=1 "$DB" -f "$file.sql" > /dev/null
    psql -X -q -v ON_ERROR_STOP=1 "$DB" -c "SELECT setval(pg_get_serial_sequence('projects', 'id'), (SELECT max(id) FROM projects))" > /dev/null
  else
    sqlite3 "$DB" ".timeout 10000" ".read $file.sql"
  fi
}

run_wrk() {
  local mode=$1 clients=$2 seconds=$3 file=$4 threads
  threads=$((clients < 2 ? 1 : 2))
  WRK_MODE=$mode WRK_FILE=$file WRK_THREADS=$threads WRK_CONNECTIONS=$clients WRK_CLIENT_ID=- WRK_OUT=$file.wrk.json \
    wrk -t "$threads" -c "$clients" -d "${seconds}s" --timeout 10s -s "$HERE_LIB/../wrk/token.lua" "http://127.0.0.1:$PORT/oauth/token" \
    | grep -E "Requests/sec" || true
}
