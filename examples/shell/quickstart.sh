#!/usr/bin/env bash
# Partner quickstart: PostHog's Provisioning API against provisiond, with curl, jq and openssl.
# The same flow as examples/node/quickstart.mjs; every value is captured into a shell variable
# from the answer before, and every answer is printed (to stderr).
#
#   1. POST /api/agentic/provisioning/account_requests   email + PKCE code_challenge
#        → "oauth":         a new account: CODE is in the answer
#        → "requires_auth": the email already has an account; its owner must approve you in a
#                            browser. The script prints the consent URL; after Approve the browser
#                            is sent to your REDIRECT_URI?code=…&state=…; paste that address here
#                            (a web app would receive it on its callback route instead)
#   2. POST /api/agentic/oauth/token      grant_type=authorization_code, CODE + VERIFIER
#        → ACCESS_TOKEN (pha_…, 1 hour) and REFRESH_TOKEN (phr_…)
#   3. POST /api/agentic/provisioning/resources          Bearer ACCESS_TOKEN
#        → PROJECT_TOKEN (phc_…, the SDKs' api_key), PERSONAL_API_KEY (phx_…), HOST, PROJECT_ID
#   4. POST /api/agentic/oauth/token      grant_type=refresh_token, REFRESH_TOKEN
#        → a new ACCESS_TOKEN and a new REFRESH_TOKEN that replace the old ones. Refresh tokens
#          are single-use: presenting a retired one again revokes every token of the authorization.
#   5. GET  /api/agentic/provisioning/resources/PROJECT_ID with the new ACCESS_TOKEN: it works.
#
# Run it against a local provisiond (examples/README.md), the partner registered first:
#
#   provisiond clients add --database data/provisiond.db --client-id my-partner \
#       --name "My Partner" --redirect-uri http://127.0.0.1:8765/callback
#   bash examples/shell/quickstart.sh
#
# Settings (environment variables):
#   PROVISIOND_URL   the server                        (default http://127.0.0.1:8000)
#   CLIENT_ID        your client_id: the id you registered, or your metadata document's URL
#                                                      (default my-partner)
#   EMAIL            the person to provision           (default jane+<time>@example.com: a new one)
#   NAME             their name                        (default Jane Doe)
#   CONSENT_TIMEOUT  seconds to wait for the pasted redirect address (default 600)
#
# The result, a JSON object with the credentials, goes to stdout (same shape as the Node example):
#   {"type":"provisioned","flow":"new_account"|"consent","email","accountId","projectId",
#    "apiKey","host","personalApiKey","tokens":{…from step 2},"refreshed":{…from step 4}}
# Against a real deployment keep these secrets in your secret store, not in logs.
set -euo pipefail
BASE="${PROVISIOND_URL:-http://127.0.0.1:8000}"
BASE="${BASE%/}"
CLIENT_ID="${CLIENT_ID:-my-partner}"
EMAIL="${EMAIL:-jane+$(date +%s)@example.com}"
NAME="${NAME:-Jane Doe}"
CONSENT_TIMEOUT="${CONSENT_TIMEOUT:-600}"

fail() { echo "quickstart: $*" >&2; exit 1; }
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || fail "needs $tool"
done

# call NAME CURL-ARGS...: one request. Sets STATUS and BODY, and prints both to stderr.
call() {
  local name="$1" out
  shift
  out=$(curl -sS -w '\n%{http_code}' "$@") || fail "$name: cannot reach $BASE"
  STATUS="${out##*$'\n'}"
  BODY="${out%$'\n'*}"
  echo "# $name → $STATUS" >&2
  jq . <<<"$BODY" >&2 2>/dev/null || printf '%s\n' "$BODY" >&2
}
# expect STATUS NAME: fail with the server's own message unless the last call answered STATUS.
expect() {
  [[ "$STATUS" == "$1" ]] && return 0
  fail "$2 answered $STATUS: $(jq -r '.error.message? // .error_description? // .' <<<"$BODY" 2>/dev/null || echo "$BODY")"
}
# query_param NAME URL: the URL-decoded value of NAME in URL's query ("" when absent).
query_param() {
  local query="${2#*\?}" pair value
  local -a pairs
  query="${query%%#*}"
  IFS='&' read -ra pairs <<<"$query"
  for pair in "${pairs[@]}"; do
    if [[ "${pair%%=*}" == "$1" && "$pair" == *=* ]]; then
      value="${pair#*=}"
      value="${value//+/ }"
      printf '%b' "${value//%/\\x}"
      return 0
    fi
  done
}

echo "provisiond quickstart: $BASE, partner $CLIENT_ID, email $EMAIL" >&2

# PKCE (RFC 7636): keep VERIFIER to yourself; send only its SHA-256, CHALLENGE, in step 1.
VERIFIER=$(openssl rand -base64 32 | tr -d '=' | tr '+/' '-_')
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | openssl base64 | tr -d '=' | tr '+/' '-_')

# 1. Account request. The id is yours: retrying with the same id is idempotent.
REQUEST=$(jq -n --arg id "req-$(date +%s%N)-$RANDOM" --arg email "$EMAIL" --arg name "$NAME" \
  --arg client "$CLIENT_ID" --arg challenge "$CHALLENGE" \
  '{id: $id, email: $email, name: $name, client_id: $client, code_challenge: $challenge,
    code_challenge_method: "S256", configuration: {region: "US"}}')
while :; do
  call account_requests "$BASE/api/agentic/provisioning/account_requests" \
    -H 'Content-Type: application/json' -H 'API-Version: 0.1d' -d "$REQUEST"
  # A partner identified by a metadata-document URL is registered on its first request:
  # 202 {"type":"registering","retry_after":5}. Wait and send the same request again.
  [[ "$STATUS" == 202 ]] || break
  sleep "$(jq -r '.retry_after // 5' <<<"$BODY")"
done
expect 200 account_requests
TYPE=$(jq -r .type <<<"$BODY")
if [[ "$TYPE" == oauth ]]; then
  FLOW=new_account
  CODE=$(jq -er .oauth.code <<<"$BODY")
  echo "# a new account for $EMAIL; the welcome email (set a password) is on its way" >&2
elif [[ "$TYPE" == requires_auth ]]; then
  # An existing account: its owner approves you in a browser, which then goes to your redirect
  # URI with ?code=…&state=…. The state must be the one in the consent URL.
  FLOW=consent
  CONSENT_URL=$(jq -er .requires_auth.url <<<"$BODY")
  STATE=$(query_param state "$CONSENT_URL")
  {
    echo "# $EMAIL already has an account. Open this URL in a browser, log in as its owner and click Approve:"
    echo
    echo "    $CONSENT_URL"
    echo
    echo "# The browser then goes to your redirect URI (…?code=…&state=…)."
    echo "# Paste that whole address here and press Enter:"
  } >&2
  read -r -t "$CONSENT_TIMEOUT" REDIRECTED_TO || fail "no redirect address within $CONSENT_TIMEOUT s"
  [[ "$(query_param state "$REDIRECTED_TO")" == "$STATE" ]] ||
    fail "the pasted address is not the answer to this request (its state does not match)"
  ERROR=$(query_param error "$REDIRECTED_TO")
  [[ -z "$ERROR" ]] || fail "consent was not given: $ERROR $(query_param error_description "$REDIRECTED_TO")"
  CODE=$(query_param code "$REDIRECTED_TO")
  [[ -n "$CODE" ]] || fail "no code in the pasted address"
  echo "# authorization code $CODE received, state matches" >&2
else
  fail "account_requests: unexpected type $TYPE"
fi

# 2. Token exchange: the code and the verifier give an access token and a refresh token.
call oauth/token "$BASE/api/agentic/oauth/token" -H 'API-Version: 0.1d' \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "code_verifier=$VERIFIER"
expect 200 oauth/token
ACCESS_TOKEN=$(jq -er .access_token <<<"$BODY")
REFRESH_TOKEN=$(jq -er .refresh_token <<<"$BODY")
EXPIRES_IN=$(jq -er .expires_in <<<"$BODY")
ACCOUNT_ID=$(jq -er .account.id <<<"$BODY")

# 3. Resources: the access token gives the project's credentials.
call resources "$BASE/api/agentic/provisioning/resources" -H 'Content-Type: application/json' \
  -H 'API-Version: 0.1d' -H "Authorization: Bearer $ACCESS_TOKEN" \
  -d '{"service_id": "analytics", "label_prefix": "Acme Co", "configuration": {"project_name": "Production"}}'
expect 200 resources
PROJECT_ID=$(jq -er .id <<<"$BODY")
PROJECT_TOKEN=$(jq -er .complete.access_configuration.api_key <<<"$BODY")
PERSONAL_API_KEY=$(jq -er .complete.access_configuration.personal_api_key <<<"$BODY")
HOST=$(jq -er .complete.access_configuration.host <<<"$BODY")

# 4. Refresh: a new pair replaces the old one (before the access token expires, or on a 401).
OLD_ACCESS_TOKEN=$ACCESS_TOKEN
OLD_REFRESH_TOKEN=$REFRESH_TOKEN
OLD_EXPIRES_IN=$EXPIRES_IN
call 'oauth/token (refresh)' "$BASE/api/agentic/oauth/token" -H 'API-Version: 0.1d' \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH_TOKEN"
expect 200 'oauth/token (refresh)'
ACCESS_TOKEN=$(jq -er .access_token <<<"$BODY")
REFRESH_TOKEN=$(jq -er .refresh_token <<<"$BODY")
EXPIRES_IN=$(jq -er .expires_in <<<"$BODY")
[[ "$REFRESH_TOKEN" != "$OLD_REFRESH_TOKEN" ]] || fail "the refresh did not rotate the refresh token"
echo "# refresh token $REFRESH_TOKEN replaces $OLD_REFRESH_TOKEN (now retired)" >&2

# 5. The new access token works: read the project back.
call "resources/$PROJECT_ID" "$BASE/api/agentic/provisioning/resources/$PROJECT_ID" \
  -H 'API-Version: 0.1d' -H "Authorization: Bearer $ACCESS_TOKEN"
expect 200 "resources/$PROJECT_ID"

echo "# done: project $PROJECT_ID on $HOST for $EMAIL. Credentials (stdout):" >&2
jq -n --arg flow "$FLOW" --arg email "$EMAIL" --arg account "$ACCOUNT_ID" --arg project "$PROJECT_ID" \
  --arg api_key "$PROJECT_TOKEN" --arg host "$HOST" --arg pat "$PERSONAL_API_KEY" \
  --arg old_access "$OLD_ACCESS_TOKEN" --arg old_refresh "$OLD_REFRESH_TOKEN" --argjson old_expires "$OLD_EXPIRES_IN" \
  --arg access "$ACCESS_TOKEN" --arg refresh "$REFRESH_TOKEN" --argjson expires "$EXPIRES_IN" \
  '{type: "provisioned", flow: $flow, email: $email, accountId: $account, projectId: $project,
    apiKey: $api_key, host: $host, personalApiKey: $pat,
    tokens: {accessToken: $old_access, refreshToken: $old_refresh, expiresIn: $old_expires},
    refreshed: {accessToken: $access, refreshToken: $refresh, expiresIn: $expires}}'
