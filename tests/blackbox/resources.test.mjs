// Resources: create / get / rotate_credentials / remove; label_prefix; project_id; service_id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, PAT_RE, PROJECT_TOKEN_RE, api, bearer, count, createResource, disableClient, getResource, newAccount,
  q, q1, refreshGrant, registerClient, sha256hex, startServer, uniqueEmail,
} from './harness.mjs';

let server;
let clientId;
before(async () => {
  server = await startServer();
  clientId = await registerClient(server, { name: 'Resource Partner' });
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) {
    const r = await server.cli(['clients', 'set-limit', clientId, ep, 'unlimited']);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => { await server?.stop(); });

async function account(opts = {}) {
  const a = await newAccount(server, { clientId, ...opts });
  return { ...a, access: a.tokens.access_token, project: a.account.available_teams[0].id, orgId: a.account.id };
}

function statusError(res, status, id, code, message) {
  assert.equal(res.status, status, res.text);
  if (message === undefined) {
    assert.equal(res.json?.status, 'error', res.text);
    assert.equal(res.json.id, id, res.text);
    assert.equal(res.json.error?.code, code, res.text);
    assert.equal(typeof res.json.error.message, 'string');
    assert.deepEqual(Object.keys(res.json).sort(), ['error', 'id', 'status']);
  } else {
    assert.deepEqual(res.json, { status: 'error', id, error: { code, message } });
  }
}

const rotate = (access, id, body = {}) => api(server, 'POST', `${P}/resources/${id}/rotate_credentials`, { body, headers: bearer(access) });
const remove = (access, id) => api(server, 'POST', `${P}/resources/${id}/remove`, { body: {}, headers: bearer(access) });

describe('create', () => {
  test('{} provisions the default project: exact envelope, PAT stored hashed, provisioning recorded', async () => {
    const a = await account();
    const res = await createResource(server, a.access, {});
    assert.equal(res.status, 200, res.text);
    const project = q1(server, 'SELECT * FROM projects WHERE id = ?', a.project);
    const ac = res.json.complete?.access_configuration ?? {};
    assert.deepEqual(res.json, {
      status: 'complete',
      id: String(a.project),
      service_id: 'analytics',
      complete: { access_configuration: { api_key: project.api_token, host: server.url, personal_api_key: ac.personal_api_key } },
    });
    assert.match(ac.api_key, PROJECT_TOKEN_RE);
    assert.match(ac.personal_api_key, PAT_RE);
    assert.equal(project.name, 'Default project');
    const pats = q(server, 'SELECT * FROM personal_api_keys WHERE project_id = ?', a.project);
    assert.equal(pats.length, 1);
    assert.equal(pats[0].key_hash, sha256hex(ac.personal_api_key));
    assert.equal(pats[0].mask, `phx_...${ac.personal_api_key.slice(-4)}`);
    assert.equal(pats[0].label, 'Default project');
    assert.equal(pats[0].organization_id, a.orgId);
    assert.equal(pats[0].client_id, clientId);
    assert.equal(pats[0].revoked_at, null);
    const prov = q1(server, 'SELECT * FROM project_provisioning WHERE project_id = ?', a.project);
    assert.equal(prov.client_id, clientId);
    assert.equal(prov.service_id, 'analytics');
  });

  test('a second create without project_id returns the same project and mints another PAT (old kept)', async () => {
    const a = await account();
    const r1 = await createResource(server, a.access);
    const r2 = await createResource(server, a.access);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.id, r1.json.id);
    assert.equal(r2.json.complete.access_configuration.api_key, r1.json.complete.access_configuration.api_key);
    assert.notEqual(r2.json.complete.access_configuration.personal_api_key, r1.json.complete.access_configuration.personal_api_key);
    assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE project_id = ? AND revoked_at IS NULL', a.project), 2);
  });

  test('service_id free is echoed and stored; GET reports it', async () => {
    const a = await account();
    const res = await createResource(server, a.access, { service_id: 'free' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.service_id, 'free');
    assert.equal(q1(server, 'SELECT service_id FROM project_provisioning WHERE project_id = ?', a.project).service_id, 'free');
    const g = await getResource(server, a.access, a.project);
    assert.equal(g.json.service_id, 'free');
  });

  test('unknown service_id → 400 unknown_service "Unknown service_id: bogus", nothing minted', async () => {
    const a = await account();
    const res = await createResource(server, a.access, { service_id: 'bogus' });
    statusError(res, 400, '', 'unknown_service', 'Unknown service_id: bogus');
    assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE project_id = ?', a.project), 0);
  });

  test('host is the account region host (EU)', async () => {
    const s = await startServer({ extraArgs: ['--eu-host', 'http://eu.provisiond.test', '--us-host', 'http://us.provisiond.test'] });
    try {
      const cid = await registerClient(s);
      const eu = await newAccount(s, { clientId: cid, configuration: { region: 'EU' } });
      const r = await createResource(s, eu.tokens.access_token);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.complete.access_configuration.host, 'http://eu.provisiond.test');
      const us = await newAccount(s, { clientId: cid });
      const r2 = await createResource(s, us.tokens.access_token);
      assert.equal(r2.json.complete.access_configuration.host, 'http://us.provisiond.test');
      const g = await getResource(s, eu.tokens.access_token, r.json.id);
      assert.equal(g.json.complete.access_configuration.host, 'http://eu.provisiond.test');
    } finally {
      await s.stop();
    }
  });

  test('served at the /api/provisioning alias and with a trailing slash', async () => {
    const a = await account();
    const r1 = await createResource(server, a.access, {}, { path: '/api/provisioning/resources' });
    assert.equal(r1.status, 200, r1.text);
    const r2 = await createResource(server, a.access, {}, { path: `${P}/resources/` });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.id, r1.json.id);
  });

  test('the PAT carries the token scopes', async () => {
    const a = await account({ scopes: ['project:read', 'user:read'] });
    const r = await createResource(server, a.access);
    assert.equal(r.status, 200, r.text);
    const pat = q1(server, 'SELECT scopes FROM personal_api_keys WHERE key_hash = ?', sha256hex(r.json.complete.access_configuration.personal_api_key));
    assert.deepEqual(pat.scopes.split(' ').filter(Boolean).sort(), ['project:read', 'user:read']);
  });
});

describe('label_prefix', () => {
  const label = (pat) => q1(server, 'SELECT label FROM personal_api_keys WHERE key_hash = ?', sha256hex(pat)).label;

  test('"Acme Co" → "Acme Co - Default project"; trimmed; empty/whitespace/null → team name', async () => {
    const a = await account();
    const cases = [['Acme Co', 'Acme Co - Default project'], ['  Acme  ', 'Acme - Default project'], ['', 'Default project'], ['   ', 'Default project'], [null, 'Default project']];
    for (const [prefix, expected] of cases) {
      const r = await createResource(server, a.access, { label_prefix: prefix });
      assert.equal(r.status, 200, `${JSON.stringify(prefix)}: ${r.text}`);
      assert.equal(label(r.json.complete.access_configuration.personal_api_key), expected, JSON.stringify(prefix));
    }
  });

  test('exactly 25 characters is accepted', async () => {
    const a = await account();
    const r = await createResource(server, a.access, { label_prefix: 'x'.repeat(25) });
    assert.equal(r.status, 200, r.text);
  });

  test('the label is truncated to 40 characters', async () => {
    const a = await account();
    const r = await createResource(server, a.access, { label_prefix: 'PartnerX', project_id: 'long-name', configuration: { project_name: 'N'.repeat(60) } });
    assert.equal(r.status, 200, r.text);
    const l = label(r.json.complete.access_configuration.personal_api_key);
    assert.equal(l.length, 40);
    assert.ok(l.startsWith('PartnerX - NNN'), l);
  });

  const bad = [
    ['26 characters', 'x'.repeat(26), 'label_prefix must be 25 characters or fewer'],
    ['a newline', 'Acme\nCo', 'label_prefix must not contain control or format characters'],
    ['a tab', 'Acme\tCo', 'label_prefix must not contain control or format characters'],
    ['a bidi override', 'Acme\u202eCo', 'label_prefix must not contain control or format characters'],
    ['a zero-width space', 'Acme\u200bCo', 'label_prefix must not contain control or format characters'],
    ['a line separator', 'Acme\u2028Co', 'label_prefix must not contain control or format characters'],
    ['a number', 5, 'label_prefix must be a string'],
    ['an object', { a: 1 }, 'label_prefix must be a string'],
  ];
  for (const [what, value, message] of bad) {
    test(`create with ${what} → 400 invalid_label_prefix`, async () => {
      const a = await account();
      const r = await createResource(server, a.access, { label_prefix: value });
      statusError(r, 400, '', 'invalid_label_prefix', message);
      assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE project_id = ?', a.project), 0);
    });
  }

  test('rotate with an invalid label_prefix → 400 invalid_label_prefix carrying the resource id; key unchanged', async () => {
    const a = await account();
    const c = await createResource(server, a.access);
    const r = await rotate(a.access, a.project, { label_prefix: 'x'.repeat(26) });
    statusError(r, 400, String(a.project), 'invalid_label_prefix', 'label_prefix must be 25 characters or fewer');
    assert.equal(q1(server, 'SELECT api_token FROM projects WHERE id = ?', a.project).api_token, c.json.complete.access_configuration.api_key);
  });
});

describe('project_id', () => {
  test('creates a named project in the same org, maps it idempotently, and extends the token reach', async () => {
    const a = await account();
    const base = await createResource(server, a.access);
    const p1 = await createResource(server, a.access, { project_id: 'ext-1', configuration: { project_name: 'Production' } });
    assert.equal(p1.status, 200, p1.text);
    assert.notEqual(p1.json.id, base.json.id);
    assert.notEqual(p1.json.complete.access_configuration.api_key, base.json.complete.access_configuration.api_key);
    const row = q1(server, 'SELECT * FROM projects WHERE id = ?', Number(p1.json.id));
    assert.equal(row.name, 'Production');
    assert.equal(row.organization_id, a.orgId);
    assert.equal(row.api_token, p1.json.complete.access_configuration.api_key);
    assert.deepEqual(q(server, 'SELECT project_id FROM project_bindings WHERE client_id = ? AND external_project_id = ?', clientId, 'ext-1'), [{ project_id: Number(p1.json.id) }]);

    const again = await createResource(server, a.access, { project_id: 'ext-1', configuration: { project_name: 'Renamed?' } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.id, p1.json.id, 'same project_id → same project');
    const p2 = await createResource(server, a.access, { project_id: 'ext-2' });
    assert.notEqual(p2.json.id, p1.json.id);
    assert.equal(q1(server, 'SELECT name FROM projects WHERE id = ?', Number(p2.json.id)).name, 'Default project');

    const fam = q1(server, 'SELECT f.project_ids FROM token_families f JOIN access_tokens t ON t.family_id = f.id WHERE t.token_hash = ?', sha256hex(a.access));
    assert.deepEqual(JSON.parse(fam.project_ids).sort((x, y) => x - y), [a.project, Number(p1.json.id), Number(p2.json.id)].sort((x, y) => x - y));

    const g = await getResource(server, a.access, p1.json.id);
    assert.equal(g.status, 200, g.text);
    // The reach survives a refresh.
    const rf = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(rf.status, 200, rf.text);
    const g2 = await getResource(server, rf.json.access_token, p2.json.id);
    assert.equal(g2.status, 200, g2.text);
  });

  test('the same project_id from another account of the same client does not reach the first one\'s project', async () => {
    const a = await account();
    const b = await account();
    const pa = await createResource(server, a.access, { project_id: 'shared-ext' });
    assert.equal(pa.status, 200, pa.text);
    const pb = await createResource(server, b.access, { project_id: 'shared-ext' });
    assert.ok([200, 404, 409].includes(pb.status), pb.text);
    if (pb.status === 200) assert.notEqual(pb.json.id, pa.json.id, 'another organization never gets the first one\'s project');
    const g = await getResource(server, b.access, pa.json.id);
    assert.equal(g.status, 403, g.text);
  });

  test('an integer project_id is read as its decimal string (as PostHog\'s serializer does); other types → 400', async () => {
    const a = await account();
    const asInt = await createResource(server, a.access, { project_id: 123 });
    assert.equal(asInt.status, 200, asInt.text);
    const asStr = await createResource(server, a.access, { project_id: '123' });
    assert.equal(asStr.json.id, asInt.json.id);
    for (const bad of [{ a: 1 }, ['x'], true, 1.5]) {
      const r = await createResource(server, a.access, { project_id: bad });
      statusError(r, 400, '', 'invalid_request');
    }
    assert.equal(count(server, 'SELECT COUNT(*) FROM projects WHERE organization_id = ?', a.orgId), 2);
  });
});

describe('get', () => {
  test('returns the create envelope without personal_api_key', async () => {
    const a = await account();
    const c = await createResource(server, a.access);
    const g = await getResource(server, a.access, a.project);
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json, {
      status: 'complete', id: String(a.project), service_id: 'analytics',
      complete: { access_configuration: { api_key: c.json.complete.access_configuration.api_key, host: server.url } },
    });
    const alias = await api(server, 'GET', `/api/provisioning/resources/${a.project}/`, { headers: bearer(a.access) });
    assert.equal(alias.status, 200, alias.text);
    assert.deepEqual(alias.json, g.json);
  });

  test('GET works before any create (project reached by the token)', async () => {
    const a = await account();
    const g = await getResource(server, a.access, a.project);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.id, String(a.project));
    assert.equal(g.json.service_id, 'analytics');
  });

  test('another account\'s project → 403 forbidden "Resource not accessible with this token"', async () => {
    const a = await account();
    const b = await account();
    const g = await getResource(server, a.access, b.project);
    statusError(g, 403, String(b.project), 'forbidden', 'Resource not accessible with this token');
  });

  test('a nonexistent numeric id → 403 forbidden', async () => {
    const a = await account();
    const g = await getResource(server, a.access, 987654321);
    statusError(g, 403, '987654321', 'forbidden', 'Resource not accessible with this token');
  });

  test('a non-integer id → 400 invalid_resource_id "Invalid resource ID"', async () => {
    const a = await account();
    for (const id of ['abc', '12abc', '1.5']) {
      const g = await getResource(server, a.access, id);
      statusError(g, 400, id, 'invalid_resource_id', 'Invalid resource ID');
    }
  });
});

describe('bearer authentication', () => {
  test('missing bearer → 401 unauthorized "Missing bearer token" (create, get, rotate, remove)', async () => {
    const a = await account();
    const calls = [
      api(server, 'POST', `${P}/resources`, { body: {} }),
      api(server, 'GET', `${P}/resources/${a.project}`),
      api(server, 'POST', `${P}/resources/${a.project}/rotate_credentials`, { body: {} }),
      api(server, 'POST', `${P}/resources/${a.project}/remove`, { body: {} }),
    ];
    for (const r of await Promise.all(calls)) {
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.status, 'error');
      assert.deepEqual(r.json.error, { code: 'unauthorized', message: 'Missing bearer token: send Authorization: Bearer <access_token from /oauth/token>' });
    }
  });

  test('unknown bearer → 401 unauthorized "Invalid access token"', async () => {
    const r = await createResource(server, `pha_${'Z'.repeat(43)}`);
    statusError(r, 401, '', 'unauthorized', 'Invalid access token');
  });

  test('blank bearer and non-Bearer schemes → 401 unauthorized', async () => {
    for (const h of ['Bearer ', 'Bearer', 'Basic dXNlcjpwYXNz']) {
      const r = await api(server, 'POST', `${P}/resources`, { body: {}, headers: { authorization: h } });
      assert.equal(r.status, 401, `${h}: ${r.text}`);
      assert.equal(r.json.error.code, 'unauthorized');
    }
  });

  test('the auth scheme is case-insensitive (RFC 7235)', async () => {
    const a = await account();
    const r = await api(server, 'GET', `${P}/resources/${a.project}`, { headers: { authorization: `bearer ${a.access}` } });
    assert.equal(r.status, 200, r.text);
  });

  test('a refresh token or a personal API key is not an access token', async () => {
    const a = await account();
    const c = await createResource(server, a.access);
    for (const tok of [a.tokens.refresh_token, c.json.complete.access_configuration.personal_api_key, c.json.complete.access_configuration.api_key]) {
      const r = await getResource(server, tok, a.project);
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.error.code, 'unauthorized');
    }
  });

  test('tokens of a disabled client → 401 unauthorized', async () => {
    const cid = await registerClient(server);
    const a = await newAccount(server, { clientId: cid });
    const project = a.account.available_teams[0].id;
    assert.equal((await getResource(server, a.tokens.access_token, project)).status, 200);
    await disableClient(server, cid);
    const r = await getResource(server, a.tokens.access_token, project);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.code, 'unauthorized');
    const c = await createResource(server, a.tokens.access_token);
    assert.equal(c.status, 401, c.text);
  });

  test('a valid bearer without API-Version → 400 flat invalid_api_version', async () => {
    const a = await account();
    const r = await api(server, 'POST', `${P}/resources`, { body: {}, headers: bearer(a.access), apiVersion: false });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json, { error: { code: 'invalid_api_version', message: 'The API-Version header is missing; send API-Version: 0.1d. Supported API-Versions: 0.1d' } });
    assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE project_id = ?', a.project), 0);
  });
});

describe('rotate_credentials', () => {
  test('rotates the project token, mints a new PAT, keeps the old PATs', async () => {
    const a = await account();
    const c = await createResource(server, a.access, { service_id: 'free' });
    const oldKey = c.json.complete.access_configuration.api_key;
    const oldPat = c.json.complete.access_configuration.personal_api_key;
    const r = await rotate(a.access, a.project, { label_prefix: 'Rot' });
    assert.equal(r.status, 200, r.text);
    const ac = r.json.complete.access_configuration;
    assert.deepEqual(r.json, {
      status: 'complete', id: String(a.project), service_id: 'free',
      complete: { access_configuration: { api_key: ac.api_key, host: server.url, personal_api_key: ac.personal_api_key } },
    });
    assert.match(ac.api_key, PROJECT_TOKEN_RE);
    assert.notEqual(ac.api_key, oldKey);
    assert.match(ac.personal_api_key, PAT_RE);
    assert.notEqual(ac.personal_api_key, oldPat);
    assert.equal(q1(server, 'SELECT api_token FROM projects WHERE id = ?', a.project).api_token, ac.api_key);
    assert.equal(count(server, 'SELECT COUNT(*) FROM projects WHERE api_token = ?', oldKey), 0, 'old project token is gone');
    const pats = q(server, 'SELECT key_hash, label, revoked_at FROM personal_api_keys WHERE project_id = ? ORDER BY created_at', a.project);
    assert.equal(pats.length, 2);
    assert.ok(pats.every((p) => p.revoked_at === null), 'old PATs are kept');
    assert.ok(pats.some((p) => p.key_hash === sha256hex(ac.personal_api_key) && p.label === 'Rot - Default project'));
    const g = await getResource(server, a.access, a.project);
    assert.equal(g.json.complete.access_configuration.api_key, ac.api_key);
  });

  test('rotate without a prior create, with an empty body, defaults service_id to analytics', async () => {
    const a = await account();
    const r = await api(server, 'POST', `${P}/resources/${a.project}/rotate_credentials`, { headers: bearer(a.access) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.service_id, 'analytics');
  });

  test('another account\'s project → 403; non-integer id → 400; alias path works', async () => {
    const a = await account();
    const b = await account();
    const before = q1(server, 'SELECT api_token FROM projects WHERE id = ?', b.project).api_token;
    statusError(await rotate(a.access, b.project), 403, String(b.project), 'forbidden', 'Resource not accessible with this token');
    assert.equal(q1(server, 'SELECT api_token FROM projects WHERE id = ?', b.project).api_token, before);
    statusError(await rotate(a.access, 'abc'), 400, 'abc', 'invalid_resource_id', 'Invalid resource ID');
    const alias = await api(server, 'POST', `/api/provisioning/resources/${a.project}/rotate_credentials`, { body: {}, headers: bearer(a.access) });
    assert.equal(alias.status, 200, alias.text);
  });
});

describe('remove', () => {
  test('answers removed; the token no longer reaches the project; the project itself is kept', async () => {
    const a = await account();
    const c = await createResource(server, a.access);
    const extra = await createResource(server, a.access, { project_id: 'keep-me' });
    assert.equal(extra.status, 200, extra.text);
    const r = await remove(a.access, a.project);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'removed', id: String(a.project) });

    const g = await getResource(server, a.access, a.project);
    statusError(g, 403, String(a.project), 'forbidden', 'Resource not accessible with this token');
    statusError(await rotate(a.access, a.project), 403, String(a.project), 'forbidden', 'Resource not accessible with this token');
    assert.equal((await getResource(server, a.access, extra.json.id)).status, 200, 'other projects stay reachable');

    assert.equal(count(server, 'SELECT COUNT(*) FROM projects WHERE id = ?', a.project), 1, 'project and data are kept');
    assert.equal(q1(server, 'SELECT api_token FROM projects WHERE id = ?', a.project).api_token, c.json.complete.access_configuration.api_key);
    assert.equal(count(server, 'SELECT COUNT(*) FROM project_provisioning WHERE project_id = ?', a.project), 0);
    const fam = q1(server, 'SELECT f.project_ids FROM token_families f JOIN access_tokens t ON t.family_id = f.id WHERE t.token_hash = ?', sha256hex(a.access));
    assert.deepEqual(JSON.parse(fam.project_ids), [Number(extra.json.id)]);

    // A refreshed token does not get it back.
    const rf = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(rf.status, 200, rf.text);
    assert.equal((await getResource(server, rf.json.access_token, a.project)).status, 403);
    assert.equal((await getResource(server, rf.json.access_token, extra.json.id)).status, 200);
  });

  test('another account\'s project → 403 and nothing changes; non-integer → 400', async () => {
    const a = await account();
    const b = await account();
    await createResource(server, b.access);
    statusError(await remove(a.access, b.project), 403, String(b.project), 'forbidden', 'Resource not accessible with this token');
    assert.equal((await getResource(server, b.access, b.project)).status, 200);
    assert.equal(count(server, 'SELECT COUNT(*) FROM project_provisioning WHERE project_id = ?', b.project), 1);
    statusError(await remove(a.access, 'x1'), 400, 'x1', 'invalid_resource_id', 'Invalid resource ID');
  });

  test('alias path works', async () => {
    const a = await account({ email: uniqueEmail('rm-alias') });
    const r = await api(server, 'POST', `/api/provisioning/resources/${a.project}/remove`, { body: {}, headers: bearer(a.access) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'removed', id: String(a.project) });
  });
});
