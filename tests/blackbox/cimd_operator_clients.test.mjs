// An operator-registered client whose id is an https URL stays the operator's: a document at that
// URL never replaces its redirect URIs or its scope ceiling (docs/CIMD.md "Which client ids are
// CIMD URLs"). And a trailing-dot host cannot slip past a domain block. `clients edit` leaves a
// metadata-document client's document fields alone; `clients delete` keeps its URL out for good.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountRequest, q1, registerClient, startServer } from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import { assertRegistered, cimdDoc, registration, uid } from './cimd_common.mjs';

let site;
let server;
before(async () => {
  site = await startTlsSite();
  server = await startServer({ extraArgs: site.cimdArgs(['partner.test']) });
});
after(async () => {
  await server?.stop();
  await site?.stop();
});

test('client_registration for an operator-registered URL client reports it and fetches nothing', async () => {
  const path = `/operator/${uid()}.json`;
  const url = site.url('partner.test', path);
  await registerClient(server, { clientId: url, redirectUri: 'https://operator.example/cb', scopes: ['project:read'] });
  // The document at that URL asks for more: every scope and another redirect URI.
  site.writeDoc(path, cimdDoc(url, { redirect_uris: ['https://attacker.example/cb'] }));
  const before = site.fetchCount(path);
  const res = await registration(server, url);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.registered, true);
  assert.deepEqual(res.json.checks.map((c) => c.name), ['client_id_url', 'client_exists']);
  assert.equal(site.fetchCount(path), before, 'no fetch');
  const row = q1(server, 'SELECT kind, scopes, redirect_uris FROM oauth_clients WHERE client_id = ?', url);
  assert.deepEqual(row, { kind: 'registered', scopes: 'project:read', redirect_uris: '["https://operator.example/cb"]' });
});

test('a trailing-dot host is refused as a client id, so a domain block cannot be bypassed with one', async () => {
  const blocked = await server.cli(['clients', 'block', 'partner.test']);
  assert.equal(blocked.code, 0, blocked.stderr);
  try {
    const url = `https://partner.test.:${new URL(site.url('partner.test', '/x')).port}/c/${uid()}.json`;
    const res = await registration(server, url);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, 'registration_failed');
    assert.match(res.json.checks[0].detail, /end with a dot/);
  } finally {
    await server.cli(['clients', 'unblock', 'partner.test']);
  }
});

test('clients edit refuses a metadata-document client\'s name, redirect URIs and scopes (exit 2), sets its limits; clients delete keeps its URL out', async () => {
  const path = `/edit/${uid()}.json`;
  const url = site.url('partner.test', path);
  site.writeDoc(path, cimdDoc(url, { client_name: 'Document Name' }));
  assertRegistered(await registration(server, url), url);
  const columns = 'SELECT name, redirect_uris, scopes, rate_limits FROM oauth_clients WHERE client_id = ?';
  const before = q1(server, columns, url);
  for (const flags of [['--name', 'Operator Name'], ['--redirect-uri', 'https://operator.example/cb'], ['--scope', 'user:read'],
    ['--name', 'Operator Name', '--limit-account-requests', '7']]) {
    const r = await server.cli(['clients', 'edit', url, ...flags]);
    assert.equal(r.code, 2, `clients edit ${flags.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, `error: ${url} is a metadata-document client: its name, redirect URIs and scopes come from `
      + 'the document at that URL. Change the document (it is fetched again when its cache time runs out); only the '
      + '--limit-… flags apply here\n');
  }
  assert.deepEqual(q1(server, columns, url), before, 'nothing changed');
  const limited = await server.cli(['clients', 'edit', url, '--limit-account-requests', '7']);
  assert.equal(limited.code, 0, limited.stderr);
  assert.equal(limited.stdout, `updated ${url}\n  account_requests: 7 per hour\n`);
  assert.deepEqual(JSON.parse(q1(server, columns, url).rate_limits), { account_requests: 7 });

  const deleted = await server.cli(['clients', 'delete', url]);
  assert.equal(deleted.code, 0, deleted.stderr);
  const refused = await accountRequest(server, { clientId: url });
  assert.equal(refused.res.status, 401, `a deleted metadata-document client does not register again: ${refused.res.text}`);
  const row = q1(server, 'SELECT is_active, deleted_at FROM oauth_clients WHERE client_id = ?', url);
  assert.equal(row.is_active, 0);
  assert.notEqual(row.deleted_at, null);
});
