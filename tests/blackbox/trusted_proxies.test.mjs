// Trusted proxies: --trusted-proxies (CIDR blocks or addresses, comma-separated; env
// PROVISIOND_TRUSTED_PROXIES) and --trusted-proxy-header (x-forwarded-for, the default, or
// forwarded for RFC 7239). When the TCP peer is trusted, the client address is the right-most entry
// of that header that is not itself trusted (an entry that is not an address stops the walk at the
// last trusted hop); otherwise the header is ignored. The address is the "remote" of the JSON
// access-log line and the key of every per-address limit.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import {
  BIN, avoidWindowBoundary, count, freePort, makeTempDir, pkce, rawHttp, registerClient, runProcess, sleep,
  startServer,
} from './harness.mjs';
import { stopServer } from '../e2e/e2e.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await stopServer(s);
});

async function serverWith(extraArgs, env = {}) {
  const s = await startServer({ extraArgs, env });
  servers.push(s);
  return s;
}

/** The access-log line of one request, found by its X-Request-Id (waits for the log to flush). */
async function accessLogLine(server, requestId) {
  const deadline = Date.now() + 5000;
  for (;;) {
    for (const line of server.stderr().split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry;
      try { entry = JSON.parse(line); } catch { continue; }
      if (entry.request_id === requestId) return entry;
    }
    if (Date.now() > deadline) assert.fail(`no access-log line with request_id ${requestId} in:\n${server.stderr().slice(-3000)}`);
    await sleep(25);
  }
}

/** GET /_health with these headers; returns the "remote" the access log recorded for it. */
async function remoteOf(server, headers) {
  const r = await rawHttp(server, 'GET', '/_health', { headers });
  assert.equal(r.status, 200, r.text);
  const id = r.headers['x-request-id'];
  assert.ok(id, 'X-Request-Id');
  return (await accessLogLine(server, id)).remote;
}

const XFF = (v) => ({ 'x-forwarded-for': v });

// =============================================================================================
describe('client address in the access log', () => {
  test('without --trusted-proxies, X-Forwarded-For and Forwarded are ignored', async () => {
    const s = await serverWith([]);
    assert.equal(await remoteOf(s, {}), '127.0.0.1');
    assert.equal(await remoteOf(s, XFF('203.0.113.9')), '127.0.0.1');
    assert.equal(await remoteOf(s, XFF('198.51.100.1, 203.0.113.9')), '127.0.0.1');
    assert.equal(await remoteOf(s, { forwarded: 'for=203.0.113.9' }), '127.0.0.1');
  });

  test('a peer outside the trusted networks: the header is ignored', async () => {
    const s = await serverWith(['--trusted-proxies', '10.0.0.0/8,192.168.0.1']);
    assert.equal(await remoteOf(s, XFF('203.0.113.9')), '127.0.0.1');
  });

  test('--trusted-proxies 127.0.0.1: the right-most untrusted X-Forwarded-For entry', async () => {
    const s = await serverWith(['--trusted-proxies', '127.0.0.1']);
    assert.equal(await remoteOf(s, {}), '127.0.0.1', 'no header: the peer');
    assert.equal(await remoteOf(s, XFF('203.0.113.9')), '203.0.113.9');
    assert.equal(await remoteOf(s, XFF('198.51.100.1, 203.0.113.9')), '203.0.113.9', 'right-most, not left-most (which the client wrote)');
    assert.equal(await remoteOf(s, XFF('198.51.100.1,203.0.113.9')), '203.0.113.9', 'without a space');
    assert.equal(await remoteOf(s, XFF('198.51.100.1, 127.0.0.1')), '198.51.100.1', 'a trusted hop is skipped');
    // An entry that is not an address stops the walk at the last trusted hop: the proxy itself.
    assert.equal(await remoteOf(s, XFF('198.51.100.1, not-an-ip')), '127.0.0.1');
    assert.equal(await remoteOf(s, XFF('not-an-ip, 203.0.113.9')), '203.0.113.9', 'garbage left of the answer does not matter');
    assert.equal(await remoteOf(s, XFF('203.0.113.9:4711')), '203.0.113.9', 'an IPv4 entry with a port');
    assert.equal(await remoteOf(s, XFF('2001:db8::7')), '2001:db8::7', 'an IPv6 entry');
    // Forwarded is not the configured header: ignored.
    assert.equal(await remoteOf(s, { forwarded: 'for=198.51.100.77' }), '127.0.0.1');
  });

  test('--trusted-proxies 127.0.0.1,203.0.113.0/24: trusted hops inside the block are skipped', async () => {
    const s = await serverWith(['--trusted-proxies', '127.0.0.1,203.0.113.0/24']);
    assert.equal(await remoteOf(s, XFF('198.51.100.1, 203.0.113.9')), '198.51.100.1');
    assert.equal(await remoteOf(s, XFF('192.0.2.5, 198.51.100.1, 203.0.113.9, 203.0.113.200')), '198.51.100.1');
    assert.equal(await remoteOf(s, XFF('198.51.100.1, 203.0.114.9')), '203.0.114.9', 'just outside the /24 is not trusted');
    // Two header lines are one list, in the order received.
    assert.equal(await remoteOf(s, XFF(['198.51.100.1', '203.0.113.9'])), '198.51.100.1');
  });

  test('PROVISIOND_TRUSTED_PROXIES (comma-separated in the environment) does the same', async () => {
    const s = await serverWith([], { PROVISIOND_TRUSTED_PROXIES: '127.0.0.1,203.0.113.0/24' });
    assert.equal(await remoteOf(s, XFF('198.51.100.1, 203.0.113.9')), '198.51.100.1');
  });

  test('--trusted-proxy-header forwarded: RFC 7239 for= is read, X-Forwarded-For is ignored', async () => {
    const s = await serverWith(['--trusted-proxies', '127.0.0.0/8', '--trusted-proxy-header', 'forwarded']);
    assert.equal(await remoteOf(s, { forwarded: 'for="[2001:db8::1]:4711"' }), '2001:db8::1');
    assert.equal(await remoteOf(s, { forwarded: 'for=198.51.100.3;proto=https;by=127.0.0.1' }), '198.51.100.3');
    assert.equal(await remoteOf(s, { forwarded: 'For="198.51.100.4:8080"' }), '198.51.100.4', 'parameter names are case-insensitive');
    assert.equal(await remoteOf(s, { forwarded: 'for=192.0.2.60, for=198.51.100.5' }), '198.51.100.5', 'right-most element');
    assert.equal(await remoteOf(s, XFF('203.0.113.9')), '127.0.0.1', 'X-Forwarded-For alone is ignored');
    assert.equal(await remoteOf(s, { ...XFF('203.0.113.9'), forwarded: 'for=198.51.100.6' }), '198.51.100.6', 'with both, Forwarded wins');
    assert.equal(await remoteOf(s, { forwarded: 'for=unknown' }), '127.0.0.1', 'an obfuscated node stops the walk');
  });
});

// =============================================================================================
describe('invalid settings stop the server at start', () => {
  async function serveWith(args, env = {}) {
    const dir = await makeTempDir();
    const port = await freePort();
    const r = await runProcess(BIN, [
      'serve', '--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`,
      '--database', join(dir, 'provisiond.db'), '--outbox-dir', join(dir, 'outbox'), ...args,
    ], { env, timeoutMs: 20000 });
    assert.equal(r.signal, null, `provisiond must exit by itself, not be killed after 20 s:\n${r.stderr}`);
    return r;
  }

  for (const [label, args, env, named] of [
    ['--trusted-proxies nonsense', ['--trusted-proxies', 'nonsense'], {}, 'nonsense'],
    ['a bad entry after a good one', ['--trusted-proxies', '127.0.0.1,10.0.0.0/33'], {}, '10.0.0.0/33'],
    ['an empty prefix', ['--trusted-proxies', '10.0.0.0/'], {}, '10.0.0.0/'],
    ['PROVISIOND_TRUSTED_PROXIES=nonsense', [], { PROVISIOND_TRUSTED_PROXIES: '127.0.0.1,nonsense' }, 'nonsense'],
    ['--trusted-proxy-header x-real-ip', ['--trusted-proxies', '127.0.0.1', '--trusted-proxy-header', 'x-real-ip'], {}, 'x-real-ip'],
  ]) {
    test(`${label}: exits non-zero and names the entry`, async () => {
      const r = await serveWith(args, env);
      assert.ok(Number.isInteger(r.code) && r.code !== 0, `exit code ${r.code}; stderr:\n${r.stderr}`);
      assert.ok(r.stderr.includes(named), `stderr names ${JSON.stringify(named)}:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /not expected/, 'the option is known: the value is what is refused');
      assert.doesNotMatch(r.stderr, /listening on/, 'it never served');
    });
  }
});

// =============================================================================================
describe('per-address limits use the forwarded address', () => {
  test('/oauth/authorize (60 per minute per address): two forwarded addresses have separate budgets', async () => {
    const s = await serverWith(['--trusted-proxies', '127.0.0.1']);
    const redirectUri = 'https://partner.example/callback';
    const clientId = await registerClient(s, { redirectUri });
    const A = '198.51.100.21';
    const B = '198.51.100.22';
    const authorize = async (address) => {
      const p = new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state: 'st',
        code_challenge: pkce().challenge, code_challenge_method: 'S256',
      });
      const r = await rawHttp(s, 'GET', `/oauth/authorize?${p}`, { headers: address ? XFF(address) : {} });
      assert.equal(r.status, 302, `authorize: ${r.status} ${r.text.slice(0, 300)}`);
      const to = new URL(r.headers.location, s.url);
      if (to.origin === s.url && to.pathname === '/api/agentic/authorize') return 'consent';
      assert.equal(`${to.origin}${to.pathname}`, redirectUri, `authorize redirected to ${r.headers.location}`);
      return to.searchParams.get('error');
    };

    await avoidWindowBoundary(60, 20); // the 61 requests below must share one minute
    const first = await Promise.all(Array.from({ length: 60 }, () => authorize(A)));
    assert.deepEqual(first, Array(60).fill('consent'), 'the first 60 from A');
    assert.equal(await authorize(A), 'temporarily_unavailable', 'the 61st from A');
    assert.equal(await authorize(B), 'consent', 'B, behind the same proxy, has its own budget');
    assert.equal(await authorize(null), 'consent', 'and so does the proxy itself');
    assert.equal(await authorize(A), 'temporarily_unavailable', 'A is still over');

    const window = Math.floor(Date.now() / 60000) * 60;
    const counter = (addr) => count(s, 'SELECT COALESCE(SUM(count), 0) FROM rate_limit_counters WHERE bucket = ? AND window_start = ?', `authorize:${addr}`, window);
    assert.equal(counter(A), 62);
    assert.equal(counter(B), 1);
    assert.equal(counter('127.0.0.1'), 1);
    assert.equal(count(s, 'SELECT COUNT(*) FROM authorization_requests WHERE client_id = ?', clientId), 62,
      'a row per admitted request, none for the refused ones');
  });
});
