// Pages a product team would ship (issue "Pages and emails", first items): a browser that opens an
// unknown path gets an HTML page while programs keep the JSON envelope; the set-password page
// still names the account after a refused password; the operator can vouch for a partner it
// registered by hand (`clients set-verified`), and the consent page then says "Verified partner".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { api, newAccount, q, rawHttp, setPasswordToken, sha256hex, startServer, waitForEmail } from './harness.mjs';
import { DEFAULT_PASSWORD, WebClient, consentUrl, formWithButton, loginOverHttp, registerPartner, setPasswordOverHttp } from '../e2e/e2e.mjs';

let server;
let clientId;
before(async () => {
  server = await startServer();
  clientId = await registerPartner(server, { name: 'Hand Registered Partner' });
});
after(async () => { await server.stop(); });

describe('unknown paths', () => {
  test('a browser (Accept: text/html) gets an HTML 404 page with a way back', async () => {
    const r = await rawHttp(server, 'GET', '/no/such/page', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(r.status, 404);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.match(r.text, /Page not found/);
    assert.match(r.text, /href="\/dashboard"/);
    assert.match(r.headers['content-security-policy'] ?? '', /default-src 'none'/);
  });

  test('programs, and every API path even from a browser, keep the JSON envelope', async () => {
    const plain = await rawHttp(server, 'GET', '/no/such/page');
    assert.equal(plain.status, 404);
    assert.deepEqual(plain.json, { error: { code: 'not_found', message: 'No such endpoint: /no/such/page' } });
    for (const path of ['/api/agentic/nope', '/oauth/nope', '/.well-known/nope']) {
      const r = await rawHttp(server, 'GET', path, { headers: { accept: 'text/html' } });
      assert.equal(r.status, 404, path);
      assert.equal(r.json?.error?.code, 'not_found', `${path}: ${r.text.slice(0, 200)}`);
    }
    const post = await api(server, 'POST', '/no/such/form', { body: {}, headers: { accept: 'text/html' } });
    assert.equal(post.json?.error?.code, 'not_found', 'only GET and HEAD get the page');
  });

  test('a long path is quoted cut, as valid UTF-8', async () => {
    const r = await rawHttp(server, 'GET', `/${'x'.repeat(600)}`);
    assert.equal(r.status, 404);
    assert.ok(r.json.error.message.length < 260, r.json.error.message.length);
    assert.ok(r.json.error.message.endsWith('…'));
  });
});

test('the set-password page still names the account after a too-short password', async () => {
  const acct = await newAccount(server, { clientId });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  const web = new WebClient(server);
  const page = await web.get(`/account/set-password?token=${encodeURIComponent(token)}`);
  assert.equal(page.status, 200);
  assert.match(page.pageText, new RegExp(`Choose a password for ${acct.email.replace(/[.+]/g, '\\$&')}`));
  const refused = await web.submit(formWithButton(page.forms, 'Set password'), { password: 'short', password_confirm: 'short' });
  assert.equal(refused.status, 400);
  assert.match(refused.pageText, /Use at least 10 characters/);
  assert.match(refused.pageText, new RegExp(`Choose a password for ${acct.email.replace(/[.+]/g, '\\$&')}`));
  assert.doesNotMatch(refused.pageText, /for \./);
});

test('clients set-verified: the consent page says "Verified partner" for a hand-registered client the operator vouched for', async () => {
  const acct = await newAccount(server, { clientId });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);

  const badgeOnConsent = async () => {
    const { url } = await consentUrl(server, { clientId, email: acct.email });
    const next = new URL(url).pathname + new URL(url).search;
    const { web } = await loginOverHttp(server, acct.email, DEFAULT_PASSWORD, { next });
    const page = await web.get(next);
    assert.equal(page.status, 200, page.pageText.slice(0, 300));
    return /Verified partner/.test(page.pageText) ? 'verified' : /Unverified partner/.test(page.pageText) ? 'unverified' : 'none';
  };
  assert.equal(await badgeOnConsent(), 'unverified', 'before: a hand-registered client is unverified');

  const on = await server.cli(['clients', 'set-verified', clientId, 'on']);
  assert.equal(on.code, 0, on.stderr);
  assert.equal(on.stdout.trim(), `${clientId} verified on`);
  assert.equal(await badgeOnConsent(), 'verified');
  const shown = JSON.parse((await server.cli(['clients', 'show', clientId, '--json'])).stdout);
  assert.equal(shown.verified, true);

  const off = await server.cli(['clients', 'set-verified', clientId, 'off']);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(await badgeOnConsent(), 'unverified');

  const bad = await server.cli(['clients', 'set-verified', clientId, 'maybe']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /state must be on or off/);
  const missing = await server.cli(['clients', 'set-verified', 'no-such-client', 'on']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no client no-such-client/);
});

test('Create key answers with a redirect; the key is shown on the next view only, and never rests in the clear', async () => {
  const acct = await newAccount(server, { clientId });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  const web = await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
  const dash = await web.get('/dashboard');
  const form = formWithButton(dash.forms, 'Create key');
  const created = await web.submit(form, { label: 'Local scripts' });
  assert.equal(created.status, 302, created.pageText.slice(0, 300));
  assert.equal(created.location, '/dashboard');
  const revealCookie = web.cookie('provisiond_reveal');
  assert.match(revealCookie ?? '', /^[A-Za-z0-9_-]{43}$/, 'the sealing key goes to the browser');
  const sealed = q(server, 'SELECT box FROM reveals');
  assert.equal(sealed.length, 1);

  // A HEAD (a link checker, a prefetch) does not spend it.
  const head = await web.request('HEAD', '/dashboard');
  assert.equal(head.status, 200);
  assert.equal(q(server, 'SELECT box FROM reveals').length, 1, 'HEAD leaves the box');
  const shown = await web.get('/dashboard');
  const m = /phx_[A-Za-z0-9]{43}/.exec(shown.pageText);
  assert.ok(m, `the key is shown once: ${shown.pageText.slice(0, 800)}`);
  assert.ok(!sealed[0].box.includes(m[0]), 'the stored box is not the key');
  assert.equal(q(server, 'SELECT count(*) AS n FROM personal_api_keys WHERE key_hash = ?', sha256hex(m[0]))[0].n, 1);
  assert.equal(web.cookie('provisiond_reveal'), undefined, 'the cookie is cleared');
  assert.equal(q(server, 'SELECT box FROM reveals').length, 0, 'the box is deleted on the first view');

  // A label over 40 characters is refused, not cut.
  const long = await web.submit(formWithButton(shown.forms, 'Create key'), { label: 'x'.repeat(41) });
  assert.equal(long.status, 400, long.pageText.slice(0, 200));
  assert.match(long.pageText, /at most 40 characters/);

  // A replayed cookie (or a reload) finds nothing; nothing new is created.
  web.setCookie('provisiond_reveal', revealCookie);
  const again = await web.get('/dashboard');
  assert.doesNotMatch(again.pageText, /phx_[A-Za-z0-9]{43}/);
  assert.equal(q(server, 'SELECT count(*) AS n FROM personal_api_keys WHERE label = ?', 'Local scripts')[0].n, 1);
});
