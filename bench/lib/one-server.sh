# shellcheck shell=bash
# Sourced by profile.sh, wal-frames.sh and pg-wal.sh: one `provisiond serve` on a fresh database
# (a SQLite file in DIR, or the PostgreSQL database given), with the partner client `bench` and
# every limit unlimited, on free loopback ports. (run.sh has its own pvd_init/pvd_start: it runs
# many servers per run.)
#
#   start_one_server PROVISIOND DIR [DATABASE_URL]
#                     # sets DB, PORT, ADMIN_PORT and SERVER_PID; logs to DIR/serve.log

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
