// POST /api/agentic/oauth/token — authorization_code grant.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_RE, REFRESH_RE, TOKEN_PATH, UUID_RE, accountRequest, api, bearer, count, disableClient, exchangeCode,
  getResource, pkce, q, q1, registerClient, sha256hex, sleep, startServer, uniqueEmail,
} from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

function assertOAuthError(res, status, error, description) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['cache-control'], 'no-store', 'token errors carry Cache-Control: no-store');
  if (description !== undefined) {
    assert.deepEqual(res.json, { error, error_description: description });
  } else {
    assert.deepEqual(Object.keys(res.json).sort(), ['error', 'error_description'], res.text);
    assert.equal(res.json.error, error, res.text);
    assert.equal(typeof res.json.error_description, 'string');
  }
}

async function freshCode(opts = {}) {
  const clientId = opts.clientId ?? await registerClient(server);
  const ar = await accountRequest(server, { clientId, ...opts });
  assert.equal(ar.res.status, 200, ar.res.text);
  assert.equal(ar.res.json.type, 'oauth', ar.res.text);
  return { clientId, code: ar.res.json.oauth.code, verifier: ar.verifier, email: ar.email };
}

describe('successful exchange', () => {
  test('returns bearer tokens, expires_in 3600 and the account; stores only hashes', async () => {
    const { clientId, code, verifier, email } = await freshCode({ configuration: { region: 'US', organization_name: 'Token Org' } });
    const res = await exchangeCode(server, code, verifier);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.headers['content-type'], /^application\/json/);
    const body = res.json;
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'account', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(body.token_type, 'bearer');
    assert.match(body.access_token, ACCESS_RE);
    assert.match(body.refresh_token, REFRESH_RE);
    assert.equal(body.expires_in, 3600);

    const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', email);
    const org = q1(server, 'SELECT o.* FROM organizations o JOIN memberships m ON m.organization_id = o.id WHERE m.user_id = ?', user.id);
    const project = q1(server, 'SELECT * FROM projects WHERE organization_id = ?', org.id);
    assert.match(org.id, UUID_RE);
    assert.deepEqual(body.account, {
      id: org.id,
      payment_credentials: 'orchestrator',
      available_teams: [{ id: project.id, name: 'Default project', organization_id: org.id, organization_name: 'Token Org' }],
    });
    assert.equal(typeof body.account.available_teams[0].id, 'number');

    const codeRow = q1(server, 'SELECT * FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
    assert.notEqual(codeRow.consumed_at, null, 'code consumed');
    assert.notEqual(codeRow.family_id, null, 'code records its family');
    const fam = q1(server, 'SELECT * FROM token_families WHERE id = ?', codeRow.family_id);
    assert.equal(fam.client_id, clientId);
    assert.equal(fam.user_id, user.id);
    assert.equal(fam.organization_id, org.id);
    assert.deepEqual(JSON.parse(fam.project_ids), [project.id]);
    assert.equal(fam.revoked_at, null);
    const at = q1(server, 'SELECT * FROM access_tokens WHERE token_hash = ?', sha256hex(body.access_token));
    assert.equal(at.family_id, fam.id);
    assert.equal(at.expires_at - at.created_at, 3600);
    assert.equal(at.revoked_at, null);
    const rt = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(body.refresh_token));
    assert.equal(rt.family_id, fam.id);
    assert.equal(rt.access_token_hash, sha256hex(body.access_token));
    assert.equal(rt.parent_hash, null);
    assert.equal(rt.rotated_at, null);
    assert.equal(rt.expires_at - rt.created_at, 30 * 24 * 3600, 'refresh tokens live 30 days');

    const r = await getResource(server, body.access_token, project.id);
    assert.equal(r.status, 200, r.text);
  });

  test('accepts form with ";charset=UTF-8" and extra client_id / redirect_uri / resource parameters', async () => {
    const { clientId, code, verifier } = await freshCode();
    const res = await api(server, 'POST', TOKEN_PATH, {
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: 'https://partner.example/callback', resource: 'https://x.test' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      apiVersion: false,
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.access_token, ACCESS_RE);
  });

  test('accepts a JSON body', async () => {
    const { code, verifier } = await freshCode();
    const res = await exchangeCode(server, code, verifier, { json: true });
    assert.equal(res.status, 200, res.text);
    assert.match(res.json.access_token, ACCESS_RE);
  });

  for (const path of ['/api/provisioning/oauth/token', '/oauth/token', `${TOKEN_PATH}/`]) {
    test(`is served at ${path}`, async () => {
      const { code, verifier } = await freshCode();
      const res = await exchangeCode(server, code, verifier, { path });
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.access_token, ACCESS_RE);
    });
  }

  test('does not check API-Version (absent, or any value)', async () => {
    const a = await freshCode();
    const r1 = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier }, apiVersion: false });
    assert.equal(r1.status, 200, r1.text);
    const b = await freshCode();
    const r2 = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier }, apiVersion: '9.9' });
    assert.equal(r2.status, 200, r2.text);
  });
});

describe('errors', () => {
  test('missing code → 400 invalid_request "code is required: …"', async () => {
    const res = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'authorization_code', code_verifier: 'x'.repeat(43) }, apiVersion: false });
    assertOAuthError(res, 400, 'invalid_request', 'code is required: the authorization code from account_requests (oauth.code) or from the consent redirect');
  });

  test('unknown code → 400 invalid_grant "Invalid or expired authorization code"', async () => {
    const res = await exchangeCode(server, 'A'.repeat(43), 'B'.repeat(43));
    assertOAuthError(res, 400, 'invalid_grant', 'Invalid or expired authorization code');
  });

  // 400 as RFC 6749 §5.2 says (PostHog answers 401); the message names the rule.
  test('missing code_verifier → 400 invalid_request "code_verifier is required for PKCE: …"; the code survives', async () => {
    const { code, verifier } = await freshCode();
    const res = await exchangeCode(server, code, undefined);
    assertOAuthError(res, 400, 'invalid_request', 'code_verifier is required for PKCE: send the verifier whose S256 challenge went with the account request (43-128 characters of [A-Za-z0-9-._~])');
    assert.equal(q1(server, 'SELECT consumed_at FROM authorization_codes WHERE code_hash = ?', sha256hex(code)).consumed_at, null);
    const ok = await exchangeCode(server, code, verifier);
    assert.equal(ok.status, 200, ok.text);
  });

  test('wrong code_verifier → 400 invalid_grant "PKCE code_verifier does not match"; the code is not burned', async () => {
    const { code, verifier } = await freshCode();
    for (let i = 0; i < 3; i++) {
      const res = await exchangeCode(server, code, pkce().verifier);
      assertOAuthError(res, 400, 'invalid_grant', 'PKCE code_verifier does not match: BASE64URL(SHA256(code_verifier)) must equal the code_challenge sent with the account request');
    }
    assert.equal(count(server, 'SELECT COUNT(*) FROM token_families f JOIN authorization_codes c ON c.family_id = f.id WHERE c.code_hash = ?', sha256hex(code)), 0);
    const ok = await exchangeCode(server, code, verifier);
    assert.equal(ok.status, 200, ok.text);
  });

  test('the verifier is compared exactly (the challenge itself is not a valid verifier)', async () => {
    const p = pkce();
    const { code } = await freshCode({ pkcePair: p });
    const res = await exchangeCode(server, code, p.challenge);
    assertOAuthError(res, 400, 'invalid_grant', 'PKCE code_verifier does not match: BASE64URL(SHA256(code_verifier)) must equal the code_challenge sent with the account request');
  });

  test('unsupported grant_type → 400 unsupported_grant_type "Unsupported grant_type: client_credentials"', async () => {
    const res = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'client_credentials' }, apiVersion: false });
    assertOAuthError(res, 400, 'unsupported_grant_type', 'Unsupported grant_type: client_credentials; use authorization_code or refresh_token');
  });

  test('missing grant_type → 400 (invalid_request or unsupported_grant_type)', async () => {
    const res = await api(server, 'POST', TOKEN_PATH, { form: { code: 'x' }, apiVersion: false });
    assert.equal(res.status, 400, res.text);
    assert.ok(['invalid_request', 'unsupported_grant_type'].includes(res.json.error), res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  test('an exchanged code presented again → 400 invalid_grant and its tokens are revoked', async () => {
    const { code, verifier } = await freshCode();
    const ok = await exchangeCode(server, code, verifier);
    assert.equal(ok.status, 200, ok.text);
    const again = await exchangeCode(server, code, verifier);
    assertOAuthError(again, 400, 'invalid_grant', 'Authorization code was already used; tokens issued from it have been revoked');
    const famId = q1(server, 'SELECT family_id FROM authorization_codes WHERE code_hash = ?', sha256hex(code)).family_id;
    assert.notEqual(q1(server, 'SELECT revoked_at FROM token_families WHERE id = ?', famId).revoked_at, null);
    const project = ok.json.account.available_teams[0].id;
    const r = await getResource(server, ok.json.access_token, project);
    assert.equal(r.status, 401, r.text);
  });

  test('an expired code → 400 invalid_grant "Invalid or expired authorization code"', async () => {
    const s = await startServer({ extraArgs: ['--code-ttl-seconds', '1'] });
    try {
      const clientId = await registerClient(s);
      const ar = await accountRequest(s, { clientId });
      assert.equal(ar.res.status, 200, ar.res.text);
      await sleep(2500);
      const res = await exchangeCode(s, ar.res.json.oauth.code, ar.verifier);
      assertOAuthError(res, 400, 'invalid_grant', 'Invalid or expired authorization code');
      assert.equal(count(s, 'SELECT COUNT(*) FROM token_families'), 0);
    } finally {
      await s.stop();
    }
  });

  test('a code issued to one client and presented with another client_id → 400 invalid_grant (RFC 6749 §4.1.3)', async () => {
    const { code, verifier } = await freshCode();
    const other = await registerClient(server);
    const res = await exchangeCode(server, code, verifier, { extra: { client_id: other } });
    assertOAuthError(res, 400, 'invalid_grant');
  });

  test('a code of a client disabled after issue is not exchanged', async () => {
    const { clientId, code, verifier } = await freshCode();
    await disableClient(server, clientId);
    const res = await exchangeCode(server, code, verifier);
    assert.ok(res.status === 400 || res.status === 401, res.text);
    assert.equal(res.json.access_token, undefined);
    assert.equal(res.headers['cache-control'], 'no-store');
  });
});

describe('access token lifetime', () => {
  test('--access-token-ttl-seconds sets expires_in and the token stops working after it', async () => {
    const s = await startServer({ extraArgs: ['--access-token-ttl-seconds', '1'] });
    try {
      const clientId = await registerClient(s);
      const ar = await accountRequest(s, { clientId, email: uniqueEmail('ttl') });
      const t = await exchangeCode(s, ar.res.json.oauth.code, ar.verifier);
      assert.equal(t.status, 200, t.text);
      assert.equal(t.json.expires_in, 1);
      const project = t.json.account.available_teams[0].id;
      await sleep(2500);
      const r = await getResource(s, t.json.access_token, project);
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.status, 'error', r.text);
      assert.ok(r.json.id === '' || r.json.id === String(project), r.text);
      assert.deepEqual(r.json.error, { code: 'unauthorized', message: 'Access token expired' });
      // The refresh token still works and yields a working access token... for one more second.
      const rf = await api(s, 'POST', TOKEN_PATH, { form: { grant_type: 'refresh_token', refresh_token: t.json.refresh_token }, apiVersion: false });
      assert.equal(rf.status, 200, rf.text);
      assert.equal(rf.json.expires_in, 1);
      assert.equal(q(s, 'SELECT COUNT(*) AS n FROM access_tokens')[0].n, 2);
    } finally {
      await s.stop();
    }
  });
});
