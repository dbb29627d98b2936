// Secrets at rest and in logs: no plaintext code, state, token, key, verifier or set-password token
// anywhere in the database files or the access log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, accountRequest, api, bearer, count, createResource, dbFileBytes, exchangeCode, getResource, q1,
  refreshGrant, registerClient, setPasswordToken, sha256hex, sleep, startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';

let server;
const secrets = new Map(); // label → value
let email;
let clientId;

before(async () => {
  server = await startServer();
  clientId = await registerClient(server);

  // 1. a new account: code + verifier
  email = uniqueEmail('secret');
  const ar = await accountRequest(server, { clientId, email });
  assert.equal(ar.res.json.type, 'oauth', ar.res.text);
  secrets.set('authorization code', ar.res.json.oauth.code);
  secrets.set('PKCE verifier', ar.verifier);

  // 2. tokens, and a refresh
  const t = await exchangeCode(server, ar.res.json.oauth.code, ar.verifier);
  assert.equal(t.status, 200, t.text);
  secrets.set('access token #1', t.json.access_token);
  secrets.set('refresh token #1', t.json.refresh_token);
  const rf = await refreshGrant(server, t.json.refresh_token);
  assert.equal(rf.status, 200, rf.text);
  secrets.set('access token #2', rf.json.access_token);
  secrets.set('refresh token #2', rf.json.refresh_token);

  // 3. resource create and rotate: personal API keys
  const c = await createResource(server, rf.json.access_token, { label_prefix: 'Sec' });
  assert.equal(c.status, 200, c.text);
  secrets.set('personal API key #1', c.json.complete.access_configuration.personal_api_key);
  const project = c.json.id;
  const rot = await api(server, 'POST', `${P}/resources/${project}/rotate_credentials`, { body: {}, headers: bearer(rf.json.access_token) });
  assert.equal(rot.status, 200, rot.text);
  secrets.set('personal API key #2', rot.json.complete.access_configuration.personal_api_key);

  // 4. a consent state for the existing user
  const ex = await accountRequest(server, { clientId, email });
  assert.equal(ex.res.json.type, 'requires_auth', ex.res.text);
  secrets.set('consent state', new URL(ex.res.json.requires_auth.url).searchParams.get('state'));
  secrets.set('PKCE verifier (consent)', ex.verifier);

  // 5. a code that is never exchanged, and a code burned by replay
  const ar2 = await accountRequest(server, { clientId });
  secrets.set('unexchanged code', ar2.res.json.oauth.code);
  secrets.set('PKCE verifier #2', ar2.verifier);
  const ar3 = await accountRequest(server, { clientId });
  const t3 = await exchangeCode(server, ar3.res.json.oauth.code, ar3.verifier);
  await exchangeCode(server, ar3.res.json.oauth.code, ar3.verifier);
  secrets.set('replayed code', ar3.res.json.oauth.code);
  secrets.set('revoked access token', t3.json.access_token);
  secrets.set('revoked refresh token', t3.json.refresh_token);

  // 6. failed attempts carrying secrets
  await exchangeCode(server, ar2.res.json.oauth.code, 'W'.repeat(43));
  await getResource(server, `pha_${'N'.repeat(43)}`, project);
  secrets.set('rejected bearer', `pha_${'N'.repeat(43)}`);
});
after(async () => { await server?.stop(); });

function findSecrets(haystack) {
  const found = [];
  for (const [label, value] of secrets) {
    assert.ok(typeof value === 'string' && value.length >= 20, `${label} looks like a secret`);
    if (haystack.includes(value)) found.push(label);
  }
  return found;
}

describe('at rest', () => {
  test('no issued secret occurs in the database, WAL or shm bytes (server running)', async () => {
    const bytes = (await dbFileBytes(server)).toString('latin1');
    assert.ok(bytes.length > 0);
    assert.deepEqual(findSecrets(bytes), []);
  });

  test('secrets are stored as SHA-256 hex digests', async () => {
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE code_hash = ?', sha256hex(secrets.get('unexchanged code'))), 1);
    assert.equal(count(server, 'SELECT COUNT(*) FROM access_tokens WHERE token_hash = ?', sha256hex(secrets.get('access token #2'))), 1);
    assert.equal(count(server, 'SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?', sha256hex(secrets.get('refresh token #2'))), 1);
    assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE key_hash = ?', sha256hex(secrets.get('personal API key #2'))), 1);
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE state_hash = ?', sha256hex(secrets.get('consent state'))), 1);
  });

  test('the set-password token leaves the database once the email is delivered', async () => {
    const mail = await waitForEmail(server, email);
    const token = setPasswordToken(server, mail);
    assert.ok(token, mail.raw);
    assert.equal(count(server, 'SELECT COUNT(*) FROM password_set_tokens WHERE token_hash = ?', sha256hex(token)), 1);
    // delivered → body cleared
    const deadline = Date.now() + 5000;
    let row;
    for (;;) {
      row = q1(server, 'SELECT delivered_at, body_text FROM outbox WHERE recipient LIKE ?', `%${email}%`);
      if (row && row.delivered_at !== null) break;
      if (Date.now() > deadline) break;
      await sleep(100);
    }
    assert.notEqual(row?.delivered_at, null, 'outbox row marked delivered');
    assert.ok(!row.body_text.includes(token), 'delivered body no longer holds the link');
    const bytes = (await dbFileBytes(server)).toString('latin1');
    assert.ok(!bytes.includes(token), 'no copy of the set-password token remains in the database files (WAL, free pages)');
  });

  test('after a clean stop, the database files still hold no secret', async () => {
    await server.stop();
    try {
      const bytes = (await dbFileBytes(server)).toString('latin1');
      assert.deepEqual(findSecrets(bytes), []);
    } finally {
      await server.start();
    }
  });
});

describe('access log', () => {
  test('one JSON line per request on stderr, and none of them carries a secret', async () => {
    const before = server.stderr().split('\n').length;
    const mark = `/_health?mark=${Date.now()}`;
    await api(server, 'GET', mark, { apiVersion: false });
    await sleep(200);
    const log = server.stderr();
    const lines = log.split('\n').filter((l) => l.trim().startsWith('{'));
    assert.ok(lines.length >= 10, `expected access log lines, got ${lines.length}`);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
    assert.ok(log.includes('/api/agentic/oauth/token'), 'token requests are logged (by path)');
    assert.ok(log.split('\n').length > before, 'a new request produced a new line');
    assert.deepEqual(findSecrets(log), []);
  });

  test('secrets in query strings and headers are not logged', async () => {
    const mail = await waitForEmail(server, email);
    const token = setPasswordToken(server, mail);
    await api(server, 'GET', `/account/set-password?token=${encodeURIComponent(token)}`, { apiVersion: false });
    const state = secrets.get('consent state');
    await api(server, 'GET', `/api/agentic/authorize?state=${encodeURIComponent(state)}`, { apiVersion: false });
    await api(server, 'GET', `${P}/resources/1?access_token=${secrets.get('access token #2')}`, { headers: { cookie: `session=${secrets.get('refresh token #2')}`, 'x-api-key': secrets.get('personal API key #2') } });
    await sleep(200);
    const log = server.stderr();
    assert.ok(!log.includes(token), 'set-password token not in the access log');
    assert.deepEqual(findSecrets(log), []);
  });
});

describe('tokens', () => {
  test('codes, states and tokens are distinct and well-formed', () => {
    const vals = [...secrets.values()];
    assert.equal(new Set(vals).size, vals.length);
  });

  test('a revoked or rotated-away token stays dead after a restart', async () => {
    await server.restart();
    const r = await getResource(server, secrets.get('revoked access token'), 1);
    assert.equal(r.status, 401, r.text);
    const r2 = await getResource(server, secrets.get('access token #1'), 1);
    assert.equal(r2.status, 401, r2.text);
  });

  test('a token differing in one character is refused', async () => {
    const good = secrets.get('access token #2');
    const bad = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
    const c = await createResource(server, bad);
    assert.equal(c.status, 401, c.text);
    const refresh = secrets.get('refresh token #2');
    // A different last character (appending 'x' to a token that ends in 'x' changed nothing: 1 in 64 runs).
    const t = await refreshGrant(server, refresh.slice(0, -1) + (refresh.endsWith('x') ? 'y' : 'x'));
    assert.equal(t.status, 400, t.text);
    assert.equal(t.json.error, 'invalid_grant');
  });
});

describe('hygiene', () => {
  test('token responses are not cacheable', async () => {
    const ar = await accountRequest(server, { clientId });
    const t = await exchangeCode(server, ar.res.json.oauth.code, ar.verifier);
    assert.equal(t.status, 200, t.text);
    assert.equal(t.headers['cache-control'], 'no-store');
  });

  test('an email address of another user cannot be probed for a code: existing users never get one', async () => {
    const ar = await accountRequest(server, { clientId, email: email.toUpperCase() });
    assert.equal(ar.res.json.type, 'requires_auth');
    assert.equal(ar.res.json.oauth, undefined);
  });
});
