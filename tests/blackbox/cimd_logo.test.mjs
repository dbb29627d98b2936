// CIMD logos (docs/PAGES.md "Choices where the issue was silent" → Logos; docs/CIMD.md "Validating the
// document" → logo_uri): the document's logo_uri is fetched by us in the background through the
// SSRF-safe fetcher (PNG, JPEG, GIF or WebP only, never SVG, at most 256 KiB), stored in
// `client_logos`, served from our origin at /clients/logo?client_id=… with a `sandbox` CSP, and
// fetched again only when logo_uri changes; without a usable one, we draw a monogram (SVG).
//
// The shared nginx fixture (tls_fixture.mjs) serves documents on partner.test and logos on
// img.partner.test (both in its certificate), with image MIME types.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { api, count, q, sleep, startServer } from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import { assertRegistered, cimdDoc, findCheck, nextSourceAddress, registration, uid, waitFor } from './cimd_common.mjs';

// ---------------------------------------------------------------------------------------------
// Images.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A valid w×h RGBA PNG filled with one colour. */
function makePng(w, h, [r, g, b, a] = [255, 0, 0, 255]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  const row = Buffer.alloc(1 + 4 * w);
  for (let x = 0; x < w; x++) row.set([r, g, b, a], 1 + 4 * x);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** The classic 1×1 PNG. */
const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
/** A 1×1 transparent GIF. */
const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
/** A valid PNG followed by padding, exactly n bytes long. */
function pngOfSize(n) {
  const p = makePng(2, 2, [0, 128, 255, 255]);
  assert.ok(n >= p.length);
  return Buffer.concat([p, Buffer.alloc(n - p.length, 0x41)]);
}
const SVG_LOGO = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" id="partner-svg-marker">'
  + '<script>alert(1)</script><rect width="10" height="10" fill="red"/></svg>');
const KiB = 1024;

// ---------------------------------------------------------------------------------------------

const DOC_HOST = 'partner.test';
const IMG_HOST = 'img.partner.test';
/** A host name whose map entry is a special-use address (IPv4-mapped loopback): the policy refuses it
 * even with --cimd-allow-loopback, and a wrongful connection would reach this very nginx and be logged. */
const MAPPED_HOST = 'pub.test';
const OTHER_MAPPED_HOST = 'pub2.test';

let site;
before(async () => { site = await startTlsSite(); });
after(async () => { await site?.stop(); });

async function withServer(fn) {
  const server = await startServer({
    extraArgs: site.cimdArgs([
      [DOC_HOST, '127.0.0.1'], [IMG_HOST, '127.0.0.1'],
      [MAPPED_HOST, '[::ffff:127.0.0.1]'], [OTHER_MAPPED_HOST, '169.254.169.254'],
    ]),
  });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** Put an image at /<dir>/<unique>.<ext>; returns {path, uri}. */
function image(bytes, ext, { dir = 'img', host = IMG_HOST } = {}) {
  const path = `/${dir}/${uid()}.${ext}`;
  site.writeDoc(path, bytes);
  return { path, uri: site.url(host, path) };
}

/** Publish a document with these members; returns {url, path}. */
function doc(overrides = {}) {
  const path = `/docs/${uid()}.json`;
  const url = site.url(DOC_HOST, path);
  site.writeDoc(path, cimdDoc(url, overrides));
  return { url, path };
}

const register = (server, url) => registration(server, url, { localAddress: nextSourceAddress() });
const logoPath = (clientId) => `/clients/logo?client_id=${encodeURIComponent(clientId)}`;
const getLogo = (server, clientId) => api(server, 'GET', logoPath(clientId), { apiVersion: false });

/** Poll /clients/logo until it answers with this content type. */
async function waitForLogo(server, clientId, contentType, timeoutMs = 15000) {
  return waitFor(async () => {
    const r = await getLogo(server, clientId);
    return r.status === 200 && r.headers['content-type'] === contentType ? r : null;
  }, `GET ${logoPath(clientId)} answering ${contentType}`, { timeoutMs });
}

function cspDirectives(r) {
  const csp = r.headers['content-security-policy'];
  assert.equal(typeof csp, 'string', `a Content-Security-Policy header: ${JSON.stringify(r.headers)}`);
  return csp.split(';').map((d) => d.trim()).filter(Boolean);
}

/** /clients/logo answers our monogram: SVG starting with <svg, the initial as its text, never the partner's SVG. */
function assertMonogram(r, initial) {
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'image/svg+xml', JSON.stringify(r.headers));
  assert.ok(r.text.startsWith('<svg'), r.text);
  assert.match(r.text, new RegExp(`>${initial}</text>`), `the monogram shows ${initial}: ${r.text}`);
  assert.ok(!r.text.includes('partner-svg-marker') && !/<script/i.test(r.text), `not the partner's SVG: ${r.text}`);
}

function logoRows(server, clientId) {
  return count(server, 'SELECT COUNT(*) FROM client_logos WHERE client_id = ?', clientId);
}

/** Wait until nginx has logged a fetch of path, then give the server a moment to finish with it. */
async function afterFetched(path, n = 1) {
  assert.equal(await site.waitForFetchCount(path, n), n, `${path} fetched ${n} time(s)`);
  await sleep(1000);
}

// =============================================================================================
describe('a PNG logo is fetched once, stored and served from our origin', () => {
  test('PNG: /clients/logo answers 200 image/png with exactly those bytes and a sandbox CSP; fetched once; a second registration does not fetch it again', async () => {
    await withServer(async (server) => {
      const png = image(PNG_1X1, 'png');
      const { url, path } = doc({ client_name: 'Logo Partner', logo_uri: png.uri });
      assertRegistered(await register(server, url), url);

      const r = await waitForLogo(server, url, 'image/png');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'image/png');
      assert.ok(r.raw.equals(PNG_1X1), `the stored bytes are the served ones (got ${r.raw.length} bytes)`);
      assert.ok(cspDirectives(r).includes('sandbox'), `CSP has sandbox: ${r.headers['content-security-policy']}`);

      const fetches = site.fetches(png.path);
      assert.equal(fetches.length, 1, 'the logo was fetched once');
      assert.equal(fetches[0].m, 'GET');
      assert.equal(fetches[0].s, 200);
      assert.equal(fetches[0].h, IMG_HOST);
      assert.equal(fetches[0].ua, `provisiond-cimd/1.0 (+${server.url})`, 'the same fetcher (User-Agent) as for documents');

      const rows = q(server, 'SELECT client_id, source_uri, content_type, data_base64 FROM client_logos WHERE client_id = ?', url);
      assert.deepEqual(rows, [{ client_id: url, source_uri: png.uri, content_type: 'image/png', data_base64: PNG_1X1.toString('base64') }]);

      // Registering again (the document is re-fetched) with the same logo_uri: no new logo fetch.
      assertRegistered(await register(server, url), url);
      assert.equal(site.fetchCount(path), 2, 'the document was fetched again');
      await sleep(1500);
      assert.equal(site.fetchCount(png.path), 1, 'the logo was not fetched again');
      const again = await getLogo(server, url);
      assert.equal(again.status, 200);
      assert.equal(again.headers['content-type'], 'image/png');
      assert.ok(again.raw.equals(PNG_1X1));
    });
  });

  test('the same logo_uri with new bytes behind it is not re-fetched (no swap after review); a changed logo_uri is fetched and served', async () => {
    await withServer(async (server) => {
      const first = image(PNG_1X1, 'png');
      const { url } = doc({ client_name: 'Swap Partner', logo_uri: first.uri });
      assertRegistered(await register(server, url), url);
      await waitForLogo(server, url, 'image/png');

      const other = makePng(3, 3, [0, 255, 0, 255]);
      site.writeDoc(first.path, other);                 // the partner swaps the image behind the same URL
      assertRegistered(await register(server, url), url);
      await sleep(1500);
      assert.equal(site.fetchCount(first.path), 1);
      assert.ok((await getLogo(server, url)).raw.equals(PNG_1X1), 'still the reviewed image');

      const second = image(other, 'png');
      site.writeDoc(new URL(url).pathname, cimdDoc(url, { client_name: 'Swap Partner', logo_uri: second.uri }));
      assertRegistered(await register(server, url), url);
      const r = await waitFor(async () => {
        const x = await getLogo(server, url);
        return x.status === 200 && x.raw.equals(other) ? x : null;
      }, 'the new logo served');
      assert.equal(r.headers['content-type'], 'image/png');
      assert.equal(site.fetchCount(second.path), 1);
      assert.equal(site.fetchCount(first.path), 1);
      assert.deepEqual(q(server, 'SELECT source_uri FROM client_logos WHERE client_id = ?', url), [{ source_uri: second.uri }]);
    });
  });

  test('logo_uri removed from the document → the monogram again', async () => {
    await withServer(async (server) => {
      const png = image(PNG_1X1, 'png');
      const { url, path } = doc({ client_name: 'Gone Logo', logo_uri: png.uri });
      assertRegistered(await register(server, url), url);
      await waitForLogo(server, url, 'image/png');
      site.writeDoc(path, cimdDoc(url, { client_name: 'Gone Logo' }));
      assertRegistered(await register(server, url), url);
      const r = await waitForLogo(server, url, 'image/svg+xml');
      assertMonogram(r, 'G');
      assert.equal(site.fetchCount(png.path), 1);
    });
  });

  test('GIF is one of the accepted types: served as image/gif with the same bytes', async () => {
    await withServer(async (server) => {
      const gif = image(GIF_1X1, 'gif');
      const { url } = doc({ client_name: 'Gif Partner', logo_uri: gif.uri });
      assertRegistered(await register(server, url), url);
      const r = await waitForLogo(server, url, 'image/gif');
      assert.ok(r.raw.equals(GIF_1X1));
      assert.ok(cspDirectives(r).includes('sandbox'));
      assert.equal(site.fetchCount(gif.path), 1);
    });
  });
});

// =============================================================================================
describe('logos that are not stored', () => {
  test('image/svg+xml is never served: the monogram (with the initial) instead, and no client_logos row', async () => {
    await withServer(async (server) => {
      const svg = image(SVG_LOGO, 'svg');
      const { url } = doc({ client_name: 'zeta Partner', logo_uri: svg.uri });
      assertRegistered(await register(server, url), url);
      await afterFetched(svg.path);
      assertMonogram(await getLogo(server, url), 'Z');
      assert.equal(logoRows(server, url), 0);
      assert.equal(count(server, 'SELECT COUNT(*) FROM client_logos'), 0);
    });
  });

  test('a logo of 256 KiB + 1 byte is not stored (Content-Length); exactly 256 KiB is', async () => {
    await withServer(async (server) => {
      const big = image(pngOfSize(256 * KiB + 1), 'png');
      const a = doc({ client_name: 'Big Logo', logo_uri: big.uri });
      assertRegistered(await register(server, a.url), a.url);
      await afterFetched(big.path);
      assert.equal(logoRows(server, a.url), 0);
      assertMonogram(await getLogo(server, a.url), 'B');

      const exact = pngOfSize(256 * KiB);
      const ok = image(exact, 'png');
      const b = doc({ client_name: 'Edge Logo', logo_uri: ok.uri });
      assertRegistered(await register(server, b.url), b.url);
      const r = await waitForLogo(server, b.url, 'image/png');
      assert.equal(r.raw.length, 256 * KiB);
      assert.ok(r.raw.equals(exact));
    });
  });

  test('a logo larger than 256 KiB without Content-Length (chunked) is not stored either', async () => {
    await withServer(async (server) => {
      const big = image(pngOfSize(300 * KiB), 'png', { dir: 'chunked' });
      const { url } = doc({ client_name: 'Chunky', logo_uri: big.uri });
      assertRegistered(await register(server, url), url);
      await afterFetched(big.path);
      assert.equal(logoRows(server, url), 0);
      assertMonogram(await getLogo(server, url), 'C');
    });
  });

  for (const [label, makeUri, initial] of [
    ['an http:// logo_uri', (p) => `http://${IMG_HOST}:${site.port}${p}`, 'H'],
    ['an IP-literal logo_uri', (p) => `https://127.0.0.1:${site.port}${p}`, 'I'],
    ['a logo_uri on localhost', (p) => `https://localhost:${site.port}${p}`, 'L'],
  ]) {
    test(`${label} is dropped at validation (the metadata_document check says so) and never fetched`, async () => {
      await withServer(async (server) => {
        const path = `/img/${uid()}.png`;
        site.writeDoc(path, PNG_1X1);
        const { url } = doc({ client_name: `${initial}ost Partner`, logo_uri: makeUri(path) });
        const res = await register(server, url);
        const body = assertRegistered(res, url);
        const md = findCheck(body.checks, 'metadata_document');
        assert.equal(md.ok, true, JSON.stringify(md));
        assert.match(md.detail, /logo_uri/, `the check names logo_uri: ${md.detail}`);
        await sleep(1500);
        assert.equal(site.fetchCount(path), 0, 'never fetched');
        assert.equal(logoRows(server, url), 0);
        assertMonogram(await getLogo(server, url), initial);
      });
    });
  }

  test('a logo host mapped to a special-use address is refused without connecting (even with --cimd-allow-loopback)', async () => {
    await withServer(async (server) => {
      // pub.test → ::ffff:127.0.0.1 (IPv4-mapped): a connection would land on this nginx and be logged.
      const mapped = image(PNG_1X1, 'png', { host: MAPPED_HOST });
      const a = doc({ client_name: 'Mapped Partner', logo_uri: mapped.uri });
      assertRegistered(await register(server, a.url), a.url);
      // pub2.test → 169.254.169.254 (cloud metadata).
      const meta = image(PNG_1X1, 'png', { host: OTHER_MAPPED_HOST });
      const b = doc({ client_name: 'Metadata Partner', logo_uri: meta.uri });
      assertRegistered(await register(server, b.url), b.url);
      await sleep(2000);
      assert.equal(site.fetchCount(mapped.path), 0, 'no connection to the IPv4-mapped address');
      assert.equal(logoRows(server, a.url), 0);
      assert.equal(logoRows(server, b.url), 0);
      assertMonogram(await getLogo(server, a.url), 'M');
      assertMonogram(await getLogo(server, b.url), 'M');
    });
  });
});
