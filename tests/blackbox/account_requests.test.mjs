// POST /api/agentic/provisioning/account_requests
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  B64URL43, CATALOG, P, UUID_RE, accountRequest, api, count, disableClient, emailsTo, exchangeCode, pkce,
  q, q1, registerClient, setPasswordToken, sha256hex, sleep, startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

function assertTypedError(res, status, code, { id, message } = {}) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.type, 'error', res.text);
  assert.equal(res.json.error?.code, code, res.text);
  assert.equal(typeof res.json.error.message, 'string', res.text);
  const keys = Object.keys(res.json).sort();
  assert.ok(JSON.stringify(keys) === '["error","type"]' || JSON.stringify(keys) === '["error","id","type"]', res.text);
  assert.deepEqual(Object.keys(res.json.error).sort(), ['code', 'message'], res.text);
  if (id !== undefined) assert.equal(res.json.id, id, `id echoed: ${res.text}`);
  if (message !== undefined) assert.equal(res.json.error.message, message, res.text);
}

describe('new user', () => {
  test('answers 200 oauth with a code and creates user, organization, project, membership and code', async () => {
    const clientId = await registerClient(server, { name: 'Acme Partner' });
    const email = uniqueEmail('new');
    const { res, requestId, challenge } = await accountRequest(server, { clientId, email });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(Object.keys(res.json).sort(), ['id', 'oauth', 'type']);
    assert.equal(res.json.id, requestId);
    assert.equal(res.json.type, 'oauth');
    assert.deepEqual(Object.keys(res.json.oauth), ['code']);
    const code = res.json.oauth.code;
    assert.match(code, B64URL43);

    const users = q(server, 'SELECT * FROM users WHERE email_normalized = ?', email);
    assert.equal(users.length, 1);
    assert.equal(users[0].first_name, 'Jane');
    assert.equal(users[0].email_verified, 0);
    assert.equal(users[0].password_hash, null);
    assert.match(users[0].id, UUID_RE);

    const orgs = q(server, `SELECT o.* FROM organizations o JOIN memberships m ON m.organization_id = o.id
                            WHERE m.user_id = ?`, users[0].id);
    assert.equal(orgs.length, 1);
    assert.equal(orgs[0].region, 'US');
    assert.ok(orgs[0].name.endsWith(`(${email})`), `default organization name "${orgs[0].name}" ends with "(${email})"`);
    const projects = q(server, 'SELECT * FROM projects WHERE organization_id = ?', orgs[0].id);
    assert.equal(projects.length, 1);
    assert.equal(projects[0].name, 'Default project');
    assert.match(projects[0].api_token, /^phc_/);

    const codes = q(server, 'SELECT * FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
    assert.equal(codes.length, 1, 'the code is stored by its SHA-256 hex digest');
    assert.equal(codes[0].client_id, clientId);
    assert.equal(codes[0].user_id, users[0].id);
    assert.equal(codes[0].organization_id, orgs[0].id);
    assert.equal(codes[0].project_id, projects[0].id);
    assert.equal(codes[0].code_challenge, challenge);
    assert.equal(codes[0].code_challenge_method, 'S256');
    assert.equal(codes[0].consumed_at, null);
    assert.equal(codes[0].expires_at - codes[0].issued_at, 300, 'codes live 5 minutes');
  });

  test('sends one welcome email with a set-password link', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('welcome');
    const { res } = await accountRequest(server, { clientId, email });
    assert.equal(res.status, 200, res.text);
    const mail = await waitForEmail(server, email);
    const token = setPasswordToken(server, mail);
    assert.ok(token, `welcome email carries ${server.url}/account/set-password?token=…:\n${mail.raw}`);
    assert.ok(token.length >= 32);
    const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', email);
    const rows = q(server, 'SELECT * FROM password_set_tokens WHERE user_id = ?', user.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].token_hash, sha256hex(token), 'set-password token is stored hashed');
    assert.equal(rows[0].used_at, null);
    await sleep(1200);
    assert.equal((await emailsTo(server, email)).length, 1, 'exactly one welcome email');
  });

  test('organization_name and name are used; region EU recorded', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('orgname');
    const { res } = await accountRequest(server, {
      clientId, email, name: 'Ada Lovelace', configuration: { region: 'eu', organization_name: 'Acme Corp' },
    });
    assert.equal(res.status, 200, res.text);
    const row = q1(server, `SELECT u.first_name, o.name AS org, o.region FROM users u
      JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.organization_id
      WHERE u.email_normalized = ?`, email);
    assert.deepEqual(row, { first_name: 'Ada', org: 'Acme Corp', region: 'EU' });
  });

  test('name and configuration may be omitted (region defaults to US)', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('minimal');
    const { res } = await accountRequest(server, { clientId, email, name: undefined, configuration: undefined });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'oauth');
    const row = q1(server, `SELECT o.region FROM users u JOIN memberships m ON m.user_id = u.id
      JOIN organizations o ON o.id = m.organization_id WHERE u.email_normalized = ?`, email);
    assert.equal(row.region, 'US');
  });

  test('email is stored normalized (trimmed, lower-cased) and matched that way', async () => {
    const clientId = await registerClient(server);
    const local = `MiXeD-${Date.now()}`;
    const { res } = await accountRequest(server, { clientId, email: `  ${local}@Example.COM ` });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'oauth');
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', `${local.toLowerCase()}@example.com`), 1);
    const again = await accountRequest(server, { clientId, email: `${local.toLowerCase()}@example.com` });
    assert.equal(again.res.status, 200, again.res.text);
    assert.equal(again.res.json.type, 'requires_auth', 'the same address in another case is the same user');
  });

  test('a form-encoded request works too', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('form');
    const { verifier, challenge } = pkce();
    const res = await api(server, 'POST', `${P}/account_requests`, {
      form: { id: 'req-form-1', email, client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'oauth');
    assert.equal(res.json.id, 'req-form-1');
    const tok = await exchangeCode(server, res.json.oauth.code, verifier);
    assert.equal(tok.status, 200, tok.text);
  });

  test('omitted scopes grant the client ceiling; explicit scopes are granted exactly', async () => {
    const ceiling = ['project:read', 'query:read', 'user:read'];
    const clientId = await registerClient(server, { scopes: ceiling });
    const a = await accountRequest(server, { clientId });
    assert.equal(a.res.status, 200, a.res.text);
    const rowA = q1(server, 'SELECT scopes FROM authorization_codes WHERE code_hash = ?', sha256hex(a.res.json.oauth.code));
    assert.deepEqual(rowA.scopes.split(' ').filter(Boolean).sort(), ceiling);

    const b = await accountRequest(server, { clientId, scopes: ['user:read'] });
    assert.equal(b.res.status, 200, b.res.text);
    const rowB = q1(server, 'SELECT scopes FROM authorization_codes WHERE code_hash = ?', sha256hex(b.res.json.oauth.code));
    assert.deepEqual(rowB.scopes.split(' ').filter(Boolean), ['user:read']);
    const tok = await exchangeCode(server, b.res.json.oauth.code, b.verifier);
    assert.equal(tok.status, 200, tok.text);
    const fam = q1(server, `SELECT f.scopes FROM token_families f JOIN access_tokens a ON a.family_id = f.id
      WHERE a.token_hash = ?`, sha256hex(tok.json.access_token));
    assert.deepEqual(fam.scopes.split(' ').filter(Boolean), ['user:read']);
  });

  test('every catalog scope is accepted for a client whose ceiling is the whole catalog', async () => {
    const clientId = await registerClient(server, { scopes: CATALOG });
    const { res } = await accountRequest(server, { clientId, scopes: CATALOG });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'oauth');
  });
});

describe('existing user', () => {
  test('answers requires_auth with a consent URL and records one pending consent', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('existing');
    const first = await accountRequest(server, { clientId, email });
    assert.equal(first.res.json.type, 'oauth', first.res.text);
    const usersBefore = count(server, 'SELECT COUNT(*) FROM users');

    const { res, requestId, challenge } = await accountRequest(server, { clientId, email });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['id', 'requires_auth', 'type']);
    assert.equal(res.json.id, requestId);
    assert.equal(res.json.type, 'requires_auth');
    assert.deepEqual(Object.keys(res.json.requires_auth), ['url']);
    const url = new URL(res.json.requires_auth.url);
    assert.equal(url.origin, server.url);
    assert.equal(url.pathname, '/api/agentic/authorize');
    const state = url.searchParams.get('state');
    assert.match(state, B64URL43);
    assert.equal(count(server, 'SELECT COUNT(*) FROM users'), usersBefore, 'no new user');

    const pend = q(server, 'SELECT * FROM pending_consents WHERE client_id = ? AND email_normalized = ?', clientId, email);
    assert.equal(pend.length, 1);
    assert.equal(pend[0].state_hash, sha256hex(state), 'state stored by hash');
    assert.equal(pend[0].code_challenge, challenge);
    assert.equal(pend[0].region, 'US');
    assert.equal(pend[0].expires_at - pend[0].created_at, 600);
    await waitForEmail(server, email);
    await sleep(1200);
    assert.equal((await emailsTo(server, email)).length, 1, 'no second welcome email');
  });

  test('a second request for the same client and email leaves only the newest pending consent', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('dedupe');
    await accountRequest(server, { clientId, email });
    const a = await accountRequest(server, { clientId, email });
    const b = await accountRequest(server, { clientId, email });
    assert.equal(a.res.json.type, 'requires_auth', a.res.text);
    assert.equal(b.res.json.type, 'requires_auth', b.res.text);
    const sa = new URL(a.res.json.requires_auth.url).searchParams.get('state');
    const sb = new URL(b.res.json.requires_auth.url).searchParams.get('state');
    assert.notEqual(sa, sb);
    const pend = q(server, 'SELECT state_hash FROM pending_consents WHERE client_id = ? AND email_normalized = ?', clientId, email);
    assert.deepEqual(pend, [{ state_hash: sha256hex(sb) }]);
  });

  test('another client asking for the same email gets its own pending consent', async () => {
    const c1 = await registerClient(server);
    const c2 = await registerClient(server);
    const email = uniqueEmail('twoclients');
    await accountRequest(server, { clientId: c1, email });
    const a = await accountRequest(server, { clientId: c1, email });
    const b = await accountRequest(server, { clientId: c2, email });
    assert.equal(a.res.json.type, 'requires_auth');
    assert.equal(b.res.json.type, 'requires_auth');
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE email_normalized = ?', email), 2);
  });

  test('scopes outside the ceiling are refused for an existing user too', async () => {
    const clientId = await registerClient(server, { scopes: ['user:read'] });
    const email = uniqueEmail('existing-scope');
    await accountRequest(server, { clientId, email });
    const { res, requestId } = await accountRequest(server, { clientId, email, scopes: ['project:read'] });
    assertTypedError(res, 400, 'invalid_scope', { id: requestId, message: "One or more requested scopes exceed the application's allowed scopes" });
  });

  test('an existing user without code_challenge → 400 invalid_request, no consent recorded', async () => {
    const clientId = await registerClient(server);
    const email = uniqueEmail('existing-nopkce');
    await accountRequest(server, { clientId, email });
    const { res, requestId } = await accountRequest(server, { clientId, email, code_challenge: undefined });
    assertTypedError(res, 400, 'invalid_request', { id: requestId });
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE email_normalized = ?', email), 0);
  });

  test('the consent URL uses the requested region host', async () => {
    const s = await startServer({ extraArgs: ['--us-host', 'http://us.provisiond.test', '--eu-host', 'http://eu.provisiond.test'] });
    try {
      const clientId = await registerClient(s);
      const email = uniqueEmail('region');
      await accountRequest(s, { clientId, email });
      const eu = await accountRequest(s, { clientId, email, configuration: { region: 'EU' } });
      assert.equal(eu.res.status, 200, eu.res.text);
      assert.ok(eu.res.json.requires_auth.url.startsWith('http://eu.provisiond.test/api/agentic/authorize?state='), eu.res.text);
      const us = await accountRequest(s, { clientId, email });
      assert.ok(us.res.json.requires_auth.url.startsWith('http://us.provisiond.test/api/agentic/authorize?state='), us.res.text);
      const pend = q(s, 'SELECT region FROM pending_consents WHERE email_normalized = ?', email);
      assert.deepEqual(pend, [{ region: 'US' }]);
    } finally {
      await s.stop();
    }
  });
});

describe('validation', () => {
  // A fresh client per test keeps every test far below the 10/hour account_requests limit.
  let clientId;
  beforeEach(async () => { clientId = await registerClient(server, { scopes: ['user:read', 'project:read'] }); });

  test('missing email → 400 invalid_request "email is required" (id echoed, nothing created)', async () => {
    const before = count(server, 'SELECT COUNT(*) FROM users');
    const { res, requestId } = await accountRequest(server, { clientId, email: undefined });
    assertTypedError(res, 400, 'invalid_request', { id: requestId, message: 'email is required: the address of the person to create an account for' });
    assert.deepEqual(res.json, { id: requestId, type: 'error', error: { code: 'invalid_request', message: 'email is required: the address of the person to create an account for' } });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users'), before);
  });

  test('empty email → 400 invalid_request', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, email: '' });
    assertTypedError(res, 400, 'invalid_request', { id: requestId });
  });

  test('missing client_id → 401 unauthorized', async () => {
    const { res } = await accountRequest(server, { clientId: undefined });
    assertTypedError(res, 401, 'unauthorized');
  });

  test('unknown client_id → 401 unauthorized, nothing created', async () => {
    const email = uniqueEmail('unknown-client');
    const { res } = await accountRequest(server, { clientId: 'no-such-client', email });
    assertTypedError(res, 401, 'unauthorized');
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  test('disabled client → 401 unauthorized', async () => {
    const c = await registerClient(server);
    const ok = await accountRequest(server, { clientId: c });
    assert.equal(ok.res.status, 200, ok.res.text);
    await disableClient(server, c);
    const email = uniqueEmail('disabled');
    const { res } = await accountRequest(server, { clientId: c, email });
    assertTypedError(res, 401, 'unauthorized');
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  test('missing code_challenge → 400 invalid_request', async () => {
    const email = uniqueEmail('nochallenge');
    const { res, requestId } = await accountRequest(server, { clientId, email, code_challenge: undefined });
    assertTypedError(res, 400, 'invalid_request', { id: requestId });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  for (const [label, challenge] of [
    ['too short ("abc")', 'abc'],
    ['42 chars', 'a'.repeat(42)],
    ['129 chars', 'a'.repeat(129)],
    ['a character outside base64url', `${'a'.repeat(42)}!`],
    ['padding "="', `${'a'.repeat(42)}=`],
  ]) {
    test(`code_challenge ${label} → 400 invalid_request naming code_challenge`, async () => {
      const email = uniqueEmail('badchallenge');
      const { res, requestId } = await accountRequest(server, { clientId, email, code_challenge: challenge });
      assertTypedError(res, 400, 'invalid_request', { id: requestId });
      assert.match(res.json.error.message, /code_challenge/);
      assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
    });
  }

  test('code_challenge of 43 and of 128 base64url chars are accepted', async () => {
    for (const len of [43, 128]) {
      const { res } = await accountRequest(server, { clientId, code_challenge: 'A-_z9'.repeat(30).slice(0, len) });
      assert.equal(res.status, 200, `${len}: ${res.text}`);
      assert.equal(res.json.type, 'oauth');
    }
  });

  test('code_challenge_method "plain" → 400 invalid_request mentioning S256', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, code_challenge_method: 'plain' });
    assertTypedError(res, 400, 'invalid_request', { id: requestId });
    assert.match(res.json.error.message, /S256/);
  });

  test('code_challenge_method missing → 400 invalid_request (it is required)', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, code_challenge_method: undefined });
    assertTypedError(res, 400, 'invalid_request', { id: requestId });
  });

  test('unknown scope → 400 invalid_scope "One or more requested scopes are not recognized"', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, scopes: ['user:read', 'dashboard:read'] });
    assertTypedError(res, 400, 'invalid_scope', { id: requestId, message: 'One or more requested scopes are not recognized' });
  });

  test('scope match is exact and case-sensitive', async () => {
    const { res } = await accountRequest(server, { clientId, scopes: ['User:Read'] });
    assertTypedError(res, 400, 'invalid_scope', { message: 'One or more requested scopes are not recognized' });
  });

  test('catalog scope outside the ceiling → 400 invalid_scope "…exceed the application\'s allowed scopes"', async () => {
    const email = uniqueEmail('ceiling');
    const { res, requestId } = await accountRequest(server, { clientId, email, scopes: ['user:read', 'insight:read'] });
    assertTypedError(res, 400, 'invalid_scope', { id: requestId, message: "One or more requested scopes exceed the application's allowed scopes" });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  test('empty scopes list → 400 invalid_scope', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, scopes: [] });
    assertTypedError(res, 400, 'invalid_scope', { id: requestId });
  });

  test('expires_at in the past → 400 expired "Account request has expired"', async () => {
    const email = uniqueEmail('expired');
    const { res, requestId } = await accountRequest(server, { clientId, email, expires_at: '2020-01-01T00:00:00Z' });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.json, { id: requestId, type: 'error', error: { code: 'expired', message: 'Account request has expired' } });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  test('expires_at in the future is accepted', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    const { res } = await accountRequest(server, { clientId, expires_at: future });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'oauth');
  });

  test('region outside US/EU → 400 invalid_request', async () => {
    const email = uniqueEmail('mars');
    const { res, requestId } = await accountRequest(server, { clientId, email, configuration: { region: 'MARS' } });
    assertTypedError(res, 400, 'invalid_request', { id: requestId });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  test('API-Version missing → 400 flat invalid_api_version, nothing created', async () => {
    const email = uniqueEmail('nover');
    const { res } = await accountRequest(server, { clientId, email, apiVersion: false });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.json, { error: { code: 'invalid_api_version', message: 'The API-Version header is missing; send API-Version: 0.1d. Supported API-Versions: 0.1d' } });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });
});
