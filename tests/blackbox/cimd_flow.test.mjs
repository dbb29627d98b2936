// CIMD: first contact through account_requests, the full flow for a self-registered client,
// registration limits, the blocklist and the operator view (docs/CIMD.md "First contact",
// "Registration limits", "Operator view and blocklist").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CATALOG, count, createResource, exchangeCode, getResource, q1, refreshGrant, registerClient, sha256hex, startServer,
} from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import {
  REG_LIMIT_MESSAGE, accountRequestFrom, assertRegistered, assertRegistering, assertRegistrationFailed,
  assertTypedError, avoidMinuteBoundary, cimdDoc, findKey, pollAccountRequest, registration, showClient, uid, waitFor,
} from './cimd_common.mjs';

const NAMES = [
  'partner.test', 'other.test', 'sub.other.test', 'deep.sub.other.test', 'xother.test',
  'site1.test', 'site2.test', 'site3.test', 'site4.test', 'site5.test', 'site6.test', 'site7.test', 'site8.test',
];

let site;
before(async () => { site = await startTlsSite(); });
after(async () => { await site?.stop(); });

/** A fresh provisiond (fresh registration counters) for each test that registers clients. */
async function withServer(fn, extraArgs = []) {
  const server = await startServer({ extraArgs: [...site.cimdArgs(NAMES), ...extraArgs] });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** Publish a good document at /<dir>/<unique>.json on host; returns {url, path}. */
function doc(host = 'partner.test', overrides = {}, dir = 'plain') {
  const path = `/${dir}/${uid()}.json`;
  const url = site.url(host, path);
  site.writeDoc(path, cimdDoc(url, overrides));
  return { url, path };
}

/** A document that takes ~2.5 s to download (served at 1200 bytes/s): registration stays in progress meanwhile. */
function slowDoc(host) {
  const path = `/slowish/${uid()}.json`;
  const url = site.url(host, path);
  site.writeDoc(path, cimdDoc(url, { x_pad: 'p'.repeat(3000) }));
  return { url, path };
}

function assertRegLimited(res, message = REG_LIMIT_MESSAGE) {
  assertTypedError(res, 429, 'rate_limited', message);
  const ra = Number(res.headers['retry-after']);
  assert.match(String(res.headers['retry-after']), /^\d+$/, `Retry-After: ${res.headers['retry-after']}`);
  assert.ok(ra >= 1 && ra <= 3600, `Retry-After ${ra}`);
}

// =============================================================================================
describe('first contact', () => {
  test('unknown CIMD client: 202 registering (no id, Retry-After: 5), then 200; the three-call flow and a refresh work', async () => {
    await withServer(async (server) => {
      const { url, path } = doc('partner.test', { client_name: 'Flow Partner' });
      const first = await accountRequestFrom(server, { clientId: url });
      assertRegistering(first.res);   // exact body: {"type":"registering","retry_after":5}, no id
      assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', first.email), 0, 'a 202 creates nothing');

      // The partner retries the very same request until the registration is done.
      const done = await pollAccountRequest(server, { clientId: url, id: first.requestId, email: first.email, pkcePair: { verifier: first.verifier, challenge: first.challenge } });
      assert.equal(done.res.status, 200, done.res.text);
      assert.equal(done.res.json.type, 'oauth', done.res.text);
      assert.equal(done.res.json.id, first.requestId);
      assert.equal(site.fetchCount(path), 1, 'registration fetched the document once');

      const row = q1(server, 'SELECT * FROM oauth_clients WHERE client_id = ?', url);
      assert.equal(row.kind, 'cimd');
      assert.equal(row.name, 'Flow Partner');
      assert.equal(row.is_active, 1);
      assert.deepEqual(JSON.parse(row.redirect_uris), ['https://partner.example/callback']);

      const tok = await exchangeCode(server, done.res.json.oauth.code, first.verifier);
      assert.equal(tok.status, 200, tok.text);
      const fam = q1(server, 'SELECT f.client_id FROM access_tokens a JOIN token_families f ON f.id = a.family_id WHERE a.token_hash = ?',
        sha256hex(tok.json.access_token));
      assert.equal(fam.client_id, url, 'tokens belong to the CIMD client');
      const res = await createResource(server, tok.json.access_token);
      assert.equal(res.status, 200, res.text);
      const rf = await refreshGrant(server, tok.json.refresh_token);
      assert.equal(rf.status, 200, rf.text);
      const again = await getResource(server, rf.json.access_token, tok.json.account.available_teams[0].id);
      assert.equal(again.status, 200, again.text);
      assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', first.email), 1);
      assert.equal(site.fetchCount(path), 1, 'the fresh document is not fetched again');

      // A second account request from the registered client is an ordinary 200.
      const second = await accountRequestFrom(server, { clientId: url });
      assert.equal(second.res.status, 200, second.res.text);
    });
  });

  test('a failing document: 202, then exactly one 401 naming the URL and the reason, then a new attempt (202) that can succeed', async () => {
    await withServer(async (server) => {
      const path = `/plain/${uid()}.json`;             // nothing there yet: 404
      const url = site.url('partner.test', path);
      assertRegistering((await accountRequestFrom(server, { clientId: url })).res);
      const failed = await pollAccountRequest(server, { clientId: url });
      assertTypedError(failed.res, 401, 'unauthorized');
      const msg = failed.res.json.error.message;
      assert.ok(msg.startsWith(`Client registration failed for ${url}: `), msg);
      assert.match(msg.slice(url.length), /\b404\b/, msg);
      assert.equal(site.fetchCount(path), 1);
      assert.equal(count(server, 'SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?', url), 0);

      // The failure was reported once: the next request starts a new registration. Fix the document first.
      site.writeDoc(path, cimdDoc(url));
      assertRegistering((await accountRequestFrom(server, { clientId: url })).res);
      const ok = await pollAccountRequest(server, { clientId: url });
      assert.equal(ok.res.status, 200, ok.res.text);
      assert.equal(site.fetchCount(path), 2, 'one fetch per attempt');
    });
  });

  test('a document that stays bad: every failed attempt is reported once, then retried', async () => {
    await withServer(async (server) => {
      const { url, path } = doc('partner.test', { redirect_uris: ['javascript:alert(1)'] });
      for (let attempt = 1; attempt <= 2; attempt++) {
        assertRegistering((await accountRequestFrom(server, { clientId: url })).res);
        const failed = await pollAccountRequest(server, { clientId: url });
        assertTypedError(failed.res, 401, 'unauthorized');
        assert.ok(failed.res.json.error.message.startsWith(`Client registration failed for ${url}: `), failed.res.json.error.message);
        assert.match(failed.res.json.error.message, /redirect_uris/);
        assert.equal(site.fetchCount(path), attempt);
      }
    });
  });

  test('concurrent first requests share one registration and one fetch; all answer 202', async () => {
    await withServer(async (server) => {
      const { url, path } = slowDoc('partner.test');
      const all = await Promise.all(Array.from({ length: 8 }, () => accountRequestFrom(server, { clientId: url })));
      for (const a of all) assertRegistering(a.res);
      const done = await pollAccountRequest(server, { clientId: url });
      assert.equal(done.res.status, 200, done.res.text);
      assert.equal(site.fetchCount(path), 1, 'one fetch for all of them');
    });
  });

  test('client_registration: API-Version optional; an operator client id is one client_exists check', async () => {
    await withServer(async (server) => {
      const { url } = doc();
      assertRegistered(await registration(server, url, { apiVersion: false }), url);
      const op = await registerClient(server);
      const r = await registration(server, op, { apiVersion: false });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.checks.map((c) => [c.name, c.ok]), [['client_exists', true]]);
      const unknown = await registration(server, `unknown-${uid()}`);
      assert.equal(unknown.status, 400, unknown.text);
      assert.equal(unknown.json.error.code, 'registration_failed');
      assert.deepEqual(unknown.json.checks.map((c) => [c.name, c.ok]), [['client_exists', false]]);
    });
  });

  test('client_registration re-fetches each time and is limited to 30 per hour per client id', async () => {
    await withServer(async (server) => {
      const { url, path } = doc();
      for (let i = 1; i <= 30; i++) {
        const r = await registration(server, url);
        assert.equal(r.status, 200, `call ${i}: ${r.text}`);
      }
      assert.equal(site.fetchCount(path), 30, 'every call fetched');
      const over = await registration(server, url);
      assert.equal(over.status, 429, over.text);
      assert.equal(over.json?.error?.code, 'rate_limited', over.text);
      assert.match(String(over.headers['retry-after']), /^\d+$/);
      assert.equal(site.fetchCount(path), 30, 'the limited call fetched nothing');
    });
  });
});

// =============================================================================================
describe('registration limits', () => {
  test('per client address 5 per minute: the 6th new client is 429; in-progress and registered clients are not counted', async () => {
    await avoidMinuteBoundary(25);
    await withServer(async (server) => {
      const from = '127.0.0.1';
      // #1, slow: registration stays in progress while we send more requests for it.
      const slow = slowDoc('site1.test');
      assertRegistering((await accountRequestFrom(server, { clientId: slow.url, localAddress: from })).res);
      for (let i = 0; i < 6; i++) {
        assertRegistering((await accountRequestFrom(server, { clientId: slow.url, localAddress: from })).res);
      }
      // #2 … #5 (other hosts, so the per-host limit stays out of the way)
      const others = ['site2.test', 'site3.test', 'site4.test', 'site5.test'].map((h) => doc(h));
      for (const o of others) assertRegistering((await accountRequestFrom(server, { clientId: o.url, localAddress: from })).res);
      // #6 → limited, nothing fetched
      const sixth = doc('site6.test');
      const over = await accountRequestFrom(server, { clientId: sixth.url, localAddress: from });
      assertRegLimited(over.res);
      // and client_registration of a new client from the same address is limited the same way
      const r = await registration(server, doc('site7.test').url, { localAddress: from });
      assert.equal(r.status, 429, r.text);

      // registered clients go through: they are not new
      const done = await pollAccountRequest(server, { clientId: slow.url, localAddress: from });
      assert.equal(done.res.status, 200, done.res.text);
      const o1 = await pollAccountRequest(server, { clientId: others[0].url, localAddress: from });
      assert.equal(o1.res.status, 200, o1.res.text);
      for (let i = 0; i < 3; i++) {
        const again = await accountRequestFrom(server, { clientId: others[0].url, localAddress: from });
        assert.equal(again.res.status, 200, again.res.text);
      }
      // another address may still register new clients
      assertRegistering((await accountRequestFrom(server, { clientId: sixth.url, localAddress: '127.0.0.2' })).res);
      await waitFor(() => site.fetchCount(sixth.path) === 1, 'the sixth client registered from another address');
      assert.equal(site.fetchCount(slow.path), 1, 'the in-progress registration was fetched once');
    });
  });

  test('per host name 5 per hour: the 6th new URL on one host is 429 "…from this domain…", even from fresh addresses', async () => {
    await withServer(async (server) => {
      const urls = Array.from({ length: 6 }, () => doc('partner.test'));
      for (let i = 0; i < 5; i++) {
        assertRegistering((await accountRequestFrom(server, { clientId: urls[i].url, localAddress: `127.0.50.${i + 1}` })).res);
      }
      const over = await accountRequestFrom(server, { clientId: urls[5].url, localAddress: '127.0.50.6' });
      assertTypedError(over.res, 429, 'rate_limited', /^Too many new client registrations from this domain\. Try again later\.$/);
      assertRegLimited(over.res, /from this domain/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(site.fetchCount(urls[5].path), 0, 'the limited URL was never fetched');
      // another host is not affected
      assertRegistering((await accountRequestFrom(server, { clientId: doc('other.test').url, localAddress: '127.0.50.7' })).res);
      // and the first five do register
      for (let i = 0; i < 5; i++) {
        const ok = await pollAccountRequest(server, { clientId: urls[i].url, localAddress: `127.0.50.${i + 1}` });
        assert.equal(ok.res.status, 200, ok.res.text);
      }
    });
  });
});

// =============================================================================================
describe('blocklist', () => {
  test('a blocked URL is an unknown client (401) and is never fetched; unblock lets it register', async () => {
    await withServer(async (server) => {
      const { url, path } = doc();
      const b = await server.cli(['clients', 'block', url, '--reason', 'abuse']);
      assert.equal(b.code, 0, b.stderr);
      const a = await accountRequestFrom(server, { clientId: url });
      assertTypedError(a.res, 401, 'unauthorized');
      const r = await registration(server, url);
      assertRegistrationFailed(r, url, 'not_blocked', /block/i);
      assert.equal(site.fetchCount(path), 0, 'a blocked URL is never fetched');
      const listed = await server.cli(['clients', 'blocked', '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const entry = JSON.parse(listed.stdout).find((e) => e.entry === url);
      assert.ok(entry, listed.stdout);
      assert.equal(entry.reason, 'abuse');

      const u = await server.cli(['clients', 'unblock', url]);
      assert.equal(u.code, 0, u.stderr);
      assert.ok(!JSON.parse((await server.cli(['clients', 'blocked', '--json'])).stdout).some((e) => e.entry === url));
      assertRegistering((await accountRequestFrom(server, { clientId: url })).res);
      const ok = await pollAccountRequest(server, { clientId: url });
      assert.equal(ok.res.status, 200, ok.res.text);
    });
  });

  test('a blocked domain covers the host and its subdomains, not look-alike hosts', async () => {
    await withServer(async (server) => {
      const b = await server.cli(['clients', 'block', 'other.test']);
      assert.equal(b.code, 0, b.stderr);
      const blocked = [doc('other.test'), doc('sub.other.test'), doc('deep.sub.other.test')];
      for (const d of blocked) {
        assertTypedError((await accountRequestFrom(server, { clientId: d.url })).res, 401, 'unauthorized');
        assertRegistrationFailed(await registration(server, d.url), d.url, 'not_blocked', /block/i);
        assert.equal(site.fetchCount(d.path), 0, d.url);
      }
      const lookalike = doc('xother.test');
      assertRegistering((await accountRequestFrom(server, { clientId: lookalike.url })).res);

      const u = await server.cli(['clients', 'unblock', 'other.test']);
      assert.equal(u.code, 0, u.stderr);
      assertRegistering((await accountRequestFrom(server, { clientId: blocked[1].url })).res);
      const ok = await pollAccountRequest(server, { clientId: blocked[1].url });
      assert.equal(ok.res.status, 200, ok.res.text);
    });
  });

  test('blocking a registered client disables it: its requests and tokens stop working', async () => {
    await withServer(async (server) => {
      const { url } = doc();
      assertRegistered(await registration(server, url), url);
      const a = await accountRequestFrom(server, { clientId: url });
      assert.equal(a.res.status, 200, a.res.text);
      const tok = await exchangeCode(server, a.res.json.oauth.code, a.verifier);
      assert.equal(tok.status, 200, tok.text);
      const project = tok.json.account.available_teams[0].id;
      assert.equal((await getResource(server, tok.json.access_token, project)).status, 200);

      const b = await server.cli(['clients', 'block', 'partner.test']);
      assert.equal(b.code, 0, b.stderr);
      assertTypedError((await accountRequestFrom(server, { clientId: url })).res, 401, 'unauthorized');
      assert.equal(q1(server, 'SELECT is_active FROM oauth_clients WHERE client_id = ?', url).is_active, 0);
      const g = await getResource(server, tok.json.access_token, project);
      assert.equal(g.status, 401, `a blocked client's token stops working: ${g.text}`);
      const rf = await refreshGrant(server, tok.json.refresh_token);
      assert.notEqual(rf.status, 200, rf.text);
    });
  });
});

// =============================================================================================
describe('operator view', () => {
  test('clients list / show: kind cimd, verification state, the document, its freshness and the last fetch result', async () => {
    await withServer(async (server) => {
      const overrides = { client_name: 'Listed Partner', redirect_uris: [`https://partner.example/${uid()}`] };
      const { url, path } = doc('partner.test', overrides);
      assertRegistered(await registration(server, url), url);
      const published = cimdDoc(url, overrides);

      const list = await server.cli(['clients', 'list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      const item = JSON.parse(list.stdout).find((c) => c.client_id === url);
      assert.ok(item, list.stdout);
      assert.equal(item.kind, 'cimd');
      assert.equal(item.verified, false);

      const text = await server.cli(['clients', 'list']);
      assert.equal(text.code, 0);
      const line = text.stdout.split('\n').find((l) => l.includes(url));
      assert.ok(line && /cimd/.test(line) && /unverified/.test(line), `list line: ${line}`);

      const show = await showClient(server, url);
      assert.equal(show.client_id, url);
      assert.equal(show.kind, 'cimd');
      assert.equal(show.name, 'Listed Partner');
      assert.deepEqual(show.redirect_uris, overrides.redirect_uris);
      assert.deepEqual([...show.scopes].sort(), CATALOG);
      const d = findKey(show, /^document$/);
      assert.ok(d, `show has the document: ${JSON.stringify(show)}`);
      assert.deepEqual(d.value, published, 'the document as fetched');
      const fresh = findKey(show, /fresh/);
      assert.ok(fresh, 'show has the freshness');
      const last = findKey(show, /last_(result|fetch)/);
      assert.ok(last, 'show has the last fetch result');
      assert.match(JSON.stringify(last.value), /ok/i);
      assert.equal(site.fetchCount(path), 1);

      const showText = await server.cli(['clients', 'show', url]);
      assert.equal(showText.code, 0);
      assert.ok(showText.stdout.includes(url) && showText.stdout.includes('Listed Partner'), showText.stdout);
    });
  });
});
