// CIMD: fetching and validating a client metadata document (docs/CIMD.md "Which client ids are CIMD
// URLs", "Fetching", "Validating the document"), through `provisiond clients check URL` and through
// POST /api/agentic/provisioning/client_registration. Documents are served by a real nginx over TLS
// (tls_fixture.mjs) on loopback; `--cimd-resolve` maps the test names to 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  CATALOG, accountRequest, count, q1, startServer,
} from './harness.mjs';
import {
  startRawTlsServer, startTlsSite, stallAfterHeaders, stallMidBody, hugeContentLength, SLOW_BODY_BYTES,
} from './tls_fixture.mjs';
import {
  assertCliOk, assertCliRefused, assertRegistered, assertRegistrationFailed, assertTypedError,
  cimdDoc, cliCheck, findCheck, nextSourceAddress, registration, showClient, uid,
} from './cimd_common.mjs';

// Registrations of new clients are limited per client address (5/min, 10/h), per host name (5/h)
// and per server (100/h), and so are client_registration calls (120/h per address). So every API
// registration here uses a fresh host name (h<N>.partner.test, covered by the certificate's
// *.partner.test) and a fresh loopback source address, and each describe block has its own server.
const POOL = Array.from({ length: 120 }, (_, i) => `h${i}.partner.test`);
const NAMES = ['partner.test', 'other.test', 'wrong.test', ...POOL];   // wrong.test is not in the certificate

let site;
const raw = {};
let baseArgs;          // cimd flags for the nginx site
let rawArgs;           // resolve flags for the raw TLS servers

before(async () => {
  site = await startTlsSite();
  raw.stall = await startRawTlsServer(stallAfterHeaders());
  raw.midBody = await startRawTlsServer(stallMidBody());
  raw.huge = await startRawTlsServer(hugeContentLength());
  baseArgs = site.cimdArgs(NAMES);
  // The raw servers answer for stall.partner.test etc. (covered by *.partner.test in the certificate).
  rawArgs = [
    '--cimd-resolve', `stall.partner.test:${raw.stall.port}:127.0.0.1`,
    '--cimd-resolve', `midbody.partner.test:${raw.midBody.port}:127.0.0.1`,
    '--cimd-resolve', `huge.partner.test:${raw.huge.port}:127.0.0.1`,
  ];
});
after(async () => {
  for (const r of Object.values(raw)) await r.stop();
  await site?.stop();
});

/** One provisiond per describe block, with its own supply of fresh host names. */
function useServer() {
  const ref = { next: 0 };
  ref.host = () => {
    assert.ok(ref.next < POOL.length, 'host name pool exhausted');
    return POOL[ref.next++];
  };
  /** Publish a document at /<dir>/<unique>.json on a fresh host; returns {url, path}. */
  ref.doc = (dir, overrides = {}, { raw: rawBody } = {}) => {
    const path = `/${dir}/${uid()}.json`;
    const url = site.url(ref.host(), path);
    site.writeDoc(path, rawBody !== undefined ? rawBody(url) : cimdDoc(url, overrides));
    return { url, path };
  };
  before(async () => { ref.server = await startServer({ extraArgs: [...baseArgs, ...rawArgs] }); });
  after(async () => { await ref.server?.stop(); });
  return ref;
}

const cli = (url, extra = [], opts) => cliCheck(url, [...baseArgs, ...rawArgs, ...extra], opts);
const reg = (srv, url) => registration(srv.server, url, { localAddress: nextSourceAddress() });

/** The document at url is good: CLI exit 0 and client_registration 200; returns the 200 body. */
async function bothAccept(srv, url) {
  const [c, r] = await Promise.all([cli(url), reg(srv, url)]);
  assertCliOk(c);
  const body = assertRegistered(r, url);
  const row = q1(srv.server, 'SELECT * FROM oauth_clients WHERE client_id = ?', url);
  assert.ok(row, 'a registered CIMD client is stored');
  assert.equal(row.kind, 'cimd');
  assert.equal(row.is_active, 1);
  assert.deepEqual(JSON.parse(row.redirect_uris), body.redirect_uris);
  assert.equal(row.name, body.client_name);
  assert.deepEqual(row.scopes.split(' ').filter(Boolean).sort(), [...body.scopes].sort());
  return body;
}

/** The document at url is refused by `check` with a detail matching re, by the CLI and the API; nothing stored. */
async function bothRefuse(srv, url, checkName, re, opts) {
  const [c, r] = await Promise.all([cli(url), reg(srv, url)]);
  assertCliRefused(c, checkName, re, opts);
  assertRegistrationFailed(r, url, checkName, re, opts);
  assert.equal(count(srv.server, 'SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?', url), 0, 'nothing stored');
  return { cli: c, api: r };
}

/** A document padded with an unknown member to exactly n bytes. */
function paddedDoc(url, n, overrides = {}) {
  const d = cimdDoc(url, { x_pad: '', ...overrides });
  const base = Buffer.byteLength(JSON.stringify(d));
  assert.ok(base <= n, `document base ${base} > ${n}`);
  d.x_pad = 'p'.repeat(n - base);
  const s = JSON.stringify(d);
  assert.equal(Buffer.byteLength(s), n);
  return s;
}

const HTTP_STATUS = (code) => new RegExp(`\\b${code}\\b`);
const TOO_LARGE = /5120|too large|size|exceed/i;
const TIMEOUT = /time|timed out|stall|slow/i;
const CONTENT_TYPE = /Content-Type/i;

// =============================================================================================
describe('transport: good documents', () => {
  const srv = useServer();

  test('a plain application/json document registers; the fetch is one GET with Accept and User-Agent', async () => {
    const { url, path } = srv.doc('plain', { client_name: 'Plain Partner' });
    const body = await bothAccept(srv, url);
    assert.equal(body.client_name, 'Plain Partner');
    assert.deepEqual(body.redirect_uris, ['https://partner.example/callback']);
    assert.deepEqual([...body.scopes].sort(), CATALOG);
    assert.equal(body.verified, false);
    assert.equal(body.organization_id, null);
    const fetches = site.fetches(path);
    assert.equal(fetches.length, 2, 'one fetch by the CLI, one by the server');
    for (const f of fetches) {
      assert.equal(f.m, 'GET');
      assert.equal(f.s, 200);
      assert.equal(f.h, new URL(url).hostname);
      assert.equal(f.acc, 'application/json');
      assert.match(f.ua, /^provisiond-cimd\/1\.0( \(\+.*\))?$/, f.ua);
    }
    assert.ok(fetches.some((f) => f.ua === `provisiond-cimd/1.0 (+${srv.server.url})`),
      `the server's fetch names its public URL: ${fetches.map((f) => f.ua)}`);
  });

  test('application/<anything>+json is accepted', async () => {
    await bothAccept(srv, srv.doc('ct-foo').url);
  });

  test('application/json; charset=utf-8 is accepted (media-type parameters)', async () => {
    await bothAccept(srv, srv.doc('ct-charset').url);
  });

  test('chunked transfer without Content-Length, under the limit, is accepted', async () => {
    await bothAccept(srv, srv.doc('chunked').url);
  });

  test('exactly 5120 bytes is accepted (with Content-Length and chunked)', async () => {
    for (const dir of ['plain', 'chunked']) {
      const { url, path } = srv.doc(dir);
      assert.equal(site.writeDoc(path, paddedDoc(url, 5120)), 5120);
      await bothAccept(srv, url);
    }
  });

  test('extra response headers (Set-Cookie, Link, X-Frame-Options, Cache-Control) are fine', async () => {
    await bothAccept(srv, srv.doc('extraheaders').url);
    await bothAccept(srv, srv.doc('maxage3600').url);
    await bothAccept(srv, srv.doc('nostore').url);
  });

  test('proxies from the environment are ignored', async () => {
    let proxyConnections = 0;
    const proxy = net.createServer((s) => { proxyConnections += 1; s.destroy(); });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    const p = `http://127.0.0.1:${proxy.address().port}`;
    try {
      const { url, path } = srv.doc('plain');
      const c = await cli(url, [], {
        env: { HTTPS_PROXY: p, https_proxy: p, ALL_PROXY: p, all_proxy: p, HTTP_PROXY: p, http_proxy: p, NO_PROXY: '', no_proxy: '' },
      });
      assertCliOk(c);
      assert.equal(proxyConnections, 0, 'nothing went through the proxy');
      assert.equal(site.fetchCount(path), 1);
    } finally {
      proxy.close();
    }
  });
});

// =============================================================================================
describe('transport: refused responses', () => {
  const srv = useServer();

  test('404 (missing document) → metadata_document names HTTP 404', async () => {
    const url = site.url(srv.host(), `/plain/${uid()}-missing.json`);
    await bothRefuse(srv, url, 'metadata_document', HTTP_STATUS(404));
  });

  for (const code of [500, 503, 403, 410, 204, 201]) {
    test(`status ${code} → metadata_document names ${code} (status 200 only)`, async () => {
      await bothRefuse(srv, srv.doc(`s${code}`).url, 'metadata_document', HTTP_STATUS(code));
    });
  }

  for (const code of [301, 302, 307, 308]) {
    test(`redirect ${code} → refused, the Location is not followed`, async () => {
      const { url, path } = srv.doc(`s${code}`);
      // The target is a perfectly good document for this very URL: only the redirect is wrong.
      site.writeDoc('/plain/redirect-target.json', cimdDoc(url));
      const before = site.fetchCount('/plain/redirect-target.json');
      await bothRefuse(srv, url, 'metadata_document', new RegExp(`redirect|\\b${code}\\b`, 'i'));
      assert.equal(site.fetchCount('/plain/redirect-target.json'), before, 'redirect target never fetched');
      assert.equal(site.fetchCount(path), 2, 'the URL itself was fetched once by each');
    });
  }

  for (const [dir, label] of [
    ['ct-html', 'text/html'], ['ct-text', 'text/plain'], ['ct-textjson', 'text/json'],
    ['ct-jsonx', 'application/jsonx'], ['ct-octet', 'application/octet-stream'], ['ct-none', 'no Content-Type at all'],
  ]) {
    test(`Content-Type ${label} → refused naming Content-Type`, async () => {
      await bothRefuse(srv, srv.doc(dir).url, 'metadata_document', CONTENT_TYPE);
    });
  }

  test('5121 bytes (with Content-Length) → too large', async () => {
    const { url, path } = srv.doc('plain');
    site.writeDoc(path, paddedDoc(url, 5121));
    await bothRefuse(srv, url, 'metadata_document', TOO_LARGE);
  });

  test('a 2 MB document with Content-Length → too large', async () => {
    const { url, path } = srv.doc('plain');
    site.writeDoc(path, paddedDoc(url, 2_000_000));
    await bothRefuse(srv, url, 'metadata_document', TOO_LARGE);
  });

  test('chunked, no Content-Length, 5121 and 200000 bytes → too large while streaming', async () => {
    for (const n of [5121, 200_000]) {
      const { url, path } = srv.doc('chunked');
      site.writeDoc(path, paddedDoc(url, n));
      await bothRefuse(srv, url, 'metadata_document', TOO_LARGE);
    }
  });

  test('a Content-Length over the limit is refused on the header, without waiting for the body', async () => {
    // The raw server announces 10 MB and then sends nothing: waiting for the body would end in a timeout.
    const url = `https://huge.partner.test:${raw.huge.port}/${uid()}.json`;
    const { cli: c, api: r } = await bothRefuse(srv, url, 'metadata_document', TOO_LARGE);
    for (const d of [findCheck(c.checks, 'metadata_document').detail, findCheck(r.json.checks, 'metadata_document').detail]) {
      assert.doesNotMatch(d, /timed? ?out/i, `refused early on Content-Length, not by a timeout: ${d}`);
    }
    assert.ok(c.elapsedMs < 4500, `the CLI refused at once (${c.elapsedMs} ms), not after the 5 s read stall`);
  });

  test('TLS: a certificate that does not name the host → refused, no request sent', async () => {
    const path = `/plain/${uid()}.json`;
    const url = site.url('wrong.test', path);
    site.writeDoc(path, cimdDoc(url));
    await bothRefuse(srv, url, 'metadata_document', /certificate|TLS|SSL|verif|host ?name|subject/i);
    assert.equal(site.fetchCount(path), 0, 'no request was sent over the unverified connection');
  });

  test('TLS: a certificate from a CA that is not trusted (--cimd-ca-file of another CA) → refused', async () => {
    const { url, path } = srv.doc('plain');
    const c = await cliCheck(url, site.cimdArgs(NAMES, { caFile: site.otherCaFile }));
    assertCliRefused(c, 'metadata_document', /certificate|TLS|SSL|verif|issuer|CA/i);
    assert.equal(site.fetchCount(path), 0);
  });
});

// =============================================================================================
describe('transport: timeouts', { concurrency: true }, () => {
  const srv = useServer();

  test(`slow drip (bytes every second, ${SLOW_BODY_BYTES} bytes in ~20 s) → aborted at the 10 s total limit`, async () => {
    const { url, path } = srv.doc('slow');
    site.writeDoc(path, paddedDoc(url, SLOW_BODY_BYTES));
    const t0 = Date.now();
    const [c, r] = await Promise.all([cli(url), reg(srv, url)]);
    const apiMs = Date.now() - t0;
    assertCliRefused(c, 'metadata_document', TIMEOUT);
    assertRegistrationFailed(r, url, 'metadata_document', TIMEOUT);
    assert.ok(c.elapsedMs < 17000, `the CLI gave up at the 10 s limit, not when the body ended (~20 s): ${c.elapsedMs} ms`);
    assert.ok(apiMs < 17000, `client_registration answered within the 10 s limit: ${apiMs} ms`);
    assert.ok(c.elapsedMs > 6000, `bytes kept coming, so neither the 5 s stall nor anything earlier fired: ${c.elapsedMs} ms`);
    assert.equal(count(srv.server, 'SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?', url), 0);
  });

  test('status line and headers, then nothing → aborted by the 5 s read stall', async () => {
    const url = `https://stall.partner.test:${raw.stall.port}/${uid()}.json`;
    const t0 = Date.now();
    const [c, r] = await Promise.all([cli(url), reg(srv, url)]);
    const apiMs = Date.now() - t0;
    assertCliRefused(c, 'metadata_document', TIMEOUT);
    assertRegistrationFailed(r, url, 'metadata_document', TIMEOUT);
    assert.ok(c.elapsedMs < 9500, `the 5 s stall fired before the 10 s total: ${c.elapsedMs} ms`);
    assert.ok(apiMs < 9500, `client_registration: ${apiMs} ms`);
  });

  test('part of the body, then nothing → aborted by the 5 s read stall', async () => {
    const url = `https://midbody.partner.test:${raw.midBody.port}/${uid()}.json`;
    const c = await cli(url);
    assertCliRefused(c, 'metadata_document', TIMEOUT);
    assert.ok(c.elapsedMs < 9500, `the 5 s stall fired before the 10 s total: ${c.elapsedMs} ms`);
  });
});

// =============================================================================================
describe('document validation: refused', () => {
  const srv = useServer();
  const refuse = async (overrides, re, opts = {}) => bothRefuse(srv, srv.doc('plain', overrides, opts).url, 'metadata_document', re);

  test('client_id that differs from the fetched URL (another path) → client_id', async () => {
    await refuse({ client_id: site.url('partner.test', '/plain/someone-else.json') }, /client_id/);
  });
  test('client_id with a different port / trailing slash / upper-case host → client_id (exact string)', async () => {
    for (const mutate of [
      (u) => u.replace(`:${site.port}/`, ':443/'),
      (u) => `${u}/`,
      (u) => u.replace('partner.test', 'Partner.test'),
    ]) {
      await refuse(undefined, /client_id/, { raw: (url) => JSON.stringify(cimdDoc(url, { client_id: mutate(url) })) });
    }
  });
  test('client_id missing → client_id', async () => {
    await refuse({ client_id: undefined }, /client_id/);
  });
  test('client_id not a string → client_id', async () => {
    await refuse(undefined, /client_id/, { raw: (url) => JSON.stringify({ ...cimdDoc(url), client_id: [url] }) });
  });

  test('redirect_uris missing → redirect_uris', async () => { await refuse({ redirect_uris: undefined }, /redirect_uris/); });
  test('redirect_uris empty → redirect_uris', async () => { await refuse({ redirect_uris: [] }, /redirect_uris/); });
  test('redirect_uris a string, not an array → redirect_uris', async () => { await refuse({ redirect_uris: 'https://partner.example/cb' }, /redirect_uris/); });
  test('redirect_uris with a non-string entry → redirect_uris', async () => { await refuse({ redirect_uris: ['https://partner.example/cb', 42] }, /redirect_uris/); });
  test('21 redirect_uris (over 20) → redirect_uris', async () => {
    await refuse({ redirect_uris: Array.from({ length: 21 }, (_, i) => `https://partner.example/cb${i}`) }, /redirect_uris/);
  });

  for (const [label, uri] of [
    ['http to a non-loopback host', 'http://partner.example/callback'],
    ['http to localhost.evil.example (not loopback)', 'http://localhost.evil.example/cb'],
    ['http to 127.0.0.1.nip.io (not loopback)', 'http://127.0.0.1.nip.io/cb'],
    ['javascript:', 'javascript:alert(document.domain)'],
    ['JAVASCRIPT: (upper case)', 'JAVASCRIPT:alert(1)'],
    ['data:', 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='],
    ['file:', 'file:///etc/passwd'],
    ['blob:', 'blob:https://partner.example/3c1b0f2e-0000-4000-8000-000000000000'],
    ['vbscript:', 'vbscript:msgbox(1)'],
    ['ftp:', 'ftp://partner.example/cb'],
    ['a space inside', 'https://partner.example/call back'],
    ['a trailing newline', 'https://partner.example/cb\n'],
    ['a leading space', ' https://partner.example/cb'],
    ['a tab', 'https://partner.example/\tcb'],
    ['a fragment', 'https://partner.example/cb#frag'],
    ['relative', '/callback'],
    ['https without a host', 'https:///callback'],
    ['not a URI at all', 'callback'],
  ]) {
    test(`redirect_uris entry ${label} → redirect_uris`, async () => {
      await refuse({ redirect_uris: ['https://partner.example/ok', uri] }, /redirect_uris/);
    });
  }

  test('client_secret present → client_secret', async () => { await refuse({ client_secret: 's3cr3t' }, /client_secret/); });
  test('client_secret_expires_at present → client_secret_expires_at', async () => {
    await refuse({ client_secret_expires_at: 0 }, /client_secret_expires_at/);
  });
  for (const m of ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth']) {
    test(`token_endpoint_auth_method ${m} → token_endpoint_auth_method`, async () => {
      await refuse({ token_endpoint_auth_method: m }, /token_endpoint_auth_method/);
    });
  }

  test('com.posthog scopes that filter to nothing → com.posthog.scopes (none available)', async () => {
    await refuse({ 'com.posthog': { scopes: ['root:write', 'admin:everything'] } }, /com\.posthog\.scopes/);
  });

  for (const [label, body] of [['an array', '[]'], ['a string', '"hello"'], ['a number', '42'], ['null', 'null'], ['true', 'true']]) {
    test(`non-object JSON (${label}) → refused naming object`, async () => {
      await refuse(undefined, /object/i, { raw: () => body });
    });
  }
  for (const [label, fn] of [
    ['truncated', (url) => `{"client_id": "${url}", "redirect_uris": [`],
    ['empty body', () => ''],
    ['trailing garbage', (url) => `${JSON.stringify(cimdDoc(url))} x`],
    ['single quotes', (url) => `{'client_id': '${url}'}`],
  ]) {
    test(`invalid JSON (${label}) → refused naming JSON`, async () => {
      await refuse(undefined, /JSON/i, { raw: fn });
    });
  }
});

// =============================================================================================
describe('document validation: accepted, normalized', () => {
  const srv = useServer();
  const accept = async (overrides) => {
    const { url } = srv.doc('plain', overrides);
    return { url, body: await bothAccept(srv, url) };
  };

  test('loopback http, private-use schemes and https with a query are accepted as given', async () => {
    const uris = [
      'https://partner.example/callback?x=1',
      'http://localhost:8080/cb',
      'http://127.0.0.1:3000/cb',
      'http://[::1]:3000/cb',
      'com.example.app:/oauth2redirect',
    ];
    const { body } = await accept({ redirect_uris: uris });
    assert.deepEqual(body.redirect_uris, uris);
  });

  test('20 redirect_uris are accepted', async () => {
    const uris = Array.from({ length: 20 }, (_, i) => `https://partner.example/cb${i}`);
    const { body } = await accept({ redirect_uris: uris });
    assert.deepEqual(body.redirect_uris, uris);
  });

  test('token_endpoint_auth_method absent is fine (public client)', async () => {
    const { body } = await accept({ token_endpoint_auth_method: undefined });
    assert.equal(body.token_endpoint_auth_method, 'none');
  });

  test('logo_uri over http is dropped: still registered, the check says so, the logo is not kept', async () => {
    const logo = `http://cdn.example.com/${uid()}.png`;
    const { url, body } = await accept({ logo_uri: logo });
    assert.ok(body.checks.some((c) => /logo_uri/.test(c.detail)), `a check mentions logo_uri: ${JSON.stringify(body.checks)}`);
    assert.ok(!('logo_uri' in body) || body.logo_uri === null, `the dropped logo is not kept: ${body.logo_uri}`);
    const show = await showClient(srv.server, url);
    assert.ok(!('logo_uri' in show) || show.logo_uri === null, `clients show has no logo: ${JSON.stringify(show.logo_uri)}`);
  });

  for (const [label, logo] of [
    ['an IP address', 'https://127.0.0.1/logo.png'],
    ['localhost', 'https://localhost/logo.png'],
    ['an internal name', 'https://assets.internal/logo.png'],
    ['javascript:', 'javascript:alert(1)'],
  ]) {
    test(`logo_uri to ${label} is dropped, the client still registers`, async () => {
      const { url, body } = await accept({ logo_uri: logo });
      assert.ok(body.checks.some((c) => /logo_uri/.test(c.detail)), JSON.stringify(body.checks));
      assert.ok(!('logo_uri' in body) || body.logo_uri === null, `the dropped logo is not kept: ${body.logo_uri}`);
      const show = await showClient(srv.server, url);
      assert.ok(!('logo_uri' in show) || show.logo_uri === null, `clients show has no logo: ${JSON.stringify(show.logo_uri)}`);
    });
  }

  test('an https logo_uri on a public host name is kept', async () => {
    const logo = `https://cdn.example.com/${uid()}.png`;
    const { url, body } = await accept({ logo_uri: logo });
    assert.ok(!body.checks.some((c) => /logo_uri/.test(c.detail)), `nothing dropped: ${JSON.stringify(body.checks)}`);
    assert.equal((await showClient(srv.server, url)).logo_uri, logo, 'clients show has the logo');
  });

  test('client_name: control characters removed, whitespace collapsed', async () => {
    const { body } = await accept({ client_name: '  Acme\u0007\u0000 Corp \t\n\r  Tools\u001b  ' });
    assert.equal(body.client_name, 'Acme Corp Tools');
  });

  test('client_name: at most 100 characters (characters, not bytes: UTF-8 stays whole)', async () => {
    const { body } = await accept({ client_name: 'é'.repeat(150) });
    const chars = [...body.client_name];
    assert.ok(chars.length <= 100 && chars.length >= 90, `length ${chars.length}`);
    assert.ok(chars.slice(0, 90).every((ch) => ch === 'é'), body.client_name);
    const { body: b2 } = await accept({ client_name: 'N'.repeat(300) });
    assert.ok(b2.client_name.length <= 100 && b2.client_name.startsWith('N'.repeat(90)), b2.client_name);
  });

  test('client_name absent, empty or only whitespace → the client id\'s host name', async () => {
    for (const name of [undefined, '', '   \t ']) {
      const { url, body } = await accept({ client_name: name });
      assert.equal(body.client_name, new URL(url).hostname, `client_name ${JSON.stringify(name)}`);
    }
  });

  test('client_name with markup is stored as text', async () => {
    const name = '<img src=x onerror=alert(1)> & "Co"';
    const { url, body } = await accept({ client_name: name });
    assert.equal(body.client_name, name);
    assert.equal(q1(srv.server, 'SELECT name FROM oauth_clients WHERE client_id = ?', url).name, name);
  });

  test('com.posthog scopes are filtered to the catalog; absent → the whole catalog', async () => {
    const { url, body } = await accept({ 'com.posthog': { scopes: ['user:read', 'project:read', 'root:write', 'admin:everything'] } });
    assert.deepEqual([...body.scopes].sort(), ['project:read', 'user:read']);
    assert.equal(q1(srv.server, 'SELECT scopes FROM oauth_clients WHERE client_id = ?', url).scopes, 'project:read user:read');
    // the ceiling applies to account requests
    const over = await accountRequest(srv.server, { clientId: url, scopes: ['user:read', 'insight:read'] });
    assertTypedError(over.res, 400, 'invalid_scope', "One or more requested scopes exceed the application's allowed scopes");
    const ok = await accountRequest(srv.server, { clientId: url, scopes: ['user:read'] });
    assert.equal(ok.res.status, 200, ok.res.text);

    const { body: all } = await accept({ 'com.posthog': { other: 1 } });
    assert.deepEqual([...all.scopes].sort(), CATALOG);
  });

  test('unknown members are ignored', async () => {
    const { body } = await accept({
      software_id: 'x', jwks_uri: 'https://partner.example/jwks', contacts: ['a@partner.example'],
      'com.example.whatever': { nested: [1, 2, { deep: true }] }, tos_uri: 'https://partner.example/tos', scope: 'openid',
    });
    assert.equal(body.client_name, 'Acme Partner');
  });
});

// =============================================================================================
describe('client_id URL rules (refused as malformed, nothing fetched)', () => {
  const srv = useServer();
  // [label, (base, port) → URL, what the refusal names]
  const CASES = [
    ['no path', (b) => b, /path/i],
    ['path "/"', (b) => `${b}/`, /path/i],
    ['a query', (b) => `${b}/c-${uid()}.json?x=1`, /query/i],
    ['a fragment', (b) => `${b}/c-${uid()}.json#frag`, /fragment/i],
    ['userinfo', (b, port) => `https://user@partner.test:${port}/c-${uid()}.json`, /userinfo|user/i],
    ['userinfo with a password', (b, port) => `https://user:pw@partner.test:${port}/c-${uid()}.json`, /userinfo|user/i],
    ['a ".." segment', (b) => `${b}/a/../c-${uid()}.json`, /\.\.|dot|segment/i],
    ['a trailing ".." segment', (b) => `${b}/c-${uid()}/..`, /\.\.|dot|segment/i],
    ['a "." segment', (b) => `${b}/./c-${uid()}.json`, /dot|segment|"\."|'\.'/i],
    ['"%2e%2e"', (b) => `${b}/%2e%2e/c-${uid()}.json`, /%2e|dot|encoded|segment/i],
    ['"%2E" (upper case)', (b) => `${b}/a/%2E/c-${uid()}.json`, /%2e|dot|encoded|segment/i],
    ['".%2e"', (b) => `${b}/.%2e/c-${uid()}.json`, /%2e|dot|encoded|segment/i],
    ['a backslash', (b) => `${b}/a\\c-${uid()}.json`, /backslash|\\/i],
    ['"%5c"', (b) => `${b}/a%5cc-${uid()}.json`, /backslash|%5c/i],
    ['"%5C"', (b) => `${b}/a%5Cc-${uid()}.json`, /backslash|%5c/i],
    ['a raw space', (b) => `${b}/a c-${uid()}.json`, /space|whitespace|control/i],
    ['a tab', (b) => `${b}/a\tc-${uid()}.json`, /space|whitespace|control/i],
    ['a control character', (b) => `${b}/a\u0001c-${uid()}.json`, /control/i],
    ['a DEL character', (b) => `${b}/a\u007fc-${uid()}.json`, /control/i],
    ['a non-ASCII host', (b, port) => `https://pärtner.test:${port}/c-${uid()}.json`, /ASCII|punycode/i],
    ['over 2048 bytes', (b) => `${b}/${'a'.repeat(2040)}-${uid()}.json`, /2048|long/i],
    ['no host', () => `https:///c-${uid()}.json`, /host/i],
    ['an empty host with a port', (b, port) => `https://:${port}/c-${uid()}.json`, /host/i],
  ];

  for (const [label, make, re] of CASES) {
    test(`${label}: CLI exit 1, client_registration 400, account_requests 401; nothing fetched or stored`, async () => {
      const url = make(`https://partner.test:${site.port}`, site.port);
      const before = site.totalFetches();
      const c = await cli(url);
      assertCliRefused(c, 'client_id_url', re);
      const r = await reg(srv, url);
      assertRegistrationFailed(r, url, 'client_id_url', re);
      assert.equal(r.json.checks[0].name, 'client_id_url', r.text);
      const a = await accountRequest(srv.server, { clientId: url });
      assertTypedError(a.res, 401, 'unauthorized', re);
      assert.equal(count(srv.server, 'SELECT COUNT(*) FROM oauth_clients WHERE client_id = ?', url), 0);
      assert.equal(site.totalFetches(), before, `nothing was fetched: ${JSON.stringify(site.log().slice(before))}`);
    });
  }

  test('http:// is not a CIMD URL: an unknown ordinary client id (client_exists), never fetched', async () => {
    const before = site.totalFetches();
    const url = `http://partner.test:${site.port}/c-${uid()}.json`;
    const r = await reg(srv, url);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'registration_failed');
    assert.equal(r.json.registered, false);
    assert.equal(r.json.checks.length, 1, r.text);
    assert.equal(r.json.checks[0].name, 'client_exists');
    assert.equal(r.json.checks[0].ok, false);
    const a = await accountRequest(srv.server, { clientId: url });
    assertTypedError(a.res, 401, 'unauthorized');
    assert.equal(site.totalFetches(), before);
  });

  test('the same document URL with a query is a different string, and malformed', async () => {
    const { url, path } = srv.doc('plain');
    await bothAccept(srv, url);
    const r = await reg(srv, `${url}?v=2`);
    assertRegistrationFailed(r, `${url}?v=2`, 'client_id_url', /query/i);
    assert.equal(site.fetchCount(path), 2);
  });

  test('sanity: good URLs with dots inside names, "~", "_" and "-" pass the rules', async () => {
    assertCliOk(await cli(srv.doc('plain/dir.with.dots/v1.2').url));
    assertCliOk(await cli(srv.doc('plain/a-b_c~d/.well-known.x').url));
  });
});
