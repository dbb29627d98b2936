// Several provisiond processes on one database (SQLite: one file; PostgreSQL: one database) keep
// every guarantee one process keeps: single-use codes, refresh-token families, partner rate limits,
// idempotent account requests, one metadata-document fetch per CIMD client, every email sent once,
// every webhook delivered once. The racing requests go half to each process at the same moment;
// every assertion is as strict as race.test.mjs's single-process one, plus the stored effect.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

import {
  ON_POSTGRES, accountRequest, avoidHourBoundary, count, emails, exchangeCode, freePort, getResource,
  isAddressedTo, newAccount, pkce, q, q1, refreshGrant, registerClient, setLimit, sha256hex, sleep, startServer,
  uniqueEmail,
} from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import { cimdDoc, nextSourceAddress, pollAccountRequest, uid } from './cimd_common.mjs';

const BACKEND = ON_POSTGRES ? 'PostgreSQL (one database)' : 'SQLite (one file)';
const CODE_REPLAYED = 'Authorization code was already used; tokens issued from it have been revoked';
const FAMILY_REVOKED = 'Refresh token was already used; the token family has been revoked';

/** Request i goes to process i mod n: the racing requests are spread evenly over the processes. */
const spread = (servers, n, fn) => Promise.all(Array.from({ length: n }, (_, i) => fn(servers[i % servers.length], i)));

/** Poll fn() until it returns a truthy value; fail with `what` (and fn's last value) after timeoutMs. */
async function waitFor(fn, what, { timeoutMs = 20000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function unlimited(server, clientId) {
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
}

// =============================================================================================
describe(`three processes on one database: ${BACKEND}`, () => {
  let A;
  let B;
  let C;
  let clientId;
  before(async () => {
    A = await startServer();
    B = await startServer({ database: A.database });
    C = await startServer({ database: A.database });
    clientId = await registerClient(A);
    await unlimited(A, clientId);
  });
  after(async () => {
    for (const s of [C, B, A]) await s?.stop();
  });

  /** A fresh code (from the process `via`) for a new account of the shared client. */
  async function freshCode(via = A) {
    const a = await accountRequest(via, { clientId });
    assert.equal(a.res.status, 200, a.res.text);
    assert.equal(a.res.json.type, 'oauth', a.res.text);
    return { code: a.res.json.oauth.code, verifier: a.verifier, email: a.email };
  }

  /** One code's stored effect: its family, and every token the user holds with the client. */
  function assertOneFamily(code, email, what) {
    const fam = q(A, 'SELECT family_id FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
    assert.equal(fam.length, 1, what);
    assert.notEqual(fam[0].family_id, null, `${what}: the code is consumed with its family`);
    const familyId = fam[0].family_id;
    assert.equal(count(A, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ?', familyId), 1, `${what}: exactly one access token minted`);
    assert.equal(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ?', familyId), 1, `${what}: exactly one refresh token minted`);
    const user = q1(A, 'SELECT id FROM users WHERE email_normalized = ?', email);
    assert.equal(count(A, `SELECT COUNT(*) FROM access_tokens a JOIN token_families f ON f.id = a.family_id
      WHERE f.client_id = ? AND f.user_id = ?`, clientId, user.id), 1, `${what}: no other process minted an access token for this user`);
    assert.equal(count(A, `SELECT COUNT(*) FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id
      WHERE f.client_id = ? AND f.user_id = ?`, clientId, user.id), 1, `${what}: no other process minted a refresh token for this user`);
    const row = q1(A, 'SELECT revoked_at, revoked_reason FROM token_families WHERE id = ?', familyId);
    assert.notEqual(row.revoked_at, null, `${what}: the concurrent second use revoked what the code produced (docs/API.md)`);
    assert.equal(row.revoked_reason, 'code_replayed', what);
    return familyId;
  }

  describe('authorization code', () => {
    test('one code exchanged at two processes at once: exactly one 200, the other 400 invalid_grant; one family, one access and one refresh token (6 rounds)', async () => {
      for (let round = 0; round < 6; round++) {
        const { code, verifier, email } = await freshCode(round % 2 ? A : B);
        // Alternate which process gets the form body and which the JSON body.
        const [first, second] = round % 2 ? [A, B] : [B, A];
        const rs = await Promise.all([exchangeCode(first, code, verifier), exchangeCode(second, code, verifier, { json: true })]);
        const statuses = rs.map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, 400], `round ${round}: ${rs.map((r) => r.text).join(' | ')}`);
        const loser = rs.find((r) => r.status === 400);
        assert.deepEqual(loser.json, { error: 'invalid_grant', error_description: CODE_REPLAYED }, loser.text);
        assert.equal(loser.headers['cache-control'], 'no-store');
        const winner = rs.find((r) => r.status === 200);
        assert.equal(winner.headers['cache-control'], 'no-store');
        assertOneFamily(code, email, `round ${round}`);
        // The winner's tokens were revoked by the concurrent second use, at every process.
        const project = winner.json.account.available_teams[0].id;
        for (const s of [A, B]) assert.equal((await getResource(s, winner.json.access_token, project)).status, 401);
      }
    });

    test('eight concurrent exchanges of one code over three processes: one 200, seven 400 invalid_grant (3 rounds)', async () => {
      for (let round = 0; round < 3; round++) {
        const { code, verifier, email } = await freshCode([A, B, C][round]);
        const rs = await spread([A, B, C], 8, (s, i) => exchangeCode(s, code, verifier, { json: i % 2 === 1 }));
        assert.equal(rs.filter((r) => r.status === 200).length, 1, `round ${round}: ${rs.map((r) => `${r.status} ${r.text}`).join(' | ')}`);
        const losers = rs.filter((r) => r.status !== 200);
        assert.equal(losers.length, 7);
        for (const l of losers) assert.deepEqual([l.status, l.json], [400, { error: 'invalid_grant', error_description: CODE_REPLAYED }], l.text);
        assert.equal(count(A, `SELECT COUNT(*) FROM token_families f JOIN authorization_codes c ON c.family_id = f.id
          WHERE c.code_hash = ?`, sha256hex(code)), 1);
        assertOneFamily(code, email, `8-way round ${round}`);
      }
    });
  });

  describe('refresh token', () => {
    test('one refresh token rotated at two processes at once: both 200 (grace), exactly one pair stays valid, never two live children (4 rounds)', async () => {
      for (let round = 0; round < 4; round++) {
        const a = await newAccount(round % 2 ? A : B, { clientId });
        const project = a.account.available_teams[0].id;
        const rs = await Promise.all([refreshGrant(A, a.tokens.refresh_token), refreshGrant(B, a.tokens.refresh_token, { json: true })]);
        for (const r of rs) assert.equal(r.status, 200, `round ${round}: ${r.text}`);
        assert.notEqual(rs[0].json.refresh_token, rs[1].json.refresh_token);
        const works = [];
        for (const [i, r] of rs.entries()) works.push((await getResource([B, A][i], r.json.access_token, project)).status);
        assert.deepEqual([...works].sort(), [200, 401], `round ${round}: exactly one of the two access tokens works (${works})`);
        const famId = q1(A, 'SELECT family_id FROM refresh_tokens WHERE token_hash = ?', sha256hex(a.tokens.refresh_token)).family_id;
        assert.equal(q1(A, 'SELECT revoked_at FROM token_families WHERE id = ?', famId).revoked_at, null, 'a grace retry does not revoke the family');
        assert.equal(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND rotated_at IS NULL AND revoked_at IS NULL', famId), 1,
          `round ${round}: one live child refresh token`);
        assert.equal(count(A, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ? AND revoked_at IS NULL', famId), 1,
          `round ${round}: one live access token`);
        const winner = rs[works.indexOf(200)];
        const loser = rs[works.indexOf(401)];
        assert.equal((await refreshGrant(A, loser.json.refresh_token)).status, 400, 'the replaced pair\'s refresh token is dead too');
        // That reuse of a revoked token did not take the family down: the winner goes on.
        const next = await refreshGrant(B, winner.json.refresh_token);
        assert.equal(next.status, 200, `round ${round}: ${next.text}`);
        assert.equal((await getResource(A, next.json.access_token, project)).status, 200);
      }
    });

    test('six concurrent refreshes of one token over three processes never leave two live branches', async () => {
      for (let round = 0; round < 2; round++) {
        const a = await newAccount(A, { clientId });
        const project = a.account.available_teams[0].id;
        const rs = await spread([A, B, C], 6, (s) => refreshGrant(s, a.tokens.refresh_token));
        const ok = rs.filter((r) => r.status === 200);
        assert.ok(ok.length >= 1, rs.map((r) => r.text).join(' | '));
        for (const r of rs.filter((x) => x.status !== 200)) assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], r.text);
        let live = 0;
        for (const r of ok) if ((await getResource(B, r.json.access_token, project)).status === 200) live++;
        assert.ok(live <= 1, `${live} access tokens from concurrent refreshes still work`);
        const famId = q1(A, 'SELECT family_id FROM refresh_tokens WHERE token_hash = ?', sha256hex(a.tokens.refresh_token)).family_id;
        assert.ok(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND rotated_at IS NULL AND revoked_at IS NULL', famId) <= 1,
          'at most one live child refresh token');
        assert.ok(count(A, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ? AND revoked_at IS NULL', famId) <= 1,
          'at most one live access token');
      }
    });
    test('refresh reuse across processes: a rotated token presented again at another process within the grace window gets 200 once; presented a third time at the third process it revokes the family everywhere', async () => {
      for (let round = 0; round < 3; round++) {
        const [first, second, third] = [[A, B, C], [B, C, A], [C, A, B]][round];
        const a = await newAccount(first, { clientId });
        const project = a.account.available_teams[0].id;
        const r1 = a.tokens.refresh_token;
        const famId = q1(A, 'SELECT family_id FROM refresh_tokens WHERE token_hash = ?', sha256hex(r1)).family_id;
        const lost = await refreshGrant(first, r1); // the partner never saw this answer
        assert.equal(lost.status, 200, `round ${round}: ${lost.text}`);
        const retry = await refreshGrant(second, r1, { json: true }); // …and retries at another process
        assert.equal(retry.status, 200, `round ${round}: the grace retry at another process: ${retry.text}`);
        assert.notEqual(retry.json.refresh_token, lost.json.refresh_token);
        assert.equal(q1(A, 'SELECT grace_used FROM refresh_tokens WHERE token_hash = ?', sha256hex(r1)).grace_used, 1, 'the grace is spent');
        assert.equal(q1(A, 'SELECT revoked_at FROM token_families WHERE id = ?', famId).revoked_at, null, 'a grace retry does not revoke the family');
        for (const s of [A, B, C]) {
          assert.equal((await getResource(s, retry.json.access_token, project)).status, 200, 'the retried pair works at every process');
          assert.equal((await getResource(s, lost.json.access_token, project)).status, 401, 'the unreceived pair is revoked at every process');
        }
        assert.equal(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND rotated_at IS NULL AND revoked_at IS NULL', famId), 1, 'one live refresh token');

        // The grace is granted once: the same token again, at the third process, is a reuse.
        const reuse = await refreshGrant(third, r1);
        assert.deepEqual([reuse.status, reuse.json], [400, { error: 'invalid_grant', error_description: FAMILY_REVOKED }], `round ${round}: ${reuse.text}`);
        assert.equal(reuse.headers['cache-control'], 'no-store');
        const fam = q1(A, 'SELECT revoked_at, revoked_reason FROM token_families WHERE id = ?', famId);
        assert.notEqual(fam.revoked_at, null, 'the family is revoked');
        assert.equal(fam.revoked_reason, 'refresh_token_reused');
        assert.equal(count(A, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ? AND revoked_at IS NULL', famId), 0, 'no live access token');
        assert.equal(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL', famId), 0, 'no live refresh token');
        for (const s of [A, B, C]) assert.equal((await getResource(s, retry.json.access_token, project)).status, 401, 'revoked at every process');
        const after = await refreshGrant(second, retry.json.refresh_token);
        assert.deepEqual([after.status, after.json.error], [400, 'invalid_grant'], after.text);
      }
    });
  });

  describe('partner rate limits', () => {
    const typed429 = { type: 'error', error: { code: 'rate_limited', message: 'Rate limit exceeded for this partner (account_requests). Try again later.' } };

    function assertRetryAfter(res) {
      const h = res.headers['retry-after'];
      assert.match(String(h), /^\d+$/, `Retry-After: ${h}`);
      const ra = Number(h);
      const toWindowEnd = 3600 - (Math.floor(Date.now() / 1000) % 3600);
      assert.ok(ra >= 1 && ra <= 3600, `Retry-After ${ra}`);
      assert.ok(Math.abs(ra - toWindowEnd) <= 10, `Retry-After ${ra} is the time to the end of the hourly window (${toWindowEnd})`);
    }

    test('30 parallel account requests spread over three processes for a client limited to 10/hour: exactly 10 succeed, the other 20 are 429 with the envelope and Retry-After', async () => {
      await avoidHourBoundary(60);
      const limited = await registerClient(A);
      await setLimit(A, limited, 'account_requests', 10);
      const rs = await spread([A, B, C], 30, (s) => accountRequest(s, { clientId: limited }));
      const ok = rs.filter((r) => r.res.status === 200);
      assert.equal(ok.length, 10, `accepted: ${rs.map((r) => r.res.status).join(',')}`);
      for (const r of ok) assert.equal(r.res.json.type, 'oauth', r.res.text);
      const over = rs.filter((r) => r.res.status !== 200);
      assert.equal(over.length, 20);
      for (const r of over) {
        assert.equal(r.res.status, 429, r.res.text);
        // Throttling failures carry no id (PostHog's shape, src/provisioning/account_requests_endpoint.cpp).
        assert.deepEqual(r.res.json, typed429, r.res.text);
        assertRetryAfter(r.res);
      }
      // Nothing was created for a limited request; exactly the ten accepted ones made accounts.
      for (const r of rs) {
        assert.equal(count(A, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', r.email), r.res.status === 200 ? 1 : 0, r.email);
      }
      assert.equal(count(A, 'SELECT COUNT(*) FROM account_requests WHERE client_id = ?', limited), 10);
      // The window is shared: every process goes on refusing.
      for (const s of [A, B, C]) {
        const again = await accountRequest(s, { clientId: limited });
        assert.equal(again.res.status, 429, again.res.text);
        assert.deepEqual(again.res.json, typed429);
        assertRetryAfter(again.res);
      }
    });

    test('token_exchanges limit of 4 charged from two processes at once: 4 codes exchanged, the others 429 and not burnt', async () => {
      await avoidHourBoundary(60);
      const limited = await registerClient(A);
      await setLimit(A, limited, 'account_requests', 'unlimited');
      await setLimit(A, limited, 'token_exchanges', 4);
      const codes = [];
      for (let i = 0; i < 10; i++) {
        const a = await accountRequest(i % 2 ? A : B, { clientId: limited });
        assert.equal(a.res.status, 200, a.res.text);
        codes.push({ code: a.res.json.oauth.code, verifier: a.verifier });
      }
      const rs = await spread([A, B], codes.length, (s, i) => exchangeCode(s, codes[i].code, codes[i].verifier));
      assert.equal(rs.filter((r) => r.status === 200).length, 4, rs.map((r) => r.status).join(','));
      for (const [i, r] of rs.entries()) {
        if (r.status === 200) continue;
        assert.equal(r.status, 429, r.text);
        assert.deepEqual(r.json, { type: 'error', error: { code: 'rate_limited', message: 'Rate limit exceeded for this partner (token_exchanges). Try again later.' } });
        assertRetryAfter(r);
        assert.equal(r.headers['cache-control'], 'no-store');
        assert.equal(q1(A, 'SELECT consumed_at FROM authorization_codes WHERE code_hash = ?', sha256hex(codes[i].code)).consumed_at, null,
          'a limited exchange does not burn the code');
      }
    });
  });

  describe('idempotent account requests', () => {
    test('one account request (same id, email and challenge) sent to three processes at once: the same answer, one user, one organization, one project', async () => {
      for (let round = 0; round < 3; round++) {
        const email = uniqueEmail('mp-idem');
        const id = `req-mp-${randomUUID()}`;
        const pair = pkce();
        const rs = await spread([A, B, C], 6, (s) => accountRequest(s, { clientId, email, id, pkcePair: pair }));
        for (const r of rs) {
          assert.equal(r.res.status, 200, `round ${round}: ${r.res.text}`);
          assert.deepEqual(Object.keys(r.res.json).sort(), ['id', 'oauth', 'type'], r.res.text);
          assert.equal(r.res.json.id, id);
          assert.equal(r.res.json.type, 'oauth', r.res.text);
        }
        assert.equal(count(A, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1, 'one user');
        const user = q1(A, 'SELECT id FROM users WHERE email_normalized = ?', email);
        const orgs = q(A, 'SELECT organization_id FROM memberships WHERE user_id = ?', user.id);
        assert.equal(orgs.length, 1, 'one organization');
        assert.equal(count(A, 'SELECT COUNT(*) FROM projects WHERE organization_id = ?', orgs[0].organization_id), 1, 'one project');
        assert.equal(count(A, 'SELECT COUNT(*) FROM account_requests WHERE client_id = ? AND request_id = ?', clientId, id), 1);
        assert.equal(count(A, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ?', `%${email}%`), 1, 'one welcome email queued');
        const codes = rs.map((r) => r.res.json.oauth.code);
        assert.equal(new Set(codes).size, codes.length, 'every answer carries its own code');
        const recorded = q1(A, 'SELECT code_hash FROM account_requests WHERE client_id = ? AND request_id = ?', clientId, id).code_hash;
        // Exactly one code (the newest, recorded one) is exchangeable, at any process.
        const results = [];
        for (const [i, c] of codes.entries()) results.push((await exchangeCode([C, B, A][i % 3], c, pair.verifier)));
        const won = results.filter((r) => r.status === 200);
        assert.equal(won.length, 1, `exchange statuses ${results.map((r) => r.status)}`);
        assert.equal(sha256hex(codes[results.indexOf(won[0])]), recorded, 'the exchangeable code is the one recorded');
        for (const r of results.filter((x) => x.status !== 200)) assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], r.text);
        assert.equal(won[0].json.account.id, orgs[0].organization_id);
        assert.equal(won[0].json.account.available_teams.length, 1);
      }
    });

    test('one new email under different request ids at three processes at once: one account (oauth), the rest requires_auth', async () => {
      const email = uniqueEmail('mp-racer');
      const rs = await spread([A, B, C], 6, (s) => accountRequest(s, { clientId, email }));
      for (const r of rs) assert.equal(r.res.status, 200, r.res.text);
      assert.deepEqual(rs.map((r) => r.res.json.type).sort(), ['oauth', 'requires_auth', 'requires_auth', 'requires_auth', 'requires_auth', 'requires_auth']);
      assert.equal(count(A, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1);
      const user = q1(A, 'SELECT id FROM users WHERE email_normalized = ?', email);
      assert.equal(count(A, 'SELECT COUNT(*) FROM memberships WHERE user_id = ?', user.id), 1, 'one organization');
      assert.equal(count(A, 'SELECT COUNT(*) FROM pending_consents WHERE client_id = ? AND email_normalized = ?', clientId, email), 1, 'only the newest consent');
    });
  });

  describe('emails', () => {
    test('12 new accounts over three processes, each with its own outbox directory: every recipient gets exactly one welcome email', async () => {
      const servers = [A, B, C];
      const rs = await spread(servers, 12, (s) => accountRequest(s, { clientId }));
      for (const r of rs) assert.equal(r.res.status, 200, r.res.text);
      const recipients = rs.map((r) => r.email);
      // Every message of the database delivered (the earlier tests' too), by whichever process claimed it.
      await waitFor(() => count(A, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL') === 0, 'every outbox row delivered', { timeoutMs: 30000 });
      for (const email of recipients) {
        assert.equal(count(A, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ? AND delivered_at IS NOT NULL', `%${email}%`), 1, `${email}: one delivered outbox row`);
      }
      await sleep(1500); // a duplicate send would land now
      const all = (await Promise.all(servers.map((s) => emails(s)))).flat();
      for (const email of recipients) {
        const mine = all.filter((m) => isAddressedTo(m, email));
        assert.equal(mine.length, 1, `${email}: ${mine.length} .eml files across the three outbox directories (${mine.map((m) => m.file)})`);
      }
      // Across the whole database: one file per delivered row, no message sent twice.
      const delivered = count(A, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL');
      assert.equal(all.length, delivered, `${all.length} .eml files for ${delivered} delivered rows`);
      assert.equal(new Set(all.map((m) => m.file)).size, all.length, 'no message file written by two processes');
    });
  });
});

// =============================================================================================
// Two processes with a short refresh grace window (1 s): a reuse after it, at the other process,
// takes the family down everywhere. Their two outbox workers share one queue.
describe(`two processes on one database, --refresh-grace-seconds 1: ${BACKEND}`, () => {
  let A;
  let B;
  let clientId;
  before(async () => {
    const args = ['--refresh-grace-seconds', '1'];
    A = await startServer({ extraArgs: args });
    B = await startServer({ extraArgs: args, database: A.database });
    clientId = await registerClient(A);
    await unlimited(A, clientId);
  });
  after(async () => {
    for (const s of [B, A]) await s?.stop();
  });

  test('a rotated refresh token presented at the other process after the grace window: 400 invalid_grant, the family revoked at both processes (2 rounds)', async () => {
    for (let round = 0; round < 2; round++) {
      const [first, second] = round % 2 ? [B, A] : [A, B];
      const a = await newAccount(first, { clientId });
      const project = a.account.available_teams[0].id;
      const r1 = a.tokens.refresh_token;
      const famId = q1(A, 'SELECT family_id FROM refresh_tokens WHERE token_hash = ?', sha256hex(r1)).family_id;
      const next = await refreshGrant(first, r1);
      assert.equal(next.status, 200, `round ${round}: ${next.text}`);
      for (const s of [A, B]) assert.equal((await getResource(s, next.json.access_token, project)).status, 200);
      await sleep(2500); // past the 1 s grace window
      const late = await refreshGrant(second, r1, { json: round % 2 === 1 });
      assert.deepEqual([late.status, late.json], [400, { error: 'invalid_grant', error_description: FAMILY_REVOKED }], `round ${round}: ${late.text}`);
      assert.equal(late.headers['cache-control'], 'no-store');
      assert.equal(q1(A, 'SELECT grace_used FROM refresh_tokens WHERE token_hash = ?', sha256hex(r1)).grace_used, 0, 'no grace was granted');
      const fam = q1(A, 'SELECT revoked_at, revoked_reason FROM token_families WHERE id = ?', famId);
      assert.notEqual(fam.revoked_at, null, 'the family is revoked');
      assert.equal(fam.revoked_reason, 'refresh_token_reused');
      assert.equal(count(A, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ? AND revoked_at IS NULL', famId), 0, 'no live access token');
      assert.equal(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL', famId), 0, 'no live refresh token');
      // The successor the partner did receive is dead at both processes.
      for (const s of [A, B]) assert.equal((await getResource(s, next.json.access_token, project)).status, 401, 'revoked at both processes');
      const successor = await refreshGrant(first, next.json.refresh_token);
      assert.deepEqual([successor.status, successor.json.error], [400, 'invalid_grant'], successor.text);
      assert.equal(count(A, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ?', famId), 2, 'no token was minted by the refused requests');
    }
  });

  test('every queued email sent exactly once with two outbox workers: 16 new accounts over the two processes, each with its own outbox directory', async () => {
    const rs = await spread([A, B], 16, (s) => accountRequest(s, { clientId }));
    for (const r of rs) {
      assert.equal(r.res.status, 200, r.res.text);
      assert.equal(r.res.json.type, 'oauth', r.res.text);
    }
    const recipients = rs.map((r) => r.email);
    for (const email of recipients) {
      assert.equal(count(A, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ?', `%${email}%`), 1, `${email}: one queued welcome email`);
    }
    await waitFor(() => count(A, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL') === 0, 'every outbox row delivered', { timeoutMs: 30000 });
    await sleep(1500); // a duplicate send would land now
    const all = (await Promise.all([A, B].map((s) => emails(s)))).flat();
    for (const email of recipients) {
      const mine = all.filter((m) => isAddressedTo(m, email));
      assert.equal(mine.length, 1, `${email}: ${mine.length} .eml files across the two outbox directories (${mine.map((m) => m.file)})`);
      assert.equal(count(A, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ? AND delivered_at IS NOT NULL AND attempts = 1', `%${email}%`), 1,
        `${email}: delivered on the first attempt`);
    }
    const delivered = count(A, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL');
    assert.equal(all.length, delivered, `${all.length} .eml files for ${delivered} delivered rows`);
    assert.equal(new Set(all.map((m) => m.file)).size, all.length, 'no message file written by both processes');
    const sentBy = [A, B].map((s) => s.stderr().split('\n').filter((l) => l.includes('outbox: delivered')).length);
    assert.equal(sentBy[0] + sentBy[1], delivered, `deliveries logged by the two processes: ${sentBy}`);
  });
});

// =============================================================================================
describe(`CIMD: a client_id URL first used at two processes at once (${BACKEND})`, () => {
  let site;
  let A;
  let B;
  const hosts = ['site1.test', 'site2.test', 'site3.test'];
  before(async () => {
    site = await startTlsSite();
    A = await startServer({ extraArgs: site.cimdArgs(hosts) });
    B = await startServer({ extraArgs: site.cimdArgs(hosts), database: A.database });
  });
  after(async () => {
    for (const s of [B, A]) await s?.stop();
    await site?.stop();
  });

  test('the document server sees exactly one fetch; both processes end with the same registered client (3 URLs)', async () => {
    for (const host of hosts) {
      const path = `/plain/${uid()}.json`;
      const url = site.url(host, path);
      const name = `Partner ${uid()}`;
      site.writeDoc(path, cimdDoc(url, { client_name: name }));
      // Two first requests at each process at the same moment, each from its own source address
      // (the new-registration limits are per address), each polling through its 202s.
      const rs = await spread([A, B], 4, (s) => pollAccountRequest(s, { clientId: url, localAddress: nextSourceAddress() }));
      for (const r of rs) {
        assert.equal(r.res.status, 200, `${host}: ${r.res.text}`);
        assert.equal(r.res.json.type, 'oauth', r.res.text);
      }
      assert.equal(site.fetchCount(path), 1, `${host}: fetches ${JSON.stringify(site.fetches(path))}`);
      assert.equal(count(A, 'SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?', url), 1);
      const client = q1(A, 'SELECT kind, name, is_active FROM oauth_clients WHERE client_id = ?', url);
      assert.deepEqual({ ...client, is_active: Number(client.is_active) }, { kind: 'cimd', name, is_active: 1 });
      assert.equal(q1(A, 'SELECT state FROM cimd_documents WHERE client_id = ?', url).state, 'registered');
      // Both serve the client from the database now (no 202, no further fetch), and a code from
      // one is exchanged at the other.
      for (const [from, to] of [[A, B], [B, A]]) {
        const a = await accountRequest(from, { clientId: url });
        assert.equal(a.res.status, 200, a.res.text);
        assert.equal(a.res.json.type, 'oauth', a.res.text);
        const t = await exchangeCode(to, a.res.json.oauth.code, a.verifier);
        assert.equal(t.status, 200, t.text);
      }
      await sleep(500);
      assert.equal(site.fetchCount(path), 1, `${host}: still one fetch`);
    }
  });
});

// =============================================================================================
// Webhooks: both processes send to the same --webhook-url; a delivery is claimed before it is
// sent, so each webhook-id arrives once.

class Receiver {
  constructor(secret) {
    this.secret = secret;
    this.requests = [];
    this.failures = [];
  }

  async up() {
    this.port = await freePort();
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const rec = { at: Date.now(), id: req.headers['webhook-id'], body, path: req.url, method: req.method };
        try {
          rec.payload = new Webhook(this.secret).verify(body, req.headers);
          rec.status = 200;
        } catch (e) {
          rec.status = 400;
          this.failures.push(`verification failed (${e.message}) for ${rec.id}: ${body.slice(0, 200)}`);
        }
        if (req.method !== 'POST' || req.url !== '/hooks/mp') this.failures.push(`unexpected ${req.method} ${req.url}`);
        this.requests.push(rec);
        res.writeHead(rec.status, { 'content-type': 'text/plain' });
        res.end(rec.status === 200 ? 'ok' : 'no');
      });
    });
    await new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(this.port, '127.0.0.1', res);
    });
    return this;
  }

  get url() { return `http://127.0.0.1:${this.port}/hooks/mp`; }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((res) => this.server.close(res));
    this.server = null;
  }
}

describe(`webhooks from two processes to one URL (${BACKEND})`, () => {
  let R;
  let A;
  let B;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  before(async () => {
    R = await new Receiver(secret).up();
    const args = ['--webhook-url', R.url, '--webhook-secret', secret, '--webhook-retry-seconds', '1'];
    A = await startServer({ extraArgs: args });
    B = await startServer({ extraArgs: args, database: A.database });
  });
  after(async () => {
    for (const s of [B, A]) await s?.stop();
    await R?.close();
  });
  afterEach(() => { assert.deepEqual(R.failures, [], 'every webhook request verifies (standardwebhooks)'); });

  test('every event of 10 concurrent account creations arrives, and each webhook-id exactly once', async () => {
    const clientId = await registerClient(A);
    await unlimited(A, clientId);
    const rs = await spread([A, B], 10, (s) => accountRequest(s, { clientId }));
    for (const r of rs) {
      assert.equal(r.res.status, 200, r.res.text);
      assert.equal(r.res.json.type, 'oauth', r.res.text);
    }
    const created = new Set(rs.map((r) => r.email));
    // Every stored event (partner.registered + 10 account.created) delivered to the settings endpoint.
    await waitFor(() => {
      const events = count(A, 'SELECT COUNT(*) FROM webhook_events');
      const done = count(A, "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = 'settings' AND delivered_at IS NOT NULL");
      return events === 11 && done === 11;
    }, 'all 11 events delivered', { timeoutMs: 30000 });
    await sleep(2000); // a second send of a claimed delivery would land now
    assert.deepEqual(R.failures, []);

    const events = q(A, 'SELECT id, type, body FROM webhook_events ORDER BY id');
    assert.equal(events.length, 11);
    assert.deepEqual(events.map((e) => e.type).sort(), [...Array(10).fill('account.created'), 'partner.registered']);
    assert.equal(count(A, 'SELECT COUNT(*) FROM webhook_deliveries'), 11, 'one delivery row per event: fanned out once');
    assert.equal(count(A, 'SELECT COUNT(*) FROM webhook_events WHERE fanned_out = 0'), 0);

    const received = new Map();
    for (const r of R.requests.filter((x) => x.status === 200)) received.set(r.id, (received.get(r.id) ?? 0) + 1);
    const twice = [...received].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], 'each webhook-id arrives exactly once');
    assert.deepEqual([...received.keys()].sort(), events.map((e) => e.id).sort(), 'every stored event arrived, and nothing else');
    for (const r of R.requests) {
      const stored = events.find((e) => e.id === r.id);
      assert.equal(r.body, stored.body, 'the exact stored bytes were sent');
    }
    const emailsSeen = R.requests.map((r) => JSON.parse(r.body)).filter((b) => b.type === 'account.created').map((b) => b.data.user.email);
    assert.deepEqual(new Set(emailsSeen), created, 'one account.created per new account');
    assert.equal(emailsSeen.length, 10);
    // Which process sent what (informational: both may, neither has to).
    const sentBy = [A, B].map((s) => s.stderr().split('\n').filter((l) => l.includes('webhooks: delivered')).length);
    assert.equal(sentBy[0] + sentBy[1], 11, `deliveries logged by the two processes: ${sentBy}`);
  });
});
