// POST /oauth/introspect (alias /api/agentic/oauth/introspect; RFC 7662) for every credential
// kind provisiond issues (src/oauth/revocation_endpoint.cpp):
//  * personal API keys phx_…: active → {active, token_type:"personal_api_key", scope, sub,
//    organization_id, project_id, label, iat, client_id (only when a partner had it created), iss};
//    inactive ({"active":false} and nothing else) when revoked, unknown, its user no longer a member
//    of its organization, or its project gone;
//  * project tokens phc_…: active → {active, token_type:"project_token", project_id,
//    organization_id, iss}; inactive once rotated away, or unknown;
//  * access tokens pha_… and refresh tokens phr_…, as before.
// Every answer is compared field by field with the database. The caller authenticates with
// `Authorization: Bearer <--introspection-token>`; anything else is a 401 that says nothing about
// the token. Malformed tokens get the OAuth error envelope or {"active":false}, never a 500.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ACCESS_RE, P, PAT_RE, PROJECT_TOKEN_RE, REFRESH_RE, UUID_RE, api, assertHealthy, bearer, createResource,
  disableClient, newAccount, q, q1, setPasswordToken, sha256hex, startServer, waitForEmail,
} from './harness.mjs';
import { DEFAULT_PASSWORD, formWithButton, registerPartner, setPasswordOverHttp, stopServer } from '../e2e/e2e.mjs';

const INTROSPECTION_TOKEN = `introspection-${randomBytes(16).toString('hex')}`;
const PATHS = ['/oauth/introspect', '/api/agentic/oauth/introspect'];
const UNAUTHORIZED_BODY = {
  error: 'invalid_token',
  error_description: "Introspection requires the resource server's bearer token",
};

let server;
let clientId;
before(async () => {
  server = await startServer({ extraArgs: ['--introspection-token', INTROSPECTION_TOKEN] });
  clientId = await registerPartner(server, { name: 'Introspection Partner' });
});
after(async () => { await stopServer(server); });

// ---------------------------------------------------------------------------------------------
// Helpers.

/**
 * One introspection request. auth: the whole Authorization header (null: none); json: send
 * {"token": …} as JSON instead of a form; body: a raw body (string/Buffer) with its content type.
 */
function introspect(token, { auth = `Bearer ${INTROSPECTION_TOKEN}`, path = PATHS[0], json = false, s = server, body, contentType } = {}) {
  const headers = auth === null ? {} : { authorization: auth };
  if (body !== undefined) {
    return api(s, 'POST', path, { body, apiVersion: false, headers: { ...headers, 'content-type': contentType } });
  }
  return json
    ? api(s, 'POST', path, { body: token === undefined ? {} : { token }, apiVersion: false, headers })
    : api(s, 'POST', path, { form: token === undefined ? {} : { token }, apiVersion: false, headers });
}

/** 200, Cache-Control: no-store, JSON; returns the body. */
function ok(res, what) {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.headers['cache-control'], 'no-store', `${what}: Cache-Control`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, `${what}: Content-Type`);
  return res.json;
}

/** Exactly {"active":false}: no other member, not even an empty one. */
function assertInactive(res, what) {
  ok(res, what);
  assert.equal(res.text.replace(/\s+/g, ''), '{"active":false}', `${what}: the inactive answer is exactly {"active":false}`);
  assert.deepEqual(res.json, { active: false }, what);
}

/** Every member has the JS type given (integer for 'integer'). */
function assertTypes(obj, types, what) {
  assert.deepEqual(Object.keys(obj).sort(), Object.keys(types).sort(), `${what}: members`);
  for (const [k, t] of Object.entries(types)) {
    if (t === 'integer') assert.ok(Number.isSafeInteger(obj[k]), `${what}: ${k} is an integer (${JSON.stringify(obj[k])})`);
    else if (t === 'array') assert.ok(Array.isArray(obj[k]), `${what}: ${k} is an array`);
    else assert.equal(typeof obj[k], t, `${what}: ${k} is a ${t} (${JSON.stringify(obj[k])})`);
  }
}

const PAT_TYPES = {
  active: 'boolean', token_type: 'string', scope: 'string', sub: 'string', organization_id: 'string',
  project_id: 'integer', label: 'string', iat: 'integer', iss: 'string',
};
const PROJECT_TOKEN_TYPES = { active: 'boolean', token_type: 'string', project_id: 'integer', organization_id: 'string', iss: 'string' };
const OAUTH_TYPES = {
  active: 'boolean', scope: 'string', client_id: 'string', sub: 'string', token_type: 'string', iat: 'integer',
  exp: 'integer', iss: 'string', organization_id: 'string', project_ids: 'array',
};

/** What introspection must say for a live personal API key: built from its database row. */
function expectedPat(key) {
  const row = q1(server, 'SELECT * FROM personal_api_keys WHERE key_hash = ?', sha256hex(key));
  assert.ok(row, 'the key is stored (by its hash)');
  assert.equal(row.revoked_at, null, 'the key is not revoked');
  const out = {
    active: true,
    token_type: 'personal_api_key',
    scope: row.scopes,
    sub: row.user_id,
    organization_id: row.organization_id,
    project_id: row.project_id,
    label: row.label,
    iat: row.created_at,
    iss: server.url,
  };
  if (row.client_id !== null && row.client_id !== '') out.client_id = row.client_id;
  return { row, out };
}

/** What introspection must say for a live project token: built from its project's row. */
function expectedProjectToken(token) {
  const row = q1(server, 'SELECT * FROM projects WHERE api_token = ?', token);
  assert.ok(row, 'the project token is current');
  return { row, out: { active: true, token_type: 'project_token', project_id: row.id, organization_id: row.organization_id, iss: server.url } };
}

/** The three-call flow: account_requests → token → resources. */
async function flow(opts = {}) {
  const a = await newAccount(server, { clientId, ...opts });
  const r = await createResource(server, a.tokens.access_token);
  assert.equal(r.status, 200, `resources: ${r.text}`);
  const ac = r.json.complete.access_configuration;
  assert.match(ac.personal_api_key, PAT_RE);
  assert.match(ac.api_key, PROJECT_TOKEN_RE);
  const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', a.email.toLowerCase());
  return {
    ...a, userId: user.id, access: a.tokens.access_token, refresh: a.tokens.refresh_token,
    orgId: a.account.id, projectId: Number(r.json.id), pat: ac.personal_api_key, projectToken: ac.api_key,
  };
}

/** Sets the user's password through the welcome email: a logged-in WebClient. */
async function logIn(acct) {
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  assert.ok(token, `a set-password link in the welcome email to ${acct.email}`);
  return setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
}

/** Dashboard: Revoke → confirmation page (GET) → Revoke key (POST id + csrf). */
async function revokeOnDashboard(web, keyId) {
  const dash = await web.get('/dashboard');
  assert.equal(dash.status, 200, `GET /dashboard: ${dash.status}`);
  assert.ok(dash.text.includes(`/dashboard/keys/revoke?id=${keyId}`), 'the dashboard links to the key\'s Revoke page');
  const page = await web.get(`/dashboard/keys/revoke?id=${encodeURIComponent(keyId)}`);
  assert.equal(page.status, 200, `GET /dashboard/keys/revoke: ${page.status} ${page.pageText.slice(0, 300)}`);
  const form = formWithButton(page.forms, 'Revoke key');
  assert.ok(form, `a "Revoke key" form: ${page.text.slice(0, 1500)}`);
  assert.equal(form.method, 'post');
  assert.equal(form.action, '/dashboard/keys/revoke');
  assert.equal(form.fields.id, keyId);
  assert.ok(form.fields.csrf, 'the form carries the CSRF token');
  const res = await web.submit(form);
  assert.equal(res.status, 302, `POST /dashboard/keys/revoke: ${res.status} ${res.pageText.slice(0, 300)}`);
  assert.equal(res.location, '/dashboard?notice=key_revoked');
  assert.notEqual(q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE id = ?', keyId).revoked_at, null, 'the key is revoked in the database');
}

/** Dashboard: Create key (label) → 302 /dashboard, which shows the new phx_ once. */
async function createKeyOnDashboard(web, label) {
  const dash = await web.get('/dashboard');
  const form = formWithButton(dash.forms, 'Create key');
  assert.ok(form, 'a "Create key" form');
  const res = await web.submit(form, { label });
  assert.equal(res.status, 302, `POST /dashboard/keys: ${res.status} ${res.pageText.slice(0, 300)}`);
  const shown = await web.get('/dashboard');
  const m = /id="new-key"[^>]*>(phx_[A-Za-z0-9]{43})</.exec(shown.text);
  assert.ok(m, `the dashboard shows the new key once: ${shown.pageText.slice(0, 800)}`);
  return m[1];
}

// ---------------------------------------------------------------------------------------------
describe('personal API keys (phx_)', () => {
  test('a key from the three-call flow is active: every documented member, compared with the database', async () => {
    const a = await flow();
    const { row, out } = expectedPat(a.pat);
    // The stored row is the partner's key for this user, org and project.
    assert.equal(row.user_id, a.userId);
    assert.equal(row.organization_id, a.orgId);
    assert.equal(row.project_id, a.projectId);
    assert.equal(row.client_id, clientId);
    assert.equal(row.label, 'Default project');
    assert.match(row.user_id, UUID_RE);
    assert.match(row.organization_id, UUID_RE);
    const expected = { ...out };
    assert.deepEqual(expected, {
      active: true, token_type: 'personal_api_key', scope: row.scopes, sub: a.userId, organization_id: a.orgId,
      project_id: a.projectId, label: 'Default project', iat: row.created_at, client_id: clientId, iss: server.url,
    });
    // The partner's scopes: the same as its token family's.
    const fam = q1(server, 'SELECT f.scopes FROM access_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = ?', sha256hex(a.access));
    assert.deepEqual(row.scopes.split(' ').sort(), fam.scopes.split(' ').sort());
    const now = Math.floor(Date.now() / 1000);
    assert.ok(row.created_at <= now && row.created_at > now - 120, `iat ${row.created_at} is the creation time`);

    for (const path of PATHS) {
      for (const json of [false, true]) {
        const what = `${path} ${json ? 'JSON' : 'form'}`;
        const body = ok(await introspect(a.pat, { path, json }), what);
        assertTypes(body, { ...PAT_TYPES, client_id: 'string' }, what);
        assert.deepEqual(body, expected, what);
      }
    }
  });

  test('after Revoke on the dashboard the key is {"active":false}; the other keys stay active', async () => {
    const a = await flow();
    const second = await createResource(server, a.access); // a second partner key for the same project
    assert.equal(second.status, 200, second.text);
    const other = second.json.complete.access_configuration.personal_api_key;
    assert.deepEqual(ok(await introspect(a.pat), 'before'), expectedPat(a.pat).out);

    const web = await logIn(a);
    const keyId = q1(server, 'SELECT id FROM personal_api_keys WHERE key_hash = ?', sha256hex(a.pat)).id;
    await revokeOnDashboard(web, keyId);

    for (const path of PATHS) {
      assertInactive(await introspect(a.pat, { path }), `revoked key at ${path}`);
      assertInactive(await introspect(a.pat, { path, json: true }), `revoked key at ${path} (JSON)`);
    }
    assert.deepEqual(ok(await introspect(other), 'the other key'), expectedPat(other).out, 'only the revoked key went inactive');
    assert.deepEqual(ok(await introspect(a.projectToken), 'the project token'), expectedProjectToken(a.projectToken).out);
  });

  test('an unknown phx_ key is {"active":false}; so is a live key with one character changed or added', async () => {
    const a = await flow();
    const unknown = `phx_${randomBytes(40).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 43).padEnd(43, 'a')}`;
    assert.match(unknown, PAT_RE);
    assertInactive(await introspect(unknown), 'unknown phx_');
    const last = a.pat.at(-1);
    assertInactive(await introspect(a.pat.slice(0, -1) + (last === 'a' ? 'b' : 'a')), 'one character changed');
    assertInactive(await introspect(`${a.pat}a`), 'one character added');
    assertInactive(await introspect(a.pat.slice(0, -1)), 'one character removed');
    assertInactive(await introspect(`PHX_${a.pat.slice(4)}`), 'the prefix in upper case');
    assertInactive(await introspect(sha256hex(a.pat)), 'its stored hash');
    // The key itself is untouched by all that.
    assert.deepEqual(ok(await introspect(a.pat), 'the key'), expectedPat(a.pat).out);
  });

  test('a key created on the dashboard is active without client_id; Revoke makes it inactive', async () => {
    const a = await flow();
    const web = await logIn(a);
    const label = `local scripts ${randomBytes(3).toString('hex')}`;
    const key = await createKeyOnDashboard(web, label);
    assert.match(key, PAT_RE);
    const { row, out } = expectedPat(key);
    // Stored as '' (not NULL) by the dashboard; either way it means "no partner".
    assert.ok(row.client_id === '' || row.client_id === null, `a dashboard key records no partner (${JSON.stringify(row.client_id)})`);
    assert.equal(row.label, label);
    assert.equal(row.user_id, a.userId);
    assert.equal(row.organization_id, a.orgId);
    assert.equal(row.project_id, a.projectId);
    const expected = {
      active: true, token_type: 'personal_api_key', scope: row.scopes, sub: a.userId, organization_id: a.orgId,
      project_id: a.projectId, label, iat: row.created_at, iss: server.url,
    };
    assert.deepEqual(out, expected);
    for (const path of PATHS) {
      const body = ok(await introspect(key, { path }), path);
      assertTypes(body, PAT_TYPES, path);
      assert.equal('client_id' in body, false, 'no client_id member at all (not null, not "")');
      assert.deepEqual(body, expected, path);
    }
    await revokeOnDashboard(web, row.id);
    assertInactive(await introspect(key), 'the dashboard key after Revoke');
    // The partner's key was not touched.
    assert.deepEqual(ok(await introspect(a.pat), 'the partner key'), expectedPat(a.pat).out);
  });

  test('Disconnect on the dashboard revokes the partner\'s keys (any revoked_at counts) but not the user\'s own', async () => {
    const a = await flow();
    const web = await logIn(a);
    const own = await createKeyOnDashboard(web, 'mine');
    const page = await web.get(`/dashboard/apps/disconnect?client_id=${encodeURIComponent(clientId)}`);
    assert.equal(page.status, 200, page.pageText.slice(0, 300));
    const form = formWithButton(page.forms, 'Disconnect Introspection Partner');
    assert.ok(form, `a Disconnect form: ${page.pageText.slice(0, 500)}`);
    const res = await web.submit(form);
    assert.equal(res.status, 302, `POST /dashboard/apps/disconnect: ${res.status}`);
    assert.notEqual(q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE key_hash = ?', sha256hex(a.pat)).revoked_at, null);
    assertInactive(await introspect(a.pat), 'the partner key after Disconnect');
    assertInactive(await introspect(a.access), 'the partner access token after Disconnect');
    assert.deepEqual(ok(await introspect(own), 'the user\'s own key'), expectedPat(own).out);
    // The project token belongs to the project, not to the partner: still current, still active.
    assert.deepEqual(ok(await introspect(a.projectToken), 'the project token'), expectedProjectToken(a.projectToken).out);
  });

  test('a disabled partner: its OAuth tokens go inactive, the keys it had created stay active (they are the user\'s)', async () => {
    // Actual behaviour, asserted as such: describe_personal_api_key does not look at the client;
    // a key outlives its partner's deactivation just as it outlives /oauth/revoke of the family.
    const cid = await registerPartner(server, { name: 'Soon Disabled' });
    const a = await flow({ clientId: cid });
    const before = expectedPat(a.pat).out;
    assert.equal(before.client_id, cid);
    await disableClient(server, cid);
    assertInactive(await introspect(a.access), 'access token of a disabled client');
    assertInactive(await introspect(a.refresh), 'refresh token of a disabled client');
    assert.deepEqual(ok(await introspect(a.pat), 'its key'), before);
  });
});

// ---------------------------------------------------------------------------------------------
describe('project tokens (phc_)', () => {
  test('the flow\'s project token is active: exactly {active, token_type, project_id, organization_id, iss}', async () => {
    const a = await flow();
    const { row, out } = expectedProjectToken(a.projectToken);
    assert.equal(row.id, a.projectId);
    assert.equal(row.organization_id, a.orgId);
    const expected = { active: true, token_type: 'project_token', project_id: a.projectId, organization_id: a.orgId, iss: server.url };
    assert.deepEqual(out, expected);
    for (const path of PATHS) {
      for (const json of [false, true]) {
        const what = `${path} ${json ? 'JSON' : 'form'}`;
        const body = ok(await introspect(a.projectToken, { path, json }), what);
        assertTypes(body, PROJECT_TOKEN_TYPES, what);
        assert.deepEqual(body, expected, what);
      }
    }
  });

  test('rotate_credentials: the old phc_ goes inactive, the new one is active; old and new phx_ keys are both active', async () => {
    const a = await flow();
    const rot = await api(server, 'POST', `${P}/resources/${a.projectId}/rotate_credentials`, { body: { label_prefix: 'Rot' }, headers: bearer(a.access) });
    assert.equal(rot.status, 200, rot.text);
    const ac = rot.json.complete.access_configuration;
    assert.match(ac.api_key, PROJECT_TOKEN_RE);
    assert.notEqual(ac.api_key, a.projectToken);
    assert.match(ac.personal_api_key, PAT_RE);
    assert.equal(q1(server, 'SELECT api_token FROM projects WHERE id = ?', a.projectId).api_token, ac.api_key);

    for (const path of PATHS) {
      assertInactive(await introspect(a.projectToken, { path }), `the rotated-away phc_ at ${path}`);
      assert.deepEqual(ok(await introspect(ac.api_key, { path }), `the new phc_ at ${path}`), {
        active: true, token_type: 'project_token', project_id: a.projectId, organization_id: a.orgId, iss: server.url,
      });
    }

    // What rotate does to personal API keys: it mints a new one (labelled with label_prefix) and
    // KEEPS the old one live — rotate_credentials rotates the project token only; it does not revoke
    // any phx_ (resources.test.mjs "keeps the old PATs"). A partner that wants an old key dead must
    // have the user revoke it (dashboard Revoke / Disconnect).
    const oldRow = q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE key_hash = ?', sha256hex(a.pat));
    assert.equal(oldRow.revoked_at, null, 'rotate leaves the old key unrevoked');
    assert.deepEqual(ok(await introspect(a.pat), 'the old phx_ after rotate'), {
      active: true, token_type: 'personal_api_key', scope: expectedPat(a.pat).row.scopes, sub: a.userId,
      organization_id: a.orgId, project_id: a.projectId, label: 'Default project',
      iat: expectedPat(a.pat).row.created_at, client_id: clientId, iss: server.url,
    });
    const fresh = expectedPat(ac.personal_api_key);
    assert.equal(fresh.row.label, 'Rot - Default project');
    assert.deepEqual(ok(await introspect(ac.personal_api_key), 'the new phx_ after rotate'), {
      active: true, token_type: 'personal_api_key', scope: fresh.row.scopes, sub: a.userId,
      organization_id: a.orgId, project_id: a.projectId, label: 'Rot - Default project',
      iat: fresh.row.created_at, client_id: clientId, iss: server.url,
    });

    // A second rotation retires the second token too.
    const rot2 = await api(server, 'POST', `${P}/resources/${a.projectId}/rotate_credentials`, { body: {}, headers: bearer(a.access) });
    assert.equal(rot2.status, 200, rot2.text);
    const third = rot2.json.complete.access_configuration.api_key;
    assertInactive(await introspect(ac.api_key), 'the second phc_ after another rotation');
    assertInactive(await introspect(a.projectToken), 'the first phc_, still');
    assert.deepEqual(ok(await introspect(third), 'the third phc_'), expectedProjectToken(third).out);
    assert.equal(q(server, 'SELECT id FROM personal_api_keys WHERE project_id = ? AND revoked_at IS NULL', a.projectId).length, 3,
      'three live keys: the create\'s and one per rotation');
  });

  test('an unknown phc_ is {"active":false}; so is another project\'s token with one character changed', async () => {
    const a = await flow();
    assertInactive(await introspect(`phc_${'A'.repeat(43)}`), 'unknown phc_');
    const last = a.projectToken.at(-1);
    assertInactive(await introspect(a.projectToken.slice(0, -1) + (last === 'a' ? 'b' : 'a')), 'one character changed');
    assertInactive(await introspect(`${a.projectToken} `), 'a trailing space');
    assertInactive(await introspect(a.projectToken.toLowerCase() === a.projectToken ? a.projectToken.toUpperCase() : a.projectToken.toLowerCase()), 'another case');
    assert.deepEqual(ok(await introspect(a.projectToken), 'the token'), expectedProjectToken(a.projectToken).out);
  });
});

// ---------------------------------------------------------------------------------------------
describe('access and refresh tokens (pha_/phr_), as before', () => {
  test('both active with the OAuth members; /oauth/revoke of the access token retires it alone; of the refresh token, the family', async () => {
    const a = await flow();
    assert.match(a.access, ACCESS_RE);
    assert.match(a.refresh, REFRESH_RE);
    const at = q1(server, 'SELECT * FROM access_tokens WHERE token_hash = ?', sha256hex(a.access));
    const rt = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(a.refresh));
    const fam = q1(server, 'SELECT * FROM token_families WHERE id = ?', at.family_id);
    assert.equal(rt.family_id, fam.id);
    const common = {
      active: true, scope: fam.scopes, client_id: clientId, sub: a.userId, iss: server.url,
      organization_id: a.orgId, project_ids: JSON.parse(fam.project_ids),
    };
    assert.deepEqual(common.project_ids, [a.projectId]);
    const accessExpected = { ...common, token_type: 'Bearer', iat: at.created_at, exp: at.expires_at };
    const refreshExpected = { ...common, token_type: 'refresh_token', iat: rt.created_at, exp: rt.expires_at };
    assert.equal(at.expires_at - at.created_at, 3600);
    assert.equal(rt.expires_at - rt.created_at, 30 * 24 * 3600);
    for (const path of PATHS) {
      const ab = ok(await introspect(a.access, { path }), `access at ${path}`);
      assertTypes(ab, OAUTH_TYPES, 'access');
      assert.deepEqual(ab, accessExpected);
      const rb = ok(await introspect(a.refresh, { path, json: true }), `refresh at ${path}`);
      assertTypes(rb, OAUTH_TYPES, 'refresh');
      assert.deepEqual(rb, refreshExpected);
    }

    const r1 = await api(server, 'POST', '/oauth/revoke', { form: { token: a.access }, apiVersion: false });
    assert.equal(r1.status, 200, r1.text);
    assert.deepEqual(r1.json, {});
    assertInactive(await introspect(a.access), 'the revoked access token');
    assert.deepEqual(ok(await introspect(a.refresh), 'the refresh token after revoking the access token'), refreshExpected);

    const r2 = await api(server, 'POST', '/oauth/revoke', { form: { token: a.refresh }, apiVersion: false });
    assert.equal(r2.status, 200, r2.text);
    assertInactive(await introspect(a.refresh), 'the revoked refresh token');
    assertInactive(await introspect(a.access), 'the access token, still');
    assert.notEqual(q1(server, 'SELECT revoked_at FROM token_families WHERE id = ?', fam.id).revoked_at, null);

    // /oauth/revoke is about OAuth grants: the keys and project token the partner provisioned are
    // not touched (they belong to the user and the project).
    assert.deepEqual(ok(await introspect(a.pat), 'the phx_ after /oauth/revoke'), expectedPat(a.pat).out);
    assert.deepEqual(ok(await introspect(a.projectToken), 'the phc_ after /oauth/revoke'), expectedProjectToken(a.projectToken).out);
  });

  test('an unknown pha_/phr_ and bare prefixes are {"active":false}', async () => {
    for (const t of [`pha_${'x'.repeat(43)}`, `phr_${'x'.repeat(43)}`, 'pha_', 'phr_', 'phc_', 'phx_', 'ph', 'x']) {
      assertInactive(await introspect(t), JSON.stringify(t));
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('protection', () => {
  function assertUnauthorized(res, what, secrets = []) {
    assert.equal(res.status, 401, `${what}: ${res.status} ${res.text}`);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="introspection"', `${what}: WWW-Authenticate`);
    assert.equal(res.headers['cache-control'], 'no-store', `${what}: Cache-Control`);
    assert.deepEqual(res.json, UNAUTHORIZED_BODY, `${what}: the fixed body`);
    // Nothing about the token: not the token, nor anything it would have revealed (strings, in the
    // body and every header; a project id, a small number, as a number in the body).
    const everything = res.text + JSON.stringify(res.headers);
    for (const s of secrets) {
      if (typeof s === 'number') {
        assert.equal(new RegExp(`\\b${s}\\b`).test(res.text), false, `${what}: the 401 body mentions ${s}`);
      } else {
        assert.equal(everything.includes(s), false, `${what}: the 401 mentions ${JSON.stringify(s)}`);
      }
    }
    for (const word of ['active', 'personal_api_key', 'project_token', 'refresh_token', INTROSPECTION_TOKEN]) {
      assert.equal(everything.includes(word), false, `${what}: the 401 mentions ${word}`);
    }
  }

  test('no bearer, a wrong one, another scheme → 401 with WWW-Authenticate for every kind of token, and no leak', async () => {
    const a = await flow();
    const label = 'Default project';
    const revealing = (tok) => [tok, sha256hex(tok), a.userId, a.orgId, a.projectId, label, clientId];
    const auths = [
      [null, 'no Authorization'],
      ['', 'an empty Authorization'],
      ['Bearer', '"Bearer" alone'],
      ['Bearer ', '"Bearer " and nothing'],
      [`Bearer ${INTROSPECTION_TOKEN}x`, 'a wrong bearer (one character added)'],
      [`Bearer ${INTROSPECTION_TOKEN.slice(0, -1)}`, 'a wrong bearer (one character missing)'],
      [`Bearer  ${INTROSPECTION_TOKEN}`, 'two spaces'],
      [`Bearer ${a.access}`, 'the access token as bearer'],
      [`Bearer ${a.pat}`, 'the phx_ key as bearer'],
      [`Bearer ${a.projectToken}`, 'the phc_ token as bearer'],
      [`Basic ${Buffer.from(`x:${INTROSPECTION_TOKEN}`).toString('base64')}`, 'Basic'],
      [INTROSPECTION_TOKEN, 'the token without a scheme'],
    ];
    const tokens = [['phx_', a.pat], ['phc_', a.projectToken], ['pha_', a.access], ['phr_', a.refresh], ['unknown phx_', `phx_${'z'.repeat(43)}`]];
    const bodies = new Set();
    for (const [kind, tok] of tokens) {
      for (const [auth, what] of auths) {
        const res = await introspect(tok, { auth });
        assertUnauthorized(res, `${kind} with ${what}`, kind === 'unknown phx_' ? [tok] : revealing(tok));
        bodies.add(res.text);
      }
      const alias = await introspect(tok, { auth: null, path: PATHS[1], json: true });
      assertUnauthorized(alias, `${kind} at the alias, JSON, no Authorization`, revealing(tok));
      bodies.add(alias.text);
    }
    assert.equal(bodies.size, 1, 'every 401 is the same bytes: a live, a dead and an unknown token look alike');
    // The tokens still work with the right bearer (a 401 changed nothing).
    assert.deepEqual(ok(await introspect(a.pat), 'phx_'), expectedPat(a.pat).out);
    assert.deepEqual(ok(await introspect(a.projectToken), 'phc_'), expectedProjectToken(a.projectToken).out);
  });

  test('the bearer check comes first: a malformed request without it is a 401, not a 400', async () => {
    assertUnauthorized(await introspect(undefined, { auth: null }), 'no token, no bearer');
    assertUnauthorized(await introspect('', { auth: 'Bearer nope' }), 'empty token, wrong bearer');
    assertUnauthorized(await introspect(undefined, { auth: null, body: 'token=%FF', contentType: 'application/x-www-form-urlencoded' }), 'invalid UTF-8, no bearer');
    assertUnauthorized(await introspect(undefined, { auth: null, body: '{"token":', contentType: 'application/json' }), 'broken JSON, no bearer');
  });

  test('a server without --introspection-token answers 401 to everything, phx_ and phc_ included', async () => {
    const bare = await startServer();
    try {
      const cid = await registerPartner(bare, { name: 'Bare Partner' });
      const a = await newAccount(bare, { clientId: cid });
      const r = await createResource(bare, a.tokens.access_token);
      assert.equal(r.status, 200, r.text);
      const ac = r.json.complete.access_configuration;
      const user = q1(bare, 'SELECT id FROM users WHERE email_normalized = ?', a.email.toLowerCase());
      const secrets = (tok) => [tok, sha256hex(tok), user.id, a.account.id, Number(r.json.id), 'Default project', cid];
      for (const [kind, tok] of [['phx_', ac.personal_api_key], ['phc_', ac.api_key], ['pha_', a.tokens.access_token], ['phr_', a.tokens.refresh_token]]) {
        for (const auth of [null, 'Bearer ', `Bearer ${INTROSPECTION_TOKEN}`, 'Bearer x', `Bearer ${tok}`]) {
          for (const path of PATHS) {
            const res = await introspect(tok, { s: bare, auth, path });
            assertUnauthorized(res, `introspection off: ${kind} at ${path} with ${JSON.stringify(auth)}`, secrets(tok));
          }
        }
      }
    } finally {
      await stopServer(bare);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('malformed tokens', () => {
  function assertInvalidRequest(res, description, what) {
    assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
    assert.equal(res.headers['cache-control'], 'no-store', `${what}: Cache-Control`);
    assert.deepEqual(res.json, { error: 'invalid_request', error_description: description }, what);
  }

  test('an empty or missing token → 400 invalid_request "token is required"; a non-string → "token must be a string"', async () => {
    for (const path of PATHS) {
      assertInvalidRequest(await introspect('', { path }), 'token is required', `empty (form) at ${path}`);
      assertInvalidRequest(await introspect('', { path, json: true }), 'token is required', `empty (JSON) at ${path}`);
      assertInvalidRequest(await introspect(undefined, { path }), 'token is required', `missing (form) at ${path}`);
      assertInvalidRequest(await introspect(undefined, { path, json: true }), 'token is required', `missing (JSON) at ${path}`);
      assertInvalidRequest(await introspect(null, { path, json: true }), 'token is required', `null (JSON) at ${path}`);
      assertInvalidRequest(await introspect(undefined, { path, body: '', contentType: 'application/x-www-form-urlencoded' }), 'token is required', `empty body at ${path}`);
      for (const v of [5, true, ['phx_x'], { t: 'phx_x' }]) {
        assertInvalidRequest(await introspect(v, { path, json: true }), 'token must be a string', `${JSON.stringify(v)} at ${path}`);
      }
    }
  });

  test('a 10 KB token (with each prefix) is {"active":false}; over the 64 KiB body limit it is a 413', async () => {
    for (const prefix of ['phx_', 'phc_', 'pha_', 'phr_', '']) {
      const tok = prefix + 'A'.repeat(10 * 1024);
      assertInactive(await introspect(tok), `10 KB ${JSON.stringify(prefix)} (form)`);
      assertInactive(await introspect(tok, { json: true, path: PATHS[1] }), `10 KB ${JSON.stringify(prefix)} (JSON)`);
    }
    const huge = await introspect(`phx_${'A'.repeat(70 * 1024)}`);
    assert.equal(huge.status, 413, `${huge.status} ${huge.text.slice(0, 200)}`);
    assert.deepEqual(Object.keys(huge.json ?? {}).sort(), ['error', 'error_description'], huge.text.slice(0, 300));
    assert.equal(typeof huge.json.error_description, 'string');
    assert.equal(huge.text.includes('AAAAAAAA'), false, 'the 413 does not echo the token');
    await assertHealthy(server);
  });

  test('"phx_" and "phc_" alone, with spaces or control characters → {"active":false}', async () => {
    const cases = ['phx_', 'phc_', 'phx', 'phc', ' phx_', 'phx_ ', 'phx_\t', 'phx_%', 'phx_\u0000', `phx_${'a'.repeat(42)}\u0000`, 'phc_\r\n', '_', ' ', '\u0000'];
    for (const t of cases) {
      assertInactive(await introspect(t), `form ${JSON.stringify(t)}`);
      assertInactive(await introspect(t, { json: true }), `JSON ${JSON.stringify(t)}`);
    }
  });

  test('non-ASCII tokens → {"active":false}; bytes that are not UTF-8 → 400 invalid_request', async () => {
    const cases = [
      `phx_${'é'.repeat(43)}`, `phc_${'日本語'.repeat(15)}`, 'phx_🔑🔑🔑', `pha_${'ü'.repeat(43)}`, 'phx_\u202e', 'phx_\ufeff',
      `phx_${'ñ'.repeat(5000)}`, // 10 KB of two-byte characters
    ];
    for (const t of cases) {
      assertInactive(await introspect(t), `form ${JSON.stringify(t.slice(0, 20))}`);
      assertInactive(await introspect(t, { json: true }), `JSON ${JSON.stringify(t.slice(0, 20))}`);
    }
    for (const [body, contentType] of [
      ['token=phx_%FF%FE', 'application/x-www-form-urlencoded'],
      ['token=phc_%C3%28', 'application/x-www-form-urlencoded'],
      [Buffer.concat([Buffer.from('{"token":"phx_'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), 'application/json'],
    ]) {
      const res = await introspect(undefined, { body, contentType });
      assertInvalidRequest(res, 'Request body is not valid UTF-8', `${contentType} ${String(body).slice(0, 30)}`);
    }
    await assertHealthy(server);
  });

  test('a body that is neither form nor JSON → 415; broken JSON → 400; never a 500', async () => {
    const t415 = await introspect(undefined, { body: `token=${'phx_x'}`, contentType: 'text/plain' });
    assert.equal(t415.status, 415, t415.text);
    assert.deepEqual(Object.keys(t415.json).sort(), ['error', 'error_description']);
    const broken = await introspect(undefined, { body: '{"token":"phx_', contentType: 'application/json' });
    assert.equal(broken.status, 400, broken.text);
    assert.equal(broken.json.error, 'invalid_request');
    const dup = await introspect(undefined, { body: 'token=phx_a&token=phc_b', contentType: 'application/x-www-form-urlencoded' });
    assertInvalidRequest(dup, 'Parameter token appears more than once', 'the token twice');
    await assertHealthy(server);
  });
});
