// POST /api/agentic/oauth/token — refresh_token grant: rotation, reuse detection, grace window.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_RE, REFRESH_RE, TOKEN_PATH, api, getResource, newAccount, q1, refreshGrant, registerClient,
  sha256hex, sleep, startServer,
} from './harness.mjs';

const FAMILY_REVOKED = 'Refresh token was already used; the token family has been revoked';

let server;
let clientId;
before(async () => {
  server = await startServer();
  clientId = await registerClient(server);
  // Many accounts per test file: lift the per-client hourly limits for this file's client.
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) {
    const r = await server.cli(['clients', 'set-limit', clientId, ep, 'unlimited']);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => { await server?.stop(); });

async function account(s = server, cid = clientId) {
  const a = await newAccount(s, { clientId: cid });
  return { ...a, project: a.account.available_teams[0].id };
}

async function works(s, access, project) {
  const r = await getResource(s, access, project);
  return r.status === 200 ? true : (r.status === 401 ? false : assert.fail(`unexpected ${r.status} ${r.text}`));
}

function assertFamilyRevoked(res) {
  assert.equal(res.status, 400, res.text);
  assert.deepEqual(res.json, { error: 'invalid_grant', error_description: FAMILY_REVOKED });
  assert.equal(res.headers['cache-control'], 'no-store');
}

function familyOf(s, refresh) {
  return q1(s, 'SELECT f.* FROM token_families f JOIN refresh_tokens r ON r.family_id = f.id WHERE r.token_hash = ?', sha256hex(refresh));
}

describe('rotation', () => {
  test('a refresh returns a new pair without account and retires the old pair', async () => {
    const a = await account();
    const res = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(res.json.token_type, 'bearer');
    assert.equal(res.json.expires_in, 3600);
    assert.match(res.json.access_token, ACCESS_RE);
    assert.match(res.json.refresh_token, REFRESH_RE);
    assert.notEqual(res.json.access_token, a.tokens.access_token);
    assert.notEqual(res.json.refresh_token, a.tokens.refresh_token);

    const oldRow = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(a.tokens.refresh_token));
    const newRow = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(res.json.refresh_token));
    assert.notEqual(oldRow.rotated_at, null);
    assert.equal(newRow.parent_hash, sha256hex(a.tokens.refresh_token));
    assert.equal(newRow.family_id, oldRow.family_id);
    assert.equal(newRow.access_token_hash, sha256hex(res.json.access_token));

    assert.equal(await works(server, res.json.access_token, a.project), true, 'new access token works');
    assert.equal(await works(server, a.tokens.access_token, a.project), false, 'old access token retired');
  });

  test('the chain can be followed many times, and a JSON body works', async () => {
    const a = await account();
    let rt = a.tokens.refresh_token;
    let at;
    for (let i = 0; i < 5; i++) {
      const res = await refreshGrant(server, rt, { json: i % 2 === 1 });
      assert.equal(res.status, 200, res.text);
      rt = res.json.refresh_token;
      at = res.json.access_token;
    }
    assert.equal(await works(server, at, a.project), true);
    assert.equal(familyOf(server, rt).revoked_at, null);
  });

  test('missing refresh_token → 400 invalid_request "refresh_token is required …"', async () => {
    const res = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'refresh_token' }, apiVersion: false });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.json, { error: 'invalid_request', error_description: 'refresh_token is required with grant_type=refresh_token' });
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  test('unknown refresh token → 400 invalid_grant "Invalid or revoked refresh token"', async () => {
    const res = await refreshGrant(server, `phr_${'x'.repeat(43)}`);
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.json, { error: 'invalid_grant', error_description: 'Invalid or revoked refresh token' });
  });

  test('an access token is not a refresh token', async () => {
    const a = await account();
    const res = await refreshGrant(server, a.tokens.access_token);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error, 'invalid_grant');
    assert.equal(await works(server, a.tokens.access_token, a.project), true, 'a failed refresh does not touch the family');
  });
});

describe('reuse and the grace window (30 s default)', () => {
  test('a retired token presented once within grace → 200 fresh pair; the unreceived pair is revoked', async () => {
    const a = await account();
    const r1 = a.tokens.refresh_token;
    const lost = await refreshGrant(server, r1);          // response "lost"
    assert.equal(lost.status, 200, lost.text);
    const retry = await refreshGrant(server, r1);         // the partner retries with R1
    assert.equal(retry.status, 200, retry.text);
    assert.deepEqual(Object.keys(retry.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.notEqual(retry.json.refresh_token, lost.json.refresh_token);
    assert.notEqual(retry.json.access_token, lost.json.access_token);
    assert.equal(await works(server, retry.json.access_token, a.project), true, 'the retried pair works');
    assert.equal(await works(server, lost.json.access_token, a.project), false, 'the unreceived access token is revoked');
    const row = q1(server, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', sha256hex(lost.json.refresh_token));
    assert.notEqual(row.revoked_at, null, 'the unreceived refresh token is revoked');
    // The retried pair goes on normally.
    const next = await refreshGrant(server, retry.json.refresh_token);
    assert.equal(next.status, 200, next.text);
    assert.equal(await works(server, next.json.access_token, a.project), true);
    assert.equal(familyOf(server, next.json.refresh_token).revoked_at, null);
    // The revoked, unreceived refresh token is refused.
    const stale = await refreshGrant(server, lost.json.refresh_token);
    assert.equal(stale.status, 400, stale.text);
    assert.equal(stale.json.error, 'invalid_grant');
  });

  test('the grace retry is granted once: a third presentation revokes the whole family', async () => {
    const a = await account();
    const r1 = a.tokens.refresh_token;
    assert.equal((await refreshGrant(server, r1)).status, 200);
    const retry = await refreshGrant(server, r1);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(q1(server, 'SELECT grace_used FROM refresh_tokens WHERE token_hash = ?', sha256hex(r1)).grace_used, 1);
    const third = await refreshGrant(server, r1);
    assertFamilyRevoked(third);
    const fam = familyOf(server, r1);
    assert.notEqual(fam.revoked_at, null);
    assert.equal(await works(server, retry.json.access_token, a.project), false, 'every access token of the family is revoked');
    const after = await refreshGrant(server, retry.json.refresh_token);
    assert.equal(after.status, 400, after.text);
    assert.equal(after.json.error, 'invalid_grant');
  });

  test('reuse after the successor was used → family revoked', async () => {
    const a = await account();
    const r1 = a.tokens.refresh_token;
    const s2 = await refreshGrant(server, r1);
    assert.equal(s2.status, 200);
    const s3 = await refreshGrant(server, s2.json.refresh_token);   // R2 used: R1 is no longer the parent of the newest
    assert.equal(s3.status, 200, s3.text);
    const reuse = await refreshGrant(server, r1);
    assertFamilyRevoked(reuse);
    assert.notEqual(familyOf(server, r1).revoked_at, null);
    assert.equal(await works(server, s3.json.access_token, a.project), false);
    const r3 = await refreshGrant(server, s3.json.refresh_token);
    assert.equal(r3.status, 400, r3.text);
    assert.equal(r3.json.error, 'invalid_grant');
  });

  test('the direct parent of the newest (unused) token gets the grace retry even deep in the chain', async () => {
    const a = await account();
    const s2 = await refreshGrant(server, a.tokens.refresh_token);
    const s3 = await refreshGrant(server, s2.json.refresh_token);
    assert.equal(s3.status, 200, s3.text);
    const retry = await refreshGrant(server, s2.json.refresh_token);   // R2 is the parent of the newest R3, unused
    assert.equal(retry.status, 200, retry.text);
    assert.equal(await works(server, retry.json.access_token, a.project), true);
    assert.equal(await works(server, s3.json.access_token, a.project), false);
  });

  test('the root token presented when it is not the parent of the newest → family revoked', async () => {
    const a = await account();
    const s2 = await refreshGrant(server, a.tokens.refresh_token);
    const s3 = await refreshGrant(server, s2.json.refresh_token);
    assert.equal(s3.status, 200);
    // R1 is the grandparent of the newest (R3, unused): not a lost-response retry.
    const reuse = await refreshGrant(server, a.tokens.refresh_token);
    assertFamilyRevoked(reuse);
    assert.equal(await works(server, s3.json.access_token, a.project), false);
  });

  test('family revocation also kills the tokens of the authorization code and leaves other families alone', async () => {
    const a = await account();
    const b = await account();
    assert.equal((await refreshGrant(server, a.tokens.refresh_token)).status, 200);
    const s3 = await refreshGrant(server, (await refreshGrant(server, a.tokens.refresh_token)).json.refresh_token);
    assert.equal(s3.status, 200, s3.text);
    const reuse = await refreshGrant(server, a.tokens.refresh_token);
    assertFamilyRevoked(reuse);
    assert.equal(await works(server, b.tokens.access_token, b.project), true, 'an unrelated family is untouched');
    assert.equal((await refreshGrant(server, b.tokens.refresh_token)).status, 200);
  });
});

describe('outside the grace window', () => {
  test('a retired token presented after --refresh-grace-seconds → family revoked', async () => {
    const s = await startServer({ extraArgs: ['--refresh-grace-seconds', '1'] });
    try {
      const cid = await registerClient(s);
      const a = await account(s, cid);
      const next = await refreshGrant(s, a.tokens.refresh_token);
      assert.equal(next.status, 200, next.text);
      await sleep(2500);
      const late = await refreshGrant(s, a.tokens.refresh_token);
      assertFamilyRevoked(late);
      assert.notEqual(familyOf(s, a.tokens.refresh_token).revoked_at, null);
      assert.equal(await works(s, next.json.access_token, a.project), false);
    } finally {
      await s.stop();
    }
  });
});
