// Deep links (docs/PAGES.md "Deep links"): the partner POSTs with its bearer token, the person
// opens the URL in a browser and lands in the project, logged in; the link is single-use.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { P, api, bearer, dbExec, newAccount, q, q1, sha256hex } from '../blackbox/harness.mjs';
import {
  PARTNER_NAME, SESSION_COOKIE, dbFind, registerPartner, startWithSmtp, stopServer, userWithPassword,
  WebClient,
} from './e2e.mjs';
import { bodyText, closeBrowser, cookieNamed, newPage, redirectChain, screenshot, visit } from './browser.mjs';

const DEEP = `${P}/deep_links`;
let server;
let smtp;
let clientId;

before(async () => {
  ({ server, smtp } = await startWithSmtp());
  clientId = await registerPartner(server, { name: PARTNER_NAME });
  // Deep links log people in: a capability the operator grants (off by default).
  const granted = await server.cli(['clients', 'set-capability', clientId, 'deep_links', 'on']);
  assert.equal(granted.code, 0, granted.stderr);
});
after(async () => {
  await closeBrowser();
  await stopServer(server);
  await smtp?.stop();
});

function deepLink(accessToken, body = {}) {
  return api(server, 'POST', DEEP, { body, headers: accessToken === null ? {} : bearer(accessToken) });
}

function tokenOf(url) {
  return new URL(url).searchParams.get('token');
}

test('POST deep_links → URL → the browser lands on /project/<id> logged in; a second use is refused', async () => {
  const user = await userWithPassword(server, smtp, { clientId });
  const t0 = Math.floor(Date.now() / 1000);
  const res = await deepLink(user.tokens.access_token, { purpose: 'dashboard' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json).sort(), ['expires_at', 'purpose', 'url']);
  assert.equal(res.json.purpose, 'dashboard');
  assert.ok(res.json.url.startsWith(`${server.url}/agentic/login?token=`), res.json.url);
  const token = tokenOf(res.json.url);
  assert.ok(token && token.length >= 32, res.json.url);
  const exp = Date.parse(res.json.expires_at);
  assert.ok(Number.isFinite(exp), `expires_at is a date: ${res.json.expires_at}`);
  assert.ok(Math.abs(exp / 1000 - (t0 + 600)) <= 5, `10 minutes: ${res.json.expires_at}`);

  const row = q1(server, 'SELECT * FROM deep_links WHERE token_hash = ?', sha256hex(token));
  assert.ok(row, 'stored by its SHA-256');
  assert.equal(row.user_id, user.userId);
  assert.equal(row.client_id, clientId);
  assert.equal(row.expires_at - row.created_at, 600);
  assert.equal(row.used_at, null);
  assert.deepEqual(dbFind(server, token), [], 'the token is nowhere in the clear');

  const { ctx, page } = await newPage();
  try {
    const landed = await visit(page, res.json.url);
    const chain = await redirectChain(landed);
    assert.equal(chain[0].status, 302, JSON.stringify(chain));
    assert.equal(page.url(), `${server.url}/project/${user.projectId}`, 'lands in the project');
    assert.equal(landed.status(), 200);
    const text = await bodyText(page);
    assert.ok(text.includes(user.projectToken), `the project page shows its token: ${text.slice(0, 1000)}`);
    await screenshot(page, 'project');
    const c = await cookieNamed(ctx, SESSION_COOKIE);
    assert.ok(c, 'logged in: a session cookie');
    assert.equal(q1(server, 'SELECT user_id FROM sessions WHERE id_hash = ?', sha256hex(c.value)).user_id, user.userId);
    assert.notEqual(q1(server, 'SELECT used_at FROM deep_links WHERE token_hash = ?', sha256hex(token)).used_at, null);
    await visit(page, `${server.url}/dashboard`);
    assert.equal(page.url(), `${server.url}/dashboard`, 'the dashboard opens without a login');
  } finally {
    await ctx.close();
  }

  // Second use (a fresh browser): 302 /login?error=expired_or_invalid_token, not logged in.
  const second = await newPage();
  try {
    const r = await visit(second.page, res.json.url);
    const chain = await redirectChain(r);
    assert.equal(chain[0].status, 302);
    const u = new URL(second.page.url());
    assert.equal(`${u.origin}${u.pathname}`, `${server.url}/login`);
    assert.equal(u.searchParams.get('error'), 'expired_or_invalid_token');
    assert.equal(await cookieNamed(second.ctx, SESSION_COOKIE), undefined, 'no session from a used link');
  } finally {
    await second.ctx.close();
  }
});

test('a link replaces the session of whoever was logged in with the token\'s user', async () => {
  const a = await userWithPassword(server, smtp, { clientId });
  const b = await userWithPassword(server, smtp, { clientId });
  const res = await deepLink(b.tokens.access_token);
  assert.equal(res.status, 200, res.text);
  const web = a.web; // logged in as A
  const before = web.cookie(SESSION_COOKIE);
  const u = new URL(res.json.url);
  const r = await web.get(u.pathname + u.search);
  assert.equal(r.status, 302);
  assert.equal(new URL(r.location, server.url).pathname, `/project/${b.projectId}`);
  const after = web.cookie(SESSION_COOKIE);
  assert.notEqual(after, before, 'a new session id');
  assert.equal(q1(server, 'SELECT user_id FROM sessions WHERE id_hash = ?', sha256hex(after)).user_id, b.userId);
});

test('path: a relative path is honoured; an absolute or protocol-relative one never leaves our origin', async () => {
  const user = await userWithPassword(server, smtp, { clientId });
  const ok = await deepLink(user.tokens.access_token, { path: '/dashboard' });
  assert.equal(ok.status, 200, ok.text);
  const w = new WebClient(server);
  const u = new URL(ok.json.url);
  const r = await w.get(u.pathname + u.search);
  assert.equal(r.status, 302);
  assert.equal(new URL(r.location, server.url).href, `${server.url}/dashboard`);

  for (const path of ['https://evil.example/x', '//evil.example/x', '/\\evil.example/x']) {
    const d = await deepLink(user.tokens.access_token, { path });
    if (d.status === 400) continue; // refused at creation: fine
    assert.equal(d.status, 200, d.text);
    const wc = new WebClient(server);
    const du = new URL(d.json.url);
    const rr = await wc.get(du.pathname + du.search);
    assert.equal(rr.status, 302, path);
    const dest = new URL(rr.location, server.url);
    assert.equal(dest.origin, server.url, `deep link path ${JSON.stringify(path)} redirected to ${rr.location}`);
  }
});

test('refused: no bearer, a bad bearer, an unknown token, an expired one', async () => {
  const rowsBefore = q(server, 'SELECT COUNT(*) AS n FROM deep_links')[0].n;
  const none = await deepLink(null);
  assert.equal(none.status, 401, none.text);
  const bad = await deepLink(`pha_${'x'.repeat(43)}`);
  assert.equal(bad.status, 401, bad.text);
  assert.equal(q(server, 'SELECT COUNT(*) AS n FROM deep_links')[0].n, rowsBefore, 'no rows from refused requests');

  const w = new WebClient(server);
  const r = await w.get(`/agentic/login?token=${'A'.repeat(43)}`);
  assert.equal(r.status, 302);
  assert.equal(r.location.replace(server.url, ''), '/login?error=expired_or_invalid_token');
  const empty = await w.get('/agentic/login');
  assert.equal(empty.status, 302);
  assert.equal(empty.location.replace(server.url, ''), '/login?error=expired_or_invalid_token');
  assert.equal(w.cookie(SESSION_COOKIE), undefined);

  // Expired: the row's expires_at moved into the past (the only write these tests make to the DB).
  const user = await userWithPassword(server, smtp, { clientId });
  const d = await deepLink(user.tokens.access_token);
  assert.equal(d.status, 200, d.text);
  const token = tokenOf(d.json.url);
  writeDb(server, 'UPDATE deep_links SET expires_at = ? WHERE token_hash = ?', Math.floor(Date.now() / 1000) - 1, sha256hex(token));
  const w2 = new WebClient(server);
  const e = await w2.get(`/agentic/login?token=${encodeURIComponent(token)}`);
  assert.equal(e.status, 302);
  assert.equal(e.location.replace(server.url, ''), '/login?error=expired_or_invalid_token');
  assert.equal(w2.cookie(SESSION_COOKIE), undefined);
});

function writeDb(srv, sql, ...params) {
  dbExec(srv, sql, ...params); // either backend (harness.mjs)
}

test('a partner without the deep_links capability gets 403 deep_links_not_enabled and nothing is stored', async () => {
  const other = await registerPartner(server, { name: 'No Links Partner' });
  const acct = await newAccount(server, { clientId: other });
  const before = q(server, 'SELECT COUNT(*) AS n FROM deep_links')[0].n;
  const res = await deepLink(acct.tokens.access_token, { purpose: 'dashboard' });
  assert.equal(res.status, 403, res.text);
  assert.equal(res.json.type, 'error');
  assert.equal(res.json.error.code, 'deep_links_not_enabled');
  assert.match(res.json.error.message, /set-capability/);
  assert.equal(q(server, 'SELECT COUNT(*) AS n FROM deep_links')[0].n, before);
});

test('a person who never set a password is not logged in by a deep link: the welcome email comes first', async () => {
  const acct = await newAccount(server, { clientId }); // provisioned, password never set
  const res = await deepLink(acct.tokens.access_token, { purpose: 'dashboard' });
  assert.equal(res.status, 200, res.text);
  const { ctx, page } = await newPage();
  try {
    await visit(page, res.json.url);
    assert.equal(page.url(), `${server.url}/login?error=set_password_first`);
    assert.match(await bodyText(page), /Set your password with the link in your welcome email first/);
    assert.equal(await cookieNamed(ctx, SESSION_COOKIE), undefined, 'not logged in');
    assert.notEqual(q1(server, 'SELECT used_at FROM deep_links WHERE token_hash = ?', sha256hex(tokenOf(res.json.url))).used_at, null,
      'the link is spent');
  } finally {
    await ctx.close();
  }
});
