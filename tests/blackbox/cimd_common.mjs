// Shared helpers for the CIMD (Client ID Metadata Document) black-box tests (docs/CIMD.md).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import assert from 'node:assert/strict';
import { P, API_VERSION, BIN, api, pkce, runProcess, sleep, uniqueEmail } from './harness.mjs';
import { checkResponse } from './openapi_validator.mjs';

export const REGISTRATION_PATH = `${P}/client_registration`;
export const CHECK_NAMES = ['client_id_url', 'not_blocked', 'metadata_document', 'verification_token'];
export const REG_LIMIT_MESSAGE = 'Too many new client registrations. Try again later.';

export const uid = () => randomUUID().slice(0, 8);

/** A valid metadata document for `url`; keys whose value is undefined are dropped. */
export function cimdDoc(url, overrides = {}) {
  const d = {
    client_id: url,
    client_name: 'Acme Partner',
    redirect_uris: ['https://partner.example/callback'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...overrides,
  };
  for (const k of Object.keys(d)) if (d[k] === undefined) delete d[k];
  return d;
}

/** Write a document at `path` on the site and return its client_id URL for `host`. */
export function publish(site, path, overrides = {}, host = 'partner.test') {
  const url = site.url(host, path);
  site.writeDoc(path, cimdDoc(url, overrides));
  return url;
}

// ---------------------------------------------------------------------------------------------
// provisiond clients check URL (the CLI diagnostic).

/**
 * provisiond clients check URL [cimd flags]   (no database: it stores nothing)
 * Returns {code, stdout, stderr, json, checks, elapsedMs}.
 */
export async function cliCheck(url, cimdArgs, { env = {}, timeoutMs = 40000 } = {}) {
  const t0 = Date.now();
  const r = await runProcess(BIN, ['clients', 'check', url, ...cimdArgs], { env, timeoutMs });
  const elapsedMs = Date.now() - t0;
  let json;
  try { json = JSON.parse(r.stdout); } catch { json = undefined; }
  return { ...r, json, checks: json?.checks, elapsedMs };
}

export function findCheck(checks, name) {
  assert.ok(Array.isArray(checks), `checks is an array: ${JSON.stringify(checks)}`);
  return checks.find((c) => c.name === name);
}

/** The named check exists, is ok:false, and (after removing `strip` strings) its detail matches re. */
export function assertFailedCheck(checks, name, re, { strip = [] } = {}) {
  const c = findCheck(checks, name);
  assert.ok(c, `no check named ${name} in ${JSON.stringify(checks)}`);
  assert.equal(c.ok, false, `check ${name} should fail: ${JSON.stringify(c)}`);
  assert.equal(typeof c.detail, 'string', JSON.stringify(c));
  let d = c.detail;
  for (const s of strip) d = d.split(s).join('');
  if (re) assert.match(d, re, `detail of ${name}: ${c.detail}`);
  // every check before the failing one passed
  for (const other of checks.slice(0, checks.indexOf(c))) {
    assert.equal(other.ok, true, `checks before ${name} pass: ${JSON.stringify(checks)}`);
  }
  return c;
}

/** CLI: exit 1, JSON on stdout, the named check failed with a detail matching re. */
export function assertCliRefused(r, name, re, opts) {
  assert.equal(r.code, 1, `clients check exit code (stdout ${r.stdout}; stderr ${r.stderr})`);
  assert.ok(r.json, `clients check prints JSON: ${r.stdout} / ${r.stderr}`);
  return assertFailedCheck(r.checks, name, re, opts);
}

/**
 * CLI: exit 0, the checks in order, each ok. (`clients check` has no database, so it may leave out
 * not_blocked.)
 */
export function assertCliOk(r) {
  assert.equal(r.code, 0, `clients check should pass (stdout ${r.stdout}; stderr ${r.stderr})`);
  assert.ok(r.json, `clients check prints JSON: ${r.stdout}`);
  const names = r.checks.map((c) => c.name);
  const withoutBlock = CHECK_NAMES.filter((n) => n !== 'not_blocked');
  assert.ok(JSON.stringify(names) === JSON.stringify(CHECK_NAMES) || JSON.stringify(names) === JSON.stringify(withoutBlock),
    `check names in order: ${names}`);
  for (const n of ['client_id_url', 'metadata_document']) {
    assert.equal(findCheck(r.checks, n).ok, true, `${n}: ${JSON.stringify(r.checks)}`);
  }
}

/** Loopback source addresses for API calls: registration limits are per client address. */
let addrCounter = 0;
export function nextSourceAddress() {
  const n = addrCounter++;
  return `127.${100 + Math.floor(n / 62500)}.${(Math.floor(n / 250) % 250) + 1}.${(n % 250) + 1}`;
}

// ---------------------------------------------------------------------------------------------
// POST /api/agentic/provisioning/client_registration

export async function registration(server, clientId, { apiVersion = true, body, localAddress } = {}) {
  const payload = body ?? { client_id: clientId };
  if (localAddress) return apiFrom(server, localAddress, 'POST', REGISTRATION_PATH, { body: payload, apiVersion });
  return api(server, 'POST', REGISTRATION_PATH, { body: payload, apiVersion, timeoutMs: 40000 });
}

/** 200, registered:true, the four checks in order, the first three ok. Returns the body. */
export function assertRegistered(res, url) {
  assert.equal(res.status, 200, res.text);
  const b = res.json;
  assert.ok(b, res.text);
  for (const k of ['client_id', 'registered', 'client_type', 'token_endpoint_auth_method', 'client_name', 'redirect_uris',
    'scopes', 'verified', 'organization_id', 'provisioning', 'checks']) {
    assert.ok(k in b, `member ${k} in ${res.text}`);
  }
  assert.equal(b.client_id, url);
  assert.equal(b.registered, true);
  assert.equal(b.client_type, 'public');
  assert.equal(b.token_endpoint_auth_method, 'none');
  assert.deepEqual(b.provisioning, { active: true, can_create_accounts: true, can_provision_resources: true });
  assert.deepEqual(b.checks.map((c) => c.name), CHECK_NAMES, res.text);
  for (const c of b.checks) {
    assert.deepEqual(Object.keys(c).sort(), ['detail', 'name', 'ok'], JSON.stringify(c));
    assert.equal(typeof c.detail, 'string');
  }
  for (const c of b.checks.slice(0, 3)) assert.equal(c.ok, true, `${c.name}: ${c.detail}`);
  return b;
}

/** 400 registration_failed with the exact envelope; the named check failed with a detail matching re. */
export function assertRegistrationFailed(res, url, name, re, opts) {
  assert.equal(res.status, 400, res.text);
  const b = res.json;
  assert.ok(b, res.text);
  assert.deepEqual(Object.keys(b).sort(), ['checks', 'client_id', 'error', 'registered', 'type'], res.text);
  assert.equal(b.type, 'error');
  assert.equal(b.error.code, 'registration_failed', res.text);
  assert.equal(typeof b.error.message, 'string');
  assert.deepEqual(Object.keys(b.error).sort(), ['code', 'message']);
  assert.equal(b.client_id, url);
  assert.equal(b.registered, false);
  return assertFailedCheck(b.checks, name, re, opts);
}

// ---------------------------------------------------------------------------------------------
// HTTP from a chosen loopback source address (registration limits are per client address).

export function apiFrom(server, localAddress, method, path, { body, apiVersion = true, headers = {}, timeoutMs = 40000 } = {}) {
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    h['content-type'] = 'application/json';
    h['content-length'] = String(payload.length);
  }
  if (apiVersion === true) h['api-version'] = API_VERSION;
  else if (typeof apiVersion === 'string') h['api-version'] = apiVersion;
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path, headers: h, agent: false, localAddress }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        const result = { status: resp.statusCode, headers: resp.headers, text, json };
        try { checkResponse(method, path, result); } catch (e) { rej(e); return; } // docs/openapi.json
        res(result);
      });
      resp.on('error', rej);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on('error', rej);
    req.end(payload);
  });
}

/** account_requests like harness.accountRequest, optionally from a given source address. */
export async function accountRequestFrom(server, { clientId, localAddress, pkcePair = pkce(), email = uniqueEmail('cimd'), id = `req_${randomUUID()}`, ...extra } = {}) {
  const body = {
    id, email, name: 'Jane Doe', client_id: clientId,
    code_challenge: pkcePair.challenge, code_challenge_method: 'S256', configuration: { region: 'US' }, ...extra,
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  const res = localAddress
    ? await apiFrom(server, localAddress, 'POST', `${P}/account_requests`, { body })
    : await api(server, 'POST', `${P}/account_requests`, { body });
  return { res, verifier: pkcePair.verifier, challenge: pkcePair.challenge, email, requestId: id, body };
}

export function assertRegistering(res) {
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(res.json, { type: 'registering', retry_after: 5 }, res.text);
  assert.equal(res.headers['retry-after'], '5');
}

/**
 * Repeat the same account request (same id, email and PKCE pair, like a partner following
 * Retry-After) while it answers 202; return the first other answer.
 */
export async function pollAccountRequest(server, opts = {}, { timeoutMs = 20000, intervalMs = 150 } = {}) {
  const pkcePair = opts.pkcePair ?? pkce();
  const email = opts.email ?? uniqueEmail('cimd');
  const id = opts.id ?? `req_${randomUUID()}`;
  const deadline = Date.now() + timeoutMs;
  let n202 = 0;
  for (;;) {
    const a = await accountRequestFrom(server, { ...opts, pkcePair, email, id });
    if (a.res.status !== 202) return { ...a, n202 };
    assertRegistering(a.res);
    n202 += 1;
    if (Date.now() > deadline) assert.fail(`still 202 registering after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export function assertTypedError(res, status, code, message) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.type, 'error', res.text);
  assert.equal(res.json.error?.code, code, res.text);
  const keys = JSON.stringify(Object.keys(res.json).sort());
  assert.ok(keys === '["error","type"]' || keys === '["error","id","type"]', res.text);
  assert.deepEqual(Object.keys(res.json.error).sort(), ['code', 'message'], res.text);
  if (message instanceof RegExp) assert.match(res.json.error.message, message);
  else if (message !== undefined) assert.equal(res.json.error.message, message);
}

/** Fixed per-minute windows: don't start a per-minute limit test in the last `margin` seconds of a minute. */
export async function avoidMinuteBoundary(marginSeconds = 15) {
  const left = 60 - (Math.floor(Date.now() / 1000) % 60);
  if (left <= marginSeconds) await sleep((left + 1) * 1000);
}

/** Poll fn() until it returns a truthy value; fail with `what` after timeoutMs. */
export async function waitFor(fn, what, { timeoutMs = 15000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** provisiond clients show ID --json, parsed. */
export async function showClient(server, id) {
  const r = await server.cli(['clients', 'show', id, '--json']);
  assert.equal(r.code, 0, `clients show ${id}: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Find a value for a key matching re anywhere in a JSON value (depth-first). */
export function findKey(obj, re) {
  if (obj && typeof obj === 'object') {
    for (const [k, v] of Object.entries(obj)) {
      if (re.test(k)) return { key: k, value: v };
    }
    for (const v of Object.values(obj)) {
      const f = findKey(v, re);
      if (f) return f;
    }
  }
  return undefined;
}
