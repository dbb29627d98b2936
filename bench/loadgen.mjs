// Closed-loop load generator for provisiond and node-oidc-provider (loopback targets only).
//
//   node loadgen.mjs --workload W --target http://127.0.0.1:PORT [options]
//
// Workloads
//   provisiond-flow     account_requests (fresh email + PKCE) → token (authorization_code) →
//                       resources create, one flow per iteration; flows/s and per-call latency.
//   provisiond-refresh  each virtual client holds a refresh token (set-up: the first two calls of
//                       the flow) and refreshes in a loop, always with the newest token (rotation).
//   provisiond-code     set-up pre-mints codes with account_requests (fresh emails); measured:
//                       POST /api/agentic/oauth/token grant_type=authorization_code only.
//   oidc-refresh        as provisiond-refresh, against bench/oidc-server.mjs (codes minted via its
//                       admin listener, --admin URL).
//   oidc-code           as provisiond-code, against bench/oidc-server.mjs.
//
// Options
//   --concurrency N     virtual clients, each with its own keep-alive HTTP/1.1 connection (undici
//                       Client, pipelining 1). Closed loop: a client sends its next request when the
//                       previous answer has been read.                              (default 1)
//   --duration S        measured seconds after warm-up                            (default 10)
//   --warmup S          warm-up seconds (answers checked, not timed)              (default 2)
//   --requests M        fixed-count mode: after warm-up, clients take M tickets (one per request,
//                       one per flow for -flow) instead of running for a fixed duration; requests
//                       already in flight when the window opens are counted too (≤ N extra).
//                       A hard cap of --max-seconds applies.
//   --max-seconds S     hard cap on the measured phase in fixed-count mode        (default 120)
//   --admin URL         oidc-server admin listener (oidc-* workloads)
//   --client-id ID      partner client id (default bench)
//   --pool K            code workloads: codes to pre-mint (default: auto from --rate-hint, else 20000)
//   --rate-hint R       expected requests/s, used to size the code pool
//   --setup-budget S    code workloads: stop pre-minting after S seconds          (default 45)
//   --server-pid PID    sample that process's CPU time over the measured window, its VmRSS
//                       every 100 ms in the window, and its VmRSS/VmHWM (/proc/PID/status) at the end
//   --json FILE         append the result as one JSON line to FILE (always also printed on stdout)
//   --timeout-ms T      per-request headers/body timeout; a timeout counts as an error (default 10000)
//   --variant LABEL     free-form label copied into the result (e.g. the oidc server's adapter)
//   --quiet             no progress lines on stderr
//
// Any status other than the expected one, a network error, a timeout, or a body that does not
// have the documented shape counts as an error; the first few are kept verbatim (request and
// response) in the result, and a run with any error is flagged `"ok": false`.
// The generator runs on the same machine as the server: its own CPU share is reported.

import { Client } from 'undici';
import { randomBytes, createHash, randomUUID } from 'node:crypto';
import { readFileSync, appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { values: opt } = parseArgs({
  options: {
    workload: { type: 'string' },
    target: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    requests: { type: 'string' },
    'max-seconds': { type: 'string', default: '120' },
    admin: { type: 'string' },
    'client-id': { type: 'string', default: 'bench' },
    pool: { type: 'string' },
    'rate-hint': { type: 'string' },
    'setup-budget': { type: 'string', default: '45' },
    'server-pid': { type: 'string' },
    json: { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' },
    quiet: { type: 'boolean', default: false },
    variant: { type: 'string' },
  },
});

const WORKLOADS = ['provisiond-flow', 'provisiond-refresh', 'provisiond-code', 'oidc-refresh', 'oidc-code'];
function die(msg) { console.error(`loadgen: ${msg}`); process.exit(2); }
if (!WORKLOADS.includes(opt.workload)) die(`--workload must be one of ${WORKLOADS.join(', ')}`);
if (!opt.target) die('--target URL is required');

function assertLoopback(u, what) {
  const url = new URL(u);
  const h = url.hostname.replace(/^\[|\]$/g, '');
  if (!(h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h))) {
    die(`${what} must be a loopback address (127.0.0.0/8, localhost, ::1), got ${url.hostname}`);
  }
  if (url.protocol !== 'http:') die(`${what} must be plain http on loopback`);
  return url;
}
const target = assertLoopback(opt.target, '--target');
const ORIGIN = target.origin;
const BASE = target.pathname.replace(/\/$/, '');
const admin = opt.admin ? assertLoopback(opt.admin, '--admin') : null;
const isOidc = opt.workload.startsWith('oidc-');
if (isOidc && !admin) die('--admin URL is required for oidc-* workloads');

const N = Math.max(1, Number(opt.concurrency) | 0);
const DURATION = Number(opt.duration);
const WARMUP = Number(opt.warmup);
const FIXED = opt.requests ? Number(opt.requests) : null;
const MAX_SECONDS = Number(opt['max-seconds']);
const CLIENT_ID = opt['client-id'];
const TIMEOUT = Number(opt['timeout-ms']);
const SERVER_PID = opt['server-pid'] ? Number(opt['server-pid']) : null;
const log = opt.quiet ? () => {} : (...a) => console.error(...a);

const API_VERSION = '0.1d';
const P = {
  accountRequests: `${BASE}/api/agentic/provisioning/account_requests`,
  token: `${BASE}/api/agentic/oauth/token`,
  resources: `${BASE}/api/agentic/provisioning/resources`,
  oidcToken: `${BASE}/oauth/token`,
};

// ---------------------------------------------------------------- recording
const now = () => process.hrtime.bigint();
const ms = (a, b) => Number(b - a) / 1e6;

const state = {
  phase: 'setup', // setup → warmup → measure → done
  measureStart: 0n,
  measureEnd: 0n,
  lat: new Map(), // name → number[] (ms), measured window only
  counts: new Map(), // name → completed OK in window
  iterations: 0, // flows completed OK in window (flow workload); == requests otherwise
  errors: { total: 0, warmup: 0, setup: 0, byKind: {}, samples: [] },
  fixedLeft: FIXED,
  poolExhaustedAt: null,
};

function rec(name, dt) {
  let a = state.lat.get(name);
  if (!a) { a = []; state.lat.set(name, a); }
  a.push(dt);
}

const SAMPLE_MAX = 6;
function recordError(kind, detail) {
  const e = state.errors;
  e.total += 1;
  if (state.phase === 'warmup') e.warmup += 1;
  if (state.phase === 'setup') e.setup += 1;
  e.byKind[kind] = (e.byKind[kind] ?? 0) + 1;
  if (e.samples.length < SAMPLE_MAX) e.samples.push({ kind, phase: state.phase, ...detail });
}

// ---------------------------------------------------------------- HTTP
function newConn() {
  return new Client(ORIGIN, {
    pipelining: 1,
    connections: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: TIMEOUT,
    bodyTimeout: TIMEOUT,
    connectTimeout: TIMEOUT,
  });
}

const form = (o) => Object.entries(o).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
const truncate = (s, n = 2000) => (typeof s === 'string' && s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

// One HTTP exchange. Returns { ok, status, json, dt }. `check(status, json, text)` returns null when
// the answer is the expected one, or a string describing what is wrong.
async function call(conn, name, { method = 'POST', path, headers, body }, check) {
  const t0 = now();
  let status = 0; let text = ''; let resHeaders; let netErr = null;
  try {
    const r = await conn.request({ method, path, headers, body });
    status = r.statusCode;
    resHeaders = r.headers;
    text = await r.body.text();
  } catch (err) {
    netErr = err;
  }
  const t1 = now();
  const dt = ms(t0, t1);
  let json;
  if (!netErr) { try { json = JSON.parse(text); } catch { json = undefined; } }
  const problem = netErr ? `network: ${netErr.code ?? ''} ${netErr.message}` : check(status, json, text);
  if (problem) {
    recordError(`${name}: ${netErr ? 'network' : status} ${netErr ? (netErr.code ?? netErr.name) : problem}`.slice(0, 160), {
      call: name,
      problem,
      request: { method, url: `${ORIGIN}${path}`, headers, body: truncate(body) },
      response: netErr ? null : { status, headers: resHeaders, body: truncate(text) },
      ms: Math.round(dt * 1000) / 1000,
    });
    return { ok: false, status, json, dt, t1 };
  }
  return { ok: true, status, json, dt, t1 };
}

const inWindow = (t) => state.phase !== 'setup' && t >= state.measureStart && (state.measureEnd === 0n || t <= state.measureEnd) && state.measureStart !== 0n;

// ---------------------------------------------------------------- checks (docs/API.md shapes)
const isStr = (v) => typeof v === 'string' && v.length > 0;
function checkAccountRequest(sentId) {
  return (s, j) => {
    if (s !== 200) return `expected 200, got ${s}`;
    if (!j || typeof j !== 'object') return 'body is not JSON';
    if (j.type !== 'oauth') return `type is ${JSON.stringify(j.type)}, expected "oauth" (fresh email)`;
    if (!isStr(j.oauth?.code)) return 'oauth.code missing';
    if (j.id !== sentId) return `id ${JSON.stringify(j.id)} does not echo the request id`;
    return null;
  };
}
function checkPvdToken(grant, oldRefresh) {
  return (s, j) => {
    if (s !== 200) return `expected 200, got ${s}`;
    if (!j || typeof j !== 'object') return 'body is not JSON';
    if (String(j.token_type).toLowerCase() !== 'bearer') return `token_type ${JSON.stringify(j.token_type)}`;
    if (!isStr(j.access_token) || !j.access_token.startsWith('pha_')) return 'access_token missing or not pha_…';
    if (!isStr(j.refresh_token) || !j.refresh_token.startsWith('phr_')) return 'refresh_token missing or not phr_…';
    if (j.expires_in !== 3600) return `expires_in ${JSON.stringify(j.expires_in)}, expected 3600`;
    if (grant === 'authorization_code') {
      if (!j.account || !isStr(j.account.id) || !Array.isArray(j.account.available_teams)) return 'account {id, available_teams[]} missing';
    }
    if (oldRefresh && j.refresh_token === oldRefresh) return 'refresh_token was not rotated';
    return null;
  };
}
function checkOidcToken(oldRefresh) {
  return (s, j) => {
    if (s !== 200) return `expected 200, got ${s}`;
    if (!j || typeof j !== 'object') return 'body is not JSON';
    if (String(j.token_type).toLowerCase() !== 'bearer') return `token_type ${JSON.stringify(j.token_type)}`;
    if (!isStr(j.access_token) || !isStr(j.refresh_token)) return 'access_token/refresh_token missing';
    if (j.access_token.split('.').length === 3) return 'access token is a JWT, expected opaque';
    if (j.expires_in !== 3600) return `expires_in ${JSON.stringify(j.expires_in)}, expected 3600`;
    if (oldRefresh && j.refresh_token === oldRefresh) return 'refresh_token was not rotated';
    return null;
  };
}
function checkResource(s, j) {
  if (s !== 200) return `expected 200, got ${s}`;
  if (!j || typeof j !== 'object') return 'body is not JSON';
  if (j.status !== 'complete') return `status ${JSON.stringify(j.status)}, expected "complete"`;
  if (!isStr(String(j.id ?? ''))) return 'id missing';
  const ac = j.complete?.access_configuration;
  if (!ac || !isStr(ac.api_key) || !ac.api_key.startsWith('phc_') || !isStr(ac.host)) return 'complete.access_configuration {api_key phc_…, host} missing';
  return null;
}

// ---------------------------------------------------------------- protocol steps
const runTag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
let emailSeq = 0;
function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}
const jsonHeaders = { 'content-type': 'application/json', 'api-version': API_VERSION };
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'api-version': API_VERSION };

async function pvdAccountRequest(conn) {
  emailSeq += 1;
  const { verifier, challenge } = pkce();
  const id = `req_${randomUUID()}`;
  const body = JSON.stringify({
    id,
    email: `bench+${runTag}-${emailSeq}@bench.example`,
    name: 'Bench User',
    client_id: CLIENT_ID,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    configuration: { region: 'US', organization_name: 'Bench Org' },
  });
  const r = await call(conn, 'account_requests', { path: P.accountRequests, headers: jsonHeaders, body }, checkAccountRequest(id));
  return { ...r, code: r.ok ? r.json.oauth.code : null, verifier };
}
async function pvdExchange(conn, code, verifier) {
  const body = form({ grant_type: 'authorization_code', code, code_verifier: verifier });
  return call(conn, 'token(code)', { path: P.token, headers: formHeaders, body }, checkPvdToken('authorization_code'));
}
async function pvdRefresh(conn, refresh) {
  const body = form({ grant_type: 'refresh_token', refresh_token: refresh });
  return call(conn, 'token(refresh)', { path: P.token, headers: formHeaders, body }, checkPvdToken('refresh_token', refresh));
}
async function pvdResource(conn, access) {
  const body = JSON.stringify({ service_id: 'analytics', label_prefix: 'Bench', configuration: { project_name: 'Bench project' } });
  return call(conn, 'resources', { path: P.resources, headers: { ...jsonHeaders, authorization: `Bearer ${access}` }, body }, checkResource);
}
async function oidcExchange(conn, code, verifier) {
  const body = form({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: CLIENT_ID });
  return call(conn, 'token(code)', { path: P.oidcToken, headers: formHeaders, body }, checkOidcToken());
}
async function oidcRefresh(conn, refresh) {
  const body = form({ grant_type: 'refresh_token', refresh_token: refresh, client_id: CLIENT_ID });
  return call(conn, 'token(refresh)', { path: P.oidcToken, headers: formHeaders, body }, checkOidcToken(refresh));
}

let adminConn = null;
async function oidcMint(n) {
  adminConn ??= new Client(admin.origin, { pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const r = await adminConn.request({ method: 'POST', path: `/mint?n=${n}` });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`oidc admin /mint answered ${r.statusCode}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

// A fresh refresh token for one virtual client (set-up, and recovery after an error).
async function obtainRefresh(conn) {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    if (isOidc) {
      const [{ code, verifier }] = await oidcMint(1);
      const r = await oidcExchange(conn, code, verifier);
      if (r.ok) return r.json.refresh_token;
    } else {
      const a = await pvdAccountRequest(conn);
      if (a.ok) {
        const r = await pvdExchange(conn, a.code, a.verifier);
        if (r.ok) return r.json.refresh_token;
      }
    }
  }
  throw new Error('could not obtain a refresh token in 5 attempts (see error samples)');
}

// ---------------------------------------------------------------- code pools
const codePool = [];
let poolTarget = 0;
async function fillPool() {
  const t0 = now();
  const budgetMs = Number(opt['setup-budget']) * 1000;
  const hint = opt['rate-hint'] ? Number(opt['rate-hint']) : null;
  if (opt.pool) poolTarget = Number(opt.pool);
  else if (FIXED) poolTarget = FIXED + Math.ceil((hint ?? 2000) * WARMUP * 1.3) + 4 * N;
  else if (hint) poolTarget = Math.ceil(hint * (WARMUP + DURATION) * 1.3) + 4 * N;
  else poolTarget = 20_000;
  log(`  set-up: pre-minting up to ${poolTarget} codes (budget ${opt['setup-budget']} s)…`);
  if (isOidc) {
    while (codePool.length < poolTarget && ms(t0, now()) < budgetMs) {
      const batch = await oidcMint(Math.min(5000, poolTarget - codePool.length));
      for (const c of batch) codePool.push(c);
    }
  } else {
    const minters = Math.max(N, 8);
    const conns = Array.from({ length: minters }, newConn);
    await Promise.all(conns.map(async (conn) => {
      while (codePool.length < poolTarget && ms(t0, now()) < budgetMs) {
        const a = await pvdAccountRequest(conn);
        if (a.ok) codePool.push({ code: a.code, verifier: a.verifier });
        else if (state.errors.setup > 50) throw new Error('too many set-up errors while minting codes');
      }
    }));
    await Promise.all(conns.map((c) => c.close()));
  }
  const secs = ms(t0, now()) / 1000;
  log(`  set-up: ${codePool.length} codes in ${secs.toFixed(1)} s`);
  return { codes: codePool.length, target: poolTarget, seconds: secs };
}

// ---------------------------------------------------------------- the closed loop
// takeTicket: false when this client must stop. In fixed-count mode a ticket is taken per
// measured request/iteration; warm-up requests need none.
function takeTicket() {
  if (state.phase === 'done') return false;
  if (state.phase === 'measure' && state.fixedLeft !== null) {
    if (state.fixedLeft <= 0) return false;
    state.fixedLeft -= 1;
  }
  return true;
}

const perSecond = []; // completions of the primary unit per second of the measured window
function tick(t1) {
  const i = Math.floor(ms(state.measureStart, t1) / 1000);
  perSecond[i] = (perSecond[i] ?? 0) + 1;
}
function countOk(name, r) {
  if (r.ok && inWindow(r.t1)) {
    rec(name, r.dt);
    state.counts.set(name, (state.counts.get(name) ?? 0) + 1);
    return true;
  }
  return false;
}

async function loopFlow(conn) {
  while (takeTicket()) {
    const t0 = now();
    const a = await pvdAccountRequest(conn);
    countOk('account_requests', a);
    if (!a.ok) continue;
    const t = await pvdExchange(conn, a.code, a.verifier);
    countOk('token(code)', t);
    if (!t.ok) continue;
    const r = await pvdResource(conn, t.json.access_token);
    countOk('resources', r);
    if (r.ok && inWindow(t0) && inWindow(r.t1)) {
      rec('flow', ms(t0, r.t1));
      state.iterations += 1;
      tick(r.t1);
    }
  }
}

async function loopRefresh(conn, initial) {
  let refresh = initial;
  const fn = isOidc ? oidcRefresh : pvdRefresh;
  while (takeTicket()) {
    const r = await fn(conn, refresh);
    if (countOk('token(refresh)', r)) { state.iterations += 1; tick(r.t1); }
    if (r.ok) refresh = r.json.refresh_token;
    else if (state.phase !== 'done') refresh = await obtainRefresh(conn); // chain broken: start a new one
  }
}

async function loopCode(conn) {
  const fn = isOidc ? oidcExchange : pvdExchange;
  while (takeTicket()) {
    const c = codePool.pop();
    if (!c) {
      if (state.poolExhaustedAt === null && state.phase === 'measure') state.poolExhaustedAt = ms(state.measureStart, now()) / 1000;
      if (state.phase === 'warmup') recordError('code pool exhausted during warm-up', { problem: 'pool too small' });
      break;
    }
    const r = await fn(conn, c.code, c.verifier);
    if (countOk('token(code)', r)) { state.iterations += 1; tick(r.t1); }
  }
}

// ---------------------------------------------------------------- /proc sampling
function procCpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100 on Linux
  } catch { return null; }
}
// Machine-wide busy CPU seconds (all cores) from /proc/stat, to tell how much CPU processes other
// than the server and this generator took during the window (a shared machine).
function machineBusySeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / 100;
  } catch { return null; }
}
function procMem(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM') };
  } catch { return { rss_kb: null, hwm_kb: null }; }
}

function pct(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
function summarize(arr) {
  const a = Float64Array.from(arr).sort();
  const sum = a.reduce((x, y) => x + y, 0);
  const r3 = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
  return { count: a.length, p50_ms: r3(pct(a, 0.5)), p90_ms: r3(pct(a, 0.9)), p99_ms: r3(pct(a, 0.99)), max_ms: r3(a.length ? a[a.length - 1] : null), mean_ms: r3(a.length ? sum / a.length : null) };
}

// ---------------------------------------------------------------- main
async function main() {
  const started = new Date();
  const conns = Array.from({ length: N }, newConn);
  let setup = null;
  const tSetup = now();
  let refreshTokens = null;

  if (opt.workload.endsWith('-refresh')) {
    log(`  set-up: obtaining ${N} refresh tokens…`);
    refreshTokens = await Promise.all(conns.map((c) => obtainRefresh(c)));
    setup = { refresh_tokens: N, seconds: ms(tSetup, now()) / 1000 };
  } else if (opt.workload.endsWith('-code')) {
    setup = await fillPool();
  } else {
    setup = { seconds: 0 };
  }

  const loop = (c, i) => {
    if (opt.workload === 'provisiond-flow') return loopFlow(c);
    if (opt.workload.endsWith('-refresh')) return loopRefresh(c, refreshTokens[i]);
    return loopCode(c);
  };

  state.phase = 'warmup';
  const runners = conns.map((c, i) => loop(c, i));
  let cpu0 = null;
  let srv0 = null;
  let mach0 = null;

  let rssPeak = 0;
  let sampler = null;
  const timeline = (async () => {
    await sleep(WARMUP * 1000);
    if (SERVER_PID) sampler = setInterval(() => { rssPeak = Math.max(rssPeak, procMem(SERVER_PID).rss_kb ?? 0); }, 100);
    state.measureStart = now();
    cpu0 = process.cpuUsage();
    srv0 = SERVER_PID ? procCpuSeconds(SERVER_PID) : null;
    mach0 = machineBusySeconds();
    state.phase = 'measure';
    if (FIXED === null) {
      await sleep(DURATION * 1000);
    } else {
      const capAt = Date.now() + MAX_SECONDS * 1000;
      while (state.fixedLeft > 0 && Date.now() < capAt) await sleep(20);
    }
  })();

  // The run ends when the timeline ends (duration mode) or when all runners finished (fixed count
  // or pool exhausted), whichever is first; in fixed-count mode we wait for the runners.
  const allDone = Promise.all(runners).then(() => 'runners');
  const first = await Promise.race([timeline.then(() => 'timeline'), allDone]);
  if (FIXED !== null && first === 'timeline') await Promise.race([allDone, sleep(TIMEOUT + 2000)]);
  if (state.measureStart === 0n) { state.measureStart = now(); cpu0 = process.cpuUsage(); srv0 = SERVER_PID ? procCpuSeconds(SERVER_PID) : null; mach0 = machineBusySeconds(); }
  // End of the measured window: now, or the completion of the last measured request when the
  // runners stopped early (fixed count done / pool exhausted).
  state.measureEnd = now();
  state.phase = 'done';
  if (sampler) clearInterval(sampler);
  const cpu1 = process.cpuUsage(cpu0);
  const srv1 = SERVER_PID ? procCpuSeconds(SERVER_PID) : null;
  const mach1 = machineBusySeconds();
  // let in-flight requests finish (they are not counted), bounded
  await Promise.race([allDone, sleep(TIMEOUT + 1000)]);
  const mem = SERVER_PID ? procMem(SERVER_PID) : {};
  await Promise.all(conns.map((c) => c.close().catch(() => {})));
  if (adminConn) await adminConn.close().catch(() => {});

  const windowS = ms(state.measureStart, state.measureEnd) / 1000;
  const latency = {};
  for (const [name, arr] of state.lat) latency[name] = summarize(arr);
  const mainCall = opt.workload === 'provisiond-flow' ? null : 'token(refresh)';
  const reqCount = [...state.counts.values()].reduce((a, b) => a + b, 0);
  const primary = opt.workload === 'provisiond-flow' ? latency.flow : latency[mainCall] ?? latency['token(code)'];

  const result = {
    workload: opt.workload,
    ...(opt.variant ? { variant: opt.variant } : {}),
    target: ORIGIN,
    concurrency: N,
    mode: FIXED === null ? 'duration' : 'count',
    warmup_s: WARMUP,
    window_s: Math.round(windowS * 1000) / 1000,
    requests: reqCount,
    requests_per_s: Math.round((reqCount / windowS) * 10) / 10,
    iterations: state.iterations,
    iterations_per_s: Math.round((state.iterations / windowS) * 10) / 10,
    iteration_unit: opt.workload === 'provisiond-flow' ? 'flow' : 'request',
    p50_ms: primary?.p50_ms ?? null,
    p99_ms: primary?.p99_ms ?? null,
    latency,
    per_second: Array.from(perSecond, (v) => v ?? 0).slice(0, Math.floor(windowS)), // whole seconds only
    errors: state.errors.total,
    errors_warmup: state.errors.warmup,
    errors_setup: state.errors.setup,
    error_kinds: state.errors.byKind,
    error_samples: state.errors.samples,
    ok: state.errors.total === 0,
    shortened: state.poolExhaustedAt !== null,
    pool_exhausted_at_s: state.poolExhaustedAt,
    setup,
    cpu: {
      loadgen_pct_of_core: Math.round(((cpu1.user + cpu1.system) / 1e6 / windowS) * 1000) / 10,
      server_pct_of_core: srv0 !== null && srv1 !== null ? Math.round(((srv1 - srv0) / windowS) * 1000) / 10 : null,
      server_cpu_us_per_req: srv0 !== null && srv1 !== null && reqCount ? Math.round(((srv1 - srv0) * 1e6) / reqCount) : null,
      // busy CPU of the whole machine minus server and generator: other processes (100 = one core)
      others_pct_of_core: mach0 !== null && mach1 !== null && srv0 !== null && srv1 !== null
        ? Math.max(0, Math.round(((mach1 - mach0 - (srv1 - srv0) - (cpu1.user + cpu1.system) / 1e6) / windowS) * 1000) / 10)
        : null,
    },
    server_pid: SERVER_PID,
    server_rss_kb: mem.rss_kb ?? null,
    server_hwm_kb: mem.hwm_kb ?? null,
    server_rss_peak_window_kb: rssPeak || null, // VmRSS sampled every 100 ms in the window
    started_at: started.toISOString(),
    node: process.version,
  };
  if (state.poolExhaustedAt !== null) result.note = `the ${setup.codes} pre-minted codes (target ${poolTarget}, set-up ${setup.seconds.toFixed(1)} s) ran out ${state.poolExhaustedAt.toFixed(2)} s into the ${DURATION} s measured window; the window was shortened to ${result.window_s} s`;

  const line = JSON.stringify(result);
  process.stdout.write(`${line}\n`);
  if (opt.json) appendFileSync(opt.json, `${line}\n`);
  const unit = result.iteration_unit === 'flow' ? 'flows/s' : 'req/s';
  log(`  ${opt.workload} c=${N}: ${result.iterations_per_s} ${unit} (${result.requests_per_s} req/s) p50 ${result.p50_ms} ms p99 ${result.p99_ms} ms errors ${result.errors}${result.ok ? '' : '  ** FLAGGED **'}${result.shortened ? ' (window shortened: code pool ran out)' : ''} loadgen cpu ${result.cpu.loadgen_pct_of_core}% server cpu ${result.cpu.server_pct_of_core ?? '?'}% others ${result.cpu.others_pct_of_core ?? '?'}%`);
  if (result.errors) for (const s of result.error_samples.slice(0, 2)) log(`    error sample: ${JSON.stringify(s).slice(0, 1500)}`);
  // Do not wait for the guard timers (they only bound the drain); the result is written.
  process.stdout.write('', () => process.exit(0));
}

main().catch((err) => {
  console.error(`loadgen: fatal: ${err?.stack ?? err}`);
  const line = JSON.stringify({ workload: opt.workload, ...(opt.variant ? { variant: opt.variant } : {}), concurrency: N, fatal: String(err?.message ?? err), ok: false, errors: state.errors.total, error_kinds: state.errors.byKind, error_samples: state.errors.samples });
  process.stdout.write(`${line}\n`);
  if (opt.json) appendFileSync(opt.json, `${line}\n`);
  process.exit(1);
});
