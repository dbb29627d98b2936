#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suites, from Debian's postgresql package: no system
# service, its own directory and port, gone after `stop`.
#   tests/pg/cluster.sh start DIR   → initdb + start; prints the server's URL (postgresql://…:PORT)
#   tests/pg/cluster.sh stop DIR    → stop and remove DIR
#   tests/pg/cluster.sh url DIR     → the URL again
#   tests/pg/cluster.sh pause DIR   → stop the server, keep its data (fault tests: database gone)
#   tests/pg/cluster.sh resume DIR  → start it again on the same port
# PG_SETTINGS: more server options for start and resume, e.g. "-c fsync=on" (the bench's clusters:
# durable, as in production); they come after the test defaults below, and the last one wins.
# initdb refuses to run as root: as root the cluster runs as `nobody`.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop|url DIR}
dir=${2:?usage: cluster.sh start|stop|url DIR}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [[ -z "$PGBIN" || ! -x "$PGBIN/initdb" ]]; then
  echo "tests/pg/cluster.sh: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 2
fi
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# fsync off: a test cluster is thrown away; max_connections for many servers at once.
server_options() {
  echo "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 -c shared_buffers=32MB ${PG_SETTINGS:-}"
}

case "$cmd" in
start)
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown nobody "$dir"
  chmod 700 "$dir"
  as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # A free port: try a few random ones (pg_ctl fails fast when the port is taken).
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    if as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "$(server_options "$port")" \
      start >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      echo "postgresql://postgres@127.0.0.1:$port"
      exit 0
    fi
  done
  echo "tests/pg/cluster.sh: could not start PostgreSQL; its log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
  ;;
pause)
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
resume)
  port=$(cat "$dir/port")
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "$(server_options "$port")" \
    start >/dev/null
  ;;
url)
  echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")"
  ;;
stop)
  if [[ -d "$dir/data" ]]; then
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: cluster.sh start|stop|url|pause|resume DIR" >&2
  exit 2
  ;;
esac
