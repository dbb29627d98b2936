// Shared helpers for the end-to-end tests (docs/PAGES.md): a server with real SMTP, a partner
// callback server, a cookie-keeping HTTP client that reads forms, user creation through the
// welcome email, security-header checks, and a whole-database search for secrets.
//
// Everything listens on and talks to 127.0.0.1 only.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import {
  ON_POSTGRES, accountRequest, api, db, exchangeCode, listenOnFreePort, q, q1, rawHttp, registerClient, setLimit, sha256hex,
  sleep, startServer, uniqueEmail,
} from '../blackbox/harness.mjs';
import { decodeEntities, startSmtp } from './smtp_fixture.mjs';
import { startTlsSite } from '../blackbox/tls_fixture.mjs';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../..');
export const SESSION_COOKIE = 'provisiond_session';
export const CSRF_COOKIE = 'provisiond_csrf';
export const DEFAULT_PASSWORD = 'correct horse battery staple';
export const PARTNER_NAME = 'Acme Analytics';

// ---------------------------------------------------------------------------------------------
// Servers.

/** A promise that resolves after ms without keeping the process alive. */
export function idle(ms) {
  return new Promise((res) => { setTimeout(res, ms).unref(); });
}

/**
 * Like Server.stop() (SIGTERM, then assert a clean exit 0 within 15 s) but without leaving a 15 s
 * timer behind, which would keep each test file's process alive for 15 s after its last test.
 */
export async function stopServer(server) {
  if (!server?.proc) return;
  const child = server.proc;
  server.proc = null;
  if (child.exitCode !== null || child.signalCode !== null) {
    const r = await server._exited;
    assert.fail(`provisiond had already exited (${JSON.stringify(r)}); stderr:\n${server.stderr().slice(-4000)}`);
  }
  child.kill('SIGTERM');
  const r = await Promise.race([server._exited, idle(15000).then(() => 'timeout')]);
  if (r === 'timeout') {
    child.kill('SIGKILL');
    assert.fail('provisiond did not exit within 15 s of SIGTERM');
  }
  assert.deepEqual(r, { code: 0, signal: null }, `provisiond exit after SIGTERM; stderr tail:\n${server.stderr().slice(-2000)}`);
}

/**
 * provisiond with a real SMTP server: {server, smtp}. `smtp: false` leaves mail in the outbox dir;
 * `smtp: <SmtpServer>` uses that one (for instance one that is still down).
 */
export async function startWithSmtp({ smtp, extraArgs = [], env = {} } = {}) {
  const mail = smtp === false ? null : (smtp ?? await startSmtp());
  const server = await startServer({ extraArgs: [...(mail ? mail.args() : []), ...extraArgs], env });
  return { server, smtp: mail };
}

/**
 * A partner's web app on 127.0.0.1: records every request to it (the OAuth callback) and answers
 * 200 with a small page. {port, origin, redirectUri, hits, waitForHit({since, timeoutMs}), stop()}
 */
export async function startCallbackServer({ path = '/cb' } = {}) {
  const hits = [];
  const srv = http.createServer((req, res) => {
    hits.push({ method: req.method, url: req.url, headers: req.headers, at: Date.now() });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Partner callback</title><h1>Partner callback</h1>');
  });
  const port = await listenOnFreePort(srv);
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    redirectUri: `${origin}${path}`,
    hits,
    /** The first hit at index >= since: {url: URL, params: URLSearchParams, ...}. */
    async waitForHit({ since = 0, timeoutMs = 10000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (hits.length <= since) {
        if (Date.now() > deadline) assert.fail(`the partner callback ${origin}${path} was not called within ${timeoutMs} ms`);
        await sleep(50);
      }
      const h = hits[since];
      const url = new URL(h.url, origin);
      return { ...h, url, params: url.searchParams };
    },
    stop: () => new Promise((res) => { srv.closeAllConnections?.(); srv.close(() => res()); }),
  };
}

/**
 * Stop an nginx site from ../blackbox/tls_fixture.mjs (SIGTERM to its master, by its pid file) without
 * leaving site.stop()'s 10 s timer behind.
 */
export async function stopSite(site) {
  if (!site) return;
  let pid;
  try { pid = Number(readFileSync(join(site.dir, 'nginx.pid'), 'utf8').trim()); } catch { pid = undefined; }
  if (!pid) { await site.stop(); return; }
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 200; i += 1) {
    try { process.kill(pid, 0); } catch { return; }
    await sleep(50);
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/** A plain web server on another loopback origin serving fixed HTML (the "attacker" site). */
export async function startHtmlServer(routes) {
  const srv = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const r = routes[path];
    if (!r) { res.writeHead(404); res.end('not found'); return; }
    const { body, headers = {} } = typeof r === 'string' ? { body: r } : r;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  });
  const port = await listenOnFreePort(srv);
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    stop: () => new Promise((res) => { srv.closeAllConnections?.(); srv.close(() => res()); }),
  };
}

/**
 * An operator-registered partner without rate limits (the partner limits of docs/API.md would
 * otherwise stop a test file after 10 account requests).
 */
export async function registerPartner(server, opts = {}) {
  const id = await registerClient(server, opts);
  for (const endpoint of ['account_requests', 'token_exchanges', 'resource_creates']) {
    await setLimit(server, id, endpoint, 'unlimited');
  }
  return id;
}

/**
 * What most browser tests start with: the partner's callback server, provisiond with a real SMTP
 * server, the partner registered with its limits off, and (with `tlsSite`) the nginx TLS site for
 * metadata documents. `stop()` stops them all (close the browser first).
 */
export async function startPartnerWorld({ tlsSite = false } = {}) {
  const world = {};
  if (tlsSite) world.site = await startTlsSite();
  world.cb = await startCallbackServer();
  ({ server: world.server, smtp: world.smtp } = await startWithSmtp(
    tlsSite ? { extraArgs: world.site.cimdArgs(['partner.test']) } : {}));
  world.clientId = await registerPartner(world.server, { name: PARTNER_NAME, redirectUri: world.cb.redirectUri });
  world.stop = async () => {
    await stopServer(world.server);
    await world.smtp?.stop();
    await world.cb?.stop();
    if (world.site) await stopSite(world.site);
  };
  return world;
}

// ---------------------------------------------------------------------------------------------
// HTML.

/** The visible text of an HTML document (tags removed, entities decoded, whitespace collapsed). */
export function htmlText(html) {
  return decodeEntities(String(html)
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    out[m[1].toLowerCase()] = m[2] !== undefined || m[3] !== undefined || m[4] !== undefined
      ? decodeEntities(m[2] ?? m[3] ?? m[4]) : '';
  }
  return out;
}

/**
 * Every <form> in a page: {action, method, fields: {name: value} (what a browser would submit
 * without a button), inputs, buttons: [{name, value, text}], selects: [{name, options}], html, text}.
 */
export function parseForms(html) {
  const forms = [];
  for (const m of String(html).matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const fa = attrs(m[1]);
    const inner = m[2];
    const inputs = [];
    const fields = {};
    for (const im of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const a = attrs(im[1]);
      inputs.push(a);
      const type = (a.type || 'text').toLowerCase();
      if (!a.name || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && !('checked' in a)) continue;
      fields[a.name] = a.value ?? '';
    }
    const selects = [];
    for (const sm of inner.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/gi)) {
      const a = attrs(sm[1]);
      const options = [...sm[2].matchAll(/<option\b([^>]*)>([\s\S]*?)<\/option>/gi)].map((om) => {
        const oa = attrs(om[1]);
        return { value: oa.value ?? htmlText(om[2]), text: htmlText(om[2]), selected: 'selected' in oa };
      });
      selects.push({ name: a.name, options });
      if (a.name && options.length) fields[a.name] = (options.find((o) => o.selected) ?? options[0]).value;
    }
    for (const tm of inner.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/gi)) {
      const a = attrs(tm[1]);
      if (a.name) fields[a.name] = decodeEntities(tm[2]);
    }
    const buttons = [];
    for (const bm of inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const a = attrs(bm[1]);
      if ((a.type || 'submit').toLowerCase() !== 'submit') continue;
      buttons.push({ name: a.name, value: a.value ?? '', text: htmlText(bm[2]) });
    }
    for (const a of inputs) {
      if ((a.type || '').toLowerCase() === 'submit') buttons.push({ name: a.name, value: a.value ?? '', text: a.value ?? '' });
    }
    forms.push({
      action: fa.action ?? '', method: (fa.method || 'get').toLowerCase(), fields, inputs, buttons, selects,
      html: m[0], text: htmlText(inner),
    });
  }
  return forms;
}

/** The form that has a submit button whose text is `label` (string: exact after trimming; RegExp). */
export function formWithButton(forms, label) {
  const hit = (b) => (label instanceof RegExp ? label.test(b.text) : b.text.trim() === label);
  const f = forms.find((x) => x.buttons.some(hit));
  if (!f) return undefined;
  return { ...f, button: f.buttons.find(hit) };
}

// ---------------------------------------------------------------------------------------------
// A cookie-keeping HTTP client for pages (no redirects followed).

export class WebClient {
  constructor(server) {
    this.server = server;
    this.jar = new Map();
  }

  cookie(name) { return this.jar.get(name); }
  setCookie(name, value) { if (value === undefined) this.jar.delete(name); else this.jar.set(name, value); }
  cookieHeader() { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '); }

  _store(res) {
    const sc = res.headers['set-cookie'] || [];
    res.setCookies = sc.map(parseSetCookie);
    for (const c of res.setCookies) {
      const expired = c.attrs['max-age'] !== undefined ? Number(c.attrs['max-age']) <= 0
        : c.attrs.expires !== undefined ? Date.parse(c.attrs.expires) <= Date.now() : false;
      if (expired || c.value === '') this.jar.delete(c.name); else this.jar.set(c.name, c.value);
    }
  }

  async request(method, path, { form, headers = {}, body } = {}) {
    const h = { ...headers };
    let payload = body;
    if (form !== undefined) {
      payload = Buffer.from(new URLSearchParams(form).toString());
      h['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    if (payload !== undefined) h['content-length'] = String(Buffer.byteLength(payload));
    const ck = this.cookieHeader();
    if (ck && h.cookie === undefined) h.cookie = ck;
    for (const k of Object.keys(h)) if (h[k] === null) delete h[k];
    if (/^https?:\/\//i.test(path)) {
      const u = new URL(path);
      assert.equal(u.origin, this.server.url, `WebClient only talks to ${this.server.url}: ${path}`);
      path = u.pathname + u.search;
    }
    const res = await rawHttp(this.server, method, path, { headers: h, body: payload });
    this._store(res);
    res.location = res.headers.location;
    res.path = path;
    res.forms = parseForms(res.text).map((f) => ({ ...f, action: f.action || path }));
    res.pageText = htmlText(res.text);
    return res;
  }

  get(path, opts) { return this.request('GET', path, opts); }
  post(path, form, opts = {}) { return this.request('POST', path, { ...opts, form }); }

  /** GET, following redirects on our own origin (at most 10); returns the last response with .url. */
  async follow(path) {
    let p = path;
    for (let i = 0; i < 10; i += 1) {
      const r = await this.get(p);
      r.url = new URL(p, this.server.url).href;
      if (r.status < 300 || r.status >= 400 || !r.location) return r;
      const next = new URL(r.location, r.url);
      if (next.origin !== this.server.url) return r;
      p = next.pathname + next.search;
    }
    throw new Error(`too many redirects from ${path}`);
  }

  /** Submit a parsed form (fields + the clicked button + overrides) to its action. */
  async submit(form, overrides = {}, opts = {}) {
    const fields = { ...form.fields };
    if (form.button?.name) fields[form.button.name] = form.button.value;
    for (const [k, v] of Object.entries(overrides)) {
      if (v === undefined) delete fields[k]; else fields[k] = v;
    }
    return this.post(form.action, fields, opts);
  }
}

export function parseSetCookie(s) {
  const [pair, ...rest] = s.split(';');
  const i = pair.indexOf('=');
  const out = { name: pair.slice(0, i).trim(), value: pair.slice(i + 1).trim(), attrs: {}, flags: new Set(), raw: s };
  for (const part of rest) {
    const j = part.indexOf('=');
    const k = (j < 0 ? part : part.slice(0, j)).trim().toLowerCase();
    if (!k) continue;
    if (j < 0) out.flags.add(k); else out.attrs[k] = part.slice(j + 1).trim();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Security headers every page carries (docs/PAGES.md "Pages").

export function parseCsp(value) {
  const out = {};
  for (const d of String(value || '').split(';')) {
    const parts = d.trim().split(/\s+/).filter(Boolean);
    if (parts.length) out[parts[0].toLowerCase()] = parts.slice(1);
  }
  return out;
}

/** The exact header set; formActionExtra = the partner's redirect origin on a consent page. */
export function assertPageHeaders(res, what, { formActionExtra } = {}) {
  const h = res.headers;
  const csp = parseCsp(h['content-security-policy']);
  assert.deepEqual(csp, {
    'default-src': ["'none'"],
    'style-src': ["'self'"],
    'img-src': ["'self'"],
    'form-action': ["'self'", ...(formActionExtra ? [formActionExtra] : [])],
    'frame-ancestors': ["'none'"],
    'base-uri': ["'none'"],
  }, `${what}: Content-Security-Policy was ${JSON.stringify(h['content-security-policy'])}`);
  assert.equal(h['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(h['referrer-policy'], 'same-origin', `${what}: Referrer-Policy`);
  assert.equal(h['cache-control'], 'no-store', `${what}: Cache-Control`);
}

// ---------------------------------------------------------------------------------------------
// Users, through the real welcome email.

export function setPasswordLink(server, mail) {
  const prefix = `${server.url}/account/set-password?token=`;
  return mail.links.find((l) => l.startsWith(prefix));
}

/**
 * A brand-new user by account_requests: {email, tokens, account, projectId, orgId, userId, verifier,
 * mail, link}. The code is exchanged (so the partner has a token family) unless exchange:false.
 */
export async function newUserByAccountRequest(server, smtp, { clientId, email = uniqueEmail('e2e'), exchange = true, ...extra } = {}) {
  const ar = await accountRequest(server, { clientId, email, ...extra });
  assert.equal(ar.res.status, 200, `account_requests: ${ar.res.text}`);
  assert.equal(ar.res.json.type, 'oauth', `account_requests for a new email: ${ar.res.text}`);
  let tokens;
  if (exchange) {
    const tok = await exchangeCode(server, ar.res.json.oauth.code, ar.verifier);
    assert.equal(tok.status, 200, `token: ${tok.text}`);
    tokens = tok.json;
  }
  const mail = await smtp.waitForMail(email, { timeoutMs: 15000 });
  const link = setPasswordLink(server, mail);
  assert.ok(link, `welcome email has a set-password link on ${server.url}: ${JSON.stringify(mail.links)}\n${mail.text}`);
  const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', email.toLowerCase());
  const org = q1(server, 'SELECT organization_id FROM memberships WHERE user_id = ?', user.id);
  const project = q1(server, 'SELECT id, api_token, name FROM projects WHERE organization_id = ? ORDER BY id', org.organization_id);
  return {
    email, tokens, account: tokens?.account, code: ar.res.json.oauth.code, verifier: ar.verifier, mail, link,
    userId: user.id, orgId: org.organization_id, projectId: project.id, projectToken: project.api_token, projectName: project.name,
  };
}

/** GET the set-password link, submit the form over HTTP: returns the logged-in WebClient. */
export async function setPasswordOverHttp(server, link, password = DEFAULT_PASSWORD) {
  const web = new WebClient(server);
  const u = new URL(link);
  const page = await web.get(u.pathname + u.search);
  assert.equal(page.status, 200, `GET ${u.pathname}: ${page.status} ${page.pageText.slice(0, 300)}`);
  const form = formWithButton(page.forms, 'Set password');
  assert.ok(form, `set-password page has a "Set password" form: ${page.text.slice(0, 2000)}`);
  const r = await web.submit(form, { password, password_confirm: password });
  assert.equal(r.status, 302, `POST set-password: ${r.status} ${r.pageText.slice(0, 300)}`);
  assert.equal(new URL(r.location, server.url).href, `${server.url}/dashboard`, `set-password redirects to /dashboard: ${r.location}`);
  assert.ok(web.cookie(SESSION_COOKIE), 'logged in after setting the password');
  return web;
}

/** A new user with a password (and a token family for clientId). */
export async function userWithPassword(server, smtp, opts = {}) {
  const u = await newUserByAccountRequest(server, smtp, opts);
  const password = opts.password ?? DEFAULT_PASSWORD;
  const web = await setPasswordOverHttp(server, u.link, password);
  return { ...u, password, web };
}

/** Log in over HTTP; returns {web, res}. Asserts a 302. */
export async function loginOverHttp(server, email, password, { next, web = new WebClient(server) } = {}) {
  const page = await web.get(next === undefined ? '/login' : `/login?next=${encodeURIComponent(next)}`);
  assert.equal(page.status, 200, `GET /login: ${page.status}`);
  const form = formWithButton(page.forms, 'Log in');
  assert.ok(form, `login page has a "Log in" form: ${page.text.slice(0, 1500)}`);
  const res = await web.submit(form, { email, password });
  assert.equal(res.status, 302, `POST /login: ${res.status} ${res.pageText.slice(0, 300)}`);
  return { web, res };
}

/** A second account request for an existing email → the requires_auth consent URL and the state. */
export async function consentUrl(server, { clientId, email, ...extra }) {
  const ar = await accountRequest(server, { clientId, email, ...extra });
  assert.equal(ar.res.status, 200, `account_requests (existing user): ${ar.res.text}`);
  assert.equal(ar.res.json.type, 'requires_auth', `account_requests (existing user): ${ar.res.text}`);
  const url = ar.res.json.requires_auth.url;
  const state = new URL(url).searchParams.get('state');
  assert.ok(state, `consent URL carries a state: ${url}`);
  return { url, state, verifier: ar.verifier, challenge: ar.challenge, requestId: ar.requestId };
}

// ---------------------------------------------------------------------------------------------
// The database, all of it: where does a value appear?

/** [{table, column, rowid}] for every text cell that contains `needle`. */
export function dbFind(server, needle) {
  if (ON_POSTGRES) return pgFind(server, needle);
  const d = db(server);
  try {
    const tables = d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map((r) => r.name);
    const out = [];
    for (const t of tables) {
      const cols = d.prepare(`PRAGMA table_info("${t}")`).all().map((c) => c.name);
      for (const c of cols) {
        const rows = d.prepare(`SELECT rowid AS rid FROM "${t}" WHERE instr(CAST("${c}" AS TEXT), ?) > 0`).all(needle);
        for (const r of rows) out.push({ table: t, column: c, rowid: r.rid });
      }
    }
    return out;
  } finally {
    d.close();
  }
}

/** dbFind on PostgreSQL: every column of every table of the server's database, in one query. */
function pgFind(server, needle) {
  const columns = q(server, `SELECT table_name AS tbl, column_name AS col FROM information_schema.columns
    WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`);
  if (columns.length === 0) return [];
  const parts = columns.map(({ tbl, col }) => `SELECT '${tbl}' AS "table", '${col}' AS "column", ctid::text AS rowid
    FROM "${tbl}" WHERE strpos(CAST("${col}" AS TEXT), ?) > 0`);
  return q(server, parts.join(' UNION ALL '), ...columns.map(() => needle));
}

/** The secret is stored nowhere in the clear, and its SHA-256 is stored somewhere. */
export function assertStoredOnlyHashed(server, secret, what) {
  assert.deepEqual(dbFind(server, secret), [], `${what} appears in the clear in the database`);
  const hits = dbFind(server, sha256hex(secret));
  assert.ok(hits.length > 0, `${what}: its SHA-256 is stored (found nowhere)`);
  return hits;
}

export function tableNames(server) {
  if (ON_POSTGRES) {
    return q(server, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'").map((r) => r.name);
  }
  const d = db(server);
  try {
    return d.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name);
  } finally {
    d.close();
  }
}

export { api, sha256hex, randomUUID };
