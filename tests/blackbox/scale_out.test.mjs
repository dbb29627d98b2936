// The scale-out example, run as shipped: deploy/scale-out/nginx.conf (deploy/README.md "Several
// processes on one PostgreSQL database") with Debian's nginx in front of two provisiond processes
// that share one database (one SQLite file by default; one PostgreSQL database with
// PROVISIOND_TEST_BACKEND=postgres). The example is rewritten only where tests/package/run.sh
// rewrites deploy/nginx/provisiond.conf: listen ports (loopback, free), the IPv6 listens dropped, the
// upstream ports (the two processes' own), and a throwaway certificate for auth.example.com.
//
// Clients talk TLS to nginx from 127.0.0.2 (trusting the throwaway certificate, SNI and Host
// auth.example.com), the way a partner does; the processes run with --trusted-proxies 127.0.0.1
// and must log the client nginx saw. Every response through nginx must be what the direct API
// answers (status, body shape, provisiond's headers) and match docs/openapi.json; each proxied
// request is found, by its X-Request-Id, in exactly one process's access log.
//
// Then one process stops cleanly: the flow through nginx goes on (nginx skips the refused upstream,
// proxy_next_upstream error), and the process, started again on the same database, serves again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { join, resolve } from 'node:path';

import {
  API_VERSION, HERE, ON_POSTGRES, P, TOKEN_PATH, api, bearer, freePort, makeTempDir, pkce, registerClient,
  setLimit, sleep, startServer, uniqueEmail,
} from './harness.mjs';
import { checkResponse } from './openapi_validator.mjs';
import { nginxBinary, waitForPort } from './tls_fixture.mjs';

const BACKEND = ON_POSTGRES ? 'PostgreSQL (one database)' : 'SQLite (one file)';
const EXAMPLE = resolve(HERE, '../../deploy/scale-out/nginx.conf');
const HOST = 'auth.example.com';
const CLIENT_ADDRESS = '127.0.0.2';
// Both processes answer for one public address, as deploy/README.md sets it up. (The harness sets
// --public-url to each process's own direct URL and CLI11 takes a setting once, so the hosts that
// responses carry are set instead: access_configuration.host and consent URLs.)
const PUBLIC = `https://${HOST}`;
const PROCESS_ARGS = ['--trusted-proxies', '127.0.0.1', '--us-host', PUBLIC, '--eu-host', PUBLIC];
const REFRESHES = 3;

// ---------------------------------------------------------------------------------------------
// The example, rewritten for this machine.

/** Replace every `from` in text by `to`, failing if it does not occur exactly `times` times. */
function sub(text, from, to, times = 1) {
  const n = text.split(from).length - 1;
  assert.equal(n, times, `deploy/scale-out/nginx.conf no longer contains ${JSON.stringify(from)} ${times} time(s) (found ${n}); update this test's rewrite`);
  return text.split(from).join(to);
}

function rewriteExample({ httpPort, httpsPort, upstreamPorts: [p1, p2], certFile, keyFile }) {
  let t = readFileSync(EXAMPLE, 'utf8');
  t = sub(t, 'listen 80;', `listen 127.0.0.1:${httpPort};`);
  t = sub(t, 'listen 443 ssl', `listen 127.0.0.1:${httpsPort} ssl`);
  const before = t.split('\n').length;
  t = t.split('\n').filter((l) => !/^\s*listen \[::\]/.test(l)).join('\n');
  assert.equal(before - t.split('\n').length, 2, 'the example has two IPv6 listen lines (dropped here: the test machine may have no IPv6)');
  t = sub(t, 'server 127.0.0.1:8001 ', `server 127.0.0.1:${p1} `);
  t = sub(t, 'server 127.0.0.1:8002 ', `server 127.0.0.1:${p2} `);
  t = sub(t, `/etc/letsencrypt/live/${HOST}/fullchain.pem`, certFile);
  t = sub(t, `/etc/letsencrypt/live/${HOST}/privkey.pem`, keyFile);
  return t;
}

/** The main nginx.conf around the example: everything nginx writes stays in dir. */
function mainConf(dir) {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return `
worker_processes 1;
daemon off;
master_process on;
${asRoot ? 'user root root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
    log_format scaleout escape=json '{"remote":"$remote_addr","method":"$request_method","uri":"$request_uri",'
        '"status":$status,"upstream":"$upstream_addr","upstream_status":"$upstream_status",'
        '"request_id":"$upstream_http_x_request_id"}';
    access_log ${dir}/access.log scaleout;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    include ${dir}/site.conf;
}
`;
}

/** A throwaway self-signed certificate for auth.example.com (as tests/package/run.sh makes). */
function throwawayCert(dir) {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`,
    '-keyout', keyFile, '-out', certFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { keyFile, certFile, cert: readFileSync(certFile, 'utf8') };
}

// ---------------------------------------------------------------------------------------------
// A client of nginx: https (or http) to auth.example.com, resolved to 127.0.0.1, from 127.0.0.2.

let nginx = null; // {dir, proc, exited, httpPort, httpsPort, cert, errorLog(), accessLog()}
const proxiedIds = []; // X-Request-Id of every response nginx passed on from provisiond

function lookupLoopback(hostname, options, cb) {
  if (hostname !== HOST) { cb(new Error(`unexpected lookup of ${hostname}`)); return; }
  if (options && options.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

/** The body and headers harness.api() would send. */
function encode({ body, form, headers = {}, apiVersion = true }) {
  const h = {};
  let payload;
  if (form !== undefined) {
    payload = Buffer.from(new URLSearchParams(form).toString());
    h['content-type'] = 'application/x-www-form-urlencoded';
  } else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    h['content-type'] = 'application/json';
  }
  if (apiVersion === true) h['api-version'] = API_VERSION;
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  if (payload !== undefined) h['content-length'] = String(payload.length);
  return { headers: h, payload };
}

function viaNginxRaw(scheme, method, path, { headers = {}, payload, timeoutMs = 30000 } = {}) {
  const tlsOn = scheme === 'https';
  const port = tlsOn ? nginx.httpsPort : nginx.httpPort;
  return new Promise((res, rej) => {
    const req = (tlsOn ? https : http).request({
      hostname: HOST, port, path, method, headers, agent: false, lookup: lookupLoopback,
      localAddress: CLIENT_ADDRESS, ...(tlsOn ? { ca: nginx.cert, servername: HOST } : {}),
    }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        res({ status: resp.statusCode, headers: resp.headers, text, json });
      });
      resp.on('error', rej);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: ${method} ${scheme}://${HOST}:${port}${path}`)));
    req.on('error', rej);
    req.end(payload);
  });
}

/** Like harness api(), through nginx over TLS; the response is checked against docs/openapi.json. */
async function viaNginx(method, path, opts = {}) {
  const { headers, payload } = encode(opts);
  const r = await viaNginxRaw('https', method, path, { headers, payload, timeoutMs: opts.timeoutMs });
  if (r.headers['x-request-id']) proxiedIds.push(r.headers['x-request-id']);
  assert.equal(r.headers['strict-transport-security'], 'max-age=31536000', `HSTS from the example on ${method} ${path}`);
  checkResponse(method, path, r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The partner flow: account_requests → code exchange → resources → refresh ×REFRESHES → GET resource.

async function partnerFlow(send, clientId) {
  const pair = pkce();
  const steps = [];
  const step = async (name, r, status = 200) => {
    assert.equal(r.status, status, `${name}: ${r.status} ${r.text}`);
    steps.push({ name, r });
    return r;
  };
  const ar = await step('account_requests', await send('POST', `${P}/account_requests`, {
    body: {
      id: `req_${randomUUID()}`, email: uniqueEmail('scale'), name: 'Jane Doe', client_id: clientId,
      code_challenge: pair.challenge, code_challenge_method: 'S256', configuration: { region: 'US' },
    },
  }));
  assert.equal(ar.json.type, 'oauth', ar.text);
  const tok = await step('token (code)', await send('POST', TOKEN_PATH, {
    form: { grant_type: 'authorization_code', code: ar.json.oauth.code, code_verifier: pair.verifier }, apiVersion: false,
  }));
  const res = await step('resources', await send('POST', `${P}/resources`, { body: {}, headers: bearer(tok.json.access_token) }));
  let { refresh_token: refresh, access_token: access } = tok.json;
  for (let i = 0; i < REFRESHES; i++) {
    const r = await step(`token (refresh ${i + 1})`, await send('POST', TOKEN_PATH, {
      form: { grant_type: 'refresh_token', refresh_token: refresh }, apiVersion: false,
    }));
    assert.notEqual(r.json.refresh_token, refresh, 'the refresh token rotates');
    assert.notEqual(r.json.access_token, access);
    ({ refresh_token: refresh, access_token: access } = r.json);
  }
  // The last access token works; the first one was revoked by the rotations.
  await step('GET resource (new token)', await send('GET', `${P}/resources/${res.json.id}`, { headers: bearer(access) }));
  await step('GET resource (first token)', await send('GET', `${P}/resources/${res.json.id}`, { headers: bearer(tok.json.access_token) }), 401);
  return steps;
}

/** Structure of a JSON value: keys and types, not values. */
function shape(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.map(shape);
  if (typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape(v[k])]));
  return typeof v;
}

/** The headers provisiond sets, as a client sees them (transport and per-request ones left out). */
const PER_RESPONSE = new Set(['date', 'x-request-id', 'content-length', 'connection', 'keep-alive', 'transfer-encoding',
  'server', 'strict-transport-security']);
function ownHeaders(h) {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !PER_RESPONSE.has(k)).sort(([a], [b]) => a.localeCompare(b)));
}

/** Values that are the same for every flow of one client (everything else is per account). */
function stableValues(name, json) {
  if (name.startsWith('token')) return { token_type: json.token_type, expires_in: json.expires_in, scope: json.scope };
  if (name === 'account_requests') return { type: json.type };
  if (name === 'resources' || name.startsWith('GET resource (new')) {
    return { status: json.status, service_id: json.service_id, host: json.complete?.access_configuration?.host };
  }
  return json;
}

function assertSameAsDirect(direct, proxied, what) {
  assert.deepEqual(proxied.map((s) => s.name), direct.map((s) => s.name), what);
  for (const [i, d] of direct.entries()) {
    const p = proxied[i];
    const where = `${what}: ${d.name}`;
    assert.equal(p.r.status, d.r.status, where);
    assert.deepEqual(shape(p.r.json), shape(d.r.json), `${where}: body shape\nnginx:  ${p.r.text}\ndirect: ${d.r.text}`);
    assert.deepEqual(stableValues(d.name, p.r.json), stableValues(d.name, d.r.json), `${where}: values`);
    if (p.r.json?.complete) assert.equal(p.r.json.complete.access_configuration.host, PUBLIC, where);
    assert.deepEqual(ownHeaders(p.r.headers), ownHeaders(d.r.headers), `${where}: provisiond's headers`);
  }
}

// ---------------------------------------------------------------------------------------------
// Access logs.

/** Access-log lines a process wrote on stderr (from byte `from` on), by request id. */
function accessLines(server, from = 0) {
  const out = new Map();
  for (const line of server.stderr().slice(from).split('\n')) {
    if (!line.startsWith('{')) continue;
    let e;
    try { e = JSON.parse(line); } catch { continue; }
    if (e.log === 'access' && e.request_id) out.set(e.request_id, e);
  }
  return out;
}

/**
 * Every id was logged by exactly one of the processes, with remote 127.0.0.2; returns, per process,
 * how many of the ids it served. Waits a little for the log lines to arrive.
 */
async function whoServed(ids, procs) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const logs = procs.map(({ server, from = 0 }) => accessLines(server, from));
    const missing = ids.filter((id) => logs.filter((l) => l.has(id)).length !== 1);
    if (missing.length === 0) {
      for (const l of logs) {
        for (const id of ids) {
          const e = l.get(id);
          if (e) assert.equal(e.remote, CLIENT_ADDRESS, `the access log names the client nginx saw: ${JSON.stringify(e)}`);
        }
      }
      return logs.map((l) => ids.filter((id) => l.has(id)).length);
    }
    if (Date.now() > deadline) {
      assert.fail(`${missing.length} request id(s) not logged by exactly one process, e.g. ${missing[0]}\n` +
        `nginx access log tail:\n${nginx.accessLog().slice(-3000)}`);
    }
    await sleep(50);
  }
}

/** Concurrent flows through nginx; returns the request ids of their responses. */
async function concurrentFlows(n, clientId) {
  const start = proxiedIds.length;
  await Promise.all(Array.from({ length: n }, () => partnerFlow(viaNginx, clientId)));
  return proxiedIds.slice(start);
}

// ---------------------------------------------------------------------------------------------

describe(`deploy/scale-out/nginx.conf in front of two processes on one database: ${BACKEND}`, () => {
  let A;
  let B;
  let clientId;
  let direct; // the flow's steps straight at process A

  before(async () => {
    const nginxBin = nginxBinary();
    assert.ok(nginxBin, 'nginx is not installed (apt-get install -y nginx)');
    A = await startServer({ extraArgs: PROCESS_ARGS });
    B = await startServer({ extraArgs: PROCESS_ARGS, database: A.database });
    clientId = await registerClient(A, { name: 'Scale-out Partner' });
    for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(A, clientId, ep, 'unlimited');

    const dir = await makeTempDir('provisiond-scaleout-');
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    const { keyFile, certFile, cert } = throwawayCert(dir);
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'site.conf'), rewriteExample({ httpPort, httpsPort, upstreamPorts: [A.port, B.port], certFile, keyFile }));
    writeFileSync(join(dir, 'nginx.conf'), mainConf(dir));
    const base = ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')];
    const read = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
    nginx = { dir, bin: nginxBin, base, httpPort, httpsPort, cert, proc: null, errorLog: () => read('error.log'), accessLog: () => read('access.log') };
  });

  after(async () => {
    // nginx first (graceful: SIGQUIT to the master), whatever happened.
    if (nginx?.proc && nginx.proc.exitCode === null && nginx.proc.signalCode === null) {
      let pid = nginx.proc.pid;
      try { pid = Number(readFileSync(join(nginx.dir, 'nginx.pid'), 'utf8').trim()) || pid; } catch { /* not written */ }
      try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
      let timer;
      const r = await Promise.race([nginx.exited, new Promise((res) => { timer = setTimeout(res, 10000, 'timeout'); })]);
      clearTimeout(timer);
      if (r === 'timeout') nginx.proc.kill('SIGKILL');
    }
    for (const s of [B, A]) {
      if (s?.running) await s.stop(); else s?.kill();
    }
  });

  test('nginx -t accepts the rewritten example; nginx serves it; plain HTTP is redirected to https (301)', async (t) => {
    const check = spawnSync(nginx.bin, ['-t', ...nginx.base], { encoding: 'utf8' });
    const out = `${check.stdout}${check.stderr}`;
    assert.equal(check.status, 0, `nginx -t refused the example:\n${out}\n--- site.conf ---\n${readFileSync(join(nginx.dir, 'site.conf'), 'utf8')}`);
    assert.match(out, /syntax is ok/);
    assert.match(out, /test is successful/);
    for (const w of out.split('\n').filter((l) => l.includes('[warn]'))) t.diagnostic(`nginx -t: ${w}`);

    const proc = spawn(nginx.bin, nginx.base, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    nginx.proc = proc;
    nginx.exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
    process.on('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
    try {
      await waitForPort(nginx.httpsPort, { proc });
      await waitForPort(nginx.httpPort, { proc });
    } catch (e) {
      assert.fail(`nginx did not start: ${e.message}\n${stderr}\n${nginx.errorLog()}`);
    }

    const redirect = await viaNginxRaw('http', 'GET', '/_ready?x=1');
    assert.equal(redirect.status, 301, redirect.text);
    assert.equal(redirect.headers.location, `https://${HOST}/_ready?x=1`);
    const tokenRedirect = await viaNginxRaw('http', 'POST', TOKEN_PATH, encode({ form: { grant_type: 'refresh_token', refresh_token: 'x' } }));
    assert.equal(tokenRedirect.status, 301, 'plain HTTP never reaches provisiond, not even a POST');
    assert.equal(tokenRedirect.headers.location, `https://${HOST}${TOKEN_PATH}`);

    const ready = await viaNginx('GET', '/_ready');
    assert.equal(ready.status, 200, ready.text);

    // The example listens with http2: an h2 client gets the same answer.
    const session = http2.connect(`https://${HOST}:${nginx.httpsPort}`, { ca: nginx.cert, lookup: lookupLoopback, localAddress: CLIENT_ADDRESS });
    try {
      const h2 = await new Promise((res, rej) => {
        session.on('error', rej);
        const req = session.request({ ':method': 'GET', ':path': '/_ready' });
        let status;
        let body = '';
        req.on('response', (h) => { status = h[':status']; });
        req.setEncoding('utf8').on('data', (d) => { body += d; });
        req.on('end', () => res({ status, body, alpn: session.alpnProtocol }));
        req.on('error', rej);
        req.end();
      });
      assert.equal(h2.alpn, 'h2');
      assert.equal(h2.status, 200, h2.body);
      assert.equal(h2.body, ready.text);
    } finally {
      session.close();
    }
  });

  test('the partner flow through nginx (TLS) answers exactly as the direct API: account_requests, code exchange, resources, refreshes', async () => {
    assert.ok(nginx.proc, 'nginx runs');
    direct = await partnerFlow((m, p, o) => api(A, m, p, o), clientId);
    for (let i = 0; i < 3; i++) {
      const proxied = await partnerFlow(viaNginx, clientId);
      assertSameAsDirect(direct, proxied, `flow ${i + 1} through nginx`);
    }
    // The direct requests came from 127.0.0.1 without X-Forwarded-For: logged as the peer.
    const logs = accessLines(A);
    const directIds = direct.map((s) => s.r.headers['x-request-id']);
    for (const id of directIds) assert.equal(logs.get(id)?.remote, '127.0.0.1', `direct request ${id}`);
    await whoServed(proxiedIds, [{ server: A }, { server: B }]);
  });

  test('ten concurrent flows through nginx: both processes serve, each logs the client address 127.0.0.2', async (t) => {
    let served = [0, 0];
    for (let round = 0; round < 3 && served.some((n) => n === 0); round++) {
      const ids = await concurrentFlows(10, clientId);
      const counts = await whoServed(ids, [{ server: A }, { server: B }]);
      served = served.map((n, i) => n + counts[i]);
    }
    t.diagnostic(`requests served: process 1 ${served[0]}, process 2 ${served[1]}`);
    assert.ok(served[0] > 0 && served[1] > 0, `API requests served: process 1 ${served[0]}, process 2 ${served[1]}`);
    // The API routes in particular (not only /_ready): each process logged some.
    for (const s of [A, B]) {
      const apiLines = [...accessLines(s).values()].filter((e) => e.path.startsWith('/api/') && e.remote === CLIENT_ADDRESS);
      assert.ok(apiLines.length > 0, `process on ${s.port} logged no API request from ${CLIENT_ADDRESS}`);
    }
  });

  test('one process stopped cleanly: nginx skips it, /_ready and new flows all answer 200 from the other', async (t) => {
    await B.stop(); // SIGTERM, clean exit 0
    const from = proxiedIds.length;
    const ready = await viaNginx('GET', '/_ready');
    assert.equal(ready.status, 200, ready.text);
    for (let i = 0; i < 3; i++) assertSameAsDirect(direct, await partnerFlow(viaNginx, clientId), `flow ${i + 1} with one process stopped`);
    await concurrentFlows(5, clientId);
    const counts = await whoServed(proxiedIds.slice(from), [{ server: A }, { server: B }]);
    assert.equal(counts[1], 0, 'the stopped process served nothing');
    // nginx did try the stopped process (connection refused) and went on to the other one.
    const refused = nginx.errorLog().split('\n').filter((l) => l.includes('Connection refused') && l.includes(`127.0.0.1:${B.port}`));
    assert.ok(refused.length > 0, `nginx never tried the stopped process on ${B.port}; error log:\n${nginx.errorLog().slice(-3000)}`);
    const retried = nginx.accessLog().split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((e) => e.upstream === `127.0.0.1:${B.port}, 127.0.0.1:${A.port}`);
    assert.ok(retried.length > 0, 'a request went to the stopped process first, then to the live one');
    for (const e of retried) assert.equal(e.status, 200, JSON.stringify(e));
    t.diagnostic(`requests retried on the live process: ${retried.map((e) => `${e.method} ${e.uri.split('?')[0]}`).join(', ')}`);
  });

  test('the stopped process, started again on the same database, serves again through nginx', async (t) => {
    const from = B.stderr().length;
    const started = Date.now();
    await B.start(); // same port, same database
    // nginx leaves a failed upstream out for fail_timeout (10 s): keep the flows going until it is back.
    const deadline = Date.now() + 40000;
    let servedByB = 0;
    while (servedByB === 0) {
      assert.ok(Date.now() < deadline, 'the restarted process got no request through nginx within 40 s');
      const ids = await concurrentFlows(4, clientId);
      const counts = await whoServed(ids, [{ server: A }, { server: B, from }]);
      servedByB = counts[1];
      if (servedByB === 0) await sleep(1000);
    }
    t.diagnostic(`the restarted process served again after ${((Date.now() - started) / 1000).toFixed(1)} s (fail_timeout=10s)`);
    const ready = await viaNginx('GET', '/_ready');
    assert.equal(ready.status, 200, ready.text);
    const bApi = [...accessLines(B, from).values()].filter((e) => e.path.startsWith('/api/'));
    assert.ok(bApi.length > 0, 'the restarted process logged API requests');
    for (const e of bApi) assert.equal(e.remote, CLIENT_ADDRESS, JSON.stringify(e));
    for (const e of bApi) assert.ok(e.status === 200 || (e.status === 401 && e.route.includes('resources')), JSON.stringify(e));
  });
});
