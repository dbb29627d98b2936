#!/usr/bin/env bash
# Where the token path spends its time: `perf record -g` of one provisiond under wrk's refresh
# rotation or PKCE code exchange, then perf's flat profile by symbol and by library. Loopback only.
#
#   bash bench/profile.sh [PROVISIOND] [SECONDS] [refresh|code] [CLIENTS]
#                     # defaults: build-release/provisiond, 10 s, refresh, 8 clients
#
# The codes are rows inserted before the window (prep.mjs pvd-codes, as bench/run.sh does).
#
# Needs perf (Debian's linux-perf) and wrk, and bench/run.sh's toolchain (node_modules).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROVISIOND=$(realpath "${1:-$HERE/../build-release/provisiond}")
SECONDS_=${2:-10}
MODE=${3:-refresh}
CLIENTS=${4:-8}
[[ $MODE == refresh || $MODE == code ]] || { echo "profile: the third argument is refresh or code" >&2; exit 2; }
NODE=$HERE/node_modules/.bin/node
TMP=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; [[ -n ${KEEP_PERF:-} ]] && cp "$TMP/perf.data" "$KEEP_PERF"; rm -rf "$TMP"' EXIT
# shellcheck source-path=SCRIPTDIR source=lib/one-server.sh
source "$HERE/lib/one-server.sh"
start_one_server "$PROVISIOND" "$TMP"
admin=$ADMIN_PORT
if [[ $MODE == refresh ]]; then
  make_pool refresh $((CLIENTS * 3)) "$TMP/pool.txt"
  sleep 2 # the set-up's welcome emails leave the outbox before the window
else
  # More codes than the window can use (the fastest code exchange measured is ~3 500/s).
  make_pool code $((SECONDS_ * 4000)) "$TMP/pool.txt"
fi
perf record -F 1999 -g -o "$TMP/perf.data" -p "$SERVER_PID" -- sleep "$SECONDS_" 2> /dev/null &
PERF=$!
run_wrk "$MODE" "$CLIENTS" "$SECONDS_" "$TMP/pool.txt"
wait "$PERF" || true
set +o pipefail # `head` closes the pipe of perf report early: not a failure
echo "== storage metrics after the run (sums and counts: mean = sum / count) =="
curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^provisiond_(storage_(transaction_seconds|group_commit_units|pool_wait_seconds)|http_request_duration_seconds)_(sum|count)' | grep -v 'account_requests\|_ready\|api\/agentic' || true
echo "== threads (share of samples) =="
perf report -i "$TMP/perf.data" --no-children --sort comm --stdio 2> /dev/null | grep -E '^ +[0-9]' | sed -E 's/[ -]+$//' | head -8
echo "== the group-commit writer thread, by symbol =="
perf report -i "$TMP/perf.data" --no-children --comm pvd-writer --sort symbol --stdio -g none 2> /dev/null | grep -E '^ +[0-9]' | sed -E 's/[ -]+$//' | cut -c1-120 | head -25
echo "== by library (self time) =="
perf report -i "$TMP/perf.data" --no-children --sort dso --stdio 2> /dev/null | grep -E '^ +[0-9]' | sed -E 's/[ -]+$//' | head -12
echo "== by symbol (self time) =="
perf report -i "$TMP/perf.data" --no-children --sort symbol --stdio -g none 2> /dev/null | grep -E '^ +[0-9]' | sed -E 's/[ -]+$//' | cut -c1-120 | head -40
echo "== kernel time by the user-space function that entered it (children) =="
perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none 2> /dev/null | grep -E '^ +[0-9]' |
  grep -E '\[\.\] (__libc_|__GI_|pwrite|pread|fdatasync|fsync|futex|__futex|write|read|send|recv|epoll|pthread_cond|__lll)' |
  sed -E 's/[ -]+$//' | cut -c1-120 | head -15
