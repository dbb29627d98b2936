// Partner rate limits: fixed hourly windows in the database, per client and endpoint, CLI overrides.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, accountRequest, api, avoidHourBoundary, bearer, count, createResource, exchangeCode, getResource,
  newAccount, q1, refreshGrant, registerClient, setLimit, sha256hex, startServer, uniqueEmail,
} from './harness.mjs';

const typed429 = (endpoint) => ({ type: 'error', error: { code: 'rate_limited', message: `Rate limit exceeded for this partner (${endpoint}). Try again later.` } });
const status429 = { status: 'error', id: '', error: { code: 'rate_limited', message: 'Rate limit exceeded for this partner. Try again later.' } };

function assertRetryAfter(res) {
  const h = res.headers['retry-after'];
  assert.match(String(h), /^\d+$/, `Retry-After: ${h}`);
  const ra = Number(h);
  const toWindowEnd = 3600 - (Math.floor(Date.now() / 1000) % 3600);
  assert.ok(ra >= 1 && ra <= 3600, `Retry-After ${ra}`);
  assert.ok(Math.abs(ra - toWindowEnd) <= 10, `Retry-After ${ra} is the time to the end of the hourly window (${toWindowEnd})`);
}

function assertTyped429(res, endpoint, requestId) {
  assert.equal(res.status, 429, res.text);
  const expected = typed429(endpoint);
  if (requestId !== undefined && res.json && 'id' in res.json) expected.id = requestId;
  assert.deepEqual(res.json, expected);
  assertRetryAfter(res);
}

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });
beforeEach(async () => { await avoidHourBoundary(60); });

describe('defaults', () => {
  test('account_requests: 10 per hour per client, then 429 (nothing created); other clients and endpoints unaffected', async () => {
    const c = await registerClient(server);
    const first = [];
    for (let i = 0; i < 10; i++) {
      const a = await accountRequest(server, { clientId: c });
      assert.equal(a.res.status, 200, `request ${i + 1}: ${a.res.text}`);
      first.push(a);
    }
    const email = uniqueEmail('over');
    const over = await accountRequest(server, { clientId: c, email });
    assertTyped429(over.res, 'account_requests', over.requestId);
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 0);
    // existing-user requests are limited too
    const existing = await accountRequest(server, { clientId: c, email: first[0].email });
    assertTyped429(existing.res, 'account_requests', existing.requestId);

    const other = await registerClient(server);
    const o = await accountRequest(server, { clientId: other });
    assert.equal(o.res.status, 200, 'another client has its own bucket');
    const t = await exchangeCode(server, first[0].res.json.oauth.code, first[0].verifier);
    assert.equal(t.status, 200, 'token exchanges are a separate bucket');
    const row = q1(server, 'SELECT SUM(count) AS n FROM rate_limit_counters WHERE bucket = ?', `account_requests:${c}`);
    assert.ok(row.n >= 10, `stored counter ${row.n}`);
  });

  test('token_exchanges: 20 per hour (codes and refreshes); a limited exchange does not burn the code', async () => {
    const c = await registerClient(server);
    await setLimit(server, c, 'account_requests', 'unlimited');
    const codes = [];
    for (let i = 0; i < 21; i++) {
      const a = await accountRequest(server, { clientId: c });
      assert.equal(a.res.status, 200, a.res.text);
      codes.push({ code: a.res.json.oauth.code, verifier: a.verifier });
    }
    let lastTokens;
    for (let i = 0; i < 20; i++) {
      const t = await exchangeCode(server, codes[i].code, codes[i].verifier);
      assert.equal(t.status, 200, `exchange ${i + 1}: ${t.text}`);
      lastTokens = t.json;
    }
    const over = await exchangeCode(server, codes[20].code, codes[20].verifier);
    assertTyped429(over, 'token_exchanges');
    assert.equal(over.headers['cache-control'], 'no-store');
    assert.equal(q1(server, 'SELECT consumed_at FROM authorization_codes WHERE code_hash = ?', sha256hex(codes[20].code)).consumed_at, null, 'the code was not consumed');
    // PKCE is checked before the limit: a wrong verifier is still invalid_grant.
    const wrong = await exchangeCode(server, codes[20].code, 'x'.repeat(43));
    assert.deepEqual([wrong.status, wrong.json.error], [400, 'invalid_grant'], wrong.text);
    const rf = await refreshGrant(server, lastTokens.refresh_token);
    assertTyped429(rf, 'token_exchanges');
    // Neither the limited code nor the limited refresh token was consumed.
    await setLimit(server, c, 'token_exchanges', 100);
    const later = await exchangeCode(server, codes[20].code, codes[20].verifier);
    assert.equal(later.status, 200, `the limited code still works once the limit allows it: ${later.text}`);
    const rf2 = await refreshGrant(server, lastTokens.refresh_token);
    assert.equal(rf2.status, 200, rf2.text);
    assert.equal((await getResource(server, rf2.json.access_token, lastTokens.account.available_teams[0].id)).status, 200);
  });

  test('refreshes count against token_exchanges', async () => {
    const c = await registerClient(server);
    await setLimit(server, c, 'token_exchanges', 3);
    const a = await newAccount(server, { clientId: c });             // 1
    const r1 = await refreshGrant(server, a.tokens.refresh_token);  // 2
    assert.equal(r1.status, 200, r1.text);
    const r2 = await refreshGrant(server, r1.json.refresh_token);   // 3
    assert.equal(r2.status, 200, r2.text);
    const r3 = await refreshGrant(server, r2.json.refresh_token);   // 4 → limited
    assertTyped429(r3, 'token_exchanges');
    assert.equal((await getResource(server, r2.json.access_token, a.account.available_teams[0].id)).status, 200, 'a limited refresh changes nothing');
  });

  test('a code without its verifier cannot spend the partner\'s token quota', async () => {
    const c = await registerClient(server);
    await setLimit(server, c, 'token_exchanges', 1);
    const a = await accountRequest(server, { clientId: c });
    const b = await accountRequest(server, { clientId: c });
    for (let i = 0; i < 3; i++) {
      const r = await exchangeCode(server, a.res.json.oauth.code, `${'z'.repeat(42)}${i}`);
      assert.deepEqual([r.status, r.json.error], [400, 'invalid_grant'], r.text);
    }
    const missing = await exchangeCode(server, a.res.json.oauth.code, undefined);
    // docs/API.md "Errors that teach": a missing verifier is 400 invalid_request (PostHog: 401).
    assert.deepEqual([missing.status, missing.json.error], [400, 'invalid_request'], missing.text);
    const unknown = await exchangeCode(server, 'U'.repeat(43), 'v'.repeat(43));
    assert.equal(unknown.status, 400, unknown.text);
    const ok = await exchangeCode(server, a.res.json.oauth.code, a.verifier);
    assert.equal(ok.status, 200, `failed attempts must not count: ${ok.text}`);
    const over = await exchangeCode(server, b.res.json.oauth.code, b.verifier);
    assertTyped429(over, 'token_exchanges');
  });

  test('resource_creates: 20 per hour, then 429 in the status envelope; GET and rotate are not limited', async () => {
    const c = await registerClient(server);
    const a = await newAccount(server, { clientId: c });
    const project = a.account.available_teams[0].id;
    for (let i = 0; i < 20; i++) {
      const r = await createResource(server, a.tokens.access_token);
      assert.equal(r.status, 200, `create ${i + 1}: ${r.text}`);
    }
    const over = await createResource(server, a.tokens.access_token);
    assert.equal(over.status, 429, over.text);
    assert.deepEqual(over.json, status429);
    assertRetryAfter(over);
    assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE project_id = ?', project), 20, 'no key minted by the limited call');
    assert.equal((await getResource(server, a.tokens.access_token, project)).status, 200);
    const rot = await api(server, 'POST', `${P}/resources/${project}/rotate_credentials`, { body: {}, headers: bearer(a.tokens.access_token) });
    assert.equal(rot.status, 200, rot.text);
  });
});

describe('overrides (provisiond clients set-limit)', () => {
  test('N, then unlimited, then default', async () => {
    const c = await registerClient(server);
    await setLimit(server, c, 'account_requests', 2);
    for (let i = 0; i < 2; i++) assert.equal((await accountRequest(server, { clientId: c })).res.status, 200);
    assertTyped429((await accountRequest(server, { clientId: c })).res, 'account_requests');

    await setLimit(server, c, 'account_requests', 'unlimited');
    for (let i = 0; i < 12; i++) {
      const a = await accountRequest(server, { clientId: c });
      assert.equal(a.res.status, 200, `unlimited, request ${i + 1}: ${a.res.text}`);
    }
    await setLimit(server, c, 'account_requests', 'default');
    // Back to 10 per hour: whether or not the unlimited requests were counted, the limit bites within 10 more.
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await accountRequest(server, { clientId: c })).res.status);
    const firstLimited = statuses.indexOf(429);
    assert.ok(firstLimited >= 0, `no 429 after going back to the default: ${statuses}`);
    assert.ok(statuses.slice(firstLimited).every((x) => x === 429), `${statuses}`);
  });

  test('raising a limit lets the same window continue; lowering it stops it', async () => {
    const c = await registerClient(server);
    await setLimit(server, c, 'account_requests', 1);
    assert.equal((await accountRequest(server, { clientId: c })).res.status, 200);
    assert.equal((await accountRequest(server, { clientId: c })).res.status, 429);
    await setLimit(server, c, 'account_requests', 3);
    assert.equal((await accountRequest(server, { clientId: c })).res.status, 200, 'raised: the window continues');
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await accountRequest(server, { clientId: c })).res.status);
    assert.ok(statuses.includes(429), `the raised limit bites too: ${statuses}`);
    await setLimit(server, c, 'account_requests', 1);
    assert.equal((await accountRequest(server, { clientId: c })).res.status, 429, 'lowered: stopped');
  });

  test('resource_creates override', async () => {
    const c = await registerClient(server);
    await setLimit(server, c, 'resource_creates', 2);
    const a = await newAccount(server, { clientId: c });
    assert.equal((await createResource(server, a.tokens.access_token)).status, 200);
    assert.equal((await createResource(server, a.tokens.access_token)).status, 200);
    const over = await createResource(server, a.tokens.access_token);
    assert.deepEqual([over.status, over.json], [429, status429]);
  });

  test('the CLI refuses unknown endpoints, bad values and unknown clients', async () => {
    const c = await registerClient(server);
    for (const args of [
      ['clients', 'set-limit', c, 'bogus_endpoint', '5'],
      ['clients', 'set-limit', c, 'account_requests', 'abc'],
      ['clients', 'set-limit', c, 'account_requests', '-5'],
      ['clients', 'set-limit', 'no-such-client', 'account_requests', '5'],
      ['clients', 'set-limit', c, 'account_requests'],
    ]) {
      const r = await server.cli(args);
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail: ${r.stdout} ${r.stderr}`);
    }
    // and the limit was not changed by any of those
    for (let i = 0; i < 10; i++) assert.equal((await accountRequest(server, { clientId: c })).res.status, 200);
    assert.equal((await accountRequest(server, { clientId: c })).res.status, 429);
  });
});

describe('persistence', () => {
  test('counters and overrides hold across a restart', async () => {
    const s = await startServer();
    try {
      const c = await registerClient(s);
      await setLimit(s, c, 'account_requests', 3);
      assert.equal((await accountRequest(s, { clientId: c })).res.status, 200);
      assert.equal((await accountRequest(s, { clientId: c })).res.status, 200);
      await s.restart();
      assert.equal((await accountRequest(s, { clientId: c })).res.status, 200);
      const over = await accountRequest(s, { clientId: c });
      assertTyped429(over.res, 'account_requests', over.requestId);
      await s.restart();
      assertTyped429((await accountRequest(s, { clientId: c })).res, 'account_requests');
      const other = await registerClient(s);
      assert.equal((await accountRequest(s, { clientId: other })).res.status, 200);
    } finally {
      await s.stop();
    }
  });
});
