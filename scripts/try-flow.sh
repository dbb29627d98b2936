#!/usr/bin/env bash
# The README's three calls, runnable as they stand: account request → authorization code,
# token exchange → access token, resources → project credentials. Each value is captured from
# the answer before, and each answer is printed. Exits non-zero, naming the step, if a call
# does not answer as the README says.
#
#   bash scripts/try-flow.sh                     # http://127.0.0.1:8000, client my-partner
#   PROVISIOND_URL=http://127.0.0.1:9000 CLIENT_ID=other EMAIL=me@example.com bash scripts/try-flow.sh
#
# The partner must be registered first (README, "Run it"). Needs curl, openssl and jq.
set -euo pipefail
BASE="${PROVISIOND_URL:-http://127.0.0.1:8000}"
CLIENT_ID="${CLIENT_ID:-my-partner}"
EMAIL="${EMAIL:-jane+$(date +%s)@example.com}"

fail() { echo "try-flow: $*" >&2; exit 1; }
# call NAME CURL-ARGS...: prints the answer; fails unless the status is 200.
call() {
  local name="$1"; shift
  local out status
  out=$(curl -sS -w '\n%{http_code}' "$@") || fail "$name: cannot reach $BASE"
  status="${out##*$'\n'}"; out="${out%$'\n'*}"
  echo "# $name → $status" >&2
  echo "$out" | jq . >&2 || true
  [[ "$status" == 200 ]] || fail "$name answered $status, expected 200"
  printf '%s' "$out"
}

# PKCE: a random verifier and its S256 challenge (RFC 7636).
VERIFIER=$(openssl rand -base64 32 | tr -d '=' | tr '+/' '-_')
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | openssl base64 | tr -d '=' | tr '+/' '-_')

# 1. Account request: a new email gets an authorization code at once.
ANSWER=$(call account_requests "$BASE/api/agentic/provisioning/account_requests" \
  -H 'API-Version: 0.1d' -H 'Content-Type: application/json' \
  -d "$(jq -n --arg id "req-$(date +%s%N)" --arg email "$EMAIL" --arg client "$CLIENT_ID" \
        --arg challenge "$CHALLENGE" \
        '{id: $id, email: $email, client_id: $client, code_challenge: $challenge, code_challenge_method: "S256"}')")
CODE=$(jq -er '.oauth.code' <<<"$ANSWER") || fail "account_requests: no oauth.code (type $(jq -r .type <<<"$ANSWER"))"

# 2. Token exchange: the code and the verifier give an access token.
ANSWER=$(call oauth/token "$BASE/api/agentic/oauth/token" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "code_verifier=$VERIFIER")
ACCESS_TOKEN=$(jq -er '.access_token' <<<"$ANSWER") || fail "oauth/token: no access_token"

# 3. Resources: the access token gives the project's credentials.
ANSWER=$(call resources "$BASE/api/agentic/provisioning/resources" \
  -H 'API-Version: 0.1d' -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' -d '{}')
jq -e '.status == "complete" and (.complete.access_configuration | has("api_key") and has("host"))' \
  <<<"$ANSWER" >/dev/null || fail "resources: not complete with an api_key and a host"
echo "try-flow: the three calls worked for $EMAIL" >&2
