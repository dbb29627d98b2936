// The dashboard (docs/PAGES.md "dashboard"): personal API keys (shown once, stored hashed, revoked),
// connected apps (Disconnect revokes that partner's tokens only), and CIMD verification tokens
// created on the page that verify a partner's metadata document.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAT_RE, exchangeCode, getResource, q, q1, refreshGrant, sha256hex,
} from '../blackbox/harness.mjs';
import { assertRegistered, publish, registration, uid } from '../blackbox/cimd_common.mjs';
import {
  PARTNER_NAME, assertPageHeaders, consentUrl, dbFind, registerPartner,
  userWithPassword, startPartnerWorld,
} from './e2e.mjs';
import {
  bodyText, clickButton, clickButtonNear, closeBrowser, logIn, navigation, newPage, screenshot, visit,
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

async function loggedIn(user) {
  const { ctx, page } = await newPage();
  await visit(page, `${server.url}/login`);
  await logIn(page, user.email, user.password);
  assert.equal(page.url(), `${server.url}/dashboard`);
  return { ctx, page };
}

/** Approve a consent URL in an already logged-in page; returns the tokens. */
async function approve(page, c) {
  await visit(page, c.url);
  const since = cb.hits.length;
  await clickButton(page, 'Approve');
  const hit = await cb.waitForHit({ since });
  const tok = await exchangeCode(server, hit.params.get('code'), c.verifier);
  assert.equal(tok.status, 200, tok.text);
  return tok.json;
}

/** The page with the "Create token" button: the dashboard or a settings page linked from it. */
async function openVerificationTokens(page) {
  const create = () => page.getByRole('button', { name: 'Create token', exact: true });
  if (await create().count()) return;
  const link = page.getByRole('link', { name: /settings|verification/i });
  assert.ok(await link.count(), `a link to organization settings on ${page.url()}: ${(await bodyText(page)).slice(0, 1000)}`);
  await navigation(page, () => link.first().click());
  assert.ok(await create().count(), `"Create token" on ${page.url()}`);
}

describe('personal API keys', () => {
  test('Create key shows the phx_ value once; only its hash is stored; Revoke revokes it', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await loggedIn(user);
    try {
      const label = `e2e key ${uid()}`;
      const before = q(server, 'SELECT id FROM personal_api_keys WHERE user_id = ?', user.userId).length;
      await page.locator('input[name="label"]').fill(label);
      const created = await clickButton(page, 'Create key');
      assert.equal(created.status(), 200);
      const text = await bodyText(page);
      const m = /phx_[A-Za-z0-9]{43}/.exec(text);
      assert.ok(m, `the new key is shown: ${text.slice(0, 1500)}`);
      const key = m[0];
      assert.match(key, PAT_RE);
      await screenshot(page, 'dashboard-key-created');

      const rows = q(server, 'SELECT * FROM personal_api_keys WHERE user_id = ? AND label = ?', user.userId, label);
      assert.equal(rows.length, 1, 'one key row with the label');
      assert.equal(q(server, 'SELECT id FROM personal_api_keys WHERE user_id = ?', user.userId).length, before + 1);
      assert.equal(rows[0].key_hash, sha256hex(key), 'stored as SHA-256');
      assert.equal(rows[0].revoked_at, null);
      assert.equal(rows[0].organization_id, user.orgId);
      assert.deepEqual(dbFind(server, key), [], 'the key is nowhere in the clear');

      // POST-redirect-GET: the key is shown on /dashboard, once; a reload creates and shows nothing.
      assert.equal(new URL(page.url()).pathname, '/dashboard', `after Create key: ${page.url()}`);
      await page.reload();
      assert.equal(q(server, 'SELECT id FROM personal_api_keys WHERE user_id = ?', user.userId).length, before + 1, 'a reload creates no key');
      assert.ok(!(await bodyText(page)).includes(key), 'a reload does not show the key again');
      assert.equal(q(server, 'SELECT key_hash FROM reveals').length, 0, 'the sealed copy is gone after one view');

      // Shown once: a fresh load of the dashboard lists the label, not the value.
      await visit(page, `${server.url}/dashboard`);
      const again = await bodyText(page);
      assert.ok(!again.includes(key), 'the key value is not shown again');
      assert.ok(again.includes(label), 'the key is listed by its label');
      assert.ok(again.includes(rows[0].mask) || again.includes(key.slice(-4)), `the key is listed masked (${rows[0].mask})`);

      await clickButtonNear(page, label, 'Revoke');
      const revoked = q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE id = ?', rows[0].id);
      assert.notEqual(revoked.revoked_at, null, 'Revoke revokes the key');
      // Only that key: the PAT minted for the partner's resource (if any) and others stay.
      const others = q(server, 'SELECT * FROM personal_api_keys WHERE user_id = ? AND id != ? AND revoked_at IS NOT NULL', user.userId, rows[0].id);
      assert.deepEqual(others, [], 'no other key revoked');
    } finally {
      await ctx.close();
    }
  });
});

describe('connected apps', () => {
  test('at phone width (390 px) every row keeps its action: Disconnect is visible, named for its app, and works; nothing scrolls sideways', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await newPage({ viewport: { width: 390, height: 844 } });
    try {
      await visit(page, `${server.url}/login`);
      await logIn(page, user.email, user.password);
      await visit(page, `${server.url}/dashboard`);
      const button = page.getByRole('button', { name: `Disconnect ${PARTNER_NAME}`, exact: true });
      assert.equal(await button.count(), 1, 'one Disconnect button, named for the app');
      assert.ok(await button.isVisible(), 'Disconnect is visible at 390 px');
      const box = await button.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `inside the viewport: ${JSON.stringify(box)}`);
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scroll <= 390, `no horizontal scrolling: scrollWidth ${scroll}`);
      await screenshot(page, 'dashboard-phone');
      await navigation(page, () => button.click());
      const fams = q(server, 'SELECT revoked_at FROM token_families WHERE client_id = ? AND user_id = ?', clientId, user.userId);
      assert.ok(fams.length >= 1 && fams.every((f) => f.revoked_at !== null), 'disconnected');
    } finally {
      await ctx.close();
    }
  });

  test('Disconnect revokes that partner\'s tokens for this user (refresh → invalid_grant) and no one else\'s', async () => {
    const client2 = await registerPartner(server, { name: 'Beta Connect', redirectUri: cb.redirectUri });
    const user = await userWithPassword(server, smtp, { clientId }); // tokens for PARTNER_NAME
    const other = await userWithPassword(server, smtp, { clientId }); // another user of the same partner
    const { ctx, page } = await loggedIn(user);
    try {
      const tokens2 = await approve(page, await consentUrl(server, { clientId: client2, email: user.email }));
      await visit(page, `${server.url}/dashboard`);
      const text = await bodyText(page);
      assert.ok(text.includes(PARTNER_NAME) && text.includes('Beta Connect'), `both apps are listed: ${text.slice(0, 1500)}`);
      await screenshot(page, 'dashboard-connected-apps');

      const res = await clickButtonNear(page, PARTNER_NAME, 'Disconnect');
      assert.ok(res.status() < 400, `Disconnect → ${res.status()}`);
      const fams = q(server, 'SELECT revoked_at FROM token_families WHERE client_id = ? AND user_id = ?', clientId, user.userId);
      assert.ok(fams.length >= 1);
      for (const f of fams) assert.notEqual(f.revoked_at, null, 'every family of that partner for this user is revoked');

      const r = await refreshGrant(server, user.tokens.refresh_token);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'invalid_grant');
      const g = await getResource(server, user.tokens.access_token, user.projectId);
      assert.equal(g.status, 401, `the access token is revoked too: ${g.text}`);

      // The other partner of this user, and the same partner's other user, keep working.
      const r2 = await refreshGrant(server, tokens2.refresh_token);
      assert.equal(r2.status, 200, `Beta Connect's tokens survive: ${r2.text}`);
      const r3 = await refreshGrant(server, other.tokens.refresh_token);
      assert.equal(r3.status, 200, `another user's tokens survive: ${r3.text}`);
    } finally {
      await ctx.close();
    }
  });
});

describe('CIMD verification tokens', () => {
  test('Create token (shown once, stored hashed) → a document carrying it → verified:true; Revoke → unverified', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const { ctx, page } = await loggedIn(user);
    try {
      await openVerificationTokens(page);
      const settingsUrl = page.url(); // the page with "Create token" (the POST may answer on its own URL)
      const created = await clickButton(page, 'Create token');
      assert.equal(created.status(), 200);
      const m = /phvt_[A-Za-z0-9_-]{20,}/.exec(await bodyText(page));
      assert.ok(m, 'the new verification token is shown');
      const vt = m[0];
      await screenshot(page, 'dashboard-verification-token');
      const row = q1(server, 'SELECT * FROM verification_tokens WHERE token_hash = ?', sha256hex(vt));
      assert.ok(row, 'stored by its SHA-256');
      assert.equal(row.organization_id, user.orgId);
      assert.deepEqual(dbFind(server, vt), [], 'the token is nowhere in the clear');
      await visit(page, settingsUrl);
      const listed = await bodyText(page);
      assert.ok(!listed.includes(vt), 'not shown again');
      assert.ok(listed.includes(row.hint), `listed masked as ${row.hint}`);

      // A partner document carrying the token → verified, linked to this organization.
      const url = publish(site, `/verified/${uid()}.json`, {
        client_name: 'Verified Co', redirect_uris: [cb.redirectUri], 'com.posthog': { verification_token: vt },
      });
      const reg = assertRegistered(await registration(server, url), url);
      assert.equal(reg.verified, true, JSON.stringify(reg, null, 1));
      assert.equal(reg.organization_id, user.orgId);
      assert.equal(reg.checks.find((c) => c.name === 'verification_token').ok, true);

      // Its consent page says "Verified partner".
      const c = await consentUrl(server, { clientId: url, email: user.email });
      const consent = await visit(page, c.url);
      assert.equal(consent.status(), 200);
      const ctext = await bodyText(page);
      assert.match(ctext, /(^|[^A-Za-z])Verified partner/, ctext);
      assert.doesNotMatch(ctext, /Unverified partner/);
      assertPageHeaders({ headers: await consent.allHeaders() }, 'verified consent page', { formActionExtra: cb.origin });
      await screenshot(page, 'consent-verified');

      // Revoke on the page → the next fetch unlinks the client.
      await visit(page, settingsUrl);
      await clickButtonNear(page, row.hint, 'Revoke');
      assert.notEqual(q1(server, 'SELECT revoked_at FROM verification_tokens WHERE id = ?', row.id).revoked_at, null);
      const reg2 = assertRegistered(await registration(server, url), url);
      assert.equal(reg2.verified, false, JSON.stringify(reg2));
      assert.equal(reg2.organization_id, null);
    } finally {
      await ctx.close();
    }
  });
});
