// The requires_auth consent flow in Chromium (docs/PAGES.md "consent", "login"): an existing user,
// the login page that names the email and the partner, the consent page, Approve → the partner's
// callback with code + state, the code exchanged with the PKCE verifier; Deny; expired states; a
// metadata-document (CIMD) partner; the project picker.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_RE, B64URL43, REFRESH_RE, count, createResource, exchangeCode, q, q1, sha256hex,
} from '../blackbox/harness.mjs';
import { assertRegistered, publish, registration, uid } from '../blackbox/cimd_common.mjs';
import {
  PARTNER_NAME, assertPageHeaders, consentUrl,
  userWithPassword, startPartnerWorld,
} from './e2e.mjs';
import {
  bodyText, clickButton, closeBrowser, logIn, newPage, redirectChain, screenshot, visit,
} from './browser.mjs';

let world;
let server;
let smtp;
let site;
let cb;
let clientId;

before(async () => {
  world = await startPartnerWorld({ tlsSite: true });
  ({ server, smtp, site, cb, clientId } = world);
});
after(async () => {
  await closeBrowser();
  await world?.stop();
});

const VERIFIED = /(^|[^A-Za-z])Verified partner/;
const UNVERIFIED = /Unverified partner/;

/** Assert the consent page's content; returns its text. */
async function assertConsentPage(page, resp, { partner, clientHost, redirectHost, verified, scopesShown = [], scopesHidden = [] }) {
  assert.equal(resp.status(), 200, await bodyText(page));
  const text = await bodyText(page);
  assert.ok(text.includes(partner), `consent page names the partner "${partner}": ${text}`);
  if (clientHost) assert.ok(text.includes(clientHost), `consent page shows the client id's host ${clientHost}: ${text}`);
  assert.ok(text.includes(redirectHost), `consent page shows the redirect host ${redirectHost}: ${text}`);
  if (verified === true) {
    assert.match(text, VERIFIED);
    assert.doesNotMatch(text, UNVERIFIED);
  } else if (verified === false) {
    assert.match(text, UNVERIFIED);
    assert.doesNotMatch(text, VERIFIED);
  } else {
    assert.ok(VERIFIED.test(text) !== UNVERIFIED.test(text), `exactly one of Verified/Unverified partner: ${text}`);
  }
  for (const re of scopesShown) assert.match(text, re, `scope in plain words ${re}: ${text}`);
  for (const re of scopesHidden) assert.doesNotMatch(text, re, `a scope that was not requested ${re}`);
  assert.equal(await page.locator('form input[type="hidden"][name="state"]').count(), 1, 'hidden state field');
  assert.equal(await page.locator('form input[type="hidden"][name="csrf"]').count() >= 1, true, 'hidden csrf field');
  assert.equal(await page.getByRole('button', { name: 'Approve', exact: true }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Deny', exact: true }).count(), 1);
  assert.equal(await page.locator('button[name="decision"][value="approve"]').count(), 1, 'Approve is decision=approve');
  assert.equal(await page.locator('button[name="decision"][value="deny"]').count(), 1, 'Deny is decision=deny');
  return text;
}

describe('requires_auth → login → consent', () => {
  test('Approve: the login page names the email and partner; the callback gets code + the same state; the code exchanges', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const c = await consentUrl(server, { clientId, email: user.email, scopes: ['experiment:read', 'feature_flag:read'] });
    const u = new URL(c.url);
    assert.equal(u.origin, server.url);
    assert.equal(u.pathname, '/api/agentic/authorize');
    assert.match(c.state, B64URL43);

    const { ctx, page } = await newPage();
    try {
      // Not logged in → 302 /login?next=<the consent URL, relative>.
      const login = await visit(page, c.url);
      const chain = await redirectChain(login);
      assert.equal(chain[0].status, 302, JSON.stringify(chain));
      const lu = new URL(page.url());
      assert.equal(lu.pathname, '/login');
      assert.equal(lu.searchParams.get('next'), `/api/agentic/authorize?state=${c.state}`);
      assert.equal(login.status(), 200);
      const ltext = await bodyText(page);
      assert.ok(ltext.includes(user.email), `the login page says which email to use: ${ltext}`);
      assert.ok(ltext.includes(PARTNER_NAME), `the login page names the partner: ${ltext}`);
      await screenshot(page, 'login-for-consent');

      // Log in → back on the consent page.
      const consent = await logIn(page, user.email, user.password);
      assert.equal(page.url(), c.url, 'after login, the consent page');
      assertPageHeaders({ headers: await consent.allHeaders() }, 'consent page', { formActionExtra: cb.origin });
      await assertConsentPage(page, consent, {
        partner: PARTNER_NAME,
        redirectHost: '127.0.0.1',
        scopesShown: [/experiment/i, /feature flag/i],
        scopesHidden: [/ticket/i, /hog.?flow/i, /notebook/i],
      });
      assert.equal(await page.locator('select[name="project_id"]').count(), 0, 'no project picker with one project');
      await screenshot(page, 'consent');

      // Approve → 302 to the partner's redirect URI with code and the same state.
      const since = cb.hits.length;
      const landed = await clickButton(page, 'Approve');
      const ac = await redirectChain(landed);
      assert.equal(ac[0].method, 'POST');
      assert.equal(ac[0].status, 302, JSON.stringify(ac));
      const hit = await cb.waitForHit({ since });
      assert.equal(hit.url.pathname, '/cb');
      assert.equal(`${hit.url.origin}${hit.url.pathname}`, cb.redirectUri);
      const code = hit.params.get('code');
      assert.match(code, B64URL43, hit.url.href);
      assert.equal(hit.params.get('state'), c.state, 'the same state');
      assert.equal(hit.params.get('error'), null);
      if (hit.params.has('iss')) assert.equal(hit.params.get('iss'), server.url, 'iss is our issuer');
      assert.equal(page.url(), hit.url.href, 'the browser is on the partner callback');

      // The partner exchanges the code with its PKCE verifier.
      const tok = await exchangeCode(server, code, c.verifier);
      assert.equal(tok.status, 200, tok.text);
      assert.match(tok.json.access_token, ACCESS_RE);
      assert.match(tok.json.refresh_token, REFRESH_RE);
      assert.equal(tok.json.account.id, user.orgId);
      const row = q1(server, 'SELECT * FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
      assert.equal(row.client_id, clientId);
      assert.equal(row.user_id, user.userId);
      assert.deepEqual(row.scopes.split(' ').sort(), ['experiment:read', 'feature_flag:read']);
      assert.notEqual(row.consumed_at, null);
      assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE state_hash = ?', sha256hex(c.state)), 0, 'the consent is spent');

      // The consent URL is single-use.
      const again = await visit(page, c.url);
      assert.equal(again.status(), 400);
      assert.match(await bodyText(page), /This authorization request has expired/);
    } finally {
      await ctx.close();
    }
  });

  test('Deny → error=access_denied with the state; no code is issued', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const c = await consentUrl(server, { clientId, email: user.email });
    const codesBefore = count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', user.userId);
    const { ctx, page } = await newPage();
    try {
      await visit(page, c.url);
      assert.equal(new URL(page.url()).pathname, '/login');
      const consent = await logIn(page, user.email, user.password);
      await assertConsentPage(page, consent, { partner: PARTNER_NAME, redirectHost: '127.0.0.1' });
      const since = cb.hits.length;
      await clickButton(page, 'Deny');
      const hit = await cb.waitForHit({ since });
      assert.equal(hit.params.get('error'), 'access_denied', hit.url.href);
      assert.equal(hit.params.get('state'), c.state);
      assert.equal(hit.params.get('code'), null);
      if (hit.params.has('iss')) assert.equal(hit.params.get('iss'), server.url);
      assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', user.userId), codesBefore, 'no code');
      const again = await visit(page, c.url);
      assert.equal(again.status(), 400, 'a denied consent cannot be approved later');
    } finally {
      await ctx.close();
    }
  });

  test('an unknown or missing state → 400 "This authorization request has expired"', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await newPage();
    try {
      await visit(page, `${server.url}/login`);
      await logIn(page, user.email, user.password);
      for (const path of [
        `/api/agentic/authorize?state=${'A'.repeat(43)}`,
        '/api/agentic/authorize?state=',
        '/api/agentic/authorize',
      ]) {
        const r = await visit(page, `${server.url}${path}`);
        assert.equal(r.status(), 400, path);
        assert.match(await bodyText(page), /This authorization request has expired/, path);
        assertPageHeaders({ headers: await r.allHeaders() }, `expired consent page ${path}`);
      }
      await screenshot(page, 'consent-expired');

      // A consent whose state was replaced by a newer request is expired too (newest per client + email).
      const older = await consentUrl(server, { clientId, email: user.email });
      const newer = await consentUrl(server, { clientId, email: user.email });
      const r1 = await visit(page, older.url);
      assert.equal(r1.status(), 400, 'the superseded consent URL');
      const r2 = await visit(page, newer.url);
      assert.equal(r2.status(), 200, 'the newest consent URL');
    } finally {
      await ctx.close();
    }
  });
});

describe('a metadata-document partner', () => {
  test('the consent page shows the client id host, the redirect host and "Unverified partner"; Approve works', async () => {
    const path = `/consent/${uid()}.json`;
    const url = publish(site, path, { client_name: 'Cimd Partner Co', redirect_uris: [cb.redirectUri] });
    assertRegistered(await registration(server, url), url);
    const user = await userWithPassword(server, smtp, { clientId: url });
    const c = await consentUrl(server, { clientId: url, email: user.email });
    const { ctx, page } = await newPage();
    try {
      await visit(page, c.url);
      const consent = await logIn(page, user.email, user.password);
      assertPageHeaders({ headers: await consent.allHeaders() }, 'CIMD consent page', { formActionExtra: cb.origin });
      await assertConsentPage(page, consent, {
        partner: 'Cimd Partner Co', clientHost: 'partner.test', redirectHost: '127.0.0.1', verified: false,
      });
      await screenshot(page, 'consent-unverified');
      const since = cb.hits.length;
      await clickButton(page, 'Approve');
      const hit = await cb.waitForHit({ since });
      assert.equal(hit.params.get('state'), c.state);
      const tok = await exchangeCode(server, hit.params.get('code'), c.verifier);
      assert.equal(tok.status, 200, tok.text);
      const fam = q(server, 'SELECT * FROM token_families WHERE client_id = ? AND user_id = ?', url, user.userId);
      assert.equal(fam.length, 2, 'the first account request and this consent');
    } finally {
      await ctx.close();
    }
  });
});

describe('project picker', () => {
  test('a user with two projects picks one; the code and the tokens are for that project', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const second = await createResource(server, user.tokens.access_token, { project_id: 'e2e-second', configuration: { project_name: 'Second Project' } });
    assert.equal(second.status, 200, second.text);
    const secondId = Number(second.json.id);
    assert.notEqual(secondId, user.projectId);

    const c = await consentUrl(server, { clientId, email: user.email });
    const { ctx, page } = await newPage();
    try {
      await visit(page, c.url);
      const consent = await logIn(page, user.email, user.password);
      await assertConsentPage(page, consent, { partner: PARTNER_NAME, redirectHost: '127.0.0.1' });
      const select = page.locator('select[name="project_id"]');
      assert.equal(await select.count(), 1, 'a project_id picker with two projects');
      const values = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(values.map(Number).sort((a, b) => a - b), [user.projectId, secondId].sort((a, b) => a - b));
      assert.match(await bodyText(page), /Second Project/);
      await select.selectOption(String(secondId));
      await screenshot(page, 'consent-project-picker');
      const since = cb.hits.length;
      await clickButton(page, 'Approve');
      const hit = await cb.waitForHit({ since });
      const code = hit.params.get('code');
      assert.equal(q1(server, 'SELECT project_id FROM authorization_codes WHERE code_hash = ?', sha256hex(code)).project_id, secondId);
      const tok = await exchangeCode(server, code, c.verifier);
      assert.equal(tok.status, 200, tok.text);
      const fam = q1(server, `SELECT f.project_ids FROM token_families f JOIN access_tokens a ON a.family_id = f.id
        WHERE a.token_hash = ?`, sha256hex(tok.json.access_token));
      assert.ok(JSON.parse(fam.project_ids).includes(secondId), `the token reaches the chosen project: ${fam.project_ids}`);
    } finally {
      await ctx.close();
    }
  });
});
