// Deep links and a partner the operator turned off (docs/PAGES.md "Deep links").
// `provisiond clients disable <client>` spends every unused deep link that client handed out
// (its rows' used_at is set; other clients' links are untouched), `clients enable` does not bring
// them back, and the login by link itself refuses a link whose client is disabled or no longer
// holds the deep_links capability: 302 /login?error=expired_or_invalid_token, no session.
// Positive controls: the same kind of link from an active client logs its user in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  P, api, bearer, count, dbExec, newAccount, q, q1, setPasswordToken, sha256hex, startServer, waitForEmail,
} from './harness.mjs';
import { DEFAULT_PASSWORD, SESSION_COOKIE, WebClient, registerPartner, setPasswordOverHttp, stopServer } from '../e2e/e2e.mjs';

const DEEP = `${P}/deep_links`;
const EXPIRED = '/login?error=expired_or_invalid_token';
const TARGET = '/dashboard';

let server;
before(async () => { server = await startServer(); });
after(async () => { await stopServer(server); });

async function cli(args) {
  const r = await server.cli(args);
  assert.equal(r.code, 0, `provisiond ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  return r;
}

/** An operator-registered partner (limits off) holding the deep_links capability. */
async function deepLinkPartner(name) {
  const clientId = await registerPartner(server, { name });
  await cli(['clients', 'set-capability', clientId, 'deep_links', 'on']);
  assert.equal(q1(server, 'SELECT can_issue_deep_links AS c FROM oauth_clients WHERE client_id = ?', clientId).c, 1);
  return clientId;
}

/** A user provisioned by clientId who set a password from the welcome email (deep links need one). */
async function userWithPassword(clientId) {
  const acct = await newAccount(server, { clientId });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  assert.ok(token, `a set-password link in the welcome email to ${acct.email}`);
  await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
  const user = q1(server, 'SELECT id, password_hash FROM users WHERE email_normalized = ?', acct.email.toLowerCase());
  assert.ok(user?.password_hash, 'the password is set');
  return { ...acct, clientId, userId: user.id };
}

/** The partner asks for a link for its user: {url, path (to GET on our origin), token}. */
async function issueLink(user) {
  const res = await api(server, 'POST', DEEP, { body: { purpose: 'dashboard', path: TARGET }, headers: bearer(user.tokens.access_token) });
  assert.equal(res.status, 200, `deep_links: ${res.text}`);
  const u = new URL(res.json.url);
  assert.equal(u.origin + u.pathname, `${server.url}/agentic/login`, res.json.url);
  const token = u.searchParams.get('token');
  assert.ok(token, res.json.url);
  const row = linkRow(token);
  assert.equal(row.client_id, user.clientId);
  assert.equal(row.user_id, user.userId);
  assert.equal(row.used_at, null);
  return { url: res.json.url, path: u.pathname + u.search, token };
}

function linkRow(token) {
  const row = q1(server, 'SELECT * FROM deep_links WHERE token_hash = ?', sha256hex(token));
  assert.ok(row, 'the link is stored by its SHA-256');
  return row;
}

const sessionsOf = (userId) => count(server, 'SELECT COUNT(*) FROM sessions WHERE user_id = ?', userId);

function sessionCookies(res) {
  return (res.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${SESSION_COOKIE}=`));
}

/** Open a link in a fresh cookie jar; returns the response (redirects not followed). */
async function openLink(link) {
  const web = new WebClient(server);
  const res = await web.get(link.path);
  return { res, web };
}

/** The link is refused: 302 to the expired page, no session cookie, no new session row. */
async function assertRefused(link, user, what) {
  const before = sessionsOf(user.userId);
  const { res, web } = await openLink(link);
  assert.equal(res.status, 302, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.location.replace(server.url, ''), EXPIRED, `${what}: redirected to ${res.location}`);
  assert.deepEqual(sessionCookies(res), [], `${what}: no session cookie`);
  assert.equal(web.cookie(SESSION_COOKIE), undefined, `${what}: not logged in`);
  assert.equal(sessionsOf(user.userId), before, `${what}: no session row created`);
  assert.notEqual(linkRow(link.token).used_at, null, `${what}: the link is spent`);
}

/** The link logs its user in: 302 to the target with a session cookie naming the user. */
async function assertLogsIn(link, user, what) {
  const before = sessionsOf(user.userId);
  const { res, web } = await openLink(link);
  assert.equal(res.status, 302, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.location.replace(server.url, ''), TARGET, `${what}: redirected to ${res.location}`);
  assert.equal(sessionCookies(res).length, 1, `${what}: one session cookie: ${JSON.stringify(res.headers['set-cookie'])}`);
  const sid = web.cookie(SESSION_COOKIE);
  assert.ok(sid, `${what}: logged in`);
  assert.equal(q1(server, 'SELECT user_id FROM sessions WHERE id_hash = ?', sha256hex(sid))?.user_id, user.userId,
    `${what}: the session is the link's user's`);
  assert.equal(sessionsOf(user.userId), before + 1, `${what}: one new session row`);
  assert.notEqual(linkRow(link.token).used_at, null, `${what}: the link is spent`);
  // The session works: the dashboard opens without a login.
  const dash = await web.get('/dashboard');
  assert.equal(dash.status, 200, `${what}: /dashboard with the new session: ${dash.status} ${dash.location ?? ''}`);
}

// =============================================================================================
describe('clients disable spends the client\'s outstanding deep links', () => {
  test('disable → every unused link of that client is spent (and refused); other clients\' links still log in', async () => {
    const [clientA, clientB] = await Promise.all([deepLinkPartner('Disabled Partner'), deepLinkPartner('Active Partner')]);
    const [a1, a2, b1] = await Promise.all([userWithPassword(clientA), userWithPassword(clientA), userWithPassword(clientB)]);

    // Positive control before anything is disabled: a link from A logs its user in.
    const usedBefore = await issueLink(a1);
    await assertLogsIn(usedBefore, a1, 'a link from the active client A');
    const usedAtBefore = linkRow(usedBefore.token).used_at;

    // Outstanding links: three of A (two users), two of B.
    const aLinks = [await issueLink(a1), await issueLink(a1), await issueLink(a2)];
    const bLinks = [await issueLink(b1), await issueLink(b1)];

    const r = await cli(['clients', 'disable', clientA]);
    assert.match(r.stdout, new RegExp(`disabled ${clientA}`));
    assert.equal(q1(server, 'SELECT is_active FROM oauth_clients WHERE client_id = ?', clientA).is_active, 0);

    // Stored effect of the disable itself, before anyone opens a link.
    for (const l of aLinks) {
      const row = linkRow(l.token);
      assert.notEqual(row.used_at, null, 'every unused link of A is spent by the disable');
      assert.ok(Math.abs(row.used_at - Math.floor(Date.now() / 1000)) <= 30, `used_at is now-ish: ${row.used_at}`);
    }
    assert.equal(linkRow(usedBefore.token).used_at, usedAtBefore, 'a link used earlier keeps its used_at');
    for (const l of bLinks) assert.equal(linkRow(l.token).used_at, null, 'B\'s links are untouched');
    assert.equal(count(server, 'SELECT COUNT(*) FROM deep_links WHERE client_id = ? AND used_at IS NULL', clientA), 0);
    assert.equal(count(server, 'SELECT COUNT(*) FROM deep_links WHERE client_id = ? AND used_at IS NULL', clientB), 2);

    // While A is disabled its link is refused; B's identical link logs its user in.
    await assertRefused(aLinks[0], a1, 'a link of the disabled client A');
    await assertLogsIn(bLinks[0], b1, 'a link of the active client B');
  });

  test('clients enable afterwards does not bring an old link back; a link issued after it works', async () => {
    const clientA = await deepLinkPartner('Flapping Partner');
    const user = await userWithPassword(clientA);
    const old = await issueLink(user);
    const oldAfterVisit = await issueLink(user);

    await cli(['clients', 'disable', clientA]);
    await assertRefused(oldAfterVisit, user, 'a link opened while its client is disabled');
    await cli(['clients', 'enable', clientA]);
    assert.equal(q1(server, 'SELECT is_active FROM oauth_clients WHERE client_id = ?', clientA).is_active, 1);

    // Neither the link never opened nor the one refused while disabled comes back.
    await assertRefused(old, user, 'a link issued before the disable, opened after the enable');
    await assertRefused(oldAfterVisit, user, 'a link refused while disabled, opened again after the enable');

    // The client really is active again: a link issued now logs the user in.
    const fresh = await issueLink(user);
    await assertLogsIn(fresh, user, 'a link issued after the enable');
  });

  test('a client disabled in the database without the CLI (another process, an older binary): its link logs no one in', async () => {
    // `clients disable` spends the links, so the check at login is only observable when the
    // client row is turned off some other way.
    const clientA = await deepLinkPartner('Row Disabled Partner');
    const user = await userWithPassword(clientA);
    const link = await issueLink(user);
    writeDb('UPDATE oauth_clients SET is_active = 0 WHERE client_id = ?', clientA);
    assert.equal(linkRow(link.token).used_at, null, 'the link is still unused');
    await assertRefused(link, user, 'a link of a client whose row is inactive');
  });
});

describe('the deep_links capability is checked when the link is opened', () => {
  test('set-capability deep_links off → an outstanding link redirects to the expired page, no session; on again does not revive it', async () => {
    const clientC = await deepLinkPartner('Capability Partner');
    const user = await userWithPassword(clientC);
    const link = await issueLink(user);

    await cli(['clients', 'set-capability', clientC, 'deep_links', 'off']);
    assert.equal(q1(server, 'SELECT can_issue_deep_links AS c, is_active FROM oauth_clients WHERE client_id = ?', clientC).c, 0);
    await assertRefused(link, user, 'a link whose client lost the deep_links capability');

    // New links are refused at the endpoint while the capability is off.
    const denied = await api(server, 'POST', DEEP, { body: { path: TARGET }, headers: bearer(user.tokens.access_token) });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.error.code, 'deep_links_not_enabled');

    await cli(['clients', 'set-capability', clientC, 'deep_links', 'on']);
    await assertRefused(link, user, 'the same link after the capability is back on');

    // Positive control: an identical link, issued now that the capability is on, logs in.
    await assertLogsIn(await issueLink(user), user, 'a link issued with the capability on');
  });

  test('positive control: the same link from an active client with the capability logs the user in (and only once)', async () => {
    const clientD = await deepLinkPartner('Control Partner');
    const user = await userWithPassword(clientD);
    const link = await issueLink(user);
    await assertLogsIn(link, user, 'a link from an active client with the capability');
    await assertRefused(link, user, 'the same link a second time');
    assert.equal(q(server, 'SELECT client_id FROM deep_links WHERE token_hash = ?', sha256hex(link.token)).length, 1);
  });
});

/** A write to the database from outside the server (SQLite's WAL or PostgreSQL: safe beside it). */
function writeDb(sql, ...params) {
  dbExec(server, sql, ...params);
}
