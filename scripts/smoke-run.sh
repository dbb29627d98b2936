#!/usr/bin/env bash
# Proves the README's run command on this machine, as a newcomer would use it: runs
# scripts/run.sh (setup, the release build, serve) on a temporary data directory and a free
# loopback port, waits for /_ready, registers the README's partner with the README's command,
# runs the README's three calls (scripts/try-flow.sh), checks the welcome email was written,
# then sends SIGTERM and expects a clean exit. Exits non-zero, saying which step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
log="$tmp/server.log"
pid=
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "smoke-run: $*" >&2
  echo "--- server log (last 40 lines) ---" >&2
  tail -n 40 "$log" >&2 || true
  exit 1
}

# Port 0: the kernel picks a free port and the server logs which.
PROVISIOND_DATA_DIR="$tmp/data" bash scripts/run.sh --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!

# The build may take minutes on a fresh machine; the process dies if the build fails.
port=
for _ in $(seq 1 1800); do
  kill -0 "$pid" 2>/dev/null || fail "scripts/run.sh exited before the server listened (build or start failed)"
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -n1)
  [[ -n "$port" ]] && break
  sleep 1
done
[[ -n "$port" ]] || fail "the server did not listen within 30 minutes"
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/_ready")" == 200 ]] && break
  sleep 0.1
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/_ready")" == 200 ]] || fail "$base/_ready is not 200"
echo "smoke-run: serving on $base" >&2

./build-release/provisiond clients add --database "$tmp/data/provisiond.db" \
  --client-id my-partner --name "My Partner" --redirect-uri https://partner.example/callback \
  || fail "clients add (the README's registration command) failed"
# The README's hand-pasted block, exactly as written there but for the port.
awk '/<!-- readme-flow/ {found=1; next} found && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside' \
  README.md | sed "s#localhost:8000#127.0.0.1:$port#g" >"$tmp/readme-flow.sh"
[[ -s "$tmp/readme-flow.sh" ]] || fail "no readme-flow block in README.md"
answer=$(bash -euo pipefail "$tmp/readme-flow.sh") || fail "the README's pasted block failed"
echo "$answer" | jq -e --arg base "$base" '.status == "complete" and (.complete.access_configuration.api_key | startswith("phc_")) and .complete.access_configuration.host == $base' \
  >/dev/null || fail "the README's pasted block did not end with complete credentials: $answer"
# The script the README offers, for another person.
PROVISIOND_URL="$base" CLIENT_ID=my-partner bash scripts/try-flow.sh || fail "scripts/try-flow.sh failed"

# The welcome email goes to the outbox directory (README: "emails … are written as .eml files").
for _ in $(seq 1 100); do
  compgen -G "$tmp/data/outbox/*.eml" >/dev/null && break
  sleep 0.1
done
grep -l "To: jane@example.com" "$tmp"/data/outbox/*.eml >/dev/null 2>&1 || fail "no welcome email for jane@example.com in the outbox"

# A page form posts back to the same origin (the CSRF Origin check must know the bound port):
# a wrong password is 401, not 403.
page=$(curl -s -c "$tmp/cookies" "$base/login")
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$page" | head -n1)
[[ -n "$csrf" ]] || fail "GET /login has no csrf field"
status=$(curl -s -o /dev/null -w '%{http_code}' -b "$tmp/cookies" -H "Origin: $base" \
  --data-urlencode email=jane@example.com --data-urlencode password=not-the-password \
  --data-urlencode "csrf=$csrf" "$base/login")
[[ "$status" == 401 ]] || fail "POST /login with a wrong password answered $status, expected 401"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ "$status" == 0 ]] || fail "provisiond exited with $status after SIGTERM, expected 0"
grep -Eq '(^|[ "])stopped("|$)' "$log" || fail "no 'stopped' line after SIGTERM"
echo "smoke-run: run command, README flow and clean stop all worked" >&2
