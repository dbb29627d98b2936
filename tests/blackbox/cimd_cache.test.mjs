// CIMD: caching and refresh of metadata documents (docs/CIMD.md "Caching and refresh"), observed
// through nginx's access log: how many times each document was fetched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountRequest, exchangeCode, createResource, refreshGrant, q1, sleep, startServer } from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import {
  assertRegistered, assertRegistrationFailed, assertTypedError, cimdDoc, findKey, pollAccountRequest, registration,
  showClient, uid, waitFor,
} from './cimd_common.mjs';

let site;
before(async () => { site = await startTlsSite(); });
after(async () => { await site?.stop(); });

async function withServer(fn, extraArgs = ['--cimd-min-ttl-seconds', '1']) {
  const server = await startServer({ extraArgs: [...site.cimdArgs(['partner.test']), ...extraArgs] });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

function doc(dir, overrides = {}) {
  const path = `/${dir}/${uid()}.json`;
  const url = site.url('partner.test', path);
  site.writeDoc(path, cimdDoc(url, overrides));
  return { url, path };
}

/** No further fetch of path shows up within ms (a background refresh starts within milliseconds). */
async function assertNoNewFetch(path, expected, ms = 1000) {
  await sleep(ms);
  assert.equal(site.fetchCount(path), expected, `fetches of ${path}: ${JSON.stringify(site.fetches(path))}`);
}

/** Freshness is whole seconds: wait until a 1-second document is surely stale. */
const waitStale = () => sleep(2200);

describe('caching', { concurrency: true }, () => {
  test('registration is one fetch; a warm cache serves the whole flow and many requests with no further fetch', async () => {
    await withServer(async (server) => {
      const { url, path } = doc('plain');
      const first = await pollAccountRequest(server, { clientId: url });
      assert.equal(first.res.status, 200, first.res.text);
      assert.equal(site.fetchCount(path), 1);
      const tok = await exchangeCode(server, first.res.json.oauth.code, first.verifier);
      assert.equal(tok.status, 200, tok.text);
      assert.equal((await createResource(server, tok.json.access_token)).status, 200);
      assert.equal((await refreshGrant(server, tok.json.refresh_token)).status, 200);
      for (let i = 0; i < 7; i++) {
        const a = await accountRequest(server, { clientId: url });
        assert.equal(a.res.status, 200, a.res.text);
      }
      await waitStale();   // past the 1 s minimum, but the document (no Cache-Control) is fresh for 1 h
      assert.equal((await accountRequest(server, { clientId: url })).res.status, 200);
      await assertNoNewFetch(path, 1);
    });
  });

  test('max-age=1: after expiry a request is served at once from the stale document and starts exactly one background refresh', async () => {
    await withServer(async (server) => {
      const { url, path } = doc('maxage1then3600', { client_name: 'Before', 'com.posthog': { scopes: ['user:read', 'project:read'] } });
      assertRegistered(await registration(server, url), url);
      assert.equal(site.fetchCount(path), 1);
      // The partner narrows its scopes and renames itself. The new document is served with
      // max-age=3600, so however long the six requests below take, only a stale document can
      // start a refresh (with max-age=1 a slow run saw a second, legitimate, refresh).
      site.writeDoc(path, cimdDoc(url, { client_name: 'After', 'com.posthog': { scopes: ['user:read'] } }));
      site.writeDoc(`${path}.long`, '');
      await waitStale();
      // Six concurrent requests against the stale document: all served from it (project:read still allowed) …
      const all = await Promise.all(Array.from({ length: 6 }, () => accountRequest(server, { clientId: url, scopes: ['project:read'] })));
      // None waits for the refresh. The refresh runs on loopback and may land while the six are
      // still in flight: a request that comes after it is answered from the new document (its
      // narrowed scopes refuse project:read), which is right too. At least one is answered from
      // the stale one, and none gets a 5xx or a "registering".
      for (const a of all) {
        assert.ok(a.res.status === 200 || (a.res.status === 400 && a.res.json?.error?.code === 'invalid_scope'),
          `served from the stale document, or from the refreshed one: ${a.res.status} ${a.res.text}`);
      }
      assert.ok(all.some((a) => a.res.status === 200), 'at least one served from the stale document');
      // … and exactly one background refresh.
      assert.equal(await site.waitForFetchCount(path, 2), 2, 'one background refresh');
      await assertNoNewFetch(path, 2, 500);
      await waitFor(() => q1(server, 'SELECT name FROM oauth_clients WHERE client_id = ?', url).name === 'After', 'the refreshed document is applied');
      assert.equal(q1(server, 'SELECT scopes FROM oauth_clients WHERE client_id = ?', url).scopes, 'user:read');
      const narrowed = await accountRequest(server, { clientId: url, scopes: ['project:read'] });
      assertTypedError(narrowed.res, 400, 'invalid_scope', "One or more requested scopes exceed the application's allowed scopes");
    });
  });

  for (const [label, breakIt, re] of [
    ['404', (path) => site.removeDoc(path), /\b404\b/],
    ['invalid JSON', (path) => site.writeDoc(path, '{"client_id": '), /JSON/i],
    ['a bad redirect_uris', (path, url) => site.writeDoc(path, cimdDoc(url, { redirect_uris: ['javascript:alert(1)'] })), /redirect_uris/],
  ]) {
    test(`a refresh that fails (${label}) keeps the last good document and is not retried within 60 s`, async () => {
      await withServer(async (server) => {
        const redirect = `https://partner.example/${uid()}`;
        const { url, path } = doc('maxage1', { client_name: 'Good Name', redirect_uris: [redirect] });
        assertRegistered(await registration(server, url), url);
        breakIt(path, url);
        await waitStale();
        const a = await accountRequest(server, { clientId: url });
        assert.equal(a.res.status, 200, `served from the last good document: ${a.res.text}`);
        assert.equal(await site.waitForFetchCount(path, 2), 2, 'one background refresh');
        for (let i = 0; i < 5; i++) {
          await sleep(400);
          const b = await accountRequest(server, { clientId: url });
          assert.equal(b.res.status, 200, b.res.text);
        }
        await assertNoNewFetch(path, 2, 500);
        const show = await showClient(server, url);
        assert.equal(show.name, 'Good Name');
        assert.deepEqual(show.redirect_uris, [redirect]);
        assert.equal(show.is_active, true);
        const last = findKey(show, /last_(result|fetch|error)/);
        assert.ok(last, `show has the last fetch result: ${JSON.stringify(show)}`);
        assert.match(JSON.stringify(show), re, 'show reports why the last fetch failed');
        const d = findKey(show, /^document$/);
        assert.deepEqual(d?.value?.redirect_uris, [redirect], 'the kept document is the last good one');
      });
    });
  }

  test('errors are never cached: a failed client_registration, then a fixed document, is fetched again and registers', async () => {
    await withServer(async (server) => {
      const path = `/plain/${uid()}.json`;
      const url = site.url('partner.test', path);
      assertRegistrationFailed(await registration(server, url), url, 'metadata_document', /\b404\b/);
      site.writeDoc(path, cimdDoc(url, { client_secret: 'nope' }));
      assertRegistrationFailed(await registration(server, url), url, 'metadata_document', /client_secret/);
      site.writeDoc(path, cimdDoc(url));
      assertRegistered(await registration(server, url), url);
      assert.equal(site.fetchCount(path), 3, 'each call fetched');
      // and an account request goes straight through (no 202: the client exists)
      const a = await accountRequest(server, { clientId: url });
      assert.equal(a.res.status, 200, a.res.text);
      assert.equal(site.fetchCount(path), 3);
    });
  });

  test('Cache-Control no-store and no-cache → the minimum freshness (1 s here)', async () => {
    await withServer(async (server) => {
      for (const dir of ['nostore', 'nocache']) {
        const { url, path } = doc(dir);
        assertRegistered(await registration(server, url), url);
        await waitStale();
        assert.equal((await accountRequest(server, { clientId: url })).res.status, 200);
        assert.equal(await site.waitForFetchCount(path, 2), 2, `${dir}: refreshed after the minimum`);
      }
    });
  });

  test('max-age=3600 and a missing Cache-Control are honored above the minimum: no refresh after 2 s', async () => {
    await withServer(async (server) => {
      const docs = [doc('maxage3600'), doc('plain')];
      for (const d of docs) assertRegistered(await registration(server, d.url), d.url);
      await waitStale();
      for (const d of docs) assert.equal((await accountRequest(server, { clientId: d.url })).res.status, 200);
      for (const d of docs) await assertNoNewFetch(d.path, 1, 500);
    });
  });

  test('freshness is clamped: max-age=1 with the default 5 min minimum is not refreshed after 2 s', async () => {
    await withServer(async (server) => {
      const { url, path } = doc('maxage1');
      assertRegistered(await registration(server, url), url);
      await waitStale();
      assert.equal((await accountRequest(server, { clientId: url })).res.status, 200);
      await assertNoNewFetch(path, 1);
    }, []);
  });

  test('--cimd-max-ttl-seconds / --cimd-default-ttl-seconds: a huge max-age and a missing Cache-Control follow the settings', async () => {
    await withServer(async (server) => {
      const huge = doc('maxagebig');
      const none = doc('plain');
      for (const d of [huge, none]) assertRegistered(await registration(server, d.url), d.url);
      await sleep(3200);
      for (const d of [huge, none]) assert.equal((await accountRequest(server, { clientId: d.url })).res.status, 200);
      assert.equal(await site.waitForFetchCount(huge.path, 2), 2, 'max-age clamped to the 2 s maximum');
      assert.equal(await site.waitForFetchCount(none.path, 2), 2, 'no Cache-Control → the 1 s default');
    }, ['--cimd-min-ttl-seconds', '1', '--cimd-max-ttl-seconds', '2', '--cimd-default-ttl-seconds', '1']);
  });
});
