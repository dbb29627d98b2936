// The partner quickstarts (examples/README.md) run as a partner runs them, against the real
// binary: examples/node/quickstart.mjs (plain Node, its own callback listener) and
// examples/shell/quickstart.sh (curl + jq + openssl, the redirect address pasted on stdin).
//
// New user: account_requests → code → tokens → resources → refresh; the credentials each example
// prints are the ones stored (project token as is, the personal key and the tokens by hash), and
// the refresh rotated the pair (old refresh token retired, its child the new one).
// Existing user: account_requests answers requires_auth; the test plays the person: welcome email
// → set password, then opens the consent URL the example printed → login page → consent page →
// Approve (csrf and all, over plain HTTP). The browser's redirect lands on the example's callback
// (Node) or is pasted into it (shell), and the example completes. Deny ends the example with 1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ACCESS_RE, B64URL43, HERE, PAT_RE, PROJECT_TOKEN_RE, REFRESH_RE, count, freePort, newAccount, q1, rawHttp,
  refreshGrant, registerClient, setLimit, setPasswordToken, sha256hex, sleep, startServer, uniqueEmail,
  waitForEmail,
} from './harness.mjs';
import { DEFAULT_PASSWORD, WebClient, formWithButton, setPasswordOverHttp, stopServer } from '../e2e/e2e.mjs';

const EXAMPLES = resolve(HERE, '../../examples');
const NODE_EXAMPLE = join(EXAMPLES, 'node/quickstart.mjs');
const SHELL_EXAMPLE = join(EXAMPLES, 'shell/quickstart.sh');
const FAMILY_REVOKED = 'Refresh token was already used; the token family has been revoked';
const CONSENT_URL_RE = /(http:\/\/127\.0\.0\.1:\d+\/api\/agentic\/authorize\?state=[A-Za-z0-9_-]+)/;
const OUTPUT_KEYS = ['accountId', 'apiKey', 'email', 'flow', 'host', 'personalApiKey', 'projectId', 'refreshed', 'tokens', 'type'];

let server;
const partners = {};   // kind → {clientId, redirectUri}
const running = new Set();

before(async () => {
  server = await startServer();
  for (const kind of ['node', 'shell']) {
    // The Node example listens on its redirect URI; the shell example only reads the address
    // the browser was sent to (nothing needs to listen there).
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const clientId = await registerClient(server, { clientId: `quickstart-${kind}`, name: `Quickstart ${kind}`, redirectUri });
    for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
    partners[kind] = { clientId, redirectUri };
  }
});
after(async () => {
  for (const p of running) p.kill('SIGKILL');
  await stopServer(server);   // Server.stop() would keep this file's process alive 15 s longer
});

// ---------------------------------------------------------------------------------------------
// Running an example.

/**
 * Start an example with the README's environment variables. Returns {proc, stderr(),
 * waitForStderr(re), exited: Promise<{code, signal, stdout, stderr}>}.
 */
function startExample(kind, { email, consentTimeout = 60 }) {
  const { clientId, redirectUri } = partners[kind];
  const [cmd, args] = kind === 'node' ? [process.execPath, [NODE_EXAMPLE]] : ['bash', [SHELL_EXAMPLE]];
  const proc = spawn(cmd, args, {
    env: {
      ...process.env,
      PROVISIOND_URL: server.url,
      CLIENT_ID: clientId,
      EMAIL: email,
      NAME: 'Jane Doe',
      REDIRECT_URI: redirectUri,
      CONSENT_TIMEOUT: String(consentTimeout),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(proc);
  if (kind === 'node') proc.stdin.end();   // the shell example reads the redirect address on stdin
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120000);
  const exited = new Promise((res) => {
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      res({ code, signal, stdout, stderr });
    });
  });
  let done = false;
  exited.then(() => { done = true; });
  return {
    proc,
    exited,
    stderr: () => stderr,
    async waitForStderr(re, timeoutMs = 30000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(stderr);
        if (m) return m;
        if (done) assert.fail(`${kind} example exited before printing ${re}:\n${stderr}\n${stdout}`);
        if (Date.now() > deadline) assert.fail(`${kind} example did not print ${re} within ${timeoutMs} ms:\n${stderr}`);
        await sleep(50);
      }
    },
  };
}

/** Exit 0 and one JSON object on stdout. */
function resultOf(kind, r) {
  const ctx = `${kind} example: exit ${r.code} ${r.signal ?? ''}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`;
  assert.equal(r.code, 0, ctx);
  let out;
  try { out = JSON.parse(r.stdout); } catch (e) { assert.fail(`stdout is not one JSON object (${e.message}): ${ctx}`); }
  return { out, ctx };
}

// ---------------------------------------------------------------------------------------------
// The credentials an example printed, against the database.

function assertStoredCredentials(out, { kind, email, flow, ctx }) {
  const { clientId } = partners[kind];
  assert.deepEqual(Object.keys(out).sort(), OUTPUT_KEYS, ctx);
  assert.equal(out.type, 'provisioned', ctx);
  assert.equal(out.flow, flow, ctx);
  assert.equal(out.email, email, ctx);
  assert.equal(out.host, server.url, `host is this server's (the US host defaults to the public URL): ${ctx}`);

  const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', email.toLowerCase());
  assert.ok(user, `a user for ${email}`);
  const membership = q1(server, 'SELECT organization_id, role FROM memberships WHERE user_id = ?', user.id);
  assert.equal(out.accountId, membership.organization_id, `accountId is the user's organization: ${ctx}`);

  // The project token is a public identifier, stored as is.
  assert.match(out.apiKey, PROJECT_TOKEN_RE, ctx);
  assert.match(out.projectId, /^\d+$/, ctx);
  const project = q1(server, 'SELECT * FROM projects WHERE id = ?', Number(out.projectId));
  assert.ok(project, `project ${out.projectId} exists`);
  assert.equal(project.api_token, out.apiKey, ctx);
  assert.equal(project.organization_id, out.accountId, ctx);

  // The personal API key: stored only as its hash, for this user, project and partner.
  assert.match(out.personalApiKey, PAT_RE, ctx);
  const pat = q1(server, 'SELECT * FROM personal_api_keys WHERE key_hash = ?', sha256hex(out.personalApiKey));
  assert.ok(pat, `the personal API key's hash is stored: ${ctx}`);
  assert.equal(pat.project_id, project.id);
  assert.equal(pat.user_id, user.id);
  assert.equal(pat.organization_id, out.accountId);
  assert.equal(pat.client_id, clientId);
  assert.equal(pat.label, `Acme Co - ${project.name}`, 'label_prefix "Acme Co" as in the public example');
  assert.equal(pat.mask, `phx_...${out.personalApiKey.slice(-4)}`);
  assert.equal(pat.revoked_at, null);
  assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE key_hash = ? OR mask = ?', out.personalApiKey, out.personalApiKey), 0,
    'the key itself is not stored');

  // Tokens: step 2's pair and step 4's pair, one family (this partner, this user, this project).
  for (const t of [out.tokens, out.refreshed]) {
    assert.match(t.accessToken, ACCESS_RE, ctx);
    assert.match(t.refreshToken, REFRESH_RE, ctx);
    assert.equal(t.expiresIn, 3600, ctx);
  }
  assert.notEqual(out.refreshed.accessToken, out.tokens.accessToken);
  assert.notEqual(out.refreshed.refreshToken, out.tokens.refreshToken);
  const oldAccess = q1(server, 'SELECT * FROM access_tokens WHERE token_hash = ?', sha256hex(out.tokens.accessToken));
  const newAccess = q1(server, 'SELECT * FROM access_tokens WHERE token_hash = ?', sha256hex(out.refreshed.accessToken));
  const oldRefresh = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(out.tokens.refreshToken));
  const newRefresh = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(out.refreshed.refreshToken));
  assert.ok(oldAccess && newAccess && oldRefresh && newRefresh, `all four tokens are stored by hash: ${ctx}`);
  const family = q1(server, 'SELECT * FROM token_families WHERE id = ?', oldRefresh.family_id);
  assert.equal(family.client_id, clientId);
  assert.equal(family.user_id, user.id);
  assert.equal(family.organization_id, out.accountId);
  assert.ok(JSON.parse(family.project_ids).includes(project.id), `the tokens reach project ${project.id}: ${family.project_ids}`);
  assert.equal(family.revoked_at, null);
  for (const row of [oldAccess, newAccess, newRefresh]) assert.equal(row.family_id, family.id);
  assert.equal(oldRefresh.access_token_hash, oldAccess.token_hash);
  assert.equal(newRefresh.access_token_hash, newAccess.token_hash);
  assert.equal(newAccess.expires_at - newAccess.created_at, 3600);

  // Rotation: the old refresh token was exchanged for the new one and retired with its access token.
  assert.notEqual(oldRefresh.rotated_at, null, 'the old refresh token is rotated');
  assert.equal(oldRefresh.revoked_at, null, 'rotated, not revoked: the family lives on');
  assert.notEqual(oldAccess.revoked_at, null, 'the old access token is retired by the refresh');
  assert.equal(newRefresh.parent_hash, oldRefresh.token_hash, 'the new refresh token replaces the old one');
  assert.equal(newRefresh.rotated_at, null);
  assert.equal(newRefresh.revoked_at, null);
  assert.equal(newAccess.revoked_at, null);
  return { user, project, family };
}

/**
 * What the printed pair is worth: the kept refresh token refreshes; the replaced one, presented
 * afterwards, is refused and takes the family down (docs/API.md "Refresh tokens form a family").
 */
async function assertRotationOverHttp(out) {
  const next = await refreshGrant(server, out.refreshed.refreshToken);
  assert.equal(next.status, 200, `the refresh token the example kept refreshes: ${next.text}`);
  const replay = await refreshGrant(server, out.tokens.refreshToken);
  assert.equal(replay.status, 400, replay.text);
  assert.deepEqual(replay.json, { error: 'invalid_grant', error_description: FAMILY_REVOKED });
}

// ---------------------------------------------------------------------------------------------
// The person, over plain HTTP (the e2e suite's cookie-keeping client and form reader; no Chromium).

/** An existing account with a password: account_requests by this partner, welcome email, set password. */
async function existingUserWithPassword(kind) {
  const email = uniqueEmail(`qs-${kind}-existing`);
  const acct = await newAccount(server, { clientId: partners[kind].clientId, email });
  const token = setPasswordToken(server, await waitForEmail(server, email, { timeoutMs: 15000 }));
  assert.ok(token, 'a set-password link in the welcome email');
  await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
  return { email, acct };
}

/**
 * The person opens the consent URL in a fresh browser: not logged in → the login page; logs in →
 * back on the consent page; clicks `decision` ("Approve" or "Deny"). Returns the Location the
 * browser is sent to (the partner's redirect URI with the answer).
 */
async function personAnswersConsent(consentUrl, email, decision) {
  const web = new WebClient(server);
  const first = await web.get(consentUrl);
  assert.equal(first.status, 302, `consent URL without a session: ${first.status} ${first.pageText.slice(0, 300)}`);
  const consentPath = new URL(consentUrl).pathname + new URL(consentUrl).search;
  assert.equal(first.location, `/login?next=${encodeURIComponent(consentPath)}`);

  const login = await web.get(first.location);
  assert.equal(login.status, 200, login.pageText.slice(0, 300));
  assert.ok(login.pageText.includes(email), 'the login page names the email to use');
  const loginForm = formWithButton(login.forms, 'Log in');
  assert.ok(loginForm?.fields.csrf, `a "Log in" form with csrf: ${login.text.slice(0, 2000)}`);
  assert.equal(loginForm.fields.next, consentPath);
  const loggedIn = await web.submit(loginForm, { email, password: DEFAULT_PASSWORD });
  assert.equal(loggedIn.status, 302, `log in: ${loggedIn.status} ${loggedIn.pageText.slice(0, 300)}`);
  assert.equal(loggedIn.location, consentPath, 'after login, back to the consent page');

  const consent = await web.get(loggedIn.location);
  assert.equal(consent.status, 200, `consent page: ${consent.status} ${consent.pageText.slice(0, 300)}`);
  const form = formWithButton(consent.forms, decision);
  assert.ok(form?.fields.csrf && form.fields.state, `a "${decision}" form with state and csrf: ${consent.text.slice(0, 2000)}`);
  assert.deepEqual([form.button.name, form.button.value], ['decision', decision.toLowerCase()]);
  const answer = await web.submit(form);
  assert.equal(answer.status, 302, `${decision}: ${answer.status} ${answer.pageText.slice(0, 300)}`);
  return answer.location;
}

/** The browser arrives on the partner's redirect URI: the Node example's listener, or pasted into the shell example. */
async function deliverRedirect(kind, example, location) {
  if (kind === 'node') {
    const u = new URL(location);
    const r = await rawHttp({ port: Number(u.port) }, 'GET', u.pathname + u.search, { headers: { accept: 'text/html' } });
    return r;
  }
  example.proc.stdin.end(`${location}\n`);
  return undefined;
}

// ---------------------------------------------------------------------------------------------

test('the Node example keeps the public document\'s names and structure', () => {
  const src = readFileSync(NODE_EXAMPLE, 'utf8');
  for (const needle of [
    "import crypto from 'node:crypto';", 'const CLIENT_ID', 'const BASE_URL',
    'async function provisionPostHogAccount(email, name)', "crypto.randomBytes(32).toString('base64url')",
    '// Step 1: Create account', '// Step 2: Exchange code for tokens', '// Step 3: Provision a project',
    "account.type === 'requires_auth'", "type: 'provisioned'", 'apiKey:', 'personalApiKey:', 'projectId:',
  ]) {
    assert.ok(src.includes(needle), `examples/node/quickstart.mjs contains ${needle}`);
  }
  assert.doesNotMatch(src, /^import .* from '(?!node:)/m, 'no dependencies: node: modules only');
});

for (const kind of ['node', 'shell']) {
  describe(`examples/${kind}/quickstart`, () => {
    test('new user: account request, token exchange, resources and a refresh; the printed credentials are the stored ones', async () => {
      const email = uniqueEmail(`qs-${kind}-new`);
      const example = startExample(kind, { email });
      const { out, ctx } = resultOf(kind, await example.exited);
      const { user } = assertStoredCredentials(out, { kind, email, flow: 'new_account', ctx });
      const req = q1(server, 'SELECT * FROM account_requests WHERE client_id = ? AND user_id = ?', partners[kind].clientId, user.id);
      assert.equal(req.outcome, 'oauth');
      assert.notEqual(q1(server, 'SELECT consumed_at FROM authorization_codes WHERE code_hash = ?', req.code_hash).consumed_at, null,
        'the code was exchanged');
      assert.match(example.stderr(), /account_requests → 200/, 'each step is printed');
      await assertRotationOverHttp(out);
    });

    test('existing user: requires_auth → the person logs in and approves → the redirect brings the code → the example completes', async () => {
      const { email, acct } = await existingUserWithPassword(kind);
      const example = startExample(kind, { email });
      const [, consentUrl] = await example.waitForStderr(CONSENT_URL_RE);
      const state = new URL(consentUrl).searchParams.get('state');
      assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE state_hash = ? AND client_id = ?', sha256hex(state), partners[kind].clientId), 1,
        'the printed URL is the pending consent');
      if (kind === 'node') await example.waitForStderr(/Waiting for the redirect/);
      else await example.waitForStderr(/Paste that whole address/);

      const location = await personAnswersConsent(consentUrl, email, 'Approve');
      const to = new URL(location);
      assert.equal(`${to.origin}${to.pathname}`, partners[kind].redirectUri, location);
      assert.equal(to.searchParams.get('state'), state, 'the consent state comes back');
      const code = to.searchParams.get('code');
      assert.match(code ?? '', B64URL43, location);

      const landed = await deliverRedirect(kind, example, location);
      if (landed) {
        assert.equal(landed.status, 200, landed.text);
        assert.match(landed.text, /Connected/, 'the callback page tells the person it worked');
      }
      const { out, ctx } = resultOf(kind, await example.exited);
      assert.ok(example.stderr().includes(code), `the example received code ${code}: ${ctx}`);
      const { user, family } = assertStoredCredentials(out, { kind, email, flow: 'consent', ctx });
      assert.equal(out.accountId, acct.account.id, 'the existing account');
      assert.equal(Number(out.projectId), acct.account.available_teams[0].id, 'its existing project');
      const row = q1(server, 'SELECT * FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
      assert.equal(row.client_id, partners[kind].clientId);
      assert.equal(row.user_id, user.id);
      assert.notEqual(row.consumed_at, null, 'the code from the redirect was exchanged');
      assert.equal(row.family_id, family.id, 'the printed tokens come from that code');
      assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE state_hash = ?', sha256hex(state)), 0, 'the consent is spent');
      await assertRotationOverHttp(out);
    });

    test('existing user who denies: the example says so and exits 1, with no tokens', async () => {
      const { email } = await existingUserWithPassword(kind);
      const families = () => count(server, 'SELECT COUNT(*) FROM token_families f JOIN users u ON u.id = f.user_id WHERE u.email_normalized = ?', email.toLowerCase());
      assert.equal(families(), 1, 'the first account request\'s tokens');
      const example = startExample(kind, { email });
      const [, consentUrl] = await example.waitForStderr(CONSENT_URL_RE);
      if (kind === 'node') await example.waitForStderr(/Waiting for the redirect/);
      const location = await personAnswersConsent(consentUrl, email, 'Deny');
      assert.equal(new URL(location).searchParams.get('error'), 'access_denied', location);
      await deliverRedirect(kind, example, location);
      const r = await example.exited;
      assert.equal(r.code, 1, `${r.stderr}\n${r.stdout}`);
      assert.equal(r.stdout, '', 'no credentials printed');
      assert.match(r.stderr, /consent was not given: access_denied/i);
      assert.equal(families(), 1, 'no tokens for the denied request');
    });
  });
}
