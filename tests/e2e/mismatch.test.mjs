// Logged in as A, a consent URL for B (docs/PAGES.md "account mismatch"): the mismatch page names
// both emails and the partner; "Log out and continue as B" → login as B → consent → Approve.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { count, exchangeCode, q1, sha256hex } from '../blackbox/harness.mjs';
import {
  PARTNER_NAME, SESSION_COOKIE, assertPageHeaders, consentUrl,
  userWithPassword, startPartnerWorld,
} from './e2e.mjs';
import {
  bodyText, clickButton, closeBrowser, cookieNamed, logIn, newPage, redirectChain, screenshot, visit,
} from './browser.mjs';

let world;
let server;
let smtp;
let cb;
let clientId;

before(async () => {
  world = await startPartnerWorld();
  ({ server, smtp, cb, clientId } = world);
});
after(async () => {
  await closeBrowser();
  await world?.stop();
});

test('A is logged in, the consent is for B: mismatch page → log out and continue as B → consent → Approve', async () => {
  const a = await userWithPassword(server, smtp, { clientId });
  const b = await userWithPassword(server, smtp, { clientId });
  const c = await consentUrl(server, { clientId, email: b.email });
  const { ctx, page } = await newPage();
  try {
    await visit(page, `${server.url}/login`);
    await logIn(page, a.email, a.password);
    assert.equal(page.url(), `${server.url}/dashboard`);
    const sessionA = (await cookieNamed(ctx, SESSION_COOKIE)).value;

    // The consent URL while logged in as A → 302 /agentic/account-mismatch?state=…
    const mm = await visit(page, c.url);
    const chain = await redirectChain(mm);
    assert.equal(chain[0].status, 302, JSON.stringify(chain));
    const mu = new URL(page.url());
    assert.equal(mu.pathname, '/agentic/account-mismatch');
    assert.equal(mu.searchParams.get('state'), c.state);
    assert.equal(mm.status(), 200);
    assertPageHeaders({ headers: await mm.allHeaders() }, 'account-mismatch page');
    const text = await bodyText(page);
    assert.ok(text.includes(a.email), `names the current email ${a.email}: ${text}`);
    assert.ok(text.includes(b.email), `names the expected email ${b.email}: ${text}`);
    assert.ok(text.includes(PARTNER_NAME), `names the partner: ${text}`);
    await screenshot(page, 'account-mismatch');

    // One form: POST /logout with next = the consent URL.
    const form = page.locator('form[action="/logout"]');
    assert.equal(await form.count(), 1, 'one logout form');
    assert.equal(await form.getAttribute('method').then((m) => m.toLowerCase()), 'post');
    const next = await form.locator('input[name="next"]').inputValue();
    assert.equal(new URL(next, server.url).href, c.url, `next is the consent URL: ${next}`);

    // "Log out and continue as B" → 302 /login?next=<consent URL>, A's session gone.
    const login = await clickButton(page, `Log out and continue as ${b.email}`);
    const lc = await redirectChain(login);
    assert.equal(lc[0].method, 'POST');
    assert.equal(lc[0].status, 302, JSON.stringify(lc));
    const lu = new URL(page.url());
    assert.equal(lu.pathname, '/login');
    assert.equal(new URL(lu.searchParams.get('next'), server.url).href, c.url);
    assert.equal(count(server, 'SELECT COUNT(*) FROM sessions WHERE id_hash = ?', sha256hex(sessionA)), 0, 'A\'s session is deleted');
    const ltext = await bodyText(page);
    assert.ok(ltext.includes(b.email), `the login page says to use ${b.email}: ${ltext}`);
    assert.ok(ltext.includes(PARTNER_NAME));

    // Log in as B → the consent page → Approve → the callback with a code for B.
    const consent = await logIn(page, b.email, b.password);
    assert.equal(page.url(), c.url);
    assert.equal(consent.status(), 200);
    assert.ok((await bodyText(page)).includes(PARTNER_NAME));
    const since = cb.hits.length;
    await clickButton(page, 'Approve');
    const hit = await cb.waitForHit({ since });
    assert.equal(hit.params.get('state'), c.state);
    const code = hit.params.get('code');
    assert.equal(q1(server, 'SELECT user_id FROM authorization_codes WHERE code_hash = ?', sha256hex(code)).user_id, b.userId, 'the code is B\'s');
    const tok = await exchangeCode(server, code, c.verifier);
    assert.equal(tok.status, 200, tok.text);
    assert.equal(tok.json.account.id, b.orgId);
  } finally {
    await ctx.close();
  }
});

test('logging in as the wrong person from the consent login page leads to the mismatch page, not to consent', async () => {
  const a = await userWithPassword(server, smtp, { clientId });
  const b = await userWithPassword(server, smtp, { clientId });
  const c = await consentUrl(server, { clientId, email: b.email });
  const { ctx, page } = await newPage();
  try {
    await visit(page, c.url);
    assert.equal(new URL(page.url()).pathname, '/login');
    const emailInput = page.locator('input[name="email"]');
    if (!(await emailInput.isEditable())) return; // the page fixes the email: nothing more to try
    await logIn(page, a.email, a.password);
    assert.equal(new URL(page.url()).pathname, '/agentic/account-mismatch', `A lands on the mismatch page: ${page.url()}`);
    assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0, 'A cannot approve B\'s consent');
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', a.userId), 1, 'only A\'s first code');
  } finally {
    await ctx.close();
  }
});
