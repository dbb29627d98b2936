// The standard OAuth flow's edges (docs/PAGES.md "The standard OAuth flow", "Pages", "Choices";
// docs/API.md "Tokens"): GET /oauth/authorize errors that must not be redirected (400 page) and those
// that go back to the redirect URI (RFC 6749 §4.1.2.1 + RFC 9207 iss), a valid request's stored
// authorization request and consent redirect, RFC 8414 metadata, RFC 7009 revocation and RFC 7662
// introspection.
//
// The operator-registered client's redirect URI is http://127.0.0.1:9/cb: nothing listens there,
// only the Location header is read (no redirect is followed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  B64URL43, api, count, disableClient, getResource, newAccount, pkce, provisioned, q, q1, rawHttp, refreshGrant,
  registerClient, setLimit, setPasswordToken, sha256hex, startServer, waitForEmail,
} from './harness.mjs';

const REDIRECT = 'http://127.0.0.1:9/cb';
const INTROSPECTION_TOKEN = 'introspect-secret-0123456789abcdefghij';
const CLIENT_SCOPES = ['project:read', 'user:read', 'query:read'];
const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let server;
let clientId;           // active, one redirect URI, three scopes
let queryClientId;      // a redirect URI that carries its own query
let disabledId;
before(async () => {
  server = await startServer({ extraArgs: ['--introspection-token', INTROSPECTION_TOKEN] });
  clientId = await registerClient(server, { name: 'Authorize Partner', redirectUri: REDIRECT, scopes: CLIENT_SCOPES });
  queryClientId = await registerClient(server, { redirectUri: 'http://127.0.0.1:9/cb?app=1', scopes: CLIENT_SCOPES });
  disabledId = await registerClient(server, { redirectUri: REDIRECT, scopes: CLIENT_SCOPES });
  await disableClient(server, disabledId);
  for (const endpoint of ['account_requests', 'token_exchanges', 'resource_creates']) {
    await setLimit(server, clientId, endpoint, 'unlimited');
  }
});
after(async () => { await server?.stop(); });

/** A complete, valid set of /oauth/authorize parameters; `undefined` values are dropped. */
function params(overrides = {}) {
  const p = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    state: 'client-state-xyz',
    scope: 'project:read user:read',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return p;
}
const authorize = (p) => api(server, 'GET', `/oauth/authorize?${new URLSearchParams(p)}`, { apiVersion: false });

function authorizationRequests() {
  return count(server, 'SELECT COUNT(*) FROM authorization_requests');
}

/** 400 HTML page with the pages' security headers, no Location. */
function assertErrorPage(r, what) {
  const ctx = `${what}: ${r.status} ${JSON.stringify(r.headers)} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, 400, ctx);
  assert.match(String(r.headers['content-type']), /^text\/html(; ?charset=utf-8)?$/i, ctx);
  assert.equal(r.headers['content-security-policy'], PAGE_CSP, ctx);
  const directives = r.headers['content-security-policy'].split(';').map((d) => d.trim());
  assert.ok(directives.includes("frame-ancestors 'none'"), ctx);
  assert.equal(r.headers['x-frame-options'], 'DENY', ctx);
  assert.equal(r.headers['cache-control'], 'no-store', ctx);
  assert.equal(r.headers.location, undefined, ctx);
  assert.match(r.text, /<html/i, ctx);
}

/** 302 back to `base` with exactly error, state (when sent), iss and optionally error_description. */
function assertRedirectError(r, error, { state = 'client-state-xyz', base = REDIRECT, extra = {} } = {}) {
  const ctx = `${r.status} ${r.headers.location} ${r.text.slice(0, 200)}`;
  assert.equal(r.status, 302, ctx);
  const loc = new URL(r.headers.location);
  assert.equal(loc.origin + loc.pathname, new URL(base).origin + new URL(base).pathname, ctx);
  assert.equal(loc.hash, '', ctx);
  const got = Object.fromEntries(loc.searchParams);
  assert.equal(loc.searchParams.getAll('error').length, 1, ctx);
  assert.equal(got.error, error, ctx);
  if (state === null) assert.ok(!loc.searchParams.has('state'), ctx);
  else assert.equal(got.state, state, ctx);
  assert.equal(got.iss, server.url, ctx);
  const expectedKeys = ['error', 'iss', ...(state === null ? [] : ['state']), ...Object.keys(extra)];
  if ('error_description' in got) {
    expectedKeys.push('error_description');
    assert.equal(typeof got.error_description, 'string');
  }
  assert.deepEqual(Object.keys(got).sort(), expectedKeys.sort(), ctx);
  for (const [k, v] of Object.entries(extra)) assert.equal(got[k], v, ctx);
}

// ---------------------------------------------------------------------------------------------
// A logged-in browser: a new account (account_requests), its welcome email's set-password link,
// the set-password form (CSRF cookie + field), then the session cookie.

class Browser {
  constructor() { this.jar = new Map(); }
  async request(method, path, { form } = {}) {
    const headers = {};
    let body;
    if (form) {
      body = Buffer.from(new URLSearchParams(form).toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(body.length);
    }
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await rawHttp(server, method, path, { headers, body });
    for (const c of r.headers['set-cookie'] ?? []) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (value === '' || /max-age=0\b/i.test(c)) this.jar.delete(name); else this.jar.set(name, value);
    }
    return r;
  }
}

function hiddenInputs(html) {
  const out = {};
  for (const m of html.matchAll(/<input\b([^>]*)>/gi)) {
    const a = Object.fromEntries([...m[1].matchAll(/([a-z_-]+)="([^"]*)"/gi)].map((x) => [x[1].toLowerCase(), x[2]]));
    if (a.type === 'hidden' && a.name) {
      out[a.name] = (a.value ?? '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    }
  }
  return out;
}

async function loggedInUser() {
  const acct = await newAccount(server, { clientId });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  assert.ok(token, 'a set-password link in the welcome email');
  const web = new Browser();
  const page = await web.request('GET', `/account/set-password?token=${encodeURIComponent(token)}`);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const password = 'correct horse battery staple';
  const r = await web.request('POST', '/account/set-password', { form: { ...hiddenInputs(page.text), password, password_confirm: password } });
  assert.equal(r.status, 302, `set password: ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(web.jar.has('provisiond_session'), 'logged in');
  return web;
}

// =============================================================================================
describe('/oauth/authorize: errors shown as a 400 page (never redirected)', () => {
  test('missing client_id', async () => {
    const before = authorizationRequests();
    assertErrorPage(await authorize(params({ client_id: undefined })), 'missing client_id');
    assertErrorPage(await authorize(params({ client_id: '' })), 'empty client_id');
    assert.equal(authorizationRequests(), before);
  });

  test('unknown client_id', async () => {
    assertErrorPage(await authorize(params({ client_id: 'no-such-client' })), 'unknown client');
    assertErrorPage(await authorize(params({ client_id: clientId.toUpperCase() })), 'client id in another case');
  });

  test('unknown client_id with an also-bad response_type is still a page, not a redirect', async () => {
    assertErrorPage(await authorize(params({ client_id: 'no-such-client', response_type: 'token' })), 'unknown client + token');
  });

  test('disabled client', async () => {
    assertErrorPage(await authorize(params({ client_id: disabledId })), 'disabled client');
  });

  for (const [label, uri] of [
    ['a prefix of the registered URI', 'http://127.0.0.1:9/c'],
    ['the registered URI plus a suffix', 'http://127.0.0.1:9/cb/'],
    ['the registered URI plus a path suffix', 'http://127.0.0.1:9/cbx'],
    ['the registered URI plus a query', 'http://127.0.0.1:9/cb?x=1'],
    ['the registered URI plus a fragment', 'http://127.0.0.1:9/cb#f'],
    ['a different path case', 'http://127.0.0.1:9/CB'],
    ['a different scheme case', 'HTTP://127.0.0.1:9/cb'],
    ['another host (localhost)', 'http://localhost:9/cb'],
    ['another port', 'http://127.0.0.1:10/cb'],
    ['https instead of http', 'https://127.0.0.1:9/cb'],
    ['percent-encoded path', 'http://127.0.0.1:9/%63b'],
    ['an attacker URI', 'https://evil.example/cb'],
    ['empty', ''],
  ]) {
    test(`redirect_uri not registered: ${label}`, async () => {
      const r = await authorize(params({ redirect_uri: uri }));
      assertErrorPage(r, `redirect_uri ${JSON.stringify(uri)}`);
      assert.ok(!r.text.includes('evil.example/cb?'), 'no link back to the unregistered URI with parameters');
    });
  }

  test('unregistered redirect_uri with otherwise-redirectable errors (token, no PKCE): still the page', async () => {
    assertErrorPage(await authorize(params({ redirect_uri: 'https://evil.example/cb', response_type: 'token' })), 'evil + token');
    assertErrorPage(await authorize(params({ redirect_uri: 'https://evil.example/cb', code_challenge: undefined })), 'evil + no PKCE');
    assertErrorPage(await authorize(params({ redirect_uri: 'https://evil.example/cb', scope: 'nope:nope' })), 'evil + bad scope');
  });

  test('the page escapes a hostile client_id', async () => {
    const r = await authorize(params({ client_id: '<script>alert(1)</script>' }));
    assertErrorPage(r, 'hostile client_id');
    assert.ok(!r.text.includes('<script>alert(1)</script>'), r.text);
  });
});

// =============================================================================================
describe('/oauth/authorize: errors redirected to the client with error, state and iss', () => {
  test('response_type=token → unsupported_response_type', async () => {
    const before = authorizationRequests();
    assertRedirectError(await authorize(params({ response_type: 'token' })), 'unsupported_response_type');
    assert.equal(authorizationRequests(), before, 'nothing stored');
  });

  test('missing code_challenge → invalid_request', async () => {
    assertRedirectError(await authorize(params({ code_challenge: undefined })), 'invalid_request');
  });

  test('code_challenge_method=plain → invalid_request', async () => {
    assertRedirectError(await authorize(params({ code_challenge_method: 'plain' })), 'invalid_request');
  });

  test('code_challenge_method missing → invalid_request (S256 is required)', async () => {
    assertRedirectError(await authorize(params({ code_challenge_method: undefined })), 'invalid_request');
  });

  test('code_challenge of 42 characters → invalid_request', async () => {
    assertRedirectError(await authorize(params({ code_challenge: 'a'.repeat(42) })), 'invalid_request');
  });

  test('unknown scope → invalid_scope', async () => {
    assertRedirectError(await authorize(params({ scope: 'project:read nope:nope' })), 'invalid_scope');
  });

  test('a catalog scope outside the client\'s ceiling → invalid_scope', async () => {
    assertRedirectError(await authorize(params({ scope: 'project:read insight:read' })), 'invalid_scope');
  });

  test('no state sent → no state in the error redirect', async () => {
    assertRedirectError(await authorize(params({ response_type: 'token', state: undefined })), 'unsupported_response_type', { state: null });
  });

  test('the client\'s state comes back byte for byte (reserved characters and non-ASCII)', async () => {
    const state = 'a b&c=d/e?f#g+h%2F–é';
    assertRedirectError(await authorize(params({ response_type: 'token', state })), 'unsupported_response_type', { state });
  });

  test('a redirect URI with its own query keeps it', async () => {
    const r = await authorize(params({ client_id: queryClientId, redirect_uri: 'http://127.0.0.1:9/cb?app=1', response_type: 'token' }));
    assertRedirectError(r, 'unsupported_response_type', { base: 'http://127.0.0.1:9/cb', extra: { app: '1' } });
  });
});

// =============================================================================================
describe('/oauth/authorize: a valid request', () => {
  test('302 to /api/agentic/authorize?state=<our state>; the stored request holds sha256(state) and the client\'s state', async () => {
    const { challenge } = pkce();
    const clientState = 'their-state-123';
    const r = await authorize(params({ state: clientState, code_challenge: challenge }));
    assert.equal(r.status, 302, r.text);
    const loc = new URL(r.headers.location, server.url);
    assert.equal(loc.origin, server.url, r.headers.location);
    assert.equal(loc.pathname, '/api/agentic/authorize', r.headers.location);
    assert.deepEqual([...loc.searchParams.keys()], ['state'], r.headers.location);
    const state = loc.searchParams.get('state');
    assert.notEqual(state, clientState);
    assert.match(state, B64URL43, 'consent state: 43 base64url characters (docs/API.md "Tokens")');

    const rows = q(server, 'SELECT * FROM authorization_requests WHERE state_hash = ?', sha256hex(state));
    assert.equal(rows.length, 1);
    const row = rows[0];
    assert.equal(row.client_id, clientId);
    assert.equal(row.redirect_uri, REDIRECT);
    assert.equal(row.client_state, clientState);
    assert.equal(row.code_challenge, challenge);
    const scopes = row.scopes.startsWith('[') ? JSON.parse(row.scopes) : row.scopes.split(' ');
    assert.deepEqual([...scopes].sort(), ['project:read', 'user:read']);
    assert.equal(row.expires_at - row.created_at, 600, 'consent state lives 10 min');
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_requests WHERE state_hash = ? OR client_state = ?', state, state), 0,
      'the state itself is not stored');

    // The consent page without a session → the login page, with the consent path as next.
    const consentPath = `/api/agentic/authorize?state=${state}`;
    const c = await api(server, 'GET', consentPath, { apiVersion: false });
    assert.equal(c.status, 302, c.text);
    const raw = c.headers.location;
    assert.equal(raw, `/login?next=${encodeURIComponent(consentPath)}`);
  });

  test('without state and without scope: stored with client_state NULL and the client\'s whole ceiling', async () => {
    const r = await authorize(params({ state: undefined, scope: undefined }));
    assert.equal(r.status, 302, r.text);
    const state = new URL(r.headers.location, server.url).searchParams.get('state');
    const row = q1(server, 'SELECT * FROM authorization_requests WHERE state_hash = ?', sha256hex(state));
    assert.ok(row);
    assert.equal(row.client_state, null);
    const scopes = row.scopes.startsWith('[') ? JSON.parse(row.scopes) : row.scopes.split(' ');
    assert.deepEqual([...scopes].sort(), [...CLIENT_SCOPES].sort());
  });

  for (const decision of ['approve', 'deny']) {
    test(`the client's state with + and / survives the consent round trip (${decision} redirect)`, async () => {
      const web = await loggedInUser();
      const clientState = 'q+L/9w==';   // a standard-base64 state, as many clients make
      const r = await authorize(params({ state: clientState }));
      assert.equal(r.status, 302, r.text);
      const stored = q1(server, 'SELECT client_state FROM authorization_requests WHERE state_hash = ?',
        sha256hex(new URL(r.headers.location, server.url).searchParams.get('state')));
      assert.equal(stored.client_state, clientState, 'stored as sent');
      const consent = await web.request('GET', r.headers.location);
      assert.equal(consent.status, 200, `${consent.status} ${consent.headers.location} ${consent.text.slice(0, 300)}`);
      const fields = hiddenInputs(consent.text);
      assert.ok(fields.csrf && fields.state, consent.text.slice(0, 2000));
      const d = await web.request('POST', '/api/agentic/authorize', { form: { ...fields, decision } });
      const ctx = `${decision}: ${d.status} ${d.headers.location} ${d.text.slice(0, 300)}`;
      assert.equal(d.status, 302, ctx);
      const loc = new URL(d.headers.location);
      assert.equal(loc.origin + loc.pathname, REDIRECT, ctx);
      assert.equal(loc.searchParams.get('iss'), server.url, ctx);
      if (decision === 'approve') assert.match(loc.searchParams.get('code') ?? '', B64URL43, ctx);
      else assert.equal(loc.searchParams.get('error'), 'access_denied', ctx);
      assert.equal(loc.searchParams.get('state'), clientState, `the state as the client parses the query: ${ctx}`);
    });
  }

  test('two valid requests get two different states', async () => {
    const a = new URL((await authorize(params())).headers.location, server.url).searchParams.get('state');
    const b = new URL((await authorize(params())).headers.location, server.url).searchParams.get('state');
    assert.notEqual(a, b);
  });
});

// =============================================================================================
describe('RFC 8414 metadata', () => {
  test('/.well-known/oauth-authorization-server: issuer is the server URL exactly, S256 only, CIMD supported, endpoints under the issuer', async () => {
    const r = await api(server, 'GET', '/.well-known/oauth-authorization-server', { apiVersion: false });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json(; ?charset=utf-8)?$/i);
    const m = r.json;
    assert.equal(m.issuer, server.url);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.equal(m.client_id_metadata_document_supported, true);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.equal(m.authorization_response_iss_parameter_supported, true, 'RFC 9207: iss is sent');
    assert.equal(m.authorization_endpoint, `${server.url}/oauth/authorize`);
    assert.equal(m.revocation_endpoint, `${server.url}/oauth/revoke`);
    assert.equal(m.introspection_endpoint, `${server.url}/oauth/introspect`);
    for (const k of ['authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
      assert.equal(typeof m[k], 'string', k);
      assert.ok(m[k].startsWith(`${server.url}/`), `${k} = ${m[k]}`);
    }
    // The advertised token endpoint is the token endpoint (an unknown grant is its error, not a 404).
    const t = await api(server, 'POST', new URL(m.token_endpoint).pathname, { form: { grant_type: 'bogus' }, apiVersion: false });
    assert.equal(t.status, 400, t.text);
    assert.equal(t.json.error, 'unsupported_grant_type', t.text);
  });
});

// =============================================================================================
describe('POST /oauth/revoke (RFC 7009)', () => {
  const revoke = (form) => api(server, 'POST', '/oauth/revoke', { form, apiVersion: false });

  test('missing token → 400 invalid_request; empty token too', async () => {
    for (const form of [{}, { token: '' }, { token_type_hint: 'refresh_token' }]) {
      const r = await revoke(form);
      assert.equal(r.status, 400, `${JSON.stringify(form)}: ${r.text}`);
      assert.equal(r.json?.error, 'invalid_request', r.text);
    }
  });

  test('an unknown token → 200', async () => {
    for (const token of ['phr_unknownunknownunknownunknownunknownunknown1', 'pha_x', 'garbage']) {
      const r = await revoke({ token });
      assert.equal(r.status, 200, `${token}: ${r.text}`);
    }
  });

  test('revoking a refresh token revokes its family: the access token then gets 401 on GET resources, the refresh token is refused', async () => {
    const p = await provisioned(server, { clientId });
    const { access_token: access, refresh_token: refresh } = p.tokens;
    assert.equal((await getResource(server, access, p.resource.id)).status, 200);
    const r = await revoke({ token: refresh });
    assert.equal(r.status, 200, r.text);
    const g = await getResource(server, access, p.resource.id);
    assert.equal(g.status, 401, g.text);
    const rf = await refreshGrant(server, refresh);
    assert.equal(rf.status, 400, rf.text);
    assert.equal(rf.json.error, 'invalid_grant', rf.text);
    const fam = q1(server, 'SELECT f.revoked_at FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = ?', sha256hex(refresh));
    assert.notEqual(fam?.revoked_at ?? null, null, 'the family is marked revoked');
    // Revoking again is still 200.
    assert.equal((await revoke({ token: refresh })).status, 200);
  });

  test('revoking an access token: it gets 401 on GET resources', async () => {
    const p = await provisioned(server, { clientId });
    const r = await revoke({ token: p.tokens.access_token, token_type_hint: 'access_token' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await getResource(server, p.tokens.access_token, p.resource.id)).status, 401);
  });

  test('another client\'s client_id: 200 and nothing is revoked', async () => {
    const p = await provisioned(server, { clientId });
    const r = await revoke({ token: p.tokens.refresh_token, client_id: queryClientId });
    assert.equal(r.status, 200, r.text);
    assert.equal((await getResource(server, p.tokens.access_token, p.resource.id)).status, 200);
  });
});

// =============================================================================================
describe('POST /oauth/introspect (RFC 7662)', () => {
  const introspect = (token, authorization) => api(server, 'POST', '/oauth/introspect', {
    form: { token }, apiVersion: false, headers: authorization ? { authorization } : {},
  });

  function assertUnauthorized(r, what) {
    assert.equal(r.status, 401, `${what}: ${r.text}`);
    assert.equal(typeof r.headers['www-authenticate'], 'string', `${what}: WWW-Authenticate present`);
    assert.match(r.headers['www-authenticate'], /^Bearer\b/, what);
    assert.notEqual(r.json?.active, true, what);
  }

  test('without the bearer → 401 with WWW-Authenticate; a wrong bearer too', async () => {
    const p = await provisioned(server, { clientId });
    assertUnauthorized(await introspect(p.tokens.access_token), 'no Authorization');
    assertUnauthorized(await introspect(p.tokens.access_token, `Bearer ${INTROSPECTION_TOKEN}x`), 'wrong bearer');
    assertUnauthorized(await introspect(p.tokens.access_token, `Bearer ${p.tokens.access_token}`), 'the access token as bearer');
    assertUnauthorized(await introspect(p.tokens.access_token, `Basic ${Buffer.from(`x:${INTROSPECTION_TOKEN}`).toString('base64')}`), 'Basic');
  });

  test('with the bearer: a live access token is active (scope, client_id, sub, exp); after revoke it is {"active":false}', async () => {
    const p = await provisioned(server, { clientId });
    const access = p.tokens.access_token;
    const fam = q1(server, 'SELECT f.* FROM access_tokens a JOIN token_families f ON f.id = a.family_id WHERE a.token_hash = ?', sha256hex(access));
    const tok = q1(server, 'SELECT expires_at FROM access_tokens WHERE token_hash = ?', sha256hex(access));
    const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', p.email.toLowerCase());
    const r = await introspect(access, `Bearer ${INTROSPECTION_TOKEN}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['cache-control'], 'no-store');
    const b = r.json;
    assert.equal(b.active, true, r.text);
    assert.equal(b.scope, fam.scopes);
    assert.deepEqual(b.scope.split(' ').sort(), [...CLIENT_SCOPES].sort());
    assert.equal(b.client_id, clientId);
    assert.equal(b.sub, user.id);
    assert.equal(b.exp, tok.expires_at);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(b.exp > now + 3500 && b.exp <= now + 3600 + 5, `exp ${b.exp} ≈ now + 1 h`);

    const rv = await api(server, 'POST', '/oauth/revoke', { form: { token: p.tokens.refresh_token }, apiVersion: false });
    assert.equal(rv.status, 200, rv.text);
    const after = await introspect(access, `Bearer ${INTROSPECTION_TOKEN}`);
    assert.equal(after.status, 200, after.text);
    assert.deepEqual(after.json, { active: false });
    const refreshAfter = await introspect(p.tokens.refresh_token, `Bearer ${INTROSPECTION_TOKEN}`);
    assert.deepEqual(refreshAfter.json, { active: false });
  });

  test('an unknown token → {"active":false}; a missing token → 400 invalid_request', async () => {
    const r = await introspect('pha_nope', `Bearer ${INTROSPECTION_TOKEN}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { active: false });
    const m = await api(server, 'POST', '/oauth/introspect', { form: {}, apiVersion: false, headers: { authorization: `Bearer ${INTROSPECTION_TOKEN}` } });
    assert.equal(m.status, 400, m.text);
    assert.equal(m.json?.error, 'invalid_request', m.text);
  });

  test('a server without --introspection-token refuses every introspection with 401', async () => {
    const bare = await startServer();
    try {
      const cid = await registerClient(bare, { redirectUri: REDIRECT, scopes: CLIENT_SCOPES });
      const p = await provisioned(bare, { clientId: cid });
      for (const auth of [undefined, 'Bearer ', `Bearer ${INTROSPECTION_TOKEN}`]) {
        const r = await api(bare, 'POST', '/oauth/introspect', { form: { token: p.tokens.access_token }, apiVersion: false, headers: auth === undefined ? {} : { authorization: auth } });
        assertUnauthorized(r, `introspection off, Authorization ${JSON.stringify(auth)}`);
      }
    } finally {
      await bare.stop();
    }
  });
});
