// The password lifecycle (docs/PAGES.md "Pages"): "Forgot password?" → a reset email over real
// SMTP → a new password that signs every other browser out; the account page's "Change password"
// and "Sign out everywhere"; the limits on reset links and on guessing the current password.
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  B64URL43, avoidHourBoundary, avoidWindowBoundary, q, q1, sha256hex, uniqueEmail,
} from '../blackbox/harness.mjs';
import {
  PARTNER_NAME, SESSION_COOKIE, assertPageHeaders, dbFind, formWithButton, registerPartner,
  startWithSmtp, stopServer, userWithPassword, WebClient,
} from './e2e.mjs';
import { decodeEntities } from './smtp_fixture.mjs';
import {
  bodyText, clickButton, closeBrowser, cookieNamed, logIn, navigation, newPage, redirectChain, screenshot, visit,
} from './browser.mjs';

let server;
let smtp;
let clientId;

before(async () => {
  ({ server, smtp } = await startWithSmtp());
  clientId = await registerPartner(server, { name: PARTNER_NAME });
});
after(async () => {
  await closeBrowser();
  await stopServer(server);
  await smtp?.stop();
});

const NOT_RIGHT = 'The current password is not right.';
const TOO_MANY = 'Too many attempts. Wait a few minutes, then try again.';
const CHANGED_NOTICE = 'Your password was changed. Every other browser signed in to your account was signed out.';
const SIGNED_OUT_NOTICE = 'You were signed out on every device. Log in again to continue.';

// ---------------------------------------------------------------------------------------------
// Helpers.

/** The set-password links of the text part, and the href values of the HTML part, separately. */
function partLinks(mail) {
  const prefix = `${server.url}/account/set-password?token=`;
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const text = [...mail.text.matchAll(new RegExp(`${esc}[A-Za-z0-9_-]+`, 'g'))].map((m) => m[0]);
  const html = [...mail.html.matchAll(/href\s*=\s*"([^"]*)"/gi)].map((m) => decodeEntities(m[1]))
    .filter((u) => u.startsWith(prefix));
  return { text, html };
}

/** The session ids (hashes) of a user. */
function sessionsOf(userId) {
  return q(server, 'SELECT id_hash FROM sessions WHERE user_id = ? ORDER BY id_hash', userId).map((r) => r.id_hash);
}

function passwordHash(userId) {
  return q1(server, 'SELECT password_hash FROM users WHERE id = ?', userId).password_hash;
}

/** A browser context logged in through the login page: {ctx, page}. */
async function loggedInBrowser(email, password) {
  const { ctx, page } = await newPage();
  await visit(page, `${server.url}/login`);
  await logIn(page, email, password);
  assert.equal(page.url(), `${server.url}/dashboard`, `logged in as ${email}`);
  return { ctx, page };
}

/** Opening /dashboard in this page lands on the login page: the browser is signed out. */
async function assertSignedOut(page, what) {
  const r = await visit(page, `${server.url}/dashboard`);
  const u = new URL(page.url());
  assert.equal(u.pathname, '/login', `${what}: /dashboard → /login (got ${page.url()})`);
  assert.equal(u.searchParams.get('next'), '/dashboard');
  assert.equal(r.status(), 200);
}

/** POST /login over HTTP with this email and password; returns the response (302 = logged in). */
async function tryLogin(email, password) {
  const web = new WebClient(server);
  const page = await web.get('/login');
  assert.equal(page.status, 200);
  return web.submit(formWithButton(page.forms, 'Log in'), { email, password });
}

/** Submit the forgot-password form over HTTP for `email`; returns the response. */
async function askForReset(web, email) {
  const page = await web.get('/account/forgot-password');
  assert.equal(page.status, 200, `GET /account/forgot-password: ${page.status}`);
  const form = formWithButton(page.forms, 'Send me a link');
  assert.ok(form, `the forgot-password page has a "Send me a link" form: ${page.pageText.slice(0, 600)}`);
  assert.equal(form.action, '/account/forgot-password');
  assert.equal(form.method, 'post');
  return web.submit(form, { email });
}

/** The "Check your email" page with the address blanked out, to compare answers. */
function sentPageShape(res, email) {
  return res.pageText.split(email).join('<address>');
}

/**
 * POST a form from another loopback source address (127.0.0.x): provisiond sees that address as
 * the client's, as it would a different computer's. Carries the WebClient's cookies.
 */
function postFrom(localAddress, web, path, form) {
  const body = Buffer.from(new URLSearchParams(form).toString());
  return new Promise((res, rej) => {
    const req = http.request({
      host: '127.0.0.1', port: server.port, method: 'POST', path, localAddress, agent: false,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(body.length),
        cookie: web.cookieHeader(),
      },
    }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => res({ status: resp.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      resp.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------

describe('forgot password', () => {
  test('"Forgot password?" on /login opens the form; it answers 200 "Check your email" naming the address, the same for an unknown address', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await newPage();
    try {
      await visit(page, `${server.url}/login`);
      const link = page.getByRole('link', { name: 'Forgot password?', exact: true });
      assert.equal(await link.count(), 1, 'one "Forgot password?" link on the login page');
      assert.equal(await link.getAttribute('href'), '/account/forgot-password');
      const form = await navigation(page, () => link.click());
      assert.equal(page.url(), `${server.url}/account/forgot-password`);
      assert.equal(form.status(), 200);
      assertPageHeaders({ headers: await form.allHeaders() }, 'forgot-password page');
      assert.equal(await page.locator('input[name="email"][type="email"]').count(), 1, 'an email field');
      assert.equal(await page.locator('input[type="hidden"][name="csrf"]').count(), 1, 'the form carries csrf');
      await screenshot(page, 'forgot-password');

      await page.locator('input[name="email"]').fill(u.email);
      const sent = await clickButton(page, 'Send me a link');
      assert.equal(sent.status(), 200, 'the answer is a page, not a redirect');
      assert.equal(sent.request().method(), 'POST');
      assertPageHeaders({ headers: await sent.allHeaders() }, 'check-your-email page');
      const text = await bodyText(page);
      assert.match(text, /Check your email/);
      assert.ok(text.includes(u.email), `the page names the typed address ${u.email}: ${text}`);
      await screenshot(page, 'forgot-password-sent');
      await smtp.waitForMail(u.email, { nth: 2, timeoutMs: 15000 });

      // An address nobody uses: the same page, word for word (but for the address), and no mail.
      const web = new WebClient(server);
      const known = await askForReset(web, u.email.toUpperCase());
      const nobody = uniqueEmail('nobody');
      const unknown = await askForReset(web, nobody);
      assert.equal(known.status, 200);
      assert.equal(unknown.status, 200, `unknown address → 200: ${unknown.pageText.slice(0, 300)}`);
      assert.ok(unknown.pageText.includes(nobody), 'the page names the unknown address too');
      assert.equal(sentPageShape(unknown, nobody), sentPageShape(known, u.email.toUpperCase()),
        'the same page whether or not an account uses the address');
      await smtp.assertNoMail(nobody, { ms: 1500 });
      assert.equal(q(server, 'SELECT 1 FROM users WHERE email_normalized = ?', nobody).length, 0, 'no user is created');
      assert.equal(q(server, 'SELECT 1 FROM outbox WHERE recipient = ?', nobody).length, 0, 'nothing is queued');
    } finally {
      await ctx.close();
    }
  });

  test('the reset email: kind password_reset, "Reset your provisiond password", text and HTML parts with one identical link', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const r = await askForReset(new WebClient(server), u.email);
    assert.equal(r.status, 200);
    const mail = await smtp.waitForMail(u.email, { nth: 2, timeoutMs: 15000 });

    assert.equal(mail.subject, 'Reset your provisiond password');
    assert.match(mail.raw, /^X-Provisiond-Kind: password_reset\r?$/m, 'the kind header');
    assert.equal(mail.contentType, 'multipart/alternative', 'a text and an HTML part');
    assert.ok(mail.text.length > 0 && mail.html.length > 0, 'both parts have a body');

    // One link, the same in both parts (the HTML part has it on the button and spelled out).
    const links = partLinks(mail);
    assert.equal(links.text.length, 1, `one set-password link in the text part: ${mail.text}`);
    assert.ok(links.html.length >= 1, `the HTML part links to set-password: ${mail.html}`);
    assert.deepEqual([...new Set([...links.text, ...links.html])], links.text, 'the parts carry the same link');
    const token = new URL(links.text[0]).searchParams.get('token');
    assert.match(token, B64URL43);
    assert.notEqual(links.text[0], u.link, 'not the (used) welcome link');

    // Stored: the new link's hash, for this user, unused; the outbox row of kind password_reset.
    const row = q1(server, 'SELECT * FROM password_set_tokens WHERE token_hash = ?', sha256hex(token));
    assert.ok(row, 'password_set_tokens holds the reset link\'s SHA-256');
    assert.equal(row.user_id, u.userId);
    assert.equal(row.used_at, null);
    assert.deepEqual(dbFind(server, token), [], 'the token is nowhere in the clear');
    const out = q(server, "SELECT kind, delivered_at, last_error FROM outbox WHERE recipient = ? ORDER BY created_at", u.email);
    assert.deepEqual(out.map((o) => o.kind), ['welcome', 'password_reset']);
    assert.notEqual(out[1].delivered_at, null, 'delivered');
    assert.equal(out[1].last_error, null);
    // Asking for a link changes nothing by itself: the old password still works.
    assert.equal((await tryLogin(u.email, u.password)).status, 302, 'the old password works until the link is used');
  });

  test('the link sets a new password: → /dashboard signed in, other browsers signed out, old password refused, link single-use (410)', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const other = await loggedInBrowser(u.email, u.password);
    const { ctx, page } = await newPage();
    try {
      assert.equal(sessionsOf(u.userId).length, 2, 'the set-password session and the other browser\'s');
      const before = passwordHash(u.userId);

      await visit(page, `${server.url}/login`);
      await navigation(page, () => page.getByRole('link', { name: 'Forgot password?', exact: true }).click());
      await page.locator('input[name="email"]').fill(u.email);
      assert.equal((await clickButton(page, 'Send me a link')).status(), 200);
      const mail = await smtp.waitForMail(u.email, { nth: 2, timeoutMs: 15000 });
      const [link] = partLinks(mail).text;
      assert.ok(link, `the reset email has a link: ${mail.text}`);

      const form = await visit(page, link);
      assert.equal(form.status(), 200, await bodyText(page));
      assert.match(await bodyText(page), /Set your password/);
      assert.ok((await bodyText(page)).includes(u.email), 'the page names the account');
      const newPassword = 'a brand new passphrase 42';
      await page.locator('input[name="password"]').fill(newPassword);
      await page.locator('input[name="password_confirm"]').fill(newPassword);
      const done = await clickButton(page, 'Set password');
      const chain = await redirectChain(done);
      assert.equal(chain[0].method, 'POST');
      assert.equal(chain[0].status, 302, JSON.stringify(chain));
      assert.equal(new URL(chain[0].location, server.url).pathname, '/dashboard');
      assert.equal(page.url(), `${server.url}/dashboard`);
      assert.equal(done.status(), 200);

      // Stored: a new hash, the link used, and exactly one session: this browser's.
      const afterHash = passwordHash(u.userId);
      assert.match(afterHash, /^\$argon2id\$/);
      assert.notEqual(afterHash, before, 'the password hash changed');
      const token = new URL(link).searchParams.get('token');
      assert.notEqual(q1(server, 'SELECT used_at FROM password_set_tokens WHERE token_hash = ?', sha256hex(token)).used_at, null);
      const mine = await cookieNamed(ctx, SESSION_COOKIE);
      assert.deepEqual(sessionsOf(u.userId), [sha256hex(mine.value)], 'only the resetting browser\'s session is left');

      // The browser that was signed in before the reset is out.
      await assertSignedOut(other.page, 'the other browser after the reset');

      // Single use: the link now shows the expired page with 410, and a replayed POST is refused.
      const again = await visit(page, link);
      assert.equal(again.status(), 410, 'a used link → 410');
      assert.match(await bodyText(page), /This link has expired or was already used/);
      assert.equal(await page.locator('input[name="password"]').count(), 0);
      const web = new WebClient(server);
      const l = new URL(link);
      const replay = await web.get(l.pathname + l.search);
      assert.equal(replay.status, 410);
      const csrf = web.cookie('provisiond_csrf');
      assert.ok(csrf, 'the expired page sets a csrf cookie');
      const posted = await web.post('/account/set-password', { csrf, token, password: 'yet another password', password_confirm: 'yet another password' });
      assert.equal(posted.status, 410, `replayed POST → 410: ${posted.status} ${posted.pageText.slice(0, 200)}`);
      assert.equal(passwordHash(u.userId), afterHash, 'the replay changed nothing');

      // Old password refused, new one accepted.
      const old = await tryLogin(u.email, u.password);
      assert.equal(old.status, 401, 'the old password no longer works');
      assert.match(old.pageText, /Email or password is incorrect/);
      const fresh = await tryLogin(u.email, newPassword);
      assert.equal(fresh.status, 302, 'the new password works');
      assert.equal(new URL(fresh.location, server.url).pathname, '/dashboard');
    } finally {
      await ctx.close();
      await other.ctx.close();
    }
  });

  test('links are limited: the 4th request from one client for one address gets the same page and no email; 10 an hour in all', async () => {
    await avoidHourBoundary(60);
    const u = await userWithPassword(server, smtp, { clientId });
    const key = q1(server, 'SELECT email_normalized FROM users WHERE id = ?', u.userId).email_normalized;
    const identity = sha256hex(key);
    const web = new WebClient(server);

    // Three links from 127.0.0.1: three emails (after the welcome email).
    let first;
    for (let i = 1; i <= 3; i += 1) {
      const r = await askForReset(web, u.email);
      assert.equal(r.status, 200, `request ${i}`);
      first ??= r;
      await smtp.waitForMail(u.email, { nth: 1 + i, timeoutMs: 15000 });
    }
    // The 4th, and another spelling of the same address: the same page, no email.
    const fourth = await askForReset(web, u.email);
    assert.equal(fourth.status, 200, 'the 4th request still answers 200');
    assert.equal(sentPageShape(fourth, u.email), sentPageShape(first, u.email), 'the same page when limited');
    const upper = await askForReset(web, u.email.toUpperCase());
    assert.equal(upper.status, 200);
    assert.equal(sentPageShape(upper, u.email.toUpperCase()), sentPageShape(first, u.email));
    await smtp.assertNoMail(u.email, { ms: 2000, already: 4 });
    assert.equal(q(server, "SELECT 1 FROM outbox WHERE user_id = ? AND kind = 'password_reset'", u.userId).length, 3,
      'three reset emails queued, not five');
    const window = Math.floor(Date.now() / 1000 / 3600) * 3600;
    assert.equal(q1(server, 'SELECT count FROM rate_limit_counters WHERE bucket = ? AND window_start = ?',
      `password_link:${identity}:127.0.0.1`, window)?.count, 5, 'five requests counted for this address from 127.0.0.1');
    assert.equal(q1(server, 'SELECT count FROM rate_limit_counters WHERE bucket = ? AND window_start = ?',
      `password_link:${identity}`, window)?.count, 3, 'three links counted for this address in all');

    // From other clients (127.0.0.2 …) the address gets links again, up to 10 in the hour in all.
    const csrf = web.cookie('provisiond_csrf');
    const answers = [];
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      for (let i = 0; i < 3; i += 1) {
        const r = await postFrom(from, web, '/account/forgot-password', { csrf, email: u.email });
        answers.push(r.status);
        assert.match(r.text, /Check your email/, `from ${from}`);
      }
    }
    assert.deepEqual(answers, Array(9).fill(200));
    await smtp.waitForMail(u.email, { nth: 1 + 10, timeoutMs: 20000 });
    await smtp.assertNoMail(u.email, { ms: 2000, already: 11 });
    assert.equal(q(server, "SELECT 1 FROM outbox WHERE user_id = ? AND kind = 'password_reset'", u.userId).length, 10,
      '10 reset links in the hour, whoever asks');
    assert.equal(q1(server, 'SELECT count FROM rate_limit_counters WHERE bucket = ? AND window_start = ?',
      `password_link:${identity}:127.0.0.4`, window)?.count, 3);
  });
});

describe('account page', () => {
  test('GET /account signed out → 302 /login?next=%2Faccount; signed in it shows both forms and the address', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const anon = await new WebClient(server).get('/account');
    assert.equal(anon.status, 302);
    assert.equal(anon.location, '/login?next=%2Faccount');

    const { ctx, page } = await newPage();
    try {
      await visit(page, `${server.url}/account`);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(new URL(page.url()).searchParams.get('next'), '/account');
      await logIn(page, u.email, u.password);
      assert.equal(page.url(), `${server.url}/account`, 'after logging in, back to /account');
      const res = await visit(page, `${server.url}/account`);
      assert.equal(res.status(), 200);
      assertPageHeaders({ headers: await res.allHeaders() }, 'account page');
      const text = await bodyText(page);
      assert.ok(text.includes(u.email), 'the page names the signed-in address');
      for (const name of ['current_password', 'password', 'password_confirm']) {
        assert.equal(await page.locator(`form[action="/account/password"] input[name="${name}"][type="password"]`).count(), 1, name);
      }
      assert.equal(await page.locator('form[action="/account/password"] input[name="csrf"]').count(), 1);
      assert.equal(await page.locator('form[action="/account/sign-out-everywhere"] input[name="csrf"]').count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Change password', exact: true }).count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).count(), 1);
      await screenshot(page, 'account');
    } finally {
      await ctx.close();
    }
  });

  test('change password: wrong current → 401, mismatch or too short → 400, success → /account?notice=password_changed, other browsers out', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const here = await loggedInBrowser(u.email, u.password);
    const other = await loggedInBrowser(u.email, u.password);
    const { page } = here;
    try {
      const original = passwordHash(u.userId);
      const sessionsBefore = sessionsOf(u.userId);
      assert.equal(sessionsBefore.length, 3, 'set-password session and two browsers');
      const newPassword = 'my changed passphrase 7';
      await visit(page, `${server.url}/account`);
      const fill = async (current, password, confirm) => {
        await page.locator('input[name="current_password"]').fill(current);
        await page.locator('input[name="password"]').fill(password);
        await page.locator('input[name="password_confirm"]').fill(confirm);
        return clickButton(page, 'Change password');
      };

      // Wrong current password: 401, the error on the page, nothing changed.
      const wrong = await fill('not my password', newPassword, newPassword);
      assert.equal(wrong.status(), 401);
      assert.equal(wrong.request().method(), 'POST');
      assert.equal(new URL(page.url()).pathname, '/account/password');
      assert.equal(await page.locator('[role="alert"]').innerText(), NOT_RIGHT);
      assertPageHeaders({ headers: await wrong.allHeaders() }, '401 account page');
      await screenshot(page, 'account-wrong-password');
      assert.equal(passwordHash(u.userId), original, 'unchanged after a wrong current password');
      assert.deepEqual(sessionsOf(u.userId), sessionsBefore, 'no session ended');

      // Mismatched repetition: 400 (checked before the current password).
      const mismatch = await fill(u.password, 'abcdefghij-1', 'abcdefghij-2');
      assert.equal(mismatch.status(), 400);
      assert.equal(await page.locator('[role="alert"]').innerText(), 'The two passwords are not the same.');
      assert.equal(passwordHash(u.userId), original);

      // Too short: the browser's minlength stops it, so over HTTP with this browser's cookies.
      const web = new WebClient(server);
      for (const c of await here.ctx.cookies()) web.setCookie(c.name, c.value);
      const acct = await web.get('/account');
      assert.equal(acct.status, 200);
      const form = formWithButton(acct.forms, 'Change password');
      assert.equal(form.action, '/account/password');
      const short = await web.submit(form, { current_password: u.password, password: 'short1234', password_confirm: 'short1234' });
      assert.equal(short.status, 400);
      assert.match(short.pageText, /Use at least 10 characters/);
      assert.equal(passwordHash(u.userId), original);
      assert.deepEqual(sessionsOf(u.userId), sessionsBefore);

      // Success: 302 → /account?notice=password_changed; this browser stays in with a new session.
      const ok = await fill(u.password, newPassword, newPassword);
      const chain = await redirectChain(ok);
      assert.equal(chain[0].method, 'POST');
      assert.equal(chain[0].status, 302, JSON.stringify(chain));
      assert.equal(chain[0].location, '/account?notice=password_changed');
      assert.equal(ok.status(), 200);
      assert.equal(page.url(), `${server.url}/account?notice=password_changed`);
      assert.equal(await page.locator('p.notice[role="status"]').innerText(), CHANGED_NOTICE);
      await screenshot(page, 'account-password-changed');

      const changed = passwordHash(u.userId);
      assert.match(changed, /^\$argon2id\$/);
      assert.notEqual(changed, original);
      const mine = await cookieNamed(here.ctx, SESSION_COOKIE);
      assert.deepEqual(sessionsOf(u.userId), [sha256hex(mine.value)], 'only this browser\'s (new) session is left');
      assert.ok(!sessionsBefore.includes(sha256hex(mine.value)), 'a fresh session id after the change');
      await visit(page, `${server.url}/dashboard`);
      assert.equal(page.url(), `${server.url}/dashboard`, 'this browser is still signed in');

      await assertSignedOut(other.page, 'the other browser after the change');
      assert.equal((await tryLogin(u.email, u.password)).status, 401, 'the old password no longer works');
      assert.equal((await tryLogin(u.email, newPassword)).status, 302, 'the new password works');
    } finally {
      await here.ctx.close();
      await other.ctx.close();
    }
  });

  test('wrong current passwords are throttled like logins: the 11th try in 15 minutes → 429, and /login is throttled too', async () => {
    await avoidWindowBoundary(900, 60);
    const u = await userWithPassword(server, smtp, { clientId });
    const web = u.web; // signed in by the set-password link
    const original = passwordHash(u.userId);
    const statuses = [];
    let last;
    for (let i = 0; i < 11; i += 1) {
      const acct = await web.get('/account');
      assert.equal(acct.status, 200);
      last = await web.submit(formWithButton(acct.forms, 'Change password'),
        { current_password: `wrong guess number ${i}`, password: 'a new password 123', password_confirm: 'a new password 123' });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(401), 429], 'ten wrong guesses, then 429');
    assert.ok(last.pageText.includes(TOO_MANY), last.pageText.slice(0, 400));

    // Now even the right current password is refused for this account from this address…
    const acct = await web.get('/account');
    const right = await web.submit(formWithButton(acct.forms, 'Change password'),
      { current_password: u.password, password: 'a new password 123', password_confirm: 'a new password 123' });
    assert.equal(right.status, 429);
    assert.equal(passwordHash(u.userId), original, 'the password was never changed');
    // …and the login page shares the counter.
    const login = await tryLogin(u.email, u.password);
    assert.equal(login.status, 429, 'the login page is throttled for this account too');
    const key = q1(server, 'SELECT email_normalized FROM users WHERE id = ?', u.userId).email_normalized;
    const window = Math.floor(Date.now() / 1000 / 900) * 900;
    assert.equal(q1(server, 'SELECT count FROM rate_limit_counters WHERE bucket = ? AND window_start = ?',
      `login_failed:${sha256hex(`${key}\n127.0.0.1`)}`, window)?.count, 10, 'ten failures counted');
  });

  test('sign out everywhere → /login?notice=signed_out_everywhere; this and every other browser are out, no sessions left', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const here = await loggedInBrowser(u.email, u.password);
    const other = await loggedInBrowser(u.email, u.password);
    try {
      assert.equal(sessionsOf(u.userId).length, 3);
      const { page } = here;
      await visit(page, `${server.url}/account`);
      const out = await clickButton(page, 'Sign out everywhere');
      const chain = await redirectChain(out);
      assert.equal(chain[0].method, 'POST');
      assert.equal(chain[0].status, 302, JSON.stringify(chain));
      assert.equal(chain[0].location, '/login?notice=signed_out_everywhere');
      assert.equal(out.status(), 200);
      assert.equal(page.url(), `${server.url}/login?notice=signed_out_everywhere`);
      assert.equal(await page.locator('p.notice[role="status"]').innerText(), SIGNED_OUT_NOTICE);
      await screenshot(page, 'signed-out-everywhere');

      assert.deepEqual(sessionsOf(u.userId), [], 'no sessions row is left for the user');
      assert.equal(await cookieNamed(here.ctx, SESSION_COOKIE), undefined, 'this browser\'s cookie is cleared');
      await assertSignedOut(page, 'this browser');
      await assertSignedOut(other.page, 'the other browser');

      // The password is untouched: logging in again works.
      assert.equal((await tryLogin(u.email, u.password)).status, 302);
    } finally {
      await here.ctx.close();
      await other.ctx.close();
    }
  });

  test('the account forms need the csrf token: without it 403, nothing changes', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const web = u.web;
    const before = sessionsOf(u.userId);
    const change = await web.post('/account/password',
      { current_password: u.password, password: 'a new password 123', password_confirm: 'a new password 123' });
    assert.equal(change.status, 403, 'change password without csrf');
    const everywhere = await web.post('/account/sign-out-everywhere', {});
    assert.equal(everywhere.status, 403, 'sign out everywhere without csrf');
    assert.equal((await tryLogin(u.email, u.password)).status, 302, 'the password is unchanged');
    assert.ok(before.every((s) => sessionsOf(u.userId).includes(s)), 'no session was ended');
  });
});
