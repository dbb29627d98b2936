#!/usr/bin/env bash
# One-command benchmark: provisiond vs node-oidc-provider, loopback only, stops by itself.
#
#   bash bench/run.sh
#
# Environment (all optional):
#   PROVISIOND=path     provisiond binary (default: <repo>/build/provisiond); missing → its
#                       workloads are skipped and the report says so
#   DURATION=10         measured seconds per run        WARMUP=2   warm-up seconds per run
#   LEVELS="1 8 32"     concurrency levels
#   WORKLOADS="provisiond-flow provisiond-refresh provisiond-code oidc-refresh oidc-code"
#   OIDC_INDEXED=1      also run oidc-refresh against oidc-server --adapter indexed (0: skip)
#   CODE_SETUP_BUDGET=25  seconds allowed per run to pre-mint provisiond codes
#   PVD_SERVE_ARGS=""   extra flags for `provisiond serve` (e.g. "--log-level warn")
#   RESULTS_DIR=bench/results  where latest.md / latest.jsonl go (point elsewhere for experiments)
#   QUIET_BUDGET=120    total seconds to wait, before runs, for other processes to go quiet
#
# Writes the Markdown report to stdout and bench/results/latest.md, the raw JSON lines to
# bench/results/latest.jsonl. Servers: provisiond on a fresh temp SQLite database, then
# oidc-server.mjs; each server runs alone while it is measured, then is stopped.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PROVISIOND=${PROVISIOND:-$REPO/build/provisiond}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
LEVELS=${LEVELS:-"1 8 32"}
WORKLOADS=${WORKLOADS:-"provisiond-flow provisiond-refresh provisiond-code oidc-refresh oidc-code"}
OIDC_INDEXED=${OIDC_INDEXED:-1}
CODE_SETUP_BUDGET=${CODE_SETUP_BUDGET:-25}
COMMAND="bash bench/run.sh${*:+ $*}"
for v in PROVISIOND DURATION WARMUP LEVELS WORKLOADS OIDC_INDEXED CODE_SETUP_BUDGET PVD_SERVE_ARGS QUIET_BUDGET; do
  # record non-default settings in the command line shown in the report
  if [[ -n "${!v+x}" && "$(env | grep -c "^$v=")" -gt 0 ]]; then COMMAND="$v=\"${!v}\" $COMMAND"; fi
done

NODE=$HERE/node_modules/.bin/node
if [[ ! -x $NODE || ! -d $HERE/node_modules/oidc-provider || ! -d $HERE/node_modules/undici ]]; then
  echo "run.sh: installing bench dependencies (npm ci)…" >&2
  (cd "$HERE" && npm ci --no-audit --no-fund >&2)
fi

RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d /tmp/provisiond-bench.XXXXXX)
JSONL=$TMP/results.jsonl
: > "$JSONL"
SERVERS_JSON=$TMP/servers.jsonl
: > "$SERVERS_JSON"
SKIPPED=()
NOTES=()
PIDS=()
T_START=$(date +%s)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

stop_server() { # pid
  local pid=$1 i
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# best rate seen for WORKLOAD at LEVEL (used to size code pools)
rate_of() { # workload level [variant]
  "$NODE" -e '
    const [f, w, c, v] = process.argv.slice(1);
    const rows = require("fs").readFileSync(f, "utf8").split("\n").filter(Boolean).map(JSON.parse);
    const r = rows.find((r) => r.workload === w && String(r.concurrency) === c && (r.variant ?? "") === (v ?? ""));
    console.log(r && r.iterations_per_s ? r.iterations_per_s : 0);' "$JSONL" "$1" "$2" "${3:-}"
}

# Busy CPU of the whole machine over one second minus that of process $1 (the idle server's own
# background work), in % of one core (USER_HZ = 100).
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_pct() {
  local a b c d e f g h t0 p0 p1
  p0=$(proc_ticks "$1")
  read -r _ a b c d e f g h _ < /proc/stat; t0=$((a + b + c + f + g + h))
  sleep 1
  read -r _ a b c d e f g h _ < /proc/stat
  p1=$(proc_ticks "$1")
  echo $(((a + b + c + f + g + h) - t0 - (p1 - p0)))
}
# Before each run (servers idle), wait — within a total budget — until other processes are quiet.
QUIET_BUDGET=${QUIET_BUDGET:-120}
QUIET_WAITED=0
wait_quiet() { # server_pid
  local b
  b=$(busy_pct "$1")
  while ((b > 15 && QUIET_WAITED < QUIET_BUDGET)); do
    ((QUIET_WAITED % 10 == 0)) && log "  machine busy (${b}% of a core used by other processes); waiting (${QUIET_WAITED}/${QUIET_BUDGET} s used)"
    b=$(busy_pct "$1")
    QUIET_WAITED=$((QUIET_WAITED + 1))
  done
}

run_load() { # workload level server_pid target [extra args…]
  local w=$1 c=$2 pid=$3 target=$4
  shift 4
  wait_quiet "$pid"
  log "$w c=$c"
  "$NODE" "$HERE/loadgen.mjs" --workload "$w" --concurrency "$c" --target "$target" \
    --duration "$DURATION" --warmup "$WARMUP" --server-pid "$pid" --json "$JSONL" "$@" > /dev/null || \
    log "  $w c=$c failed (recorded in the results)"
}

# ------------------------------------------------------------------ provisiond
PVD_WORKLOADS=()
for w in provisiond-flow provisiond-refresh provisiond-code; do wants "$w" && PVD_WORKLOADS+=("$w"); done
PROVISIOND_VERSION="not run"
if ((${#PVD_WORKLOADS[@]})); then
  if [[ ! -x $PROVISIOND ]]; then
    SKIPPED+=("provisiond workloads (${PVD_WORKLOADS[*]}): no executable at $PROVISIOND")
    log "no provisiond at $PROVISIOND — skipping its workloads"
  else
    PROVISIOND_VERSION=$("$PROVISIOND" --version 2>/dev/null | head -1 || true)
    PROVISIOND_VERSION=${PROVISIOND_VERSION:-"(no --version)"}
    DB=$TMP/pvd/db
    mkdir -p "$TMP/pvd/outbox"
    export PROVISIOND_DATABASE=$DB
    log "provisiond: clients add + set-limit on $DB"
    "$PROVISIOND" clients add --database "$DB" --client-id bench --name Bench \
      --redirect-uri https://bench.example/cb --scopes "project:read user:read" > "$TMP/pvd/cli.log" 2>&1 \
      || { cat "$TMP/pvd/cli.log" >&2; exit 1; }
    for ep in account_requests token_exchanges resource_creates; do
      "$PROVISIOND" clients set-limit bench "$ep" unlimited >> "$TMP/pvd/cli.log" 2>&1 \
        || { cat "$TMP/pvd/cli.log" >&2; exit 1; }
    done
    PORT=$(free_port)
    "$PROVISIOND" serve --listen "127.0.0.1:$PORT" --public-url "http://127.0.0.1:$PORT" \
      --database "$DB" --outbox-dir "$TMP/pvd/outbox" ${PVD_SERVE_ARGS:-} > "$TMP/pvd/serve.log" 2>&1 &
    PVD_PID=$!
    PIDS+=("$PVD_PID")
    PVD_URL=http://127.0.0.1:$PORT
    ready=0
    for _ in $(seq 1 100); do
      if ! kill -0 "$PVD_PID" 2>/dev/null; then break; fi
      if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$PVD_URL/_ready" || true)" == 200 ]]; then ready=1; break; fi
      sleep 0.1
    done
    if ((!ready)); then
      log "provisiond did not become ready; its log:"; tail -50 "$TMP/pvd/serve.log" >&2
      SKIPPED+=("provisiond workloads: server did not answer 200 on /_ready within 10 s (see log)")
    else
      log "provisiond pid $PVD_PID on $PVD_URL"
      for w in "${PVD_WORKLOADS[@]}"; do
        for c in $LEVELS; do
          extra=()
          if [[ $w == provisiond-code ]]; then
            hint=$(rate_of provisiond-refresh "$c")
            if [[ $hint != 0 ]]; then extra+=(--rate-hint "$("$NODE" -p "Math.ceil($hint*1.5)")"); else extra+=(--pool 20000); fi
            extra+=(--setup-budget "$CODE_SETUP_BUDGET")
          fi
          run_load "$w" "$c" "$PVD_PID" "$PVD_URL" "${extra[@]}"
        done
      done
    fi
    hwm=$(hwm_kb "$PVD_PID")
    echo "{\"name\":\"provisiond\",\"hwm_kb\":${hwm:-0},\"workloads\":\"${PVD_WORKLOADS[*]}\"}" >> "$SERVERS_JSON"
    stop_server "$PVD_PID"
    if grep -qiE 'error|fatal|abort|panic' "$TMP/pvd/serve.log"; then
      NOTES+=("provisiond's log has error lines: $(grep -ciE 'error|fatal|abort|panic' "$TMP/pvd/serve.log") (first: $(grep -iE -m1 'error|fatal|abort|panic' "$TMP/pvd/serve.log" | cut -c1-200 | tr '`|' "'/"))")
    fi
    NOTES+=("provisiond database after the runs: $(du -sh "$TMP/pvd" | cut -f1) (SQLite + outbox dir), $(find "$TMP/pvd/outbox" -type f | wc -l) welcome emails written to the outbox dir; access log $(wc -l < "$TMP/pvd/serve.log") lines at the default log level.")
    if command -v sqlite3 > /dev/null; then
      pending=$(sqlite3 "$DB" 'SELECT count(*) FROM outbox WHERE delivered_at IS NULL' 2>/dev/null || echo '?')
      total=$(sqlite3 "$DB" 'SELECT count(*) FROM outbox' 2>/dev/null || echo '?')
      NOTES+=("provisiond outbox table at shutdown: $total welcome emails queued by account_requests, $pending still undelivered (the outbox worker delivers at most 50 per 500 ms poll).")
    fi
    unset PROVISIOND_DATABASE
  fi
fi

# ------------------------------------------------------------------ node-oidc-provider
start_oidc() { # adapter
  local out=$TMP/oidc-$1.json
  "$NODE" "$HERE/oidc-server.mjs" --adapter "$1" > "$out" 2> "$TMP/oidc-$1.log" &
  OIDC_PID=$!
  PIDS+=("$OIDC_PID")
  for _ in $(seq 1 100); do [[ -s $out ]] && break; sleep 0.1; done
  [[ -s $out ]] || { log "oidc-server did not start:"; cat "$TMP/oidc-$1.log" >&2; return 1; }
  OIDC_URL=$("$NODE" -p 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).issuer' "$out")
  OIDC_ADMIN=$("$NODE" -p 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).admin' "$out")
  log "oidc-server ($1 adapter) pid $OIDC_PID on $OIDC_URL"
}

OIDC_WORKLOADS=()
for w in oidc-refresh oidc-code; do wants "$w" && OIDC_WORKLOADS+=("$w"); done
if ((${#OIDC_WORKLOADS[@]})); then
  start_oidc stock
  for w in "${OIDC_WORKLOADS[@]}"; do
    for c in $LEVELS; do
      extra=(--admin "$OIDC_ADMIN" --variant "stock memory adapter")
      if [[ $w == oidc-code ]]; then
        hint=$(rate_of oidc-refresh "$c" "stock memory adapter")
        if [[ $hint != 0 ]]; then extra+=(--rate-hint "$("$NODE" -p "Math.max(3000, Math.ceil($hint*2))")"); else extra+=(--pool 60000); fi
      fi
      run_load "$w" "$c" "$OIDC_PID" "$OIDC_URL" "${extra[@]}"
    done
  done
  echo "{\"name\":\"oidc-provider (stock memory adapter)\",\"hwm_kb\":$(hwm_kb "$OIDC_PID"),\"workloads\":\"${OIDC_WORKLOADS[*]}\"}" >> "$SERVERS_JSON"
  stop_server "$OIDC_PID"

  if [[ $OIDC_INDEXED == 1 ]] && wants oidc-refresh; then
    start_oidc indexed
    for c in $LEVELS; do
      run_load oidc-refresh "$c" "$OIDC_PID" "$OIDC_URL" --admin "$OIDC_ADMIN" --variant "indexed memory adapter"
    done
    echo "{\"name\":\"oidc-provider (indexed memory adapter)\",\"hwm_kb\":$(hwm_kb "$OIDC_PID"),\"workloads\":\"oidc-refresh\"}" >> "$SERVERS_JSON"
    stop_server "$OIDC_PID"
  fi
  NOTES+=("oidc-provider keeps every grant, code and token in its own heap (its default in-memory adapter), so its RSS grows with tokens issued; provisiond keeps them in SQLite on disk.")
  NOTES+=("oidc-provider's stock memory adapter caps its store at 1000 entries (an LRU) — far too few for pre-minted codes — so oidc-server.mjs passes the same adapter class with a 50M-entry cap. Its per-grant index is rescanned on every token save, so a refresh-rotation chain slows down as it grows; the [indexed memory adapter] rows (same semantics, O(1) index; not part of oidc-provider) show oidc-provider without that cost.")
  NOTES+=("oidc-provider requests carry client_id (public client authentication 'none'); provisiond's follow the PostHog document (no client_id on the token endpoint). No ID tokens are issued on either side (no openid scope).")
fi

T_END=$(date +%s)
NOTES+=("Total wall time of this run: $((T_END - T_START)) s, of which ${QUIET_WAITED} s waiting for other processes to go quiet before runs.")

# ------------------------------------------------------------------ report
GIT=$(cd "$REPO" && { git rev-parse --short HEAD 2>/dev/null || echo "no commit"; })
if [[ -n "$(cd "$REPO" && git status --porcelain 2>/dev/null | head -1)" ]]; then GIT="$GIT (work tree has uncommitted changes)"; fi
"$NODE" - "$TMP/meta.json" <<EOF
const fs = require('fs');
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
const meta = {
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  command: $(printf '%s' "$COMMAND" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8"))'),
  nproc: $(nproc),
  cpu_model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").trim())'),
  mem_total: $(free -h | awk '/^Mem:/ {print $2}' | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").trim() + " RAM")'),
  kernel: $(uname -r | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").trim())'),
  provisiond_version: $(printf '%s' "$PROVISIOND_VERSION" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").trim())'),
  provisiond_path: $(printf '%s' "$PROVISIOND" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8"))'),
  git: $(printf '%s' "$GIT" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8"))'),
  node: process.version,
  oidc_provider: require('$HERE/node_modules/oidc-provider/package.json').version,
  undici: require('$HERE/node_modules/undici/package.json').version,
  duration: $DURATION,
  warmup: $WARMUP,
  servers: lines('$SERVERS_JSON').map(JSON.parse),
  skipped: $(printf '%s\n' "${SKIPPED[@]+"${SKIPPED[@]}"}" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean))'),
  notes: $(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}" | "$NODE" -p 'JSON.stringify(require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean))'),
};
fs.writeFileSync(process.argv[2], JSON.stringify(meta, null, 1));
EOF

"$NODE" "$HERE/report.mjs" "$JSONL" "$TMP/meta.json" > "$TMP/latest.md"
cp "$TMP/latest.md" "$RESULTS_DIR/latest.md"
cp "$JSONL" "$RESULTS_DIR/latest.jsonl"
cat "$TMP/latest.md"
