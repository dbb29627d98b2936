// The login limiter (docs/PAGES.md "Login attempts"): only FAILED logins are counted, in fixed
// 15-minute windows, per (account, client address) up to 10 and per client address up to 100;
// at or over a limit POST /login answers 429 "Too many attempts" without checking the password.
// Before, every attempt was counted per address only (20 per 15 minutes), so behind a proxy one
// guesser locked every person out. The server runs behind a "proxy" (--trusted-proxies 127.0.0.1)
// and each test speaks for its own client addresses through X-Forwarded-For.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ON_POSTGRES, avoidWindowBoundary, count, newAccount, q1, setPasswordToken, sha256hex, startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';
import {
  DEFAULT_PASSWORD, SESSION_COOKIE, WebClient, formWithButton, loginOverHttp, registerPartner, setPasswordOverHttp,
  stopServer,
} from '../e2e/e2e.mjs';

const WINDOW = 900;
const PER_ACCOUNT_AND_ADDRESS = 10;
const PER_ADDRESS = 100;
const WRONG = 'not the password at all';

let server;
let clientId;
before(async () => {
  server = await startServer({ extraArgs: ['--trusted-proxies', '127.0.0.1'] });
  clientId = await registerPartner(server, { name: 'Login Limits Partner' });
});
after(async () => { await stopServer(server); });

/** A WebClient whose every request says, through the trusted proxy, that it comes from `address`. */
class ForwardedClient extends WebClient {
  constructor(s, address) {
    super(s);
    this.address = address;
  }

  request(method, path, opts = {}) {
    return super.request(method, path, { ...opts, headers: { 'x-forwarded-for': this.address, ...opts.headers } });
  }
}

/** A person with a password set from the welcome email: {email, userId}. */
async function userWithPassword() {
  const acct = await newAccount(server, { clientId });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  assert.ok(token, `a set-password link in the welcome email to ${acct.email}`);
  await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
  const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', acct.email.toLowerCase());
  return { email: acct.email, userId: user.id };
}

/** One POST /login from `address` (GET /login first for the CSRF cookie and field). */
async function attempt(email, password, address) {
  const web = new ForwardedClient(server, address);
  const page = await web.get('/login');
  assert.equal(page.status, 200, `GET /login: ${page.status}`);
  const form = formWithButton(page.forms, 'Log in');
  assert.ok(form, 'the login form');
  const res = await web.submit(form, { email, password });
  res.web = web;
  return res;
}

const sessionCookies = (res) => (res.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${SESSION_COOKIE}=`));

function assertFailed(res, what) {
  assert.equal(res.status, 401, `${what}: ${res.status} ${res.pageText.slice(0, 300)}`);
  assert.match(res.pageText, /Email or password is incorrect/, what);
  assert.deepEqual(sessionCookies(res), [], `${what}: no session`);
}

function assertThrottled(res, what) {
  assert.equal(res.status, 429, `${what}: ${res.status} ${res.pageText.slice(0, 300)}`);
  assert.match(res.pageText, /Too many attempts/, what);
  assert.deepEqual(sessionCookies(res), [], `${what}: no session`);
  assert.equal(res.web.cookie(SESSION_COOKIE), undefined, `${what}: not logged in`);
}

/** Logged in: 302 to /dashboard, a session cookie whose row names the user. */
async function assertLoggedIn(user, address, what) {
  const { res, web } = await loginOverHttp(server, user.email, DEFAULT_PASSWORD, { web: new ForwardedClient(server, address) });
  assert.equal(new URL(res.location, server.url).pathname, '/dashboard', `${what}: redirected to ${res.location}`);
  assert.equal(sessionCookies(res).length, 1, `${what}: a session cookie`);
  const sid = web.cookie(SESSION_COOKIE);
  assert.equal(q1(server, 'SELECT user_id FROM sessions WHERE id_hash = ?', sha256hex(sid))?.user_id, user.userId, `${what}: the session is the user's`);
}

const windowStart = () => { const now = Math.floor(Date.now() / 1000); return now - (now % WINDOW); };
const counterOf = (bucket) => count(server, 'SELECT COALESCE(SUM(count), 0) FROM rate_limit_counters WHERE bucket = ? AND window_start = ?', bucket, windowStart());
/** Failures counted for an address (any account) and for one account from one address. */
const failuresFrom = (address) => counterOf(`login_failed_address:${address}`);
const failuresOf = (email, address) => counterOf(`login_failed:${sha256hex(`${email.toLowerCase()}\n${address}`)}`);
/** Counter rows that mention the address in the clear, of any name (before the fix: "login:<address>"). */
// instr (SQLite) and strpos (PostgreSQL): the 1-based position of an exact, case-sensitive substring, 0 if none.
const INSTR = ON_POSTGRES ? 'strpos' : 'instr';
const rowsNaming = (address) => count(server, `SELECT COUNT(*) FROM rate_limit_counters WHERE ${INSTR}(bucket, ?) > 0`, address);

const failMany = (n, email, address) => Promise.all(Array.from({ length: n }, () => attempt(email, WRONG, address)));

// =============================================================================================
describe('login limits behind a trusted proxy', () => {
  let victim;
  let x;
  let y;
  let z;
  before(async () => {
    [victim, x, y, z] = await Promise.all([userWithPassword(), userWithPassword(), userWithPassword(), userWithPassword()]);
  });

  test('10 wrong passwords for one account from one address: the 11th attempt from there is 429, even with the right password; the person still logs in from another address', async () => {
    await avoidWindowBoundary(WINDOW, 60);
    const A = '198.51.100.10';
    const B = '198.51.100.11';
    // Nine failures (some with the address in capitals: still the same account) …
    const nine = [...await failMany(5, victim.email, A), ...await failMany(4, victim.email.toUpperCase(), A)];
    nine.forEach((r, i) => assertFailed(r, `failure ${i + 1}`));
    assert.equal(failuresOf(victim.email, A), 9);
    // … leave the account open from A: a correct login works and is not counted.
    await assertLoggedIn(victim, A, 'the right password after 9 failures');
    assert.equal(failuresOf(victim.email, A), 9, 'a success is not counted');
    assertFailed(await attempt(victim.email, WRONG, A), 'failure 10');
    assert.equal(failuresOf(victim.email, A), 10);
    assert.equal(failuresFrom(A), 10);

    // The 11th attempt from A: refused without looking at the password.
    assertThrottled(await attempt(victim.email, DEFAULT_PASSWORD, A), 'the right password from A after 10 failures');
    // The guesser keeps going, past the old per-address ceiling of 20: refused, and not counted.
    (await failMany(20, victim.email, A)).forEach((r, i) => assertThrottled(r, `attempt ${i + 12} from A`));
    assert.equal(failuresOf(victim.email, A), 10, 'refused attempts are not counted');
    assert.equal(failuresFrom(A), 10);
    assertThrottled(await attempt(victim.email, DEFAULT_PASSWORD, A), 'the right password from A, still');

    // The victim, from their own address behind the same proxy, gets in: the core regression.
    const sessionsBefore = count(server, 'SELECT COUNT(*) FROM sessions WHERE user_id = ?', victim.userId);
    await assertLoggedIn(victim, B, 'the right password from B');
    assert.equal(count(server, 'SELECT COUNT(*) FROM sessions WHERE user_id = ?', victim.userId), sessionsBefore + 1);
    assert.equal(failuresOf(victim.email, B), 0);
    // B's own budget is B's: a wrong password from B is an ordinary 401.
    assertFailed(await attempt(victim.email, WRONG, B), 'a wrong password from B');
    assert.equal(failuresOf(victim.email, B), 1);
    // The proxy's own address is another address too.
    await assertLoggedIn(victim, '127.0.0.1', 'the right password with no forwarded address');
  });

  test('10 failures against account X from address C do not block account Y from address C', async () => {
    await avoidWindowBoundary(WINDOW, 45);
    const C = '198.51.100.20';
    const D = '198.51.100.21';
    (await failMany(PER_ACCOUNT_AND_ADDRESS, x.email, C)).forEach((r, i) => assertFailed(r, `X from C, failure ${i + 1}`));
    assertThrottled(await attempt(x.email, DEFAULT_PASSWORD, C), 'X from C after 10 failures');
    await assertLoggedIn(y, C, 'Y from C');
    await assertLoggedIn(x, D, 'X from D');
    assertFailed(await attempt(y.email, WRONG, C), 'a wrong password for Y from C is still just wrong');
    assert.equal(failuresOf(x.email, C), 10);
    assert.equal(failuresOf(y.email, C), 1);
    assert.equal(failuresFrom(C), 11);
  });

  test('100 failures from one address, spread over 11 accounts (at most 10 each), block that address for every account; another address still works', async () => {
    await avoidWindowBoundary(WINDOW, 60);
    const E = '203.0.113.30';
    const F = '203.0.113.31';
    // 11 accounts (none of them Y) × 9 failures = 99, all at once: none is refused.
    const accounts = Array.from({ length: 11 }, () => uniqueEmail('guess'));
    const first = await Promise.all(accounts.flatMap((email) => Array.from({ length: 9 }, () => attempt(email, WRONG, E))));
    first.forEach((r, i) => assertFailed(r, `failure ${i + 1} from E`));
    assert.equal(failuresFrom(E), 99);
    for (const email of accounts) assert.equal(failuresOf(email, E), 9, email);
    // One under the ceiling, an account with no failures logs in (and is not counted) …
    await assertLoggedIn(y, E, 'Y from E after 99 failures from E');
    assert.equal(failuresFrom(E), 99);
    // … the 100th failure reaches it.
    assertFailed(await attempt(accounts[0], WRONG, E), 'failure 100 from E');
    assert.equal(failuresFrom(E), PER_ADDRESS);
    assert.equal(failuresOf(accounts[0], E), 10);

    assertThrottled(await attempt(y.email, DEFAULT_PASSWORD, E), 'Y (no failures of its own) from E after 100 failures');
    assertThrottled(await attempt(uniqueEmail('fresh'), WRONG, E), 'a fresh account from E');
    assertThrottled(await attempt(accounts[1], WRONG, E), 'an account with 9 failures from E');
    assert.equal(failuresFrom(E), PER_ADDRESS, 'the refusals are not counted');
    await assertLoggedIn(y, F, 'Y from F');
    assertFailed(await attempt(accounts[1], WRONG, F), 'a guessed account from F is an ordinary failure');
  });

  test('successful logins are not counted: 21 in a row for one account from one address all log in', async () => {
    await avoidWindowBoundary(WINDOW, 45);
    const G = '192.0.2.40';
    // 21: more than the per-account limit (10) and more than the old per-address limit (20).
    for (let i = 1; i <= 21; i += 1) await assertLoggedIn(z, G, `login ${i} of z from G`);
    assert.equal(rowsNaming(G), 0, 'no counter row for G');
    assert.equal(failuresOf(z.email, G), 0);
    assertFailed(await attempt(z.email, WRONG, G), 'a wrong password from G after 21 logins');
    assert.equal(failuresOf(z.email, G), 1);
    assert.equal(failuresFrom(G), 1);
  });
});

// =============================================================================================
describe('login limits hold under concurrent guesses', () => {
  test('30 simultaneous wrong passwords for one account from one address: exactly 10 are checked, 20 are 429', async () => {
    await avoidWindowBoundary(WINDOW, 60);
    const target = await userWithPassword();
    const A = '198.51.100.77';
    // The limit check and the count share one write transaction: no guess slips between them.
    const results = await failMany(30, target.email, A);
    const checked = results.filter((r) => r.status === 401);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(checked.length, PER_ACCOUNT_AND_ADDRESS, `statuses: ${results.map((r) => r.status).join(',')}`);
    assert.equal(refused.length, 30 - PER_ACCOUNT_AND_ADDRESS);
    checked.forEach((r, i) => assertFailed(r, `checked guess ${i + 1}`));
    refused.forEach((r, i) => assertThrottled(r, `refused guess ${i + 1}`));
    assert.equal(failuresOf(target.email, A), PER_ACCOUNT_AND_ADDRESS);
    assert.equal(failuresFrom(A), PER_ACCOUNT_AND_ADDRESS);
  });
});

// =============================================================================================
describe('an IPv6 client is counted by its /64', () => {
  test('10 failures from 10 addresses of one /64 block the 11th address of that /64; another /64 still logs in', async () => {
    await avoidWindowBoundary(WINDOW, 60);
    const target = await userWithPassword();
    const inPrefix = (i) => `2001:db8:77:1:${(i + 1).toString(16)}::1`;
    const results = await Promise.all(Array.from({ length: PER_ACCOUNT_AND_ADDRESS }, (_, i) => attempt(target.email, WRONG, inPrefix(i))));
    results.forEach((r, i) => assertFailed(r, `failure from ${inPrefix(i)}`));
    assertThrottled(await attempt(target.email, DEFAULT_PASSWORD, '2001:db8:77:1:ffff::9'), 'the same /64, a fresh address');
    assert.equal(failuresFrom('2001:db8:77:1::/64'), PER_ACCOUNT_AND_ADDRESS);
    await assertLoggedIn(target, '2001:db8:77:2::1', 'another /64');
  });
});
