// Concurrency: atomic code consumption, code replay revocation, concurrent refresh, concurrent signups.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, accountRequest, api, bearer, count, createResource, exchangeCode, getResource, newAccount, q, q1,
  refreshGrant, registerClient, setLimit, sha256hex, startServer, uniqueEmail,
} from './harness.mjs';

const CODE_REPLAYED = 'Authorization code was already used; tokens issued from it have been revoked';

let server;
let clientId;
before(async () => {
  server = await startServer();
  clientId = await registerClient(server);
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
});
after(async () => { await server?.stop(); });

async function freshCode() {
  const a = await accountRequest(server, { clientId });
  assert.equal(a.res.status, 200, a.res.text);
  assert.equal(a.res.json.type, 'oauth');
  return { code: a.res.json.oauth.code, verifier: a.verifier, email: a.email };
}

describe('authorization code', () => {
  test('two concurrent exchanges of one code: exactly one 200, the other 400 invalid_grant (5 rounds)', async () => {
    for (let round = 0; round < 5; round++) {
      const { code, verifier } = await freshCode();
      const rs = await Promise.all([exchangeCode(server, code, verifier), exchangeCode(server, code, verifier, { json: true })]);
      const statuses = rs.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 400], `round ${round}: ${rs.map((r) => r.text).join(' | ')}`);
      const loser = rs.find((r) => r.status === 400);
      assert.equal(loser.json.error, 'invalid_grant', loser.text);
      assert.equal(loser.headers['cache-control'], 'no-store');
      const fam = q(server, 'SELECT family_id FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
      assert.equal(fam.length, 1);
      assert.notEqual(fam[0].family_id, null);
      assert.equal(count(server, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ?', fam[0].family_id), 1, 'exactly one access token minted');
      assert.equal(count(server, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ?', fam[0].family_id), 1, 'exactly one refresh token minted');
    }
  });

  test('eight concurrent exchanges of one code: one 200, seven 400 invalid_grant', async () => {
    const { code, verifier } = await freshCode();
    const rs = await Promise.all(Array.from({ length: 8 }, () => exchangeCode(server, code, verifier)));
    assert.equal(rs.filter((r) => r.status === 200).length, 1, rs.map((r) => r.status).join(','));
    const losers = rs.filter((r) => r.status !== 200);
    assert.equal(losers.length, 7);
    for (const l of losers) assert.deepEqual([l.status, l.json.error], [400, 'invalid_grant'], l.text);
    assert.equal(count(server, `SELECT COUNT(*) FROM token_families f JOIN authorization_codes c ON c.family_id = f.id
      WHERE c.code_hash = ?`, sha256hex(code)), 1);
  });

  test('replaying a used code revokes every token issued from it, refreshed ones included', async () => {
    const { code, verifier } = await freshCode();
    const first = await exchangeCode(server, code, verifier);
    assert.equal(first.status, 200, first.text);
    const project = first.json.account.available_teams[0].id;
    const created = await createResource(server, first.json.access_token);
    assert.equal(created.status, 200, created.text);
    const refreshed = await refreshGrant(server, first.json.refresh_token);
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal((await getResource(server, refreshed.json.access_token, project)).status, 200);

    const replay = await exchangeCode(server, code, verifier);
    assert.equal(replay.status, 400, replay.text);
    assert.deepEqual(replay.json, { error: 'invalid_grant', error_description: CODE_REPLAYED });

    const g = await getResource(server, refreshed.json.access_token, project);
    assert.equal(g.status, 401, g.text);
    assert.equal(g.json.error.code, 'unauthorized');
    const c = await createResource(server, refreshed.json.access_token);
    assert.equal(c.status, 401, c.text);
    const r = await refreshGrant(server, refreshed.json.refresh_token);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_grant');

    const famId = q1(server, 'SELECT family_id FROM authorization_codes WHERE code_hash = ?', sha256hex(code)).family_id;
    const fam = q1(server, 'SELECT * FROM token_families WHERE id = ?', famId);
    assert.notEqual(fam.revoked_at, null);
    const live = count(server, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ? AND revoked_at IS NULL', famId);
    assert.equal(live, 0, 'no access token of the family is left unrevoked');

    // The project's credentials (phc_, phx_) are the partner's; only OAuth tokens are revoked.
    assert.equal(count(server, 'SELECT COUNT(*) FROM projects WHERE id = ?', project), 1);
  });

  test('replay with a wrong verifier also answers invalid_grant (and never issues tokens)', async () => {
    const { code, verifier } = await freshCode();
    assert.equal((await exchangeCode(server, code, verifier)).status, 200);
    const replay = await exchangeCode(server, code, 'w'.repeat(43));
    assert.equal(replay.status, 400, replay.text);
    assert.equal(replay.json.error, 'invalid_grant');
    assert.equal(replay.json.access_token, undefined);
  });
});

describe('refresh token', () => {
  test('two concurrent refreshes of one token: both answered 200 (grace) but only one pair stays valid', async () => {
    const a = await newAccount(server, { clientId });
    const project = a.account.available_teams[0].id;
    const rs = await Promise.all([refreshGrant(server, a.tokens.refresh_token), refreshGrant(server, a.tokens.refresh_token)]);
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.notEqual(rs[0].json.refresh_token, rs[1].json.refresh_token);
    const works = [];
    for (const r of rs) works.push((await getResource(server, r.json.access_token, project)).status);
    assert.deepEqual([...works].sort(), [200, 401], 'exactly one of the two access tokens works');
    const fam = q1(server, 'SELECT f.revoked_at FROM token_families f JOIN refresh_tokens r ON r.family_id = f.id WHERE r.token_hash = ?', sha256hex(a.tokens.refresh_token));
    assert.equal(fam.revoked_at, null, 'a grace retry does not revoke the family');
    const winner = rs[works.indexOf(200)];
    const next = await refreshGrant(server, winner.json.refresh_token);
    assert.equal(next.status, 200, next.text);
  });

  test('five concurrent refreshes of one token never leave two live branches', async () => {
    const a = await newAccount(server, { clientId });
    const project = a.account.available_teams[0].id;
    const rs = await Promise.all(Array.from({ length: 5 }, () => refreshGrant(server, a.tokens.refresh_token)));
    const ok = rs.filter((r) => r.status === 200);
    assert.ok(ok.length >= 1, rs.map((r) => r.text).join(' | '));
    for (const r of rs.filter((x) => x.status !== 200)) assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], r.text);
    let live = 0;
    for (const r of ok) if ((await getResource(server, r.json.access_token, project)).status === 200) live++;
    assert.ok(live <= 1, `${live} access tokens from concurrent refreshes still work`);
  });
});

describe('account requests', () => {
  test('concurrent requests for one new email with different ids: one account, one oauth, the rest requires_auth', async () => {
    const email = uniqueEmail('racer');
    const rs = await Promise.all(Array.from({ length: 4 }, () => accountRequest(server, { clientId, email })));
    for (const r of rs) assert.equal(r.res.status, 200, r.res.text);
    const types = rs.map((r) => r.res.json.type).sort();
    assert.deepEqual(types, ['oauth', 'requires_auth', 'requires_auth', 'requires_auth']);
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1);
    const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', email);
    assert.equal(count(server, 'SELECT COUNT(*) FROM memberships WHERE user_id = ?', user.id), 1, 'one organization');
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE client_id = ? AND email_normalized = ?', clientId, email), 1, 'only the newest consent');
  });

  test('concurrent retries of one request id: one account, and exactly one of the codes is exchangeable', async () => {
    const email = uniqueEmail('idem-race');
    const id = `req-race-${Date.now()}`;
    const first = await accountRequest(server, { clientId, email, id });
    assert.equal(first.res.status, 200);
    const pair = { verifier: first.verifier, challenge: first.challenge };
    const rs = await Promise.all(Array.from({ length: 3 }, () => accountRequest(server, { clientId, email, id, pkcePair: pair })));
    for (const r of rs) {
      assert.equal(r.res.status, 200, r.res.text);
      assert.equal(r.res.json.type, 'oauth', r.res.text);
    }
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1);
    const codes = [first, ...rs].map((r) => r.res.json.oauth.code);
    assert.equal(new Set(codes).size, 4, 'every retry gets a new code');
    const results = [];
    for (const c of codes) results.push((await exchangeCode(server, c, pair.verifier)).status);
    assert.equal(results.filter((s) => s === 200).length, 1, `exchange statuses ${results}`);
  });

  test('concurrent creates with one project_id map to a single project', async () => {
    const a = await newAccount(server, { clientId });
    const rs = await Promise.all(Array.from({ length: 4 }, () => api(server, 'POST', `${P}/resources`, {
      body: { project_id: 'race-ext', configuration: { project_name: 'Raced' } }, headers: bearer(a.tokens.access_token),
    })));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.equal(new Set(rs.map((r) => r.json.id)).size, 1, rs.map((r) => r.json.id).join(','));
    assert.equal(count(server, 'SELECT COUNT(*) FROM projects WHERE organization_id = ? AND name = ?', a.account.id, 'Raced'), 1);
    assert.equal(count(server, "SELECT COUNT(*) FROM project_bindings WHERE client_id = ? AND external_project_id = 'race-ext'", clientId), 1);
  });
});
