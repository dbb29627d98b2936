// The public error table, the envelopes, API-Version, routing (aliases, trailing slash, 404, 405, 415).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, TOKEN_PATH, accountRequest, api, bearer, createResource, exchangeCode, newAccount, pkce, registerClient,
  setLimit, startServer, uniqueEmail, avoidHourBoundary, count,
} from './harness.mjs';

// The message says what was wrong and what to send, and ends with PostHog's own sentence.
const versionError = (sent) => ({
  error: {
    code: 'invalid_api_version',
    message: sent === false
      ? 'The API-Version header is missing; send API-Version: 0.1d. Supported API-Versions: 0.1d'
      : `API-Version "${sent}" is not supported; send API-Version: 0.1d. Supported API-Versions: 0.1d`,
  },
});
const FLAT_VERSION_ERROR = versionError(false);

let server;
let clientId;
let acct; // an account with tokens and a provisioned default project
before(async () => {
  server = await startServer();
  clientId = await registerClient(server, { scopes: ['user:read', 'project:read'] });
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
  acct = await newAccount(server, { clientId });
  acct.project = acct.account.available_teams[0].id;
  const r = await createResource(server, acct.tokens.access_token);
  assert.equal(r.status, 200, r.text);
});
after(async () => { await server?.stop(); });

describe('public error table', () => {
  test('invalid_request 400 (typed envelope on account_requests)', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, email: undefined });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { id: requestId, type: 'error', error: { code: 'invalid_request', message: 'email is required: the address of the person to create an account for' } });
  });

  test('unauthorized 401 (typed on account_requests; status envelope on resources)', async () => {
    const a = await accountRequest(server, { clientId: 'nobody-registered-this' });
    assert.equal(a.res.status, 401, a.res.text);
    assert.equal(a.res.json.type, 'error');
    assert.equal(a.res.json.error.code, 'unauthorized');
    const r = await createResource(server, `pha_${'q'.repeat(43)}`);
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { status: 'error', id: '', error: { code: 'unauthorized', message: 'Invalid access token' } });
  });

  test('forbidden 403 (resource outside the token)', async () => {
    const other = await newAccount(server, { clientId });
    const op = other.account.available_teams[0].id;
    const r = await api(server, 'GET', `${P}/resources/${op}`, { headers: bearer(acct.tokens.access_token) });
    assert.equal(r.status, 403);
    assert.deepEqual(r.json, { status: 'error', id: String(op), error: { code: 'forbidden', message: 'Resource not accessible with this token' } });
  });

  test('expired 400', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, expires_at: '2001-09-09T01:46:40Z' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { id: requestId, type: 'error', error: { code: 'expired', message: 'Account request has expired' } });
  });

  test('invalid_grant 400 (token endpoint, RFC 6749 envelope)', async () => {
    const r = await exchangeCode(server, 'nope-not-a-code', pkce().verifier);
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { error: 'invalid_grant', error_description: 'Invalid or expired authorization code' });
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  test('invalid_label_prefix 400', async () => {
    const r = await createResource(server, acct.tokens.access_token, { label_prefix: 'this prefix is far too long' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { status: 'error', id: '', error: { code: 'invalid_label_prefix', message: 'label_prefix must be 25 characters or fewer' } });
  });

  test('invalid_scope 400', async () => {
    const { res, requestId } = await accountRequest(server, { clientId, scopes: ['root:write'] });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { id: requestId, type: 'error', error: { code: 'invalid_scope', message: 'One or more requested scopes are not recognized' } });
  });

  test('rate_limited 429 with Retry-After', async () => {
    await avoidHourBoundary();
    const c = await registerClient(server);
    await setLimit(server, c, 'account_requests', 1);
    const ok = await accountRequest(server, { clientId: c });
    assert.equal(ok.res.status, 200, ok.res.text);
    const email = uniqueEmail('limited');
    const { res, requestId } = await accountRequest(server, { clientId: c, email });
    assert.equal(res.status, 429, res.text);
    const expected = { type: 'error', error: { code: 'rate_limited', message: 'Rate limit exceeded for this partner (account_requests). Try again later.' } };
    if ('id' in res.json) expected.id = requestId;
    assert.deepEqual(res.json, expected);
    assert.match(res.headers['retry-after'], /^\d+$/);
    const ra = Number(res.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= 3600, `Retry-After ${ra}`);
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
  });

  test('unknown_service 400 and invalid_resource_id 400', async () => {
    const r = await createResource(server, acct.tokens.access_token, { service_id: 'enterprise' });
    assert.deepEqual([r.status, r.json], [400, { status: 'error', id: '', error: { code: 'unknown_service', message: 'Unknown service_id: enterprise' } }]);
    const g = await api(server, 'GET', `${P}/resources/not-a-number`, { headers: bearer(acct.tokens.access_token) });
    assert.deepEqual([g.status, g.json], [400, { status: 'error', id: 'not-a-number', error: { code: 'invalid_resource_id', message: 'Invalid resource ID' } }]);
  });

  test('unsupported_grant_type 400', async () => {
    const r = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'password', username: 'a', password: 'b' }, apiVersion: false });
    assert.deepEqual([r.status, r.json], [400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type: password; use authorization_code or refresh_token' }]);
  });
});

describe('API-Version (flat envelope)', () => {
  const cases = () => [
    ['account_requests', 'POST', `${P}/account_requests`, { body: { id: 'v', email: uniqueEmail('v'), client_id: clientId, code_challenge: pkce().challenge, code_challenge_method: 'S256' } }],
    ['resources create', 'POST', `${P}/resources`, { body: {}, headers: bearer(acct.tokens.access_token) }],
    ['resources get', 'GET', `${P}/resources/${acct.project}`, { headers: bearer(acct.tokens.access_token) }],
    ['rotate', 'POST', `${P}/resources/${acct.project}/rotate_credentials`, { body: {}, headers: bearer(acct.tokens.access_token) }],
    ['remove', 'POST', `${P}/resources/${acct.project}/remove`, { body: {}, headers: bearer(acct.tokens.access_token) }],
  ];
  for (const version of [false, '1.0', '0.1D', '', '0.1']) {
    test(`API-Version ${JSON.stringify(version)} → 400 invalid_api_version on every provisioning endpoint`, async () => {
      const usersBefore = count(server, 'SELECT COUNT(*) FROM users');
      const keyBefore = count(server, 'SELECT COUNT(*) FROM personal_api_keys');
      for (const [name, method, path, opts] of cases()) {
        const r = await api(server, method, path, { ...opts, apiVersion: version === false ? false : version });
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assert.deepEqual(r.json, versionError(version), name);
      }
      assert.equal(count(server, 'SELECT COUNT(*) FROM users'), usersBefore);
      assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys'), keyBefore);
      // remove did nothing
      const g = await api(server, 'GET', `${P}/resources/${acct.project}`, { headers: bearer(acct.tokens.access_token) });
      assert.equal(g.status, 200, g.text);
    });
  }
});

describe('check order', () => {
  test('account_requests checks API-Version first (before identifying the partner)', async () => {
    const { res } = await accountRequest(server, { clientId: 'not-registered', apiVersion: false });
    assert.deepEqual([res.status, res.json], [400, FLAT_VERSION_ERROR]);
  });

  test('resource endpoints authenticate the bearer before checking API-Version', async () => {
    const r = await api(server, 'POST', `${P}/resources`, { body: {}, headers: bearer(`pha_${'k'.repeat(43)}`), apiVersion: false });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.code, 'unauthorized');
    const g = await api(server, 'GET', `${P}/resources/${acct.project}`, { apiVersion: false });
    assert.equal(g.status, 401, g.text);
  });
});

describe('routing', () => {
  test('/api/provisioning/account_requests alias and trailing slashes are served', async () => {
    for (const path of ['/api/provisioning/account_requests', `${P}/account_requests/`, '/api/provisioning/account_requests/']) {
      const { res } = await accountRequest(server, { clientId, path });
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.equal(res.json.type, 'oauth');
    }
  });

  test('a hyphenated account-requests is not a route → 404 not_found', async () => {
    const r = await api(server, 'POST', `${P}/account-requests`, { body: {} });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 'not_found');
  });

  test('unknown paths → 404 {"error":{"code":"not_found","message":…}}', async () => {
    for (const [method, path] of [['GET', '/nope'], ['POST', '/api/agentic/provisioning/nope'], ['GET', '/api/agentic/provisioning/resources/1/nope'], ['GET', '/api/agentic/provisioning/health_'], ['DELETE', '/x/y/z']]) {
      const r = await api(server, method, path, { apiVersion: true });
      assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
      assert.deepEqual(Object.keys(r.json), ['error'], r.text);
      assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message']);
      assert.equal(r.json.error.code, 'not_found');
      assert.equal(typeof r.json.error.message, 'string');
    }
  });

  test('known path, wrong method → 405 with an Allow header', async () => {
    const cases = [
      ['GET', `${P}/account_requests`, 'POST'],
      ['PUT', `${P}/account_requests`, 'POST'],
      ['GET', TOKEN_PATH, 'POST'],
      ['GET', '/oauth/token', 'POST'],
      ['GET', `${P}/resources`, 'POST'],
      ['DELETE', `${P}/resources/${acct.project}`, 'GET'],
      ['POST', `${P}/resources/${acct.project}`, 'GET'],
      ['GET', `${P}/resources/${acct.project}/rotate_credentials`, 'POST'],
      ['GET', `${P}/resources/${acct.project}/remove`, 'POST'],
      ['POST', '/_health', 'GET'],
    ];
    for (const [method, path, allowed] of cases) {
      const r = await api(server, method, path, { headers: bearer(acct.tokens.access_token) });
      assert.equal(r.status, 405, `${method} ${path}: ${r.text}`);
      assert.ok(r.headers.allow, `${method} ${path}: Allow header present`);
      assert.ok(r.headers.allow.split(',').map((s) => s.trim().toUpperCase()).includes(allowed), `${method} ${path}: Allow: ${r.headers.allow}`);
    }
    const g = await api(server, 'GET', `${P}/resources/${acct.project}`, { headers: bearer(acct.tokens.access_token) });
    assert.equal(g.status, 200, 'a 405 POST on the detail route changed nothing');
  });

  test('/_health and /_ready', async () => {
    const h = await api(server, 'GET', '/_health', { apiVersion: false });
    assert.deepEqual([h.status, h.json], [200, { status: 'ok' }]);
    const r = await api(server, 'GET', '/_ready', { apiVersion: false });
    assert.deepEqual([r.status, r.json], [200, { status: 'ready' }]);
  });
});

describe('unsupported media types → 415 invalid_request in the endpoint envelope', () => {
  const multipart = '--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n--XyZ--\r\n';
  for (const ct of ['multipart/form-data; boundary=XyZ', 'text/plain', 'application/xml']) {
    test(`${ct}`, async () => {
      const body = ct.startsWith('multipart') ? multipart : '{"email":"a@example.com"}';
      const a = await api(server, 'POST', `${P}/account_requests`, { body, headers: { 'content-type': ct } });
      assert.equal(a.status, 415, a.text);
      assert.equal(a.json.type, 'error');
      assert.equal(a.json.error.code, 'invalid_request');
      const t = await api(server, 'POST', TOKEN_PATH, { body, headers: { 'content-type': ct }, apiVersion: false });
      assert.equal(t.status, 415, t.text);
      assert.equal(t.json.error, 'invalid_request');
      assert.equal(typeof t.json.error_description, 'string');
      assert.equal(t.headers['cache-control'], 'no-store');
      const r = await api(server, 'POST', `${P}/resources`, { body, headers: { 'content-type': ct, ...bearer(acct.tokens.access_token) } });
      assert.equal(r.status, 415, r.text);
      assert.equal(r.json.status, 'error');
      assert.equal(r.json.error.code, 'invalid_request');
    });
  }
});

describe('bodies', () => {
  test('missing Content-Type: a body starting with "{" is JSON, anything else a form', async () => {
    const p1 = pkce();
    const json = JSON.stringify({ id: 'noct-1', email: uniqueEmail('noct'), client_id: clientId, code_challenge: p1.challenge, code_challenge_method: 'S256' });
    const a = await api(server, 'POST', `${P}/account_requests`, { body: json });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.type, 'oauth');
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: a.json.oauth.code, code_verifier: p1.verifier }).toString();
    const t = await api(server, 'POST', TOKEN_PATH, { body: form, apiVersion: false });
    assert.equal(t.status, 200, t.text);
  });

  test('media type names are case-insensitive and take parameters', async () => {
    const p1 = pkce();
    const json = JSON.stringify({ id: 'ct-1', email: uniqueEmail('ct'), client_id: clientId, code_challenge: p1.challenge, code_challenge_method: 'S256' });
    const a = await api(server, 'POST', `${P}/account_requests`, { body: json, headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    assert.equal(a.status, 200, a.text);
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: a.json.oauth.code, code_verifier: p1.verifier }).toString();
    const t = await api(server, 'POST', TOKEN_PATH, { body: form, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, apiVersion: false });
    assert.equal(t.status, 200, t.text);
  });

  test('JSON responses are application/json', async () => {
    const r = await api(server, 'GET', '/nope');
    assert.match(r.headers['content-type'], /^application\/json/);
    const t = await exchangeCode(server, 'x', 'y');
    assert.match(t.headers['content-type'], /^application\/json/);
  });
});
