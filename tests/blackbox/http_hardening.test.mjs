// The HTTP layer under attack (issue "Hardening"): descriptor exhaustion, one address holding every
// connection slot, request smuggling through Transfer-Encoding, malformed chunk sizes, and the
// detail of a 5xx reaching the log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { DatabaseSync } from 'node:sqlite';

import {
  ON_POSTGRES, P, TOKEN_PATH, api, count, rawHttp, rawSocket, registerClient, setLimit, sleep, startServer, statusOfRaw,
  uniqueEmail, pkce,
} from './harness.mjs';

/** Opens `n` idle TCP connections from `localAddress`; resolves once each is connected or refused. */
async function openIdle(server, n, localAddress = '127.0.0.1') {
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise((res) => {
    const s = net.connect({ port: server.port, host: '127.0.0.1', localAddress });
    s.on('connect', () => res(s));
    s.on('error', () => res(s));
  })));
  return sockets;
}

/** One GET on a fresh connection from `localAddress`: the status, or null when the server closed it unanswered. */
function getFrom(server, path, localAddress, timeoutMs = 3000) {
  return new Promise((res) => {
    const s = net.connect({ port: server.port, host: '127.0.0.1', localAddress });
    let text = '';
    const timer = setTimeout(() => { s.destroy(); res(null); }, timeoutMs);
    s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); res(statusOfRaw(text)); });
  });
}

const accessLines = (server) => server.stderr().split('\n').filter((l) => l.startsWith('{'))
  .map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);

/** The access-log line of a request; stderr arrives on its own pipe, so it may trail the response. */
async function accessLine(server, requestId) {
  for (let i = 0; i < 50; i += 1) {
    const line = accessLines(server).find((l) => l.request_id === requestId);
    if (line) return line;
    await sleep(50);
  }
  assert.fail(`no access-log line for ${requestId}`);
}

describe('descriptors: the connection cap stays below RLIMIT_NOFILE', () => {
  test('under ulimit -n 128 the cap is lowered and said at start; 200 idle connections neither spin nor starve the database', async () => {
    const server = await startServer({
      wrapper: ['prlimit', '--nofile=128:128'],
      extraArgs: ['--threads', '4', '--max-connections-per-address', '0'],
    });
    try {
      const line = server.stderr().split('\n').find((l) => l.includes('descriptor limit'));
      assert.ok(line, `a start line names the descriptor limit:\n${server.stderr()}`);
      const m = /descriptor limit 128 \(was 128\); serving at most (\d+) connections \(--max-connections 1024\)/.exec(line);
      assert.ok(m, line);
      const cap = Number(m[1]);
      assert.ok(cap > 0 && cap < 128, `cap ${cap} below the descriptor limit`);
      assert.match(server.stderr(), /--max-connections 1024 does not fit below the descriptor limit 128: capped at/);

      const idle = await openIdle(server, 200);
      await sleep(1500);
      // Past the cap connections are refused at once, so the server never runs out of descriptors:
      // no "accept failed" flood (before: millions of lines and a spinning core).
      const acceptFailures = server.stderr().split('\n').filter((l) => l.includes('accept failed')).length;
      assert.ok(acceptFailures <= 1, `accept failure lines: ${acceptFailures}`);
      for (const s of idle) s.destroy();
      await sleep(300);
      // The server still has descriptors for its database: a write goes through.
      const clientId = await registerClient(server);
      const { challenge } = pkce();
      const r = await api(server, 'POST', `${P}/account_requests`, {
        body: { id: 'fd-1', email: uniqueEmail('fd'), client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.type, 'oauth');
    } finally {
      await server.stop();
    }
  });
});

/** A sample from the server's /metrics on its admin listener; 0 while the series is absent. */
async function metric(server, series) {
  const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Polls `series` until it reads `want` (or 5 s pass); returns the last value read. */
async function metricReaches(server, series, want) {
  let last;
  for (let i = 0; i < 100; i += 1) {
    last = await metric(server, series);
    if (last === want) break;
    await sleep(50);
  }
  return last;
}

describe('per-address connection cap', () => {
  let server;
  before(async () => { server = await startServer({ extraArgs: ['--max-connections-per-address', '5'] }); });
  after(async () => { await server.stop(); });

  const open = 'provisiond_http_connections_open';
  const refused = 'provisiond_http_connections_refused_total{reason="per_address"}';

  test('a 6th connection from one address is closed unanswered; another address is served; a freed slot is reused', async () => {
    // The readiness probe's connection may still be closing on the server: start from none, so
    // the 5 below are the address's 5 (the server counts a connection until its coroutine ends).
    assert.equal(await metricReaches(server, open, 0), 0, 'no connection open before the test');
    const held = await openIdle(server, 5, '127.0.0.1');
    assert.equal(await metricReaches(server, open, 5), 5, 'the server holds the 5 idle connections');
    assert.equal(await metric(server, refused), 0, 'none of the 5 was refused');
    assert.equal(await getFrom(server, '/_health', '127.0.0.1'), null, 'the 6th connection from 127.0.0.1 is refused');
    assert.equal(await metric(server, refused), 1, 'the refusal is counted');
    assert.equal(await getFrom(server, '/_health', '127.0.0.2'), 200, 'positive control: another address');
    held[0].destroy();
    assert.equal(await metricReaches(server, open, 4), 4, 'the freed slot is released');
    assert.equal(await getFrom(server, '/_health', '127.0.0.1'), 200, 'the freed slot serves 127.0.0.1 again');
    for (const s of held) s.destroy();
    assert.match(server.stderr(), /5 per address/);
  });
});

describe('request smuggling: Transfer-Encoding must end in chunked (RFC 9112 §6.3)', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  const smuggled = 'GET /_health HTTP/1.1\r\nHost: x\r\n\r\n';
  for (const te of [['xchunked'], ['gzip'], ['chunked, identity'], ['identity'], ['chunked', 'gzip']]) {
    test(`Transfer-Encoding: ${te.join(' + ')} → one 400, closed; the body never runs as a request`, async () => {
      const head = `POST ${TOKEN_PATH} HTTP/1.1\r\nHost: x\r\n${te.map((v) => `Transfer-Encoding: ${v}\r\n`).join('')}\r\n`;
      const r = await rawSocket(server, head + smuggled, { timeoutMs: 5000 });
      assert.equal(statusOfRaw(r.text), 400, r.text);
      assert.equal(r.closed, true, 'the connection is closed');
      assert.equal((r.text.match(/HTTP\/1\.1 /g) || []).length, 1, `exactly one response:\n${r.text}`);
      assert.match(r.text, /Connection: close/i);
      const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4));
      if (te.length === 1) {
        assert.equal(body.error, 'invalid_request'); // the token route's OAuth envelope
        assert.match(body.error_description, /Transfer-Encoding must end with chunked/);
      } else {
        // Beast refuses a repeated Transfer-Encoding while reading the header, before the route is known.
        assert.deepEqual(body, { error: { code: 'invalid_request', message: 'Malformed HTTP request' } });
      }
    });
  }

  // Beast frames by the first `chunked`; a proxy may frame by the last, or by Content-Length.
  for (const head of [
    'Transfer-Encoding: chunked, chunked\r\nContent-Length: 5\r\n',
    'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n',
    'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
  ]) {
    test(`${head.replace(/\r\n/g, ' | ')}→ one 400, closed`, async () => {
      const r = await rawSocket(server, `POST ${TOKEN_PATH} HTTP/1.1\r\nHost: x\r\n${head}\r\n0\r\n\r\n${smuggled}`);
      assert.equal(statusOfRaw(r.text), 400, r.text);
      assert.equal(r.closed, true);
      assert.equal((r.text.match(/HTTP\/1\.1 /g) || []).length, 1, `exactly one response:\n${r.text}`);
    });
  }

  test('positive control: a well-formed chunked body is read', async () => {
    const body = 'grant_type=password';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const r = await rawSocket(server,
      `POST ${TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
    assert.equal(statusOfRaw(r.text), 400, r.text);
    assert.match(r.text, /unsupported_grant_type/);
  });

  for (const [name, size] of [['negative', '-5'], ['past 2^64', 'FFFFFFFFFFFFFFFFF'], ['not hex', 'zz']]) {
    test(`a ${name} chunk size gets a 400, not a silent close`, async () => {
      const r = await rawSocket(server,
        `POST ${TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`);
      assert.equal(statusOfRaw(r.text), 400, JSON.stringify(r.text));
      assert.equal(r.closed, true);
      assert.match(r.text, /invalid_request/);
    });
  }
});

/**
 * Another process locks the storage the request needs until release(): on SQLite an EXCLUSIVE
 * transaction on the file; on PostgreSQL a psql session holding LOCK TABLE users IN ACCESS
 * EXCLUSIVE MODE (the server's statements wait for it until their lock_timeout).
 */
async function lockStorage(server) {
  if (!ON_POSTGRES) {
    const lock = new DatabaseSync(server.dbPath);
    lock.exec('PRAGMA busy_timeout = 5000');
    lock.exec('BEGIN EXCLUSIVE');
    return { release: async () => { lock.exec('ROLLBACK'); lock.close(); } };
  }
  const psql = spawn('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', server.database], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  psql.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  psql.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const exited = new Promise((res) => psql.on('close', res));
  let gone = false;
  exited.then(() => { gone = true; });
  psql.stdin.write('BEGIN;\nLOCK TABLE users IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n');
  const deadline = Date.now() + 10000;
  while (!out.includes('locked')) {
    if (gone || Date.now() > deadline) {
      psql.kill('SIGKILL');
      assert.fail(`psql did not take the lock: ${out}\n${err}`);
    }
    await sleep(20);
  }
  return {
    release: async () => {
      psql.stdin.end('ROLLBACK;\n');
      await exited;
      assert.equal(err, '', 'psql reported nothing');
    },
  };
}

describe('a 5xx leaves its detail in the log', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  test('storage locked by another process: 503 with Retry-After; the access-log line with its request id carries the detail', { timeout: 60000 }, async () => {
    const clientId = await registerClient(server);
    const lock = await lockStorage(server);
    let r;
    try {
      const { challenge } = pkce();
      r = await api(server, 'POST', `${P}/account_requests`, {
        body: { id: 'locked-1', email: uniqueEmail('locked'), client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' },
        timeoutMs: 30000,
      });
    } finally {
      await lock.release();
    }
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.code, 'service_unavailable');
    assert.equal(r.headers['retry-after'], '5');
    const requestId = r.headers['x-request-id'];
    const line = await accessLine(server, requestId);
    assert.equal(line.status, 503);
    // SQLite: "database is locked"; PostgreSQL: "canceling statement due to lock timeout (SQLSTATE 55P03)".
    assert.match(line.error_detail, ON_POSTGRES ? /lock timeout[\s\S]*\(SQLSTATE 55P03\)/ : /locked|busy/i, JSON.stringify(line));
    assert.equal(count(server, 'SELECT count(*) FROM users'), 0, 'nothing stored');
    // Client errors carry no detail field.
    const bad = await rawHttp(server, 'GET', '/nope');
    const badLine = await accessLine(server, bad.headers['x-request-id']);
    assert.equal(badLine.status, 404);
    assert.equal(badLine.error_detail, undefined);
  });
});

describe('I/O threads never wait on storage', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server.stop(); });

  test('while another process holds the database lock and account requests wait on it, /_health, static assets and unknown paths answer within one second; the waiting requests end in 200 (stored) or the documented 503', { timeout: 60000 }, async () => {
    const clientId = await registerClient(server);
    await setLimit(server, clientId, 'account_requests', 'unlimited');
    const lock = await lockStorage(server);
    const emails = Array.from({ length: 40 }, (_, i) => uniqueEmail(`waiting${i}`));
    let waiting;
    let settled = 0;
    try {
      // More than the handler threads (32 by default): every handler thread is held by storage,
      // and requests queue for them.
      waiting = emails.map((email, i) => {
        const { challenge } = pkce();
        return api(server, 'POST', `${P}/account_requests`, {
          body: { id: `waiting-${i}`, email, client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' },
          timeoutMs: 30000,
        }).finally(() => { settled += 1; });
      });
      await sleep(500);
      assert.equal(settled, 0, 'the account requests are waiting on the lock');
      for (const [method, path, status] of [['GET', '/_health', 200], ['GET', '/static/provisiond.css', 200], ['GET', '/nope', 404]]) {
        const started = Date.now();
        const r = await rawHttp(server, method, path);
        const ms = Date.now() - started;
        assert.equal(r.status, status, `${path}: ${r.status}`);
        assert.ok(ms < 1000, `${path} answered in ${ms} ms while storage was locked (bound: 1000 ms)`);
      }
      assert.equal(settled, 0, 'still waiting after the probes');
    } finally {
      await lock.release();
    }
    const answers = await Promise.all(waiting);
    let stored = 0;
    for (const r of answers) {
      if (r.status === 200) {
        stored += 1;
        continue;
      }
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.code, 'service_unavailable');
      assert.equal(r.headers['retry-after'], '5');
    }
    assert.equal(count(server, `SELECT count(*) FROM users WHERE email IN (${emails.map((e) => `'${e}'`).join(',')})`), stored,
      'every 200 is a stored account, every 503 stored nothing');
  });
});
