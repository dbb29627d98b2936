// The welcome email over real SMTP, the set-password page in Chromium, login, logout and a wrong
// password (docs/PAGES.md "Email", "Pages").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { B64URL43, PROJECT_TOKEN_RE, q, q1, sha256hex, uniqueEmail } from '../blackbox/harness.mjs';
import {
  DEFAULT_PASSWORD, PARTNER_NAME, SESSION_COOKIE, assertPageHeaders, dbFind, formWithButton,
  newUserByAccountRequest, registerPartner, setPasswordLink, startWithSmtp, stopServer, userWithPassword,
  WebClient,
} from './e2e.mjs';
import {
  bodyText, clickButton, closeBrowser, cookieNamed, logIn, navigation, newPage, redirectChain, screenshot, visit,
} from './browser.mjs';

let server;
let smtp;
let clientId;
const MAIL_FROM = 'Provisiond Test <noreply@provisiond.test>';

before(async () => {
  ({ server, smtp } = await startWithSmtp({ extraArgs: ['--mail-from', MAIL_FROM] }));
  clientId = await registerPartner(server, { name: PARTNER_NAME });
});
after(async () => {
  await closeBrowser();
  await stopServer(server);
  await smtp?.stop();
});

describe('welcome email over SMTP', () => {
  test('names the partner and carries a single-use set-password link and a dashboard link', async () => {
    const email = uniqueEmail('welcome');
    const u = await newUserByAccountRequest(server, smtp, { clientId, email });
    const mail = u.mail;
    assert.deepEqual(mail.rcpt, [email], 'envelope recipient');
    assert.equal(mail.mailFrom, 'noreply@provisiond.test', 'envelope sender from --mail-from');
    assert.match(mail.from, /noreply@provisiond\.test/);
    assert.match(mail.to, new RegExp(email.replace(/[.+]/g, '\\$&'), 'i'));
    assert.ok(mail.subject.length > 0, 'a subject');
    assert.ok(`${mail.subject}\n${mail.text}`.includes(PARTNER_NAME), `the email names the partner:\n${mail.subject}\n${mail.text}`);

    const link = setPasswordLink(server, mail);
    const token = new URL(link).searchParams.get('token');
    assert.match(token, B64URL43, `set-password token: ${link}`);
    assert.ok(mail.links.includes(`${server.url}/dashboard`), `a dashboard link: ${JSON.stringify(mail.links)}`);
    assert.ok(mail.text.includes(link), 'the text part carries the link');

    // Stored: the link only as a hash, valid 72 h, unused; the outbox row delivered and cleared.
    const row = q1(server, 'SELECT * FROM password_set_tokens WHERE token_hash = ?', sha256hex(token));
    assert.ok(row, 'password_set_tokens holds the link\'s SHA-256');
    assert.equal(row.user_id, u.userId);
    assert.equal(row.expires_at - row.created_at, 72 * 3600, 'the link lives 72 h');
    assert.equal(row.used_at, null);
    assert.deepEqual(dbFind(server, token), [], 'the link token is nowhere in the clear');
    const out = q(server, 'SELECT * FROM outbox WHERE recipient = ?', email);
    assert.equal(out.length, 1, 'one welcome message');
    assert.notEqual(out[0].delivered_at, null, 'outbox row marked delivered');
    assert.equal(out[0].last_error, null);
    assert.equal((await smtp.mailsTo(email)).length, 1, 'exactly one message sent');
  });
});

describe('set password in the browser', () => {
  test('the link opens the form; too short or mismatched is refused; then → /dashboard with the project and its phc_ token', async () => {
    const u = await newUserByAccountRequest(server, smtp, { clientId });
    const { ctx, page } = await newPage();
    try {
      const first = await visit(page, u.link);
      assert.equal(first.status(), 200, await bodyText(page));
      assertPageHeaders({ headers: await first.allHeaders() }, 'set-password page');
      await screenshot(page, 'set-password');
      assert.equal(await page.locator('input[name="password"]').count(), 1);
      assert.equal(await page.locator('input[name="password_confirm"]').count(), 1);
      assert.equal(await page.locator('input[type="hidden"][name="csrf"]').count(), 1, 'the form carries csrf');

      // 9 characters: the browser itself refuses (minlength), and so does the server.
      await page.locator('input[name="password"]').fill('short1234');
      await page.locator('input[name="password_confirm"]').fill('short1234');
      const valid = await page.locator('form:has(input[name="password"])').evaluate((f) => f.checkValidity());
      assert.equal(valid, false, 'the form has minlength=10 (or the browser would submit a short password)');
      const web = new WebClient(server);
      const l = new URL(u.link);
      const form = formWithButton((await web.get(l.pathname + l.search)).forms, 'Set password');
      const tooShort = await web.submit(form, { password: 'short1234', password_confirm: 'short1234' });
      assert.equal(tooShort.status, 400, `too short → 400: ${tooShort.status} ${tooShort.pageText.slice(0, 300)}`);
      assert.match(tooShort.pageText, /10/, 'the page says the minimum length');
      assert.equal(q1(server, 'SELECT password_hash FROM users WHERE id = ?', u.userId).password_hash, null);

      // Mismatched confirmation: refused.
      await page.locator('input[name="password"]').fill('abcdefghij-1');
      await page.locator('input[name="password_confirm"]').fill('abcdefghij-2');
      const mismatch = await clickButton(page, 'Set password');
      assert.notEqual(new URL(page.url()).pathname, '/dashboard', 'a mismatched confirmation is refused');
      assert.equal(mismatch.status(), 400, 'mismatch → 400');
      assert.equal(q1(server, 'SELECT password_hash FROM users WHERE id = ?', u.userId).password_hash, null);

      // A good password: 302 → /dashboard, logged in.
      await page.locator('input[name="password"]').fill(DEFAULT_PASSWORD);
      await page.locator('input[name="password_confirm"]').fill(DEFAULT_PASSWORD);
      const done = await clickButton(page, 'Set password');
      const chain = await redirectChain(done);
      assert.equal(chain[0].method, 'POST');
      assert.equal(chain[0].status, 302, JSON.stringify(chain));
      assert.equal(page.url(), `${server.url}/dashboard`);
      assert.equal(done.status(), 200);
      assertPageHeaders({ headers: await done.allHeaders() }, 'dashboard');
      await screenshot(page, 'dashboard');
      const text = await bodyText(page);
      assert.ok(text.includes(u.projectToken), `the dashboard shows the project token ${u.projectToken}: ${text.slice(0, 1500)}`);
      assert.match(u.projectToken, PROJECT_TOKEN_RE);
      assert.ok(text.includes(u.projectName), `the dashboard names the project "${u.projectName}"`);

      const user = q1(server, 'SELECT password_hash FROM users WHERE id = ?', u.userId);
      assert.match(user.password_hash, /^\$argon2id\$/, 'an Argon2id hash is stored');
      assert.ok(!user.password_hash.includes(DEFAULT_PASSWORD));
      const tok = q1(server, 'SELECT used_at FROM password_set_tokens WHERE token_hash = ?', sha256hex(new URL(u.link).searchParams.get('token')));
      assert.notEqual(tok.used_at, null, 'the link is marked used');

      const c = await cookieNamed(ctx, SESSION_COOKIE);
      assert.ok(c, 'a session cookie');
      assert.equal(c.httpOnly, true, 'HttpOnly');
      assert.equal(c.sameSite, 'Lax', 'SameSite=Lax');
      assert.equal(c.secure, false, 'not Secure on plain-http loopback');
      assert.equal(c.path, '/');
      const s = q(server, 'SELECT * FROM sessions WHERE id_hash = ?', sha256hex(c.value));
      assert.equal(s.length, 1, 'the session is stored by its SHA-256');
      assert.equal(s[0].user_id, u.userId);
      assert.equal(s[0].expires_at - s[0].created_at, 12 * 3600, '12 h absolute lifetime');
      assert.deepEqual(dbFind(server, c.value), [], 'the session id is nowhere in the clear');
    } finally {
      await ctx.close();
    }
  });

  test('a used link shows "expired or already used" and "Send a new link" mails a fresh, working link', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await newPage();
    try {
      const again = await visit(page, u.link);
      const text = await bodyText(page);
      assert.match(text, /This link has expired or was already used/, text);
      assert.equal(await page.locator('input[name="password"]').count(), 0, 'no password form on a used link');
      await screenshot(page, 'set-password-expired');
      assert.ok([200, 400, 410].includes(again.status()), `used link status ${again.status()}`);

      await page.locator('input[name="email"]').fill(u.email);
      await clickButton(page, 'Send a new link');
      const mail2 = await smtp.waitForMail(u.email, { nth: 2, timeoutMs: 15000 });
      const link2 = setPasswordLink(server, mail2);
      assert.ok(link2, `the new email has a set-password link: ${mail2.text}`);
      assert.notEqual(link2, u.link, 'a different token');

      const web = new WebClient(server);
      const old = await web.get(new URL(u.link).pathname + new URL(u.link).search);
      assert.match(old.pageText, /This link has expired or was already used/, 'the old link stays dead');
      const fresh = await web.get(new URL(link2).pathname + new URL(link2).search);
      assert.equal(fresh.status, 200);
      assert.ok(formWithButton(fresh.forms, 'Set password'), 'the new link opens the form');

      // An unknown address gets the same answer and no mail.
      const other = uniqueEmail('nobody');
      const page2 = await web.get(new URL(u.link).pathname + new URL(u.link).search);
      const form = formWithButton(page2.forms, 'Send a new link');
      assert.ok(form, 'the expired page has the "Send a new link" form');
      const r = await web.submit(form, { email: other });
      assert.ok(r.status < 500, `send a new link for an unknown address: ${r.status}`);
      await smtp.assertNoMail(other, { ms: 1500 });
    } finally {
      await ctx.close();
    }
  });
});

describe('login and logout', () => {
  test('the dashboard asks for a login; "Log in" → /dashboard; logout deletes the session', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await newPage();
    try {
      // The dashboard link from the email, not logged in → the login page with next=/dashboard.
      const loginPage = await visit(page, `${server.url}/dashboard`);
      const lu = new URL(page.url());
      assert.equal(lu.pathname, '/login', `not logged in → /login: ${page.url()}`);
      assert.equal(lu.searchParams.get('next'), '/dashboard');
      assert.equal(loginPage.status(), 200);
      assertPageHeaders({ headers: await loginPage.allHeaders() }, 'login page');
      await screenshot(page, 'login');

      const r = await logIn(page, u.email, u.password);
      const chain = await redirectChain(r);
      assert.equal(chain[0].status, 302, JSON.stringify(chain));
      assert.equal(page.url(), `${server.url}/dashboard`);
      assert.ok((await bodyText(page)).includes(u.projectToken));
      const c = await cookieNamed(ctx, SESSION_COOKIE);
      assert.equal(q(server, 'SELECT 1 FROM sessions WHERE id_hash = ?', sha256hex(c.value)).length, 1);

      // Log out: the dashboard has a form posting to /logout.
      const logoutForm = page.locator('form[action="/logout"]');
      assert.equal(await logoutForm.count(), 1, 'one logout form on the dashboard');
      const out = await navigation(page, () => logoutForm.locator('button, input[type=submit]').first().click());
      const outChain = await redirectChain(out);
      assert.equal(outChain[0].method, 'POST');
      assert.equal(outChain[0].status, 302, JSON.stringify(outChain));
      assert.equal(new URL(outChain[0].location, server.url).pathname, '/login', `logout → /login: ${outChain[0].location}`);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(q(server, 'SELECT 1 FROM sessions WHERE id_hash = ?', sha256hex(c.value)).length, 0, 'the session row is deleted');
      const after = await cookieNamed(ctx, SESSION_COOKIE);
      assert.ok(!after || after.value !== c.value, 'the browser no longer holds the old session');

      // The old cookie value is worth nothing now.
      const web = new WebClient(server);
      web.setCookie(SESSION_COOKIE, c.value);
      const d = await web.get('/dashboard');
      assert.equal(d.status, 302, 'the old session cookie no longer opens the dashboard');
      assert.equal(new URL(d.location, server.url).pathname, '/login');
    } finally {
      await ctx.close();
    }
  });

  test('a wrong password or an unknown email → 401 "Email or password is incorrect", no session', async () => {
    const u = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await newPage();
    try {
      await visit(page, `${server.url}/login`);
      const bad = await logIn(page, u.email, 'not the password at all');
      assert.equal(bad.status(), 401);
      assert.match(await bodyText(page), /Email or password is incorrect/);
      assertPageHeaders({ headers: await bad.allHeaders() }, '401 login page');
      await screenshot(page, 'login-wrong-password');
      assert.equal(await cookieNamed(ctx, SESSION_COOKIE), undefined, 'no session cookie after a wrong password');

      const unknown = await logIn(page, uniqueEmail('unknown'), 'whatever-password-1');
      assert.equal(unknown.status(), 401);
      assert.match(await bodyText(page), /Email or password is incorrect/);
      assert.equal(await cookieNamed(ctx, SESSION_COOKIE), undefined);

      // Same address in another case with the right password works (the email is the identity).
      const ok = await logIn(page, u.email.toUpperCase(), u.password);
      assert.equal(ok.status(), 200);
      assert.equal(page.url(), `${server.url}/dashboard`);
    } finally {
      await ctx.close();
    }
  });
});
