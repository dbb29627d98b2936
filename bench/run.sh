#!/usr/bin/env bash
# One-command benchmark: provisiond vs node-oidc-provider, loopback only, stops by itself.
#
#   bash bench/run.sh
#
# Every (workload, clients) cell gets a server of its own: a new process on a new database (SQLite
# in a new temp dir, or a new PostgreSQL database), set up, measured, stopped. Set-up (token pools)
# happens before the measured window and leaves no background work in it (see README.md).
#
# Sections, in order:
#   sqlite   provisiond-refresh, provisiond-code (wrk), provisiond-flow (loadgen.mjs), fresh database
#   oidc     oidc-refresh, oidc-code (wrk) against oidc-server.mjs, stock and indexed memory adapter
#   scale    provisiond-refresh and -code on one SQLite database seeded by seed.sh with
#            SCALE_ACCOUNTS accounts and SCALE_FAMILIES token families (a new process per cell)
#   pg       provisiond-refresh and -code on PostgreSQL (a throwaway cluster from tests/pg/cluster.sh,
#            run durable), with one provisiond process and with two (one wrk per process)
#
# Environment (all optional):
#   PROVISIOND=path     provisiond binary (default: build-release/provisiond, else build/provisiond);
#                       missing → its workloads are skipped and the report says so
#   DURATION=10         measured seconds per cell         WARMUP=2   warm-up seconds per cell
#   LEVELS="1 8 32"     client counts                     SCALE_LEVELS, PG_LEVELS: default LEVELS
#   WORKLOADS="provisiond-refresh provisiond-code provisiond-flow oidc-refresh oidc-code"
#   OIDC_INDEXED=1      also run oidc-* against oidc-server --adapter indexed (0: skip)
#   SKIP_SCALE=0        1: no scale section               SKIP_PG=0   1: no PostgreSQL section
#   SCALE_ACCOUNTS=100000 SCALE_FAMILIES=1000000          PG_PROCS="1 2"
#   WRK_THREADS=1       wrk threads per wrk process (clients per wrk must be a multiple)
#   PVD_SERVE_ARGS=""   extra flags for `provisiond serve` (e.g. "--log-level warn")
#   RESULTS_DIR=bench/results  where latest.md / latest.jsonl go (point elsewhere for experiments)
#   QUIET_BUDGET=120    total seconds to wait, before cells, for other processes to go quiet
#   KEEP_TMP=1          keep the temp dir (databases, logs)
#
# Writes the Markdown report to stdout and RESULTS_DIR/latest.md, the raw JSON lines to
# RESULTS_DIR/latest.jsonl.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
if [[ -z "${PROVISIOND:-}" ]]; then
  PROVISIOND=$REPO/build-release/provisiond
  [[ -x $PROVISIOND ]] || PROVISIOND=$REPO/build/provisiond
fi
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
LEVELS=${LEVELS:-"1 8 32"}
SCALE_LEVELS=${SCALE_LEVELS:-$LEVELS}
PG_LEVELS=${PG_LEVELS:-$LEVELS}
PG_PROCS=${PG_PROCS:-"1 2"}
WORKLOADS=${WORKLOADS:-"provisiond-refresh provisiond-code provisiond-flow oidc-refresh oidc-code"}
OIDC_INDEXED=${OIDC_INDEXED:-1}
SKIP_SCALE=${SKIP_SCALE:-0}
SKIP_PG=${SKIP_PG:-0}
SCALE_ACCOUNTS=${SCALE_ACCOUNTS:-100000}
SCALE_FAMILIES=${SCALE_FAMILIES:-1000000}
WRK_THREADS=${WRK_THREADS:-1}
COMMAND="bash bench/run.sh${*:+ $*}"
for v in PROVISIOND DURATION WARMUP LEVELS SCALE_LEVELS PG_LEVELS PG_PROCS WORKLOADS OIDC_INDEXED SKIP_SCALE SKIP_PG \
  SCALE_ACCOUNTS SCALE_FAMILIES WRK_THREADS PVD_SERVE_ARGS QUIET_BUDGET; do
  # record non-default settings in the command line shown in the report
  if [[ "$(env | grep -c "^$v=")" -gt 0 ]]; then COMMAND="$v=\"${!v}\" $COMMAND"; fi
done

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

NODE=$HERE/node_modules/.bin/node
if [[ ! -x $NODE || ! -d $HERE/node_modules/oidc-provider || ! -d $HERE/node_modules/undici ]]; then
  log "installing bench dependencies (npm ci)…"
  (cd "$HERE" && npm ci --no-audit --no-fund >&2)
fi
if ! command -v wrk > /dev/null; then
  log "installing wrk (Debian package)…"
  if [[ $(id -u) == 0 ]]; then
    apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; }
  else
    sudo apt-get install -y wrk >&2 || { sudo apt-get update >&2 && sudo apt-get install -y wrk >&2; }
  fi
fi
command -v sqlite3 > /dev/null || { echo "run.sh: needs the sqlite3 CLI (scripts/setup.sh installs it)" >&2; exit 2; }

RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d /tmp/provisiond-bench.XXXXXX)
JSONL=$TMP/results.jsonl
: > "$JSONL"
SKIPPED=()
NOTES=()
PIDS=()
PG_DIR=""
SEED_JSON="null"
PG_INFO="null"
CELL=0
T_START=$(date +%s)

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $PG_DIR ]]; then bash "$REPO/tests/pg/cluster.sh" stop "$PG_DIR" || true; fi
  if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }
json_str() { "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").trim())'; }

stop_server() { # pid
  local pid=$1 i
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# best rate seen for a workload at a level (sizes code pools)
rate_of() { # workload level [variant] [database]
  "$NODE" -e '
    const [f, w, c, v, d] = process.argv.slice(1);
    const rows = require("fs").readFileSync(f, "utf8").split("\n").filter(Boolean).map(JSON.parse);
    const r = rows.find((r) => r.workload === w && String(r.concurrency) === c && (r.variant ?? "") === (v ?? "") && (r.database ?? "sqlite") === (d || "sqlite") && (r.processes ?? 1) === 1);
    console.log(r && r.iterations_per_s ? Math.round(r.iterations_per_s) : 0);' "$JSONL" "$1" "$2" "${3:-}" "${4:-}"
}
# codes to mint for SECONDS of code exchange at LEVEL: twice the rate of the matching refresh cell
# (or DEFAULT/s when there is none), at least 1000
pool_size() { # hint seconds default
  local hint=$1
  [[ $hint == 0 ]] && hint=$3
  echo $(((hint * 2 * $2) > 1000 ? hint * 2 * $2 : 1000))
}

# Busy CPU of the whole machine over one second minus that of the given processes, in % of one
# core (USER_HZ = 100).
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_pct() {
  local a b c d e f g h t0 p0=0 p1=0 pid
  for pid in "$@"; do p0=$((p0 + $(proc_ticks "$pid"))); done
  read -r _ a b c d e f g h _ < /proc/stat; t0=$((a + b + c + f + g + h))
  sleep 1
  read -r _ a b c d e f g h _ < /proc/stat
  for pid in "$@"; do p1=$((p1 + $(proc_ticks "$pid"))); done
  echo $(((a + b + c + f + g + h) - t0 - (p1 - p0)))
}
# Before each cell (servers idle), wait — within a total budget — until other processes are quiet.
QUIET_BUDGET=${QUIET_BUDGET:-120}
QUIET_WAITED=0
wait_quiet() { # server pids…
  local b
  b=$(busy_pct "$@")
  while ((b > 15 && QUIET_WAITED < QUIET_BUDGET)); do
    ((QUIET_WAITED % 10 == 0)) && log "  machine busy (${b}% of a core used by other processes); waiting (${QUIET_WAITED}/${QUIET_BUDGET} s used)"
    b=$(busy_pct "$@")
    QUIET_WAITED=$((QUIET_WAITED + 1))
  done
}

# ------------------------------------------------------------------ provisiond helpers
is_pg() { [[ $1 == postgres* ]]; }
db_query() { # db sql
  if is_pg "$1"; then psql -X -q -tA -v ON_ERROR_STOP=1 "$1" -c "$2"; else sqlite3 "$1" "$2"; fi
}
# After a bulk load, PostgreSQL gets the statistics that autovacuum would gather within a minute
# (a cell is shorter): without them it planned the code exchange's teams_of_user join as a hash
# join over a sequential scan of organizations (2.7 ms of PostgreSQL CPU per exchange).
db_exec_file() { # db file
  if is_pg "$1"; then
    psql -X -q -v ON_ERROR_STOP=1 "$1" -f "$2" > /dev/null && psql -X -q "$1" -c ANALYZE > /dev/null
  else
    sqlite3 "$1" < "$2" > /dev/null
  fi
}
# migrate + the partner client `bench` with every limit unlimited
pvd_init() { # db logfile
  local db=$1 out=$2 ep
  {
    PROVISIOND_DATABASE=$db "$PROVISIOND" migrate --database "$db" &&
      PROVISIOND_DATABASE=$db "$PROVISIOND" clients add --database "$db" --client-id bench --name Bench \
        --redirect-uri https://bench.example/cb --scopes "project:read user:read" &&
      for ep in account_requests token_exchanges resource_creates; do
        PROVISIOND_DATABASE=$db "$PROVISIOND" clients set-limit bench "$ep" unlimited || exit 1
      done
  } >> "$out" 2>&1 || { log "provisiond set-up failed:"; tail -20 "$out" >&2; return 1; }
}
# starts one `provisiond serve`; sets PVD_PID and PVD_URL
pvd_start() { # db dir
  local db=$1 dir=$2 port admin
  port=$(free_port)
  admin=$(free_port)
  mkdir -p "$dir/outbox"
  # shellcheck disable=SC2086
  (cd "$dir" && exec "$PROVISIOND" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
    --public-url "http://127.0.0.1:$port" --database "$db" --outbox-dir "$dir/outbox" ${PVD_SERVE_ARGS:-}) \
    >> "$dir/serve-$port.log" 2>&1 &
  PVD_PID=$!
  PIDS+=("$PVD_PID")
  PVD_URL=http://127.0.0.1:$port
  for _ in $(seq 1 100); do
    if ! kill -0 "$PVD_PID" 2>/dev/null; then break; fi
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$PVD_URL/_ready" || true)" == 200 ]]; then return 0; fi
    sleep 0.1
  done
  log "provisiond did not become ready; its log:"
  tail -30 "$dir/serve-$port.log" >&2
  return 1
}
# Waits until the background queues that set-up filled are empty: welcome emails (outbox) and
# webhook events; prints "queued_emails pending_emails waited_s".
wait_drained() { # db
  local db=$1 i pending total
  total=$(db_query "$db" 'SELECT count(*) FROM outbox')
  for i in $(seq 0 600); do
    pending=$(db_query "$db" "SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL) + (SELECT count(*) FROM webhook_events WHERE fanned_out = 0)")
    [[ $pending == 0 ]] && break
    sleep 0.1
  done
  echo "$total $pending $((i / 10))"
}
outbox_counts() { # db → "total delivered"
  db_query "$1" "SELECT count(*) || ' ' || count(delivered_at) FROM outbox" 2>/dev/null || echo "? ?"
}
log_errors() { # dir label
  local n
  n=$(cat "$1"/serve-*.log 2>/dev/null | grep -ciE '"level":"(error|critical)"|fatal|abort|panic' || true)
  if ((n > 0)); then
    NOTES+=("$2: the server log has $n error lines (first: $(cat "$1"/serve-*.log | grep -iE -m1 '"level":"(error|critical)"|fatal|abort|panic' | cut -c1-200 | tr '`|' "'/"))")
  fi
}

# One wrk cell against provisiond. Token pools: refresh → through the API (account_requests + code
# exchange) after start, then wait for the set-up's emails and webhook events to be handled;
# code → rows inserted before start (prep.mjs pvd-codes). Known refresh tokens (scale) → a file.
# pvd_cell WORKLOAD CLIENTS DB DIR PROCS DBLABEL [KNOWN_FILE_WARM KNOWN_FILE_MEAS]
pvd_cell() {
  local w=$1 c=$2 db=$3 dir=$4 procs=$5 label=$6 kw=${7:-} km=${8:-}
  local setup="{}" pids=() urls=() hint n wn ps i drained p
  mkdir -p "$dir"
  if [[ $w == provisiond-code ]]; then
    hint=$(rate_of provisiond-refresh "$c" "" "$label")
    n=$(pool_size "$hint" "$DURATION" 3000)
    wn=$(pool_size "$hint" "$WARMUP" 3000)
    ps=$(db_query "$db" 'SELECT coalesce(max(id), 0) + 1 FROM projects')
    local t0 t1
    t0=$(date +%s%N)
    "$NODE" "$HERE/prep.mjs" pvd-codes --n $((n + wn)) --project-start "$ps" --sql "$dir/codes.sql" --out "$dir/codes.txt" > "$dir/prep.json"
    db_exec_file "$db" "$dir/codes.sql"
    if is_pg "$db"; then db_query "$db" "SELECT setval(pg_get_serial_sequence('projects', 'id'), (SELECT max(id) FROM projects))" > /dev/null; fi
    t1=$(date +%s%N)
    head -n "$wn" "$dir/codes.txt" > "$dir/warm.txt"
    tail -n +"$((wn + 1))" "$dir/codes.txt" > "$dir/meas.txt"
    rm -f "$dir/codes.sql"
    setup="{\"codes\":$((n + wn)),\"warmup_codes\":$wn,\"measure_codes\":$n,\"rate_hint\":$hint,\"via\":\"rows inserted before the server started (prep.mjs pvd-codes)\",\"seconds\":$(((t1 - t0) / 1000000))e-3}"
  fi
  for ((p = 0; p < procs; p++)); do
    if ! pvd_start "$db" "$dir"; then
      echo "{\"workload\":\"$w\",\"database\":\"$label\",\"processes\":$procs,\"concurrency\":$c,\"fatal\":\"server did not start\",\"ok\":false}" >> "$JSONL"
      stop_server "$PVD_PID"
      for p in "${pids[@]}"; do stop_server "$p"; done
      return 0
    fi
    pids+=("$PVD_PID")
    urls+=("$PVD_URL")
  done
  if [[ $w == provisiond-refresh ]]; then
    if [[ -n $kw ]]; then
      cp "$kw" "$dir/warm.txt"
      cp "$km" "$dir/meas.txt"
      setup="{\"refresh_tokens\":$(($(wc -l < "$kw") + $(wc -l < "$km"))),\"via\":\"seeded families with known plaintexts (seed.sh)\"}"
    else
      n=$((2 * c + 2 * WRK_THREADS * procs))
      if ! "$NODE" "$HERE/prep.mjs" refresh --server provisiond --target "${urls[0]}" --n "$n" --out "$dir/warm.txt" > "$dir/prep-w.json" ||
        ! "$NODE" "$HERE/prep.mjs" refresh --server provisiond --target "${urls[0]}" --n "$n" --out "$dir/meas.txt" > "$dir/prep-m.json"; then
        echo "{\"workload\":\"$w\",\"database\":\"$label\",\"processes\":$procs,\"concurrency\":$c,\"fatal\":\"set-up failed (prep.mjs refresh)\",\"ok\":false}" >> "$JSONL"
        for p in "${pids[@]}"; do stop_server "$p"; done
        return 0
      fi
      read -r q pend waited <<< "$(wait_drained "$db")"
      setup="{\"refresh_tokens\":$((2 * n)),\"via\":\"account_requests + token (API)\",\"emails_queued\":$q,\"background_pending_at_window\":$pend,\"waited_for_background_s\":$waited}"
    fi
  fi
  wait_quiet "${pids[@]}"
  log "$w c=$c ($label, $procs process(es))"
  local pgdir_args=()
  is_pg "$db" && pgdir_args=(--pg-dir "$PG_DIR")
  "$NODE" "$HERE/wrk-run.mjs" --workload "$w" --target "$(IFS=,; echo "${urls[*]}")" --clients "$c" \
    --threads "$WRK_THREADS" --duration "$DURATION" --warmup "$WARMUP" \
    --warmup-file "$dir/warm.txt" --measure-file "$dir/meas.txt" --server-pids "$(IFS=,; echo "${pids[*]}")" \
    --database "$label" --setup "$setup" --json "$JSONL" --tmp-dir "$dir" "${pgdir_args[@]}" > /dev/null ||
    log "  $w c=$c failed (recorded in the results)"
  for p in "${pids[@]}"; do stop_server "$p"; done
  log_errors "$dir" "$w c=$c ($label, $procs process(es))"
}

PROVISIOND_VERSION="not run"
PVD_OK=0
if wants provisiond-refresh || wants provisiond-code || wants provisiond-flow; then
  if [[ ! -x $PROVISIOND ]]; then
    SKIPPED+=("provisiond workloads: no executable at $PROVISIOND")
    log "no provisiond at $PROVISIOND — skipping its workloads"
  else
    PVD_OK=1
    PROVISIOND_VERSION=$("$PROVISIOND" --version 2>/dev/null | head -1 || true)
    PROVISIOND_VERSION="${PROVISIOND_VERSION:-"(no --version)"}, built $(date -u -r "$PROVISIOND" +%Y-%m-%dT%H:%MZ)"
  fi
fi
# The SQLite synchronous mode the binary sets (its PRAGMA strings)
SYNC_MODE=$( ((PVD_OK)) && { grep -aoE 'PRAGMA synchronous ?= ?[A-Za-z0-9]+' "$PROVISIOND" | sort -u | tr '\n' ' '; } || true)

# ------------------------------------------------------------------ sqlite, fresh database per cell
if ((PVD_OK)); then
  for w in provisiond-refresh provisiond-code; do
    wants "$w" || continue
    for c in $LEVELS; do
      CELL=$((CELL + 1))
      d=$TMP/cell$CELL
      mkdir -p "$d"
      pvd_init "$d/db" "$d/cli.log" || exit 1
      pvd_cell "$w" "$c" "$d/db" "$d" 1 sqlite
      rm -f "$d"/db*
    done
  done
  if wants provisiond-flow; then
    for c in $LEVELS; do
      CELL=$((CELL + 1))
      d=$TMP/cell$CELL
      mkdir -p "$d"
      pvd_init "$d/db" "$d/cli.log" || exit 1
      pvd_start "$d/db" "$d" || exit 1
      wait_quiet "$PVD_PID"
      log "provisiond-flow c=$c (sqlite)"
      "$NODE" "$HERE/loadgen.mjs" --workload provisiond-flow --concurrency "$c" --target "$PVD_URL" \
        --duration "$DURATION" --warmup "$WARMUP" --server-pid "$PVD_PID" --json "$JSONL" > /dev/null ||
        log "  provisiond-flow c=$c failed (recorded in the results)"
      read -r q dl <<< "$(outbox_counts "$d/db")"
      stop_server "$PVD_PID"
      NOTES+=("provisiond-flow c=$c: its account_requests queued $q welcome emails, $dl delivered (written to the outbox dir) while the server ran — the flow's own emails, part of the work measured.")
      log_errors "$d" "provisiond-flow c=$c"
      rm -f "$d"/db*
    done
  fi
fi

# ------------------------------------------------------------------ node-oidc-provider, fresh per cell
start_oidc() { # adapter dir
  local out=$2/oidc.json
  "$NODE" "$HERE/oidc-server.mjs" --adapter "$1" > "$out" 2> "$2/oidc.log" &
  OIDC_PID=$!
  PIDS+=("$OIDC_PID")
  for _ in $(seq 1 100); do [[ -s $out ]] && break; sleep 0.1; done
  [[ -s $out ]] || { log "oidc-server did not start:"; cat "$2/oidc.log" >&2; return 1; }
  OIDC_URL=$("$NODE" -p 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).issuer' "$out")
  OIDC_ADMIN=$("$NODE" -p 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).admin' "$out")
}
ADAPTERS=(stock)
[[ $OIDC_INDEXED == 1 ]] && ADAPTERS+=(indexed)
if wants oidc-refresh || wants oidc-code; then
  for adapter in "${ADAPTERS[@]}"; do
    variant="$adapter memory adapter"
    for w in oidc-refresh oidc-code; do
      wants "$w" || continue
      for c in $LEVELS; do
        CELL=$((CELL + 1))
        d=$TMP/cell$CELL
        mkdir -p "$d"
        start_oidc "$adapter" "$d" || exit 1
        if [[ $w == oidc-refresh ]]; then
          n=$((2 * c + 2 * WRK_THREADS))
          "$NODE" "$HERE/prep.mjs" refresh --server oidc --target "$OIDC_URL" --admin "$OIDC_ADMIN" --n "$n" --out "$d/warm.txt" > "$d/prep-w.json"
          "$NODE" "$HERE/prep.mjs" refresh --server oidc --target "$OIDC_URL" --admin "$OIDC_ADMIN" --n "$n" --out "$d/meas.txt" > "$d/prep-m.json"
          setup="{\"refresh_tokens\":$((2 * n)),\"via\":\"admin mint + /oauth/token\"}"
        else
          hint=$(rate_of oidc-refresh "$c" "$variant")
          n=$(pool_size "$hint" "$DURATION" 3000)
          wn=$(pool_size "$hint" "$WARMUP" 3000)
          "$NODE" "$HERE/prep.mjs" oidc-codes --admin "$OIDC_ADMIN" --n "$wn" --out "$d/warm.txt" > "$d/prep-w.json"
          "$NODE" "$HERE/prep.mjs" oidc-codes --admin "$OIDC_ADMIN" --n "$n" --out "$d/meas.txt" > "$d/prep-m.json"
          setup="{\"codes\":$((n + wn)),\"warmup_codes\":$wn,\"measure_codes\":$n,\"rate_hint\":$hint,\"via\":\"oidc-server admin port (in-process)\"}"
        fi
        wait_quiet "$OIDC_PID"
        log "$w c=$c [$variant]"
        "$NODE" "$HERE/wrk-run.mjs" --workload "$w" --target "$OIDC_URL" --clients "$c" --threads "$WRK_THREADS" \
          --duration "$DURATION" --warmup "$WARMUP" --warmup-file "$d/warm.txt" --measure-file "$d/meas.txt" \
          --server-pids "$OIDC_PID" --variant "$variant" --setup "$setup" --json "$JSONL" --tmp-dir "$d" > /dev/null ||
          log "  $w c=$c failed (recorded in the results)"
        stop_server "$OIDC_PID"
      done
    done
  done
  NOTES+=("oidc-provider keeps every grant, code and token in its own heap (its in-memory adapter), nothing durable; its RSS includes the code pool minted in set-up. provisiond keeps them in its database.")
  NOTES+=("oidc-provider's stock memory adapter caps its store at 1000 entries (an LRU) — far too few for pre-minted codes — so oidc-server.mjs passes the same adapter class with a 50M-entry cap. Its per-grant index is rescanned on every token save, so a refresh-rotation chain slows down as it grows; the [indexed memory adapter] rows (same semantics, O(1) index; not part of oidc-provider) show oidc-provider without that cost.")
  NOTES+=("oidc-provider requests carry client_id (public client authentication 'none'); provisiond's follow the PostHog document (no client_id on the token endpoint). No ID tokens are issued on either side (no openid scope).")
fi

# ------------------------------------------------------------------ scale: seeded SQLite database
if ((PVD_OK)) && [[ $SKIP_SCALE != 1 ]] && { wants provisiond-refresh || wants provisiond-code; }; then
  d=$TMP/scale
  mkdir -p "$d"
  pvd_init "$d/db" "$d/cli.log" || exit 1
  # known tokens: per refresh cell a warm-up and a measured set, plus one to check by hand
  known=1
  for c in $SCALE_LEVELS; do known=$((known + 2 * (2 * c + 2 * WRK_THREADS))); done
  log "scale: seeding $SCALE_ACCOUNTS accounts and $SCALE_FAMILIES token families ($known with known plaintexts)…"
  "$NODE" "$HERE/prep.mjs" known-refresh --n "$known" --of "$SCALE_FAMILIES" --sql "$d/known.sql" --out "$d/known.txt" > /dev/null
  SEED_JSON=$(bash "$HERE/seed.sh" "$d/db" "$SCALE_ACCOUNTS" "$SCALE_FAMILIES" "$d/known.sql")
  log "scale: seeded: $SEED_JSON"
  # Check that a seeded row is real: refresh the first known token through the API.
  pvd_start "$d/db" "$d" || exit 1
  check=$(curl -s -o "$d/check.json" -w '%{http_code}' -X POST "$PVD_URL/api/agentic/oauth/token" \
    -H 'content-type: application/x-www-form-urlencoded' -H 'api-version: 0.1d' \
    --data "grant_type=refresh_token&refresh_token=$(head -1 "$d/known.txt")" || true)
  stop_server "$PVD_PID"
  if [[ $check == 200 ]] && grep -q '"refresh_token":"phr_' "$d/check.json"; then
    SEED_JSON=$("$NODE" -p 'JSON.stringify({...JSON.parse(process.argv[1]), check: "a seeded refresh token (known plaintext) was refreshed through the API: 200 with a new token pair"})' "$SEED_JSON")
  else
    SEED_JSON=$("$NODE" -p 'JSON.stringify({...JSON.parse(process.argv[1]), check: "FAILED: refreshing a seeded token answered " + process.argv[2]})' "$SEED_JSON" "$check $(head -c 300 "$d/check.json")")
    log "scale: a seeded refresh token did not work ($check): $(head -c 300 "$d/check.json")"
  fi
  off=2
  if wants provisiond-refresh; then
    for c in $SCALE_LEVELS; do
      n=$((2 * c + 2 * WRK_THREADS))
      sed -n "${off},$((off + n - 1))p" "$d/known.txt" > "$d/kw.txt"
      sed -n "$((off + n)),$((off + 2 * n - 1))p" "$d/known.txt" > "$d/km.txt"
      off=$((off + 2 * n))
      pvd_cell provisiond-refresh "$c" "$d/db" "$d/c$c" 1 scale "$d/kw.txt" "$d/km.txt"
    done
  fi
  if wants provisiond-code; then
    for c in $SCALE_LEVELS; do pvd_cell provisiond-code "$c" "$d/db" "$d/code$c" 1 scale; done
  fi
  SEED_JSON=$("$NODE" -p 'JSON.stringify({...JSON.parse(process.argv[1]), after_runs: process.argv[2]})' "$SEED_JSON" \
    "$(db_query "$d/db" "SELECT (SELECT count(*) FROM token_families) || ' token families, ' || (SELECT count(*) FROM refresh_tokens) || ' refresh tokens, ' || (SELECT count(*) FROM users) || ' users'") in $(du -sh "$d" | cut -f1)")
  rm -f "$d"/db*
fi

# ------------------------------------------------------------------ PostgreSQL
if ((PVD_OK)) && [[ $SKIP_PG != 1 ]] && { wants provisiond-refresh || wants provisiond-code; }; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z $PGBIN || ! -x $PGBIN/pg_ctl ]] || ! command -v psql > /dev/null; then
    SKIPPED+=("PostgreSQL section: no PostgreSQL server binaries (apt-get install postgresql-15, see scripts/setup.sh --test)")
  else
    # tests/pg/cluster.sh makes the throwaway cluster (initdb, free port; as root it runs as
    # nobody). Its defaults are for tests (fsync off): this one is durable, as in production.
    PG_DIR=$(mktemp -d /tmp/provisiond-bench-pg.XXXXXX)
    PG_URL=$(PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=200 -c shared_buffers=128MB" \
      bash "$REPO/tests/pg/cluster.sh" start "$PG_DIR")
    PG_VERSION=$(psql -X -tA "$PG_URL/postgres" -c 'SHOW server_version')
    PG_INFO=$("$NODE" -p 'JSON.stringify({version: process.argv[1], settings: process.argv[2]})' "$PG_VERSION" \
      "$(psql -X -tA "$PG_URL/postgres" -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','shared_buffers','max_connections','wal_level')")")
    log "PostgreSQL $PG_VERSION at $PG_URL ($PG_DIR)"
    for procs in $PG_PROCS; do
      for w in provisiond-refresh provisiond-code; do
        wants "$w" || continue
        for c in $PG_LEVELS; do
          if ((c < procs)); then
            [[ $w == provisiond-refresh ]] && NOTES+=("PostgreSQL with $procs processes: $c client(s) not run (fewer clients than processes).")
            continue
          fi
          if ((c % (procs * WRK_THREADS))); then
            NOTES+=("PostgreSQL $procs processes: $c clients skipped (not a multiple of processes × WRK_THREADS).")
            continue
          fi
          CELL=$((CELL + 1))
          psql -X -q "$PG_URL/postgres" -c "CREATE DATABASE cell$CELL" > /dev/null
          if ! pvd_init "$PG_URL/cell$CELL" "$TMP/pg-cli.log"; then
            SKIPPED+=("PostgreSQL section: \`provisiond migrate --database postgresql://…\` failed: $(tail -1 "$TMP/pg-cli.log" | cut -c1-200 | tr '`|' "'/")")
            break 3
          fi
          pvd_cell "$w" "$c" "$PG_URL/cell$CELL" "$TMP/cell$CELL" "$procs" postgresql
          psql -X -q "$PG_URL/postgres" -c "DROP DATABASE cell$CELL" > /dev/null || true
        done
      done
    done
    bash "$REPO/tests/pg/cluster.sh" stop "$PG_DIR"
    PG_DIR=""
  fi
fi

T_END=$(date +%s)
NOTES+=("Total wall time of this run: $((T_END - T_START)) s, of which ${QUIET_WAITED} s waiting for other processes to go quiet before cells.")

# ------------------------------------------------------------------ report
# The commit, read from .git without running git (the work tree's state is not checked).
git_rev() {
  local head ref
  head=$(cat "$REPO/.git/HEAD" 2>/dev/null) || { echo "no .git"; return; }
  if [[ $head == ref:* ]]; then
    ref=${head#ref: }
    cat "$REPO/.git/$ref" 2>/dev/null | cut -c1-10 ||
      awk -v r="$ref" '$2 == r {print substr($1, 1, 10)}' "$REPO/.git/packed-refs" 2>/dev/null
  else
    echo "${head:0:10}"
  fi
}
GIT="$(git_rev) (HEAD; uncommitted changes not checked)"
"$NODE" - "$TMP/meta.json" <<EOF
const fs = require('fs');
const meta = {
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  command: $(printf '%s' "$COMMAND" | json_str),
  nproc: $(nproc),
  cpu_model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' | json_str),
  mem_total: $( (free -h | awk '/^Mem:/ {print $2 " RAM"}') | json_str),
  kernel: $(uname -r | json_str),
  provisiond_version: $(printf '%s' "$PROVISIOND_VERSION" | json_str),
  provisiond_path: $(printf '%s' "$PROVISIOND" | json_str),
  sqlite_synchronous: $(printf '%s' "${SYNC_MODE:-unknown}" | json_str),
  git: $(printf '%s' "$GIT" | json_str),
  node: process.version,
  wrk: $( (wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) | json_str),
  wrk_threads: $WRK_THREADS,
  sqlite3: $( (sqlite3 --version | cut -d' ' -f1) | json_str),
  oidc_provider: require('$HERE/node_modules/oidc-provider/package.json').version,
  undici: require('$HERE/node_modules/undici/package.json').version,
  duration: $DURATION,
  warmup: $WARMUP,
  seed: $SEED_JSON,
  postgres: $PG_INFO,
  skipped: $(printf '%s\n' "${SKIPPED[@]+"${SKIPPED[@]}"}" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean))'),
  notes: $(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean))'),
};
fs.writeFileSync(process.argv[2], JSON.stringify(meta, null, 1));
EOF

"$NODE" "$HERE/report.mjs" "$JSONL" "$TMP/meta.json" > "$TMP/latest.md"
cp "$TMP/latest.md" "$RESULTS_DIR/latest.md"
cp "$JSONL" "$RESULTS_DIR/latest.jsonl"
cat "$TMP/latest.md"
