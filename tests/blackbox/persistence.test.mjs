// Restarts: everything that was issued keeps working; the operator CLI against the same database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CATALOG, accountRequest, count, createResource, exchangeCode, getResource, newAccount, q1, refreshGrant,
  registerClient, sha256hex, startServer, uniqueEmail,
} from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

describe('restart', () => {
  test('tokens, accounts, codes, consents, resources and the refresh chain survive a restart', async () => {
    const clientId = await registerClient(server);
    const a = await newAccount(server, { clientId });
    const project = a.account.available_teams[0].id;
    const created = await createResource(server, a.tokens.access_token, { project_id: 'persist-ext', configuration: { project_name: 'Persisted' } });
    assert.equal(created.status, 200, created.text);
    const unexchanged = await accountRequest(server, { clientId });
    assert.equal(unexchanged.res.json.type, 'oauth');
    const consent = await accountRequest(server, { clientId, email: a.email });
    assert.equal(consent.res.json.type, 'requires_auth');
    const usersBefore = count(server, 'SELECT COUNT(*) FROM users');

    await server.restart();

    const g = await getResource(server, a.tokens.access_token, project);
    assert.equal(g.status, 200, g.text);
    const g2 = await getResource(server, a.tokens.access_token, created.json.id);
    assert.equal(g2.status, 200, g2.text);
    assert.equal(g2.json.complete.access_configuration.api_key, created.json.complete.access_configuration.api_key);
    const again = await createResource(server, a.tokens.access_token, { project_id: 'persist-ext' });
    assert.equal(again.json.id, created.json.id, 'the project_id binding survived');

    const rf = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(rf.status, 200, rf.text);
    assert.equal((await getResource(server, rf.json.access_token, project)).status, 200);

    const t = await exchangeCode(server, unexchanged.res.json.oauth.code, unexchanged.verifier);
    assert.equal(t.status, 200, `a code issued before the restart: ${t.text}`);

    const existing = await accountRequest(server, { clientId, email: a.email });
    assert.equal(existing.res.json.type, 'requires_auth', 'the account is still known');
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE email_normalized = ?', a.email), 1);
    assert.equal(count(server, 'SELECT COUNT(*) FROM users'), usersBefore);

    const fresh = await newAccount(server, { clientId });
    assert.equal(fresh.tokens.token_type, 'bearer');
  });

  test('reuse detection state survives a restart (a replayed code still revokes)', async () => {
    const clientId = await registerClient(server);
    const ar = await accountRequest(server, { clientId });
    const t = await exchangeCode(server, ar.res.json.oauth.code, ar.verifier);
    assert.equal(t.status, 200);
    await server.restart();
    const replay = await exchangeCode(server, ar.res.json.oauth.code, ar.verifier);
    assert.deepEqual([replay.status, replay.json.error], [400, 'invalid_grant'], replay.text);
    assert.equal((await getResource(server, t.json.access_token, t.json.account.available_teams[0].id)).status, 401);
  });

  test('the refresh grace record survives a restart', async () => {
    const clientId = await registerClient(server);
    const a = await newAccount(server, { clientId });
    const r2 = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(r2.status, 200);
    await server.restart();
    const retry = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(retry.status, 200, `grace retry after restart: ${retry.text}`);
    const third = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(third.status, 400, third.text);
    assert.equal(third.json.error, 'invalid_grant');
  });

  test('two restarts in a row are clean (exit 0 each time) and /_ready answers after each', async () => {
    await server.restart();
    await server.restart();
    const clientId = await registerClient(server);
    const a = await newAccount(server, { clientId, email: uniqueEmail('after-restarts') });
    assert.equal(q1(server, 'SELECT COUNT(*) AS n FROM access_tokens WHERE token_hash = ?', sha256hex(a.tokens.access_token)).n, 1);
  });
});

describe('operator CLI', () => {
  test('clients show --json and list --json describe a registered client', async () => {
    const id = `cli-${Date.now()}`;
    await registerClient(server, { clientId: id, name: 'CLI Partner', redirectUri: ['https://a.example/cb', 'https://b.example/cb'], scopes: ['user:read', 'project:read'] });
    const show = await server.cli(['clients', 'show', id, '--json']);
    assert.equal(show.code, 0, show.stderr);
    const obj = JSON.parse(show.stdout);
    const text = JSON.stringify(obj);
    assert.ok(text.includes(id) && text.includes('CLI Partner') && text.includes('https://b.example/cb') && text.includes('project:read'), text);
    const list = await server.cli(['clients', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(JSON.stringify(JSON.parse(list.stdout)).includes(id));
    const row = q1(server, 'SELECT * FROM oauth_clients WHERE client_id = ?', id);
    assert.equal(row.name, 'CLI Partner');
    assert.equal(row.kind, 'registered');
    assert.deepEqual(JSON.parse(row.redirect_uris), ['https://a.example/cb', 'https://b.example/cb']);
    assert.equal(row.scopes, 'project:read user:read', 'ceiling stored sorted');
    assert.equal(row.is_active, 1);
  });

  test('clients add refuses a duplicate id, an unknown scope and a missing redirect URI', async () => {
    const id = `dup-${Date.now()}`;
    await registerClient(server, { clientId: id });
    const dup = await server.cli(['clients', 'add', '--client-id', id, '--name', 'Again', '--redirect-uri', 'https://x.example/cb', '--scopes', 'user:read']);
    assert.notEqual(dup.code, 0, 'duplicate id refused');
    const badScope = await server.cli(['clients', 'add', '--client-id', `${id}-s`, '--name', 'S', '--redirect-uri', 'https://x.example/cb', '--scopes', 'user:read root:write']);
    assert.notEqual(badScope.code, 0, 'unknown scope refused');
    const noRedirect = await server.cli(['clients', 'add', '--client-id', `${id}-r`, '--name', 'R', '--scopes', 'user:read']);
    assert.notEqual(noRedirect.code, 0, 'missing redirect URI refused');
    assert.equal(count(server, 'SELECT COUNT(*) FROM oauth_clients WHERE client_id LIKE ?', `${id}-%`), 0);
    assert.equal(q1(server, 'SELECT name FROM oauth_clients WHERE client_id = ?', id).name, 'Test Partner');
  });

  test('clients disable marks the client inactive; show of an unknown client fails', async () => {
    const id = await registerClient(server, { scopes: CATALOG });
    const d = await server.cli(['clients', 'disable', id]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(q1(server, 'SELECT is_active FROM oauth_clients WHERE client_id = ?', id).is_active, 0);
    const unknown = await server.cli(['clients', 'show', 'nope-nope', '--json']);
    assert.notEqual(unknown.code, 0);
    const dis = await server.cli(['clients', 'disable', 'nope-nope']);
    assert.notEqual(dis.code, 0);
  });

  test('migrate is idempotent on a live database', async () => {
    for (let i = 0; i < 2; i++) {
      const m = await server.cli(['migrate']);
      assert.equal(m.code, 0, m.stderr);
    }
    const clientId = await registerClient(server);
    const a = await newAccount(server, { clientId });
    assert.equal(a.tokens.token_type, 'bearer');
  });
});
