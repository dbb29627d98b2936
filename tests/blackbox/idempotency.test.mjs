// The account request `id` (docs/API.md "The request id means something").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accountRequest, count, emailsTo, exchangeCode, pkce, q, q1, registerClient, setLimit, sha256hex, sleep,
  startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';

const COMPLETED = 'This account request was already completed; use a new request id';

let server;
let clientId;
before(async () => {
  server = await startServer();
  clientId = await registerClient(server);
  for (const ep of ['account_requests', 'token_exchanges']) await setLimit(server, clientId, ep, 'unlimited');
});
after(async () => { await server?.stop(); });

function assertDifferentRequest(res, id) {
  assert.equal(res.status, 400, res.text);
  assert.deepEqual(Object.keys(res.json).sort(), ['error', 'id', 'type']);
  assert.equal(res.json.id, id);
  assert.equal(res.json.type, 'error');
  assert.equal(res.json.error.code, 'invalid_request');
  assert.ok(res.json.error.message.startsWith('Request id '), res.json.error.message);
  assert.ok(res.json.error.message.endsWith('was already used for a different account request'), res.json.error.message);
}

describe('same request id', () => {
  test('retried (same email and challenge, code unused) → 200 with a new code for the same account; earlier code invalid', async () => {
    const email = uniqueEmail('retry');
    const id = `req-${Date.now()}-a`;
    const p = pkce();
    const first = await accountRequest(server, { clientId, email, id, pkcePair: p });
    assert.equal(first.res.status, 200, first.res.text);
    assert.equal(first.res.json.type, 'oauth');
    await waitForEmail(server, email);

    const second = await accountRequest(server, { clientId, email, id, pkcePair: p });
    assert.equal(second.res.status, 200, second.res.text);
    assert.deepEqual(Object.keys(second.res.json).sort(), ['id', 'oauth', 'type']);
    assert.equal(second.res.json.id, id);
    assert.equal(second.res.json.type, 'oauth');
    assert.notEqual(second.res.json.oauth.code, first.res.json.oauth.code);

    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1, 'no second account');
    const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', email);
    assert.equal(count(server, 'SELECT COUNT(*) FROM memberships WHERE user_id = ?', user.id), 1, 'no second organization');
    assert.equal(count(server, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ?', `%${email}%`), 1, 'no second welcome email queued');
    const rows = q(server, 'SELECT * FROM account_requests WHERE client_id = ? AND request_id = ?', clientId, id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].code_hash, sha256hex(second.res.json.oauth.code), 'the newest code is recorded');
    assert.equal(rows[0].outcome, 'oauth');

    const old = await exchangeCode(server, first.res.json.oauth.code, p.verifier);
    assert.equal(old.status, 400, old.text);
    assert.equal(old.json.error, 'invalid_grant');
    const ok = await exchangeCode(server, second.res.json.oauth.code, p.verifier);
    assert.equal(ok.status, 200, ok.text);
    const teams = ok.json.account.available_teams;
    assert.equal(teams.length, 1);
    const projects = q(server, `SELECT p.id FROM projects p JOIN memberships m ON m.organization_id = p.organization_id
      WHERE m.user_id = ?`, user.id);
    assert.deepEqual(projects, [{ id: teams[0].id }], 'same account and project');
    await sleep(1200);
    assert.equal((await emailsTo(server, email)).length, 1, 'no second welcome email delivered');
  });

  test('retried after its code was exchanged → 400 invalid_request "…already completed…"', async () => {
    const email = uniqueEmail('completed');
    const id = `req-${Date.now()}-b`;
    const p = pkce();
    const first = await accountRequest(server, { clientId, email, id, pkcePair: p });
    assert.equal((await exchangeCode(server, first.res.json.oauth.code, p.verifier)).status, 200);
    const again = await accountRequest(server, { clientId, email, id, pkcePair: p });
    assert.equal(again.res.status, 400, again.res.text);
    assert.deepEqual(again.res.json, { id, type: 'error', error: { code: 'invalid_request', message: COMPLETED } });
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE email_normalized = ?', email), 0, 'no consent started either');
  });

  test('with a different email → 400 invalid_request; nothing created for the second email', async () => {
    const id = `req-${Date.now()}-c`;
    const p = pkce();
    const first = await accountRequest(server, { clientId, id, pkcePair: p });
    assert.equal(first.res.status, 200);
    const other = uniqueEmail('other');
    const again = await accountRequest(server, { clientId, id, email: other, pkcePair: p });
    assertDifferentRequest(again.res, id);
    assert.ok(again.res.json.error.message.includes(id), 'the message names the id');
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', other), 0);
    // The first code is still good.
    assert.equal((await exchangeCode(server, first.res.json.oauth.code, p.verifier)).status, 200);
  });

  test('with a different code_challenge → 400 invalid_request; the first code survives', async () => {
    const id = `req-${Date.now()}-d`;
    const email = uniqueEmail('challenge');
    const p = pkce();
    const first = await accountRequest(server, { clientId, id, email, pkcePair: p });
    const again = await accountRequest(server, { clientId, id, email, pkcePair: pkce() });
    assertDifferentRequest(again.res, id);
    assert.equal((await exchangeCode(server, first.res.json.oauth.code, p.verifier)).status, 200);
  });

  test('the email is compared normalized: a retry in another case is the same request', async () => {
    const id = `req-${Date.now()}-e`;
    const local = `case${Date.now()}`;
    const p = pkce();
    const first = await accountRequest(server, { clientId, id, email: `${local}@example.com`, pkcePair: p });
    assert.equal(first.res.status, 200);
    const again = await accountRequest(server, { clientId, id, email: `${local.toUpperCase()}@EXAMPLE.com`, pkcePair: p });
    assert.equal(again.res.status, 200, again.res.text);
    assert.equal(again.res.json.type, 'oauth');
  });

  test('the same id from another client is a different request', async () => {
    const other = await registerClient(server);
    const id = `req-${Date.now()}-f`;
    const a = await accountRequest(server, { clientId, id });
    const b = await accountRequest(server, { clientId: other, id });
    assert.equal(a.res.json.type, 'oauth', a.res.text);
    assert.equal(b.res.status, 200, b.res.text);
    assert.equal(b.res.json.type, 'oauth', b.res.text);
    assert.equal(count(server, 'SELECT COUNT(*) FROM account_requests WHERE request_id = ?', id), 2);
  });

  test('a retried requires_auth request returns a fresh consent URL; only the newest is valid', async () => {
    const email = uniqueEmail('consent-retry');
    await accountRequest(server, { clientId, email });
    const id = `req-${Date.now()}-g`;
    const p = pkce();
    const a = await accountRequest(server, { clientId, email, id, pkcePair: p });
    const b = await accountRequest(server, { clientId, email, id, pkcePair: p });
    assert.equal(a.res.json.type, 'requires_auth', a.res.text);
    assert.equal(b.res.status, 200, b.res.text);
    assert.equal(b.res.json.type, 'requires_auth', b.res.text);
    assert.equal(b.res.json.id, id);
    const sa = new URL(a.res.json.requires_auth.url).searchParams.get('state');
    const sb = new URL(b.res.json.requires_auth.url).searchParams.get('state');
    assert.notEqual(sa, sb);
    assert.deepEqual(q(server, 'SELECT state_hash FROM pending_consents WHERE client_id = ? AND email_normalized = ?', clientId, email), [{ state_hash: sha256hex(sb) }]);
    const row = q1(server, 'SELECT outcome FROM account_requests WHERE client_id = ? AND request_id = ?', clientId, id);
    assert.equal(row.outcome, 'requires_auth');
  });

  test('a requires_auth request id retried with another email → 400 invalid_request', async () => {
    const email = uniqueEmail('consent-other');
    await accountRequest(server, { clientId, email });
    const id = `req-${Date.now()}-h`;
    const p = pkce();
    const a = await accountRequest(server, { clientId, email, id, pkcePair: p });
    assert.equal(a.res.json.type, 'requires_auth');
    const b = await accountRequest(server, { clientId, email: uniqueEmail('x'), id, pkcePair: p });
    assertDifferentRequest(b.res, id);
  });
});

describe('code lifetime', () => {
  test('a retry after the code expired does not hand out the expired code', async () => {
    const s = await startServer({ extraArgs: ['--code-ttl-seconds', '1'] });
    try {
      const cid = await registerClient(s);
      const id = 'req-expiring';
      const email = uniqueEmail('expiring');
      const p = pkce();
      const first = await accountRequest(s, { clientId: cid, id, email, pkcePair: p });
      assert.equal(first.res.status, 200);
      await sleep(2500);
      const again = await accountRequest(s, { clientId: cid, id, email, pkcePair: p });
      assert.notEqual(again.res.status, 500, again.res.text);
      if (again.res.status === 200 && again.res.json.type === 'oauth') {
        assert.notEqual(again.res.json.oauth.code, first.res.json.oauth.code);
      }
      assert.equal(count(s, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1);
      const old = await exchangeCode(s, first.res.json.oauth.code, p.verifier);
      assert.equal(old.status, 400, old.text);
    } finally {
      await s.stop();
    }
  });
});
