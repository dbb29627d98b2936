#!/usr/bin/env node
// Partner quickstart: PostHog's Provisioning API against provisiond, in plain Node.js 22
// (global fetch, node:crypto, node:http; no dependencies).
//
// This is the "Full example" of PostHog's public Provisioning API document, with the same names
// and the same three steps, extended by what a real partner needs next:
//
//   1. POST /api/agentic/provisioning/account_requests   email + PKCE code_challenge
//        → "oauth":         a new account; the authorization code is in the answer
//        → "requires_auth": the email already has an account; its owner must approve you in a
//                            browser. This script prints the consent URL, listens on your
//                            REDIRECT_URI, and receives the code there (?code=…&state=…)
//   2. POST /api/agentic/oauth/token      grant_type=authorization_code, code + code_verifier
//        → access token (pha_…, 1 hour) + refresh token (phr_…)
//   3. POST /api/agentic/provisioning/resources          Bearer access token
//        → project token (phc_…, for the SDKs), personal API key (phx_…, for the API), host
//   4. POST /api/agentic/oauth/token      grant_type=refresh_token
//        → a NEW access token and a NEW refresh token. Refresh tokens are single-use: the new one
//          replaces the old one, which is now retired (store the new pair, forget the old one;
//          presenting a retired refresh token again revokes every token of the authorization).
//   5. GET  /api/agentic/provisioning/resources/{id}     with the new access token: it works.
//
// PKCE (RFC 7636) replaces a client secret: you keep a random code_verifier, send only its
// SHA-256 (the code_challenge) in step 1, and prove you are the same caller by sending the
// verifier in step 2. A stolen code is useless without it.
//
// Run it against a local provisiond (examples/README.md):
//
//   provisiond clients add --database data/provisiond.db --client-id my-partner \
//       --name "My Partner" --redirect-uri http://127.0.0.1:8765/callback
//   node examples/node/quickstart.mjs
//
// Settings (environment variables):
//   PROVISIOND_URL   the server                        (default http://127.0.0.1:8000)
//   CLIENT_ID        your client_id: the id you registered, or your metadata document's URL
//                                                      (default my-partner)
//   EMAIL            the person to provision           (default jane+<time>@example.com: a new one)
//   NAME             their name                        (default Jane Doe)
//   REDIRECT_URI     your registered redirect URI; for the consent path this script listens on
//                    it, so it must be http://127.0.0.1:PORT/… or http://localhost:PORT/…
//                                                      (default http://127.0.0.1:8765/callback)
//   CONSENT_TIMEOUT  seconds to wait for the person's approval (default 600)
//
// Progress goes to stderr; the result, a JSON object with the credentials, goes to stdout:
//   {"type":"provisioned","flow":"new_account"|"consent","email","accountId","projectId",
//    "apiKey","host","personalApiKey","tokens":{…from step 2},"refreshed":{…from step 4}}
// Against a real deployment keep these secrets in your secret store, not in logs.

import crypto from 'node:crypto';
import http from 'node:http';

const CLIENT_ID = process.env.CLIENT_ID || 'my-partner';
const BASE_URL = (process.env.PROVISIOND_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const REDIRECT_URI = process.env.REDIRECT_URI || 'http://127.0.0.1:8765/callback';
const EMAIL = process.env.EMAIL || `jane+${Date.now()}@example.com`;
const NAME = process.env.NAME || 'Jane Doe';
const CONSENT_TIMEOUT = Number(process.env.CONSENT_TIMEOUT || 600);

const log = (...lines) => { for (const l of lines) process.stderr.write(`${l}\n`); };

async function provisionPostHogAccount(email, name) {
  // Generate PKCE values
  const codeVerifier = crypto.randomBytes(32).toString('base64url');
  const codeChallenge = crypto
    .createHash('sha256')
    .update(codeVerifier)
    .digest('base64url');
  // Step 1: Create account
  const request = {
    id: crypto.randomUUID(), // your request id: retrying with the same id is idempotent
    email,
    name,
    client_id: CLIENT_ID,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    configuration: { region: 'US' },
  };
  let accountRes;
  for (;;) {
    accountRes = await fetch(
      `${BASE_URL}/api/agentic/provisioning/account_requests`,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'API-Version': '0.1d',
        },
        body: JSON.stringify(request),
      }
    );
    // A partner identified by a metadata-document URL is registered on its first request:
    // 202 {"type":"registering","retry_after":5}. Wait and send the same request again.
    if (accountRes.status !== 202) break;
    const { retry_after: retryAfter = 5 } = await accountRes.json();
    log(`1. account_requests → 202 registering: retrying in ${retryAfter} s`);
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
  }
  if (!accountRes.ok) {
    const err = await accountRes.json();
    throw new Error(
      `Account request failed (${accountRes.status}): ${err.error?.message || JSON.stringify(err)}`
    );
  }
  const account = await accountRes.json();
  if (account.type === 'requires_auth') {
    // Existing user - redirect them to account.requires_auth.url. Keep the verifier: the code
    // that comes back on your redirect URI is exchanged with it (main() below does this).
    log(`1. account_requests → ${accountRes.status} requires_auth: ${email} already has an account`);
    return { type: 'requires_auth', url: account.requires_auth.url, codeVerifier };
  }
  if (account.type !== 'oauth') {
    throw new Error(account.error?.message || 'Unexpected response type');
  }
  log(`1. account_requests → ${accountRes.status} oauth: a new account for ${email}`,
    `   authorization code ${account.oauth.code} (single use, 5 minutes)`,
    '   the person gets a welcome email with a link to set a password');
  // Step 2: Exchange code for tokens
  const tokens = await exchangeCodeForTokens(account.oauth.code, codeVerifier);
  // Step 3: Provision a project
  return provisionProject(tokens);
}

// Step 2: Exchange code for tokens
async function exchangeCodeForTokens(code, codeVerifier) {
  const tokenRes = await fetch(`${BASE_URL}/api/agentic/oauth/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'API-Version': '0.1d',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: codeVerifier,
    }),
  });
  if (!tokenRes.ok) {
    const err = await tokenRes.json();
    throw new Error(
      `Token exchange failed (${tokenRes.status}): ${err.error_description || JSON.stringify(err)}`
    );
  }
  const tokens = await tokenRes.json();
  log(`2. oauth/token (authorization_code) → ${tokenRes.status}`,
    `   access token  ${tokens.access_token} (expires in ${tokens.expires_in} s)`,
    `   refresh token ${tokens.refresh_token}`,
    `   account ${tokens.account.id}, projects: ${tokens.account.available_teams.map((t) => `${t.id} "${t.name}"`).join(', ')}`);
  return tokens;
}

// Step 3: Provision a project
async function provisionProject(tokens) {
  const resourceRes = await fetch(
    `${BASE_URL}/api/agentic/provisioning/resources`,
    {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${tokens.access_token}`,
        'API-Version': '0.1d',
      },
      body: JSON.stringify({
        service_id: 'analytics',
        label_prefix: 'Acme Co',
        configuration: { project_name: 'Production' },
      }),
    }
  );
  if (!resourceRes.ok) {
    const err = await resourceRes.json();
    throw new Error(
      `Resource provisioning failed (${resourceRes.status}): ${err.error?.message || JSON.stringify(err)}`
    );
  }
  const resource = await resourceRes.json();
  log(`3. resources → ${resourceRes.status} ${resource.status}: project ${resource.id}`,
    `   project token    ${resource.complete.access_configuration.api_key}`,
    `   personal API key ${resource.complete.access_configuration.personal_api_key}`,
    `   host             ${resource.complete.access_configuration.host}`);
  return {
    type: 'provisioned',
    apiKey: resource.complete.access_configuration.api_key,
    host: resource.complete.access_configuration.host,
    personalApiKey: resource.complete.access_configuration.personal_api_key,
    projectId: resource.id,
    accountId: tokens.account.id,
    tokens,
  };
}

// Step 4: Refresh the tokens (before the access token's expires_in runs out, or on a 401).
async function refreshTokens(refreshToken) {
  const tokenRes = await fetch(`${BASE_URL}/api/agentic/oauth/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'API-Version': '0.1d',
    },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    }),
  });
  if (!tokenRes.ok) {
    const err = await tokenRes.json();
    throw new Error(
      `Token refresh failed (${tokenRes.status}): ${err.error_description || JSON.stringify(err)}`
    );
  }
  const tokens = await tokenRes.json();
  if (tokens.refresh_token === refreshToken) throw new Error('Token refresh did not rotate the refresh token');
  log(`4. oauth/token (refresh_token) → ${tokenRes.status}: a new pair; the old refresh token is retired`,
    `   access token  ${tokens.access_token} (expires in ${tokens.expires_in} s)`,
    `   refresh token ${tokens.refresh_token} (replaces ${refreshToken})`);
  return tokens;
}

// Step 5: Use the new access token: read the project back.
async function getProject(accessToken, projectId) {
  const res = await fetch(`${BASE_URL}/api/agentic/provisioning/resources/${encodeURIComponent(projectId)}`, {
    headers: { Authorization: `Bearer ${accessToken}`, 'API-Version': '0.1d' },
  });
  const body = await res.json();
  if (!res.ok) {
    throw new Error(`Reading the project failed (${res.status}): ${body.error?.message || JSON.stringify(body)}`);
  }
  log(`5. resources/${projectId} with the new access token → ${res.status} ${body.status}`);
  return body;
}

// The consent path: your redirect URI receives ?code=…&state=… (or ?error=access_denied&state=…)
// once the person approves (or denies). A real partner does this in its web app's callback route;
// here a one-shot local HTTP server plays that route. The state must be the one in the consent
// URL: that proves the redirect answers the request you started.
function receiveAuthorizationCode(consentUrl, { timeoutSeconds = CONSENT_TIMEOUT } = {}) {
  const redirect = new URL(REDIRECT_URI);
  if (redirect.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(redirect.hostname)) {
    log(`   Consent URL: ${consentUrl}`);
    throw new Error(`REDIRECT_URI ${REDIRECT_URI} is not a local http:// address this script can listen on; `
      + 'register http://127.0.0.1:PORT/callback as the first redirect URI and set REDIRECT_URI to it');
  }
  const expectedState = new URL(consentUrl).searchParams.get('state');
  const port = Number(redirect.port || 80);
  return new Promise((resolve, reject) => {
    let timer;
    let finished = false;
    const done = (err, code) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      server.close();
      if (err) reject(err); else resolve(code);
    };
    const server = http.createServer((req, res) => {
      // One request per connection, so that the listener can close as soon as it has answered.
      const reply = (status, type, body) => res.writeHead(status, { 'Content-Type': type, Connection: 'close' }).end(body);
      const page = (status, text) => reply(status, 'text/html; charset=utf-8',
        `<!doctype html><meta charset="utf-8"><title>Partner</title><p>${text}</p>\n`);
      const url = new URL(req.url, REDIRECT_URI);
      if (req.method !== 'GET' || url.pathname !== redirect.pathname) {
        reply(404, 'text/plain; charset=utf-8', 'Not found\n');
        return;
      }
      const params = url.searchParams;
      if (params.get('state') !== expectedState) {
        page(400, 'This answer is not for the request in progress (state does not match).');
        log('   ← a redirect with the wrong state was ignored');
        return;
      }
      if (params.get('error')) {
        const why = `${params.get('error')} ${params.get('error_description') || ''}`.trim();
        res.on('finish', () => done(new Error(`Consent was not given: ${why}`)));
        page(200, 'You did not connect the app. You can close this tab.');
        return;
      }
      const code = params.get('code');
      if (!code) {
        page(400, 'No authorization code in this address.');
        return;
      }
      log(`   ← ${redirect.origin}${redirect.pathname}: authorization code ${code}, state matches`);
      res.on('finish', () => done(null, code));
      page(200, 'Connected. You can close this tab and return to the app.');
    });
    server.on('error', (e) => done(new Error(`Cannot listen on ${REDIRECT_URI}: ${e.message}`)));
    timer = setTimeout(() => done(new Error(`No answer on ${REDIRECT_URI} within ${timeoutSeconds} s`)), timeoutSeconds * 1000);
    server.listen(port, redirect.hostname.replace(/^\[|\]$/g, ''), () => {
      log('   Open this URL in a browser, log in as the account owner and click Approve:',
        '',
        `   ${consentUrl}`,
        '',
        `   Waiting for the redirect to ${REDIRECT_URI} (up to ${timeoutSeconds} s)…`);
    });
  });
}

async function main() {
  log(`provisiond quickstart: ${BASE_URL}, partner ${CLIENT_ID}, email ${EMAIL}`);
  let flow = 'new_account';
  let result = await provisionPostHogAccount(EMAIL, NAME);
  if (result.type === 'requires_auth') {
    flow = 'consent';
    const code = await receiveAuthorizationCode(result.url);
    // Steps 2 and 3, as for a new account, with this request's PKCE verifier.
    const tokens = await exchangeCodeForTokens(code, result.codeVerifier);
    result = await provisionProject(tokens);
  }
  // Step 4: refresh. From now on use refreshed.access_token and keep refreshed.refresh_token.
  const refreshed = await refreshTokens(result.tokens.refresh_token);
  // Step 5: the new access token works.
  await getProject(refreshed.access_token, result.projectId);

  const out = {
    type: result.type,
    flow,
    email: EMAIL,
    accountId: result.accountId,
    projectId: result.projectId,
    apiKey: result.apiKey,
    host: result.host,
    personalApiKey: result.personalApiKey,
    tokens: {
      accessToken: result.tokens.access_token,
      refreshToken: result.tokens.refresh_token,
      expiresIn: result.tokens.expires_in,
    },
    refreshed: {
      accessToken: refreshed.access_token,
      refreshToken: refreshed.refresh_token,
      expiresIn: refreshed.expires_in,
    },
  };
  log(`Done: project ${out.projectId} on ${out.host} for ${EMAIL}. Credentials (stdout):`);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e) => {
  log(`quickstart: ${e.message}`);
  process.exitCode = 1;
});
