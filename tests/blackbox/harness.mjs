// Black-box harness for provisiond: start the real binary on loopback, talk HTTP to it, run its CLI,
// and read its SQLite database read-only to assert stored effects.
//
// Everything here talks only to 127.0.0.1.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { checkResponse } from './openapi_validator.mjs';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.PROVISIOND_BIN
  ? resolve(process.env.PROVISIOND_BIN)
  : resolve(HERE, '../../build/provisiond');
export const NODE22 = resolve(HERE, 'node_modules/.bin/node');

/**
 * The backend the suite runs on: SQLite files (default) or, when run.sh started a throwaway
 * PostgreSQL cluster (PROVISIOND_TEST_PG_URL), one fresh PostgreSQL database per server.
 */
export const PG_URL = process.env.PROVISIOND_TEST_PG_URL || '';
export const ON_POSTGRES = PG_URL !== '';

export const API_VERSION = '0.1d';
export const P = '/api/agentic/provisioning';
export const TOKEN_PATH = '/api/agentic/oauth/token';

/** The public scope list plus the wizard's scopes (docs/API.md "Scopes"). */
export const PUBLIC_SCOPES = [
  'customer_journey:read', 'query:read', 'conversation:read', 'conversation:write', 'experiment:read',
  'feature_flag:read', 'insight:read', 'organization:read', 'person:read', 'project:read', 'ticket:read',
  'ticket:write', 'user:read', 'hog_flow:read', 'hog_flow:write',
];
export const WIZARD_SCOPES = [
  'user:read', 'project:read', 'llm_gateway:read', 'dashboard:write', 'insight:write', 'query:read',
  'notebook:write', 'event_definition:write',
];
export const CATALOG = [...new Set([...PUBLIC_SCOPES, ...WIZARD_SCOPES])].sort();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const sha256hex = (s) => createHash('sha256').update(s).digest('hex');
export const uniqueEmail = (tag = 'user') => `${tag}-${randomUUID().slice(0, 12)}@example.com`;
export const B64URL43 = /^[A-Za-z0-9_-]{43}$/;
export const ACCESS_RE = /^pha_[A-Za-z0-9]{43}$/;
export const REFRESH_RE = /^phr_[A-Za-z0-9]{43}$/;
export const PAT_RE = /^phx_[A-Za-z0-9]{43}$/;
export const PROJECT_TOKEN_RE = /^phc_[A-Za-z0-9]{43}$/;
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Processes and temp dirs: whatever a test file leaves running is killed when its process exits.
const liveProcs = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const p of liveProcs) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (!process.env.KEEP_TMP) {
    for (const d of tempDirs) {
      try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
    }
  }
});

/**
 * A loopback port nothing listens on now, never one this process handed out before: a server's
 * public and admin ports both come from here, so two servers starting at once cannot be given the
 * same port (a kernel-chosen admin port could take the public port another server was about to
 * bind, and its /_ready would then answer for the wrong process).
 */
const handedOut = new Set();
export async function freePort() {
  for (;;) {
    const port = await new Promise((res, rej) => {
      const s = net.createServer();
      s.unref();
      s.on('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address();
        s.close(() => res(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * attempt(i) for i = 1, 2, …, again while it failed because a port freePort() picked was taken
 * before the process bound it (isTaken(error) says whether it was), at most `tries` times.
 * freePort() closes its probe before the caller binds, and in between any process's listener
 * or outgoing connection may take the port: CTest runs three suites side by side, one of them
 * with hundreds of PostgreSQL connections. Every fixture that binds a picked port goes through
 * here, each with its own way of saying "taken" (EADDRINUSE, provisiond's or nginx's message).
 */
export async function retryOnTakenPort(attempt, isTaken, tries = 3) {
  for (let i = 1; ; i += 1) {
    try {
      return await attempt(i);
    } catch (e) {
      if (i >= tries || !isTaken(e)) throw e;
    }
  }
}

/** srv.listen() on 127.0.0.1 at a port from freePort() (another when taken); resolves to the port. */
export function listenOnFreePort(srv, tries = 3) {
  return retryOnTakenPort(async () => {
    const port = await freePort();
    await new Promise((res, rej) => {
      srv.once('error', rej);
      srv.listen(port, '127.0.0.1', () => { srv.off('error', rej); res(); });
    });
    return port;
  }, (e) => e?.code === 'EADDRINUSE', tries);
}

function runProcess(bin, args, { env = {}, timeoutMs = 30000, input, cwd } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    liveProcs.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); liveProcs.delete(child); rej(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveProcs.delete(child);
      res({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  });
}
export { runProcess };

export class Server {
  constructor({ dir, port, adminPort, extraArgs, env, wrapper = [], database }) {
    this.dir = dir;
    this.wrapper = wrapper; // a command the binary runs under, e.g. ['prlimit', '--nofile=128:128']
    this.port = port;
    this.adminPort = adminPort; // --admin-listen, unless the test sets it
    this.url = `http://127.0.0.1:${port}`;
    this.dbPath = join(dir, 'provisiond.db');
    // What --database names: the SQLite file, or this server's own PostgreSQL database.
    // `database` given: another server's (two processes on one database).
    this.database = database ?? (ON_POSTGRES ? createPgDatabase() : this.dbPath);
    this.outboxDir = join(dir, 'outbox');
    this.extraArgs = extraArgs;
    this.env = env;
    this.proc = null;
    this._stderr = '';
    this._stdout = '';
  }

  args() {
    return [
      'serve',
      '--listen', `127.0.0.1:${this.port}`,
      '--public-url', this.url,
      '--database', this.database,
      '--outbox-dir', this.outboxDir,
      ...pgKeyFileArgs(this, this.extraArgs),
      ...this.adminArgs(),
      ...this.extraArgs,
    ];
  }

  /** Its own admin port, unless the test chose one (flag or environment). */
  adminArgs() {
    if (!this.adminPort || this.extraArgs.includes('--admin-listen') || (this.env && 'PROVISIOND_ADMIN_LISTEN' in this.env)) {
      return [];
    }
    return ['--admin-listen', `127.0.0.1:${this.adminPort}`];
  }

  async start() {
    if (!existsSync(BIN)) throw new Error(`provisiond binary not found at ${BIN} (set PROVISIOND_BIN)`);
    const [cmd, ...cmdArgs] = [...this.wrapper, BIN, ...this.args()];
    const child = spawn(cmd, cmdArgs, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveProcs.add(child);
    this.proc = child;
    const exited = new Promise((res) => {
      child.on('exit', (code, signal) => { liveProcs.delete(child); res({ code, signal }); });
    });
    this._exited = exited;
    child.stdout.setEncoding('utf8').on('data', (d) => { this._stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { this._stderr += d; });
    let early = null;
    exited.then((r) => { early = r; });
    const deadline = Date.now() + 15000;
    let last = '';
    while (Date.now() < deadline) {
      if (early) {
        throw new Error(`provisiond exited early (${JSON.stringify(early)}) with stderr:\n${this._stderr}`);
      }
      try {
        const r = await rawHttp(this, 'GET', '/_ready', { timeoutMs: 2000 });
        if (r.status === 200) return this;
        last = `status ${r.status} ${r.text}`;
      } catch (e) {
        last = String(e && e.message);
      }
      // A server is ready ~0.2 s after its exec; the suites start hundreds, so poll often.
      await sleep(25);
    }
    child.kill('SIGKILL');
    throw new Error(`provisiond did not become ready in 15 s (${last}); stderr:\n${this._stderr}`);
  }

  get running() { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  /** SIGTERM, wait for the exit, assert it was a clean exit 0. */
  async stop() {
    if (!this.proc) return;
    const child = this.proc;
    this.proc = null;
    if (child.exitCode !== null || child.signalCode !== null) {
      const r = await this._exited;
      assert.fail(`provisiond had already exited (${JSON.stringify(r)}); stderr:\n${this._stderr.slice(-4000)}`);
    }
    child.kill('SIGTERM');
    // The timer is cleared once the process exits: a pending one would keep the test file's
    // process alive for the rest of its 15 s.
    let timer;
    const timeout = new Promise((res) => { timer = setTimeout(() => res('timeout'), 15000); });
    const r = await Promise.race([this._exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      child.kill('SIGKILL');
      assert.fail('provisiond did not exit within 15 s of SIGTERM');
    }
    assert.deepEqual(r, { code: 0, signal: null }, `provisiond exit after SIGTERM; stderr tail:\n${this._stderr.slice(-2000)}`);
    assertJsonLog(this._stderr, this.extraArgs);
  }

  async restart() {
    await this.stop();
    await this.start();
    return this;
  }

  /** Starts a stopped server again on a port picked now (its old one may have been taken meanwhile). */
  async startOnNewPort() {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    return this.startOnFreePorts();
  }

  /**
   * start(), again on new ports when the server exited because a port the harness picked was
   * taken (see retryOnTakenPort): it then exits at once naming the port.
   */
  startOnFreePorts(tries = 3) {
    return retryOnTakenPort(async (i) => {
      if (i > 1) {
        this.port = await freePort();
        this.adminPort = await freePort();
        this.url = `http://127.0.0.1:${this.port}`;
        this._stderr = '';
        this._stdout = '';
      }
      return this.start();
    }, (e) => [this.port, this.adminPort].some((p) => p &&
      String(e?.message).includes(`cannot listen on 127.0.0.1:${p}: Address already in use`)), tries);
  }

  /** Kill without asserting anything (for cleanup after a failed test). */
  kill() {
    if (this.proc) { try { this.proc.kill('SIGKILL'); } catch { /* gone */ } this.proc = null; }
  }

  stderr() { return this._stderr; }
  stdout() { return this._stdout; }

  /** provisiond <args> --database DBPATH */
  cli(args, opts = {}) {
    return runProcess(BIN, [...args, '--database', this.database, ...pgKeyFileArgs(this, args)], opts);
  }
}

/** A temp dir removed when the test process exits (unless KEEP_TMP is set). */
/**
 * Every line a server wrote on stderr is one JSON object of the log schema (app/logging.hpp),
 * unless the test asked for --log-format text: checked at each clean stop, so the whole suite
 * proves it.
 */
export function assertJsonLog(stderr, extraArgs = []) {
  const i = extraArgs.indexOf('--log-format');
  if (i >= 0 && extraArgs[i + 1] === 'text') return;
  for (const line of stderr.split('\n')) {
    if (line === '') continue;
    let entry;
    try { entry = JSON.parse(line); } catch { assert.fail(`a log line that is not one JSON object: ${line.slice(0, 300)}`); }
    assert.ok(entry && typeof entry === 'object' && typeof entry.time === 'string' && typeof entry.level === 'string' &&
      typeof entry.message === 'string' && (entry.log === 'app' || entry.log === 'access'), `a log line off the schema: ${line.slice(0, 300)}`);
  }
}

export async function makeTempDir(prefix = 'provisiond-bb-') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function startServer({ extraArgs = [], env = {}, wrapper = [], database } = {}) {
  const dir = await makeTempDir();
  const port = await freePort();
  const adminPort = await freePort();
  const s = new Server({ dir, port, adminPort, extraArgs, env, wrapper, database });
  return s.startOnFreePorts();
}

// ---------------------------------------------------------------------------------------------
// HTTP. node:http with a fresh connection per request (agent:false): no keep-alive pool that would
// outlive a restart, and full control over raw bodies and headers.

export function rawHttp(server, method, path, { headers = {}, body, timeoutMs = 30000 } = {}) {
  return new Promise((res, rej) => {
    const req = http.request({
      host: '127.0.0.1', port: server.port, method, path, headers, agent: false,
    }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        const result = { status: resp.statusCode, headers: resp.headers, text, json, raw: buf };
        // Every response provisiond sends on a documented operation must match docs/openapi.json.
        if (server instanceof Server) {
          try { checkResponse(method, path, result); } catch (e) { rej(e); return; }
        }
        res(result);
      });
      resp.on('error', rej);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timeout ${method} ${path}`)));
    let gotResponse = false;
    req.on('response', () => { gotResponse = true; });
    req.on('error', (e) => { if (!gotResponse) rej(e); });
    if (body !== undefined) req.end(body); else req.end();
  });
}

/**
 * api(server, method, path, {body, form, headers, apiVersion=true})
 *  body: object/array → JSON; string/Buffer → sent as is (set content-type yourself via headers).
 *  form: object → application/x-www-form-urlencoded.
 *  apiVersion: true → API-Version: 0.1d; false → none; string → that value.
 */
export async function api(server, method, path, { body, form, headers = {}, apiVersion = true, timeoutMs } = {}) {
  const h = {};
  let payload;
  if (form !== undefined) {
    payload = Buffer.from(new URLSearchParams(form).toString());
    h['content-type'] = 'application/x-www-form-urlencoded';
  } else if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(body);
    } else {
      payload = Buffer.from(JSON.stringify(body));
      h['content-type'] = 'application/json';
    }
  }
  if (apiVersion === true) h['api-version'] = API_VERSION;
  else if (typeof apiVersion === 'string') h['api-version'] = apiVersion;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || v === null) delete h[k.toLowerCase()];
    else h[k.toLowerCase()] = v;
  }
  if (payload !== undefined && h['content-length'] === undefined && h['transfer-encoding'] === undefined) {
    h['content-length'] = String(payload.length);
  }
  return rawHttp(server, method, path, { headers: h, body: payload, timeoutMs });
}

/** Write raw bytes on a fresh TCP connection; collect whatever comes back until close or timeout. */
export function rawSocket(server, bytes, { timeoutMs = 5000, endAfterWrite = false } = {}) {
  return new Promise((res) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const chunks = [];
    let error = null;
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      res({ text: Buffer.concat(chunks).toString('latin1'), closed, error });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => {
      sock.write(bytes, () => { if (endAfterWrite) sock.end(); });
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { error = e.code || String(e); });
    sock.on('close', () => finish(true));
  });
}

export function statusOfRaw(text) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Database (read-only) and files.

/** The SQLite file a server uses: its own, or the one it shares with another server (`database`). */
function sqlitePath(server) {
  return ON_POSTGRES ? server.dbPath : server.database;
}

export function db(server) {
  return new DatabaseSync(sqlitePath(server), { readOnly: true });
}

// ---- PostgreSQL: one database per server, queried through psql (node has no sync client).
let pgDatabases = 0;
function createPgDatabase() {
  const name = `bb_${process.pid}_${++pgDatabases}_${randomBytes(3).toString('hex')}`;
  psql(`${PG_URL}/postgres`, `CREATE DATABASE ${name}`);
  return `${PG_URL}/${name}`;
}

/**
 * On PostgreSQL a URL names no directory: the webhook secrets key goes where it would beside the
 * SQLite file, so the suite's checks of that file hold on both backends.
 */
function pgKeyFileArgs(server, args) {
  if (!ON_POSTGRES || args.includes('--secrets-key-file')) return [];
  return ['--secrets-key-file', `${server.dbPath}-secrets.key`];
}

function psql(url, sql) {
  const r = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}\nSQL: ${sql}`);
  return r.stdout;
}

/** `?` placeholders (outside quotes) replaced by SQL literals of the params. */
export function pgInline(sql, params) {
  let i = 0;
  let out = '';
  let quoted = false;
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    if (ch === '?' && !quoted) {
      if (i >= params.length) throw new Error(`too few parameters for: ${sql}`);
      const v = params[i++];
      if (v === null || v === undefined) out += 'NULL';
      else if (typeof v === 'number' || typeof v === 'bigint') out += String(v);
      else if (typeof v === 'boolean') out += v ? '1' : '0';
      else out += `'${String(v).replaceAll("'", "''")}'`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Rows of a query on the server's PostgreSQL database, as plain objects. */
function pgRows(server, sql, params) {
  const text = psql(server.database, `SELECT coalesce(json_agg(pg_row), '[]') FROM (${pgInline(sql, params)}) pg_row`);
  return JSON.parse(text);
}

/** Runs a statement that changes the database (either backend); returns nothing. */
export function dbExec(server, sql, ...params) {
  if (ON_POSTGRES) {
    psql(server.database, pgInline(sql, params));
    return;
  }
  const d = new DatabaseSync(sqlitePath(server), { timeout: 10000 });
  try {
    if (params.length === 0) d.exec(sql); else d.prepare(sql).run(...params);
  } finally {
    d.close();
  }
}

/** Run one query read-only and return plain objects. */
export function q(server, sql, ...params) {
  if (ON_POSTGRES) return pgRows(server, sql, params);
  const d = db(server);
  try {
    return d.prepare(sql).all(...params).map((r) => ({ ...r }));
  } finally {
    d.close();
  }
}
export function q1(server, sql, ...params) {
  const rows = q(server, sql, ...params);
  return rows[0];
}
export function count(server, sql, ...params) {
  const r = q1(server, sql, ...params);
  return Number(Object.values(r)[0]);
}

/**
 * Bytes of the database file, its WAL and its shared-memory file. On PostgreSQL (no file of its
 * own; dead row versions and WAL are the cluster's) what the database holds: the text of a
 * `pg_dump --data-only` of the server's database, every stored value of every table.
 */
export async function dbFileBytes(server) {
  if (ON_POSTGRES) {
    const r = spawnSync('pg_dump', ['--data-only', server.database], { maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`pg_dump failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }
  const parts = [];
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const p = server.dbPath + suffix;
    if (existsSync(p)) parts.push(await readFile(p));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Operator CLI.

export async function registerClient(server, {
  clientId = `client-${randomUUID().slice(0, 8)}`,
  name = 'Test Partner',
  redirectUri = 'https://partner.example/callback',
  scopes = CATALOG,
} = {}) {
  const args = ['clients', 'add', '--client-id', clientId, '--name', name];
  for (const u of [].concat(redirectUri)) args.push('--redirect-uri', u);
  args.push('--scopes', [].concat(scopes).join(' '));
  const r = await server.cli(args);
  assert.equal(r.code, 0, `clients add failed: ${r.stdout}\n${r.stderr}`);
  return clientId;
}

export async function setLimit(server, clientId, endpoint, value) {
  const r = await server.cli(['clients', 'set-limit', clientId, endpoint, String(value)]);
  assert.equal(r.code, 0, `clients set-limit failed: ${r.stdout}\n${r.stderr}`);
  return r;
}

export async function disableClient(server, clientId) {
  const r = await server.cli(['clients', 'disable', clientId]);
  assert.equal(r.code, 0, `clients disable failed: ${r.stdout}\n${r.stderr}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// PKCE and the flow.

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/**
 * POST account_requests with sensible defaults; pass a key with value undefined to omit it.
 * Returns {res, verifier, challenge, requestId, email, body}.
 */
export async function accountRequest(server, opts = {}) {
  const { clientId, pkcePair = pkce(), path = `${P}/account_requests`, apiVersion = true, ...overrides } = opts;
  // `email: undefined` means "omit the field"; no `email` key at all means "a fresh unique address".
  const email = 'email' in opts ? opts.email : uniqueEmail();
  delete overrides.email;
  const body = {
    id: `req_${randomUUID()}`,
    email,
    name: 'Jane Doe',
    client_id: clientId,
    code_challenge: pkcePair.challenge,
    code_challenge_method: 'S256',
    configuration: { region: 'US' },
    ...overrides,
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  const res = await api(server, 'POST', path, { body, apiVersion });
  return { res, verifier: pkcePair.verifier, challenge: pkcePair.challenge, requestId: body.id, email, body };
}

export async function exchangeCode(server, code, verifier, { json = false, path = TOKEN_PATH, extra = {} } = {}) {
  const params = { grant_type: 'authorization_code', code, code_verifier: verifier, ...extra };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  return json
    ? api(server, 'POST', path, { body: params, apiVersion: false })
    : api(server, 'POST', path, { form: params, apiVersion: false });
}

export async function refreshGrant(server, refreshToken, { json = false } = {}) {
  const params = { grant_type: 'refresh_token', refresh_token: refreshToken };
  return json
    ? api(server, 'POST', TOKEN_PATH, { body: params, apiVersion: false })
    : api(server, 'POST', TOKEN_PATH, { form: params, apiVersion: false });
}

/** account_requests (new user) + code exchange; asserts both succeed. */
export async function newAccount(server, opts = {}) {
  const ar = await accountRequest(server, opts);
  assert.equal(ar.res.status, 200, `account_requests: ${ar.res.text}`);
  assert.equal(ar.res.json.type, 'oauth', `account_requests: ${ar.res.text}`);
  const code = ar.res.json.oauth.code;
  const tok = await exchangeCode(server, code, ar.verifier);
  assert.equal(tok.status, 200, `token: ${tok.text}`);
  return { ...ar, code, tokens: tok.json, account: tok.json.account };
}

export function bearer(token) { return { authorization: `Bearer ${token}` }; }

export async function createResource(server, accessToken, body = {}, { path = `${P}/resources` } = {}) {
  return api(server, 'POST', path, { body, headers: bearer(accessToken) });
}
export async function getResource(server, accessToken, id, opts = {}) {
  return api(server, 'GET', `${P}/resources/${id}`, { headers: bearer(accessToken), ...opts });
}

/** A fresh client, a new account, its tokens and its default resource. */
export async function provisioned(server, { clientId, ...opts } = {}) {
  const cid = clientId ?? await registerClient(server);
  const acct = await newAccount(server, { clientId: cid, ...opts });
  const r = await createResource(server, acct.tokens.access_token);
  assert.equal(r.status, 200, `resources: ${r.text}`);
  return { clientId: cid, ...acct, resource: r.json };
}

// ---------------------------------------------------------------------------------------------
// Outbox (.eml files).

function decodeQP(s) {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}
/** Readable renderings of an .eml: raw, quoted-printable-decoded and any base64 blocks decoded. */
export function emlTexts(raw) {
  const out = [raw, decodeQP(raw)];
  const b64 = raw.match(/(?:^[A-Za-z0-9+/=]{16,}\r?\n)+/gm) || [];
  for (const block of b64) {
    try { out.push(Buffer.from(block.replace(/\s+/g, ''), 'base64').toString('utf8')); } catch { /* ignore */ }
  }
  return out.join('\n');
}

/** The parts of a raw MIME message: {headers, parts: [{headers, body}]} (headers lower-cased). */
export function mimeParts(raw) {
  const splitHead = (s) => {
    const at = s.indexOf('\r\n\r\n');
    const head = s.slice(0, at).replace(/\r\n[ \t]+/g, ' ');
    const headers = {};
    for (const line of head.split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { headers, body: s.slice(at + 4) };
  };
  const top = splitHead(raw);
  const boundary = /boundary="([^"]+)"/.exec(top.headers['content-type'] ?? '')?.[1];
  if (!boundary) return { headers: top.headers, parts: [] };
  const sections = top.body.split(`--${boundary}`);
  const parts = sections.slice(1, -1).map((s) => splitHead(s.replace(/^\r\n/, '')));
  return { headers: top.headers, boundary, parts, epilogue: sections.at(-1) };
}

/** RFC 2045 §6.7 decoding. */
export function decodeQuotedPrintable(s) {
  const bytes = [];
  const joined = s.replace(/=\r\n/g, '');
  for (let i = 0; i < joined.length; i += 1) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export async function emails(server) {
  if (!existsSync(server.outboxDir)) return [];
  const names = (await readdir(server.outboxDir)).filter((n) => n.endsWith('.eml')).sort();
  const out = [];
  for (const n of names) {
    const raw = await readFile(join(server.outboxDir, n), 'utf8');
    out.push({ file: n, raw, text: emlTexts(raw) });
  }
  return out;
}

export function isAddressedTo(mail, email) {
  const m = /^To:(.*(?:\r?\n[ \t].*)*)/im.exec(mail.raw);
  return !!m && m[1].toLowerCase().includes(email.toLowerCase());
}

export async function emailsTo(server, email) {
  return (await emails(server)).filter((m) => isAddressedTo(m, email));
}

export async function waitForEmail(server, email, { timeoutMs = 5000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await emailsTo(server, email);
    if (found.length) return found[0];
    if (Date.now() > deadline) {
      const all = await emails(server);
      assert.fail(`no .eml addressed to ${email} in ${server.outboxDir} within ${timeoutMs} ms (files: ${all.map((m) => m.file).join(', ')})`);
    }
    await sleep(100);
  }
}

export function setPasswordToken(server, mail) {
  const esc = server.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${esc}/account/set-password\\?token=([A-Za-z0-9_%-]+)`).exec(mail.text);
  return m ? decodeURIComponent(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Misc.

/** Rate-limit windows are fixed hours: don't start a limit test in the last `margin` seconds of one. */
export async function avoidHourBoundary(marginSeconds = 30) {
  const left = 3600 - (Math.floor(Date.now() / 1000) % 3600);
  if (left <= marginSeconds) await sleep((left + 2) * 1000);
}

export function withoutKeys(obj, ...keys) {
  const o = { ...obj };
  for (const k of keys) delete o[k];
  return o;
}

/** Server liveness after abuse: /_health answers {"status":"ok"}. */
export async function assertHealthy(server) {
  const r = await api(server, 'GET', '/_health', { apiVersion: false, timeoutMs: 10000 });
  assert.equal(r.status, 200, `/_health: ${r.status} ${r.text}`);
  assert.deepEqual(r.json, { status: 'ok' });
}

/**
 * Like avoidHourBoundary for any fixed window (900 s for the login limits, 60 s for
 * /oauth/authorize): don't start a limit test in the last `marginSeconds` of a window.
 */
export async function avoidWindowBoundary(windowSeconds, marginSeconds = 30) {
  assert.ok(marginSeconds < windowSeconds, 'the margin must be shorter than the window');
  const left = windowSeconds - (Math.floor(Date.now() / 1000) % windowSeconds);
  if (left <= marginSeconds) await sleep((left + 2) * 1000);
}
