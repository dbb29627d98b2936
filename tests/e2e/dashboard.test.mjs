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
  CSRF_COOKIE, PARTNER_NAME, WebClient, assertPageHeaders, consentUrl, dbFind, formWithButton, randomUUID,
  registerPartner, startHtmlServer, userWithPassword, startPartnerWorld,
} from './e2e.mjs';
import {
  bodyText, clickButton, closeBrowser, logIn, navigation, newPage, redirectChain, screenshot, visit,
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

// The dashboard's Revoke and Disconnect controls are links to a confirmation page (GET); only its
// form (POST, with the csrf field) acts, then lands on /dashboard?notice=… (src/web/notices.cpp).
const NOTICES = {
  key_revoked: 'The key was revoked. Programs using it can no longer call the API.',
  app_disconnected: 'The app was disconnected. Its access to your account has ended.',
  token_revoked: 'The verification token was revoked.',
};

const revokeKey = (key) => ({
  link: `Revoke key ${key.label} (${key.mask})`,
  path: '/dashboard/keys/revoke',
  params: { id: key.id },
  heading: `Revoke the key “${key.label}”?`,
  button: 'Revoke key',
  notice: 'key_revoked',
});
const disconnectApp = (name, id) => ({
  link: `Disconnect ${name}`,
  path: '/dashboard/apps/disconnect',
  params: { client_id: id },
  heading: `Disconnect ${name}?`,
  button: `Disconnect ${name}`,
  notice: 'app_disconnected',
});
const revokeVerificationToken = (token) => ({
  link: `Revoke verification token ${token.hint}`,
  path: '/dashboard/verification-tokens/revoke',
  params: { id: token.id },
  heading: `Revoke the verification token ${token.hint}?`,
  button: 'Revoke token',
  notice: 'token_revoked',
});

/** Everything a Revoke or Disconnect can change for the user (and their organization), as stored. */
function storedState(user) {
  const byUser = (sql) => q(server, sql, user.userId);
  return {
    keys: byUser('SELECT * FROM personal_api_keys WHERE user_id = ? ORDER BY id'),
    families: byUser('SELECT * FROM token_families WHERE user_id = ? ORDER BY id'),
    access: byUser('SELECT a.* FROM access_tokens a JOIN token_families f ON f.id = a.family_id WHERE f.user_id = ? ORDER BY a.token_hash'),
    refresh: byUser('SELECT r.* FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id WHERE f.user_id = ? ORDER BY r.token_hash'),
    codes: byUser('SELECT * FROM authorization_codes WHERE user_id = ? ORDER BY code_hash'),
    deepLinks: byUser('SELECT * FROM deep_links WHERE user_id = ? ORDER BY 1'),
    verificationTokens: q(server, 'SELECT * FROM verification_tokens WHERE organization_id = ? ORDER BY id', user.orgId),
  };
}

/**
 * On the dashboard: click the control `action.link` (a link) → its confirmation page: 200, GET at
 * action.path with action.params, the h1 names what it acts on, one `action.button`; showing it
 * changes nothing stored. `action.onPage(page)`, if given, runs on the confirmation page.
 */
async function openConfirmation(page, action, state) {
  const control = page.getByRole('link', { name: action.link, exact: true });
  assert.equal(await control.count(), 1, `one "${action.link}" link on ${page.url()}: ${(await bodyText(page)).slice(0, 1000)}`);
  const before = state();
  const res = await navigation(page, () => control.click());
  assert.equal(res.status(), 200, `${action.link} → ${res.status()} at ${page.url()}: ${(await bodyText(page)).slice(0, 500)}`);
  assert.equal(res.request().method(), 'GET');
  const url = new URL(page.url());
  assert.equal(url.origin + url.pathname, `${server.url}${action.path}`, `the confirmation page: ${page.url()}`);
  for (const [k, v] of Object.entries(action.params)) assert.equal(url.searchParams.get(k), v, `${k} in ${page.url()}`);
  const h1 = page.locator('h1');
  assert.equal(await h1.count(), 1, 'one h1');
  assert.equal((await h1.innerText()).trim(), action.heading, 'the h1 names what it acts on');
  const button = page.getByRole('button', { name: action.button, exact: true });
  assert.equal(await button.count(), 1, `one "${action.button}" button on the confirmation page`);
  assert.ok(await button.isVisible(), `"${action.button}" is visible`);
  assert.equal(await page.locator('p.notice').count(), 0, 'no notice on the confirmation page');
  if (action.onPage) await action.onPage(page);
  assert.deepEqual(state(), before, 'showing the confirmation page changes nothing');
}

/**
 * The whole flow, starting on the dashboard: open the confirmation page and press Cancel (back on
 * /dashboard, no notice, nothing changed); open it again and press the button → a POST answered
 * by a redirect to /dashboard?notice=action.notice, which shows the notice's text.
 */
async function cancelThenConfirm(page, action, state) {
  assert.equal(new URL(page.url()).pathname, '/dashboard', `starts on the dashboard: ${page.url()}`);
  const before = state();
  await openConfirmation(page, action, state);
  const cancel = page.getByRole('link', { name: 'Cancel', exact: true });
  assert.equal(await cancel.count(), 1, 'one Cancel link');
  const back = await navigation(page, () => cancel.click());
  assert.equal(back.status(), 200);
  assert.equal(page.url(), `${server.url}/dashboard`, 'Cancel goes back to the dashboard');
  assert.equal(await page.locator('p.notice').count(), 0, 'no notice after Cancel');
  assert.deepEqual(state(), before, 'Cancel changes nothing');

  await openConfirmation(page, action, state);
  const done = await clickButton(page, action.button);
  assert.equal(done.status(), 200, `after ${action.button}: ${done.status()} at ${page.url()}`);
  const chain = await redirectChain(done);
  assert.equal(chain[0].method, 'POST', JSON.stringify(chain));
  assert.equal(chain[0].url, `${server.url}${action.path}`, JSON.stringify(chain));
  assert.ok(chain[0].status >= 300 && chain[0].status < 400, `the POST redirects: ${JSON.stringify(chain)}`);
  assert.equal(page.url(), `${server.url}/dashboard?notice=${action.notice}`);
  const notice = page.locator('p.notice[role="status"]');
  assert.equal(await notice.count(), 1, `one notice on ${page.url()}: ${(await bodyText(page)).slice(0, 500)}`);
  assert.ok(await notice.isVisible(), 'the notice is visible');
  assert.equal((await notice.innerText()).trim(), NOTICES[action.notice]);
  return done;
}

/** Over HTTP, as `user` (its logged-in WebClient): create a personal API key; its stored row. */
async function createKeyOverHttp(user, label) {
  const dash = await user.web.get('/dashboard');
  assert.equal(dash.status, 200, dash.pageText.slice(0, 300));
  const form = formWithButton(dash.forms, 'Create key');
  assert.ok(form, 'a Create key form');
  const res = await user.web.submit(form, { label });
  assert.ok(res.status === 302 || res.status === 303, `Create key → ${res.status}`);
  await user.web.follow(res.location); // the reveal, seen once
  return q1(server, 'SELECT * FROM personal_api_keys WHERE user_id = ? AND label = ?', user.userId, label);
}

/** Over HTTP, as `user`: create a CIMD verification token for their organization; its stored row. */
async function createVerificationTokenOverHttp(user) {
  const before = new Set(q(server, 'SELECT id FROM verification_tokens WHERE organization_id = ?', user.orgId).map((r) => r.id));
  const dash = await user.web.get('/dashboard');
  const form = formWithButton(dash.forms, 'Create token');
  assert.ok(form, 'a Create token form');
  const res = await user.web.submit(form);
  assert.ok(res.status === 302 || res.status === 303, `Create token → ${res.status}`);
  await user.web.follow(res.location);
  const rows = q(server, 'SELECT * FROM verification_tokens WHERE organization_id = ?', user.orgId).filter((r) => !before.has(r.id));
  assert.equal(rows.length, 1, 'one new verification token');
  return rows[0];
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

      // Revoke → a confirmation page; Cancel changes nothing; Revoke key revokes it.
      const familiesBefore = q(server, 'SELECT * FROM token_families WHERE user_id = ? ORDER BY id', user.userId);
      await cancelThenConfirm(page, revokeKey(rows[0]), () => storedState(user));
      const revoked = q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE id = ?', rows[0].id);
      assert.notEqual(revoked.revoked_at, null, 'Revoke revokes the key');
      // Only that key: the PAT minted for the partner's resource (if any) and others stay.
      const others = q(server, 'SELECT * FROM personal_api_keys WHERE user_id = ? AND id != ? AND revoked_at IS NOT NULL', user.userId, rows[0].id);
      assert.deepEqual(others, [], 'no other key revoked');
      assert.deepEqual(q(server, 'SELECT * FROM token_families WHERE user_id = ? ORDER BY id', user.userId), familiesBefore, 'no grant revoked');
      assert.equal(await page.getByRole('link', { name: revokeKey(rows[0]).link, exact: true }).count(), 0, 'the key is no longer listed');

      // Its confirmation page is gone: a revoked key is a 404.
      const gone = await visit(page, `${server.url}/dashboard/keys/revoke?id=${encodeURIComponent(rows[0].id)}`);
      assert.equal(gone.status(), 404, `the revoked key's confirmation page: ${gone.status()}`);
      assert.equal(await page.getByRole('button', { name: 'Revoke key', exact: true }).count(), 0);
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
      const insideAndNoSideways = async (control, what) => {
        assert.equal(await control.count(), 1, `one ${what}`);
        assert.ok(await control.isVisible(), `${what} is visible at 390 px`);
        const box = await control.boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${what} inside the viewport: ${JSON.stringify(box)}`);
        const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(scroll <= 390, `no horizontal scrolling on ${page.url()}: scrollWidth ${scroll}`);
      };
      const link = page.getByRole('link', { name: `Disconnect ${PARTNER_NAME}`, exact: true });
      await insideAndNoSideways(link, 'Disconnect control, named for the app,');
      // The confirmation page fits the phone too: its button and Cancel are reachable.
      const action = {
        ...disconnectApp(PARTNER_NAME, clientId),
        onPage: async (p) => {
          await insideAndNoSideways(p.getByRole('button', { name: `Disconnect ${PARTNER_NAME}`, exact: true }), 'Disconnect button');
          await insideAndNoSideways(p.getByRole('link', { name: 'Cancel', exact: true }), 'Cancel link');
        },
      };
      await cancelThenConfirm(page, action, () => storedState(user));
      const fams = q(server, 'SELECT revoked_at FROM token_families WHERE client_id = ? AND user_id = ?', clientId, user.userId);
      assert.ok(fams.length >= 1 && fams.every((f) => f.revoked_at !== null), 'disconnected');
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scroll <= 390, `no horizontal scrolling with the notice: scrollWidth ${scroll}`);
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

      let shot = false;
      const res = await cancelThenConfirm(page, {
        ...disconnectApp(PARTNER_NAME, clientId),
        onPage: async (p) => { if (!shot) { shot = true; await screenshot(p, 'dashboard-confirm-disconnect'); } },
      }, () => storedState(user));
      assert.ok(res.status() < 400, `Disconnect → ${res.status()}`);
      assert.equal(await page.getByRole('link', { name: `Disconnect ${PARTNER_NAME}`, exact: true }).count(), 0, 'the app is no longer listed');
      assert.equal(await page.getByRole('link', { name: 'Disconnect Beta Connect', exact: true }).count(), 1, 'Beta Connect still is');
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
      await visit(page, `${server.url}/dashboard`);
      await cancelThenConfirm(page, revokeVerificationToken(row), () => storedState(user));
      assert.notEqual(q1(server, 'SELECT revoked_at FROM verification_tokens WHERE id = ?', row.id).revoked_at, null);
      const gone = await visit(page, `${server.url}/dashboard/verification-tokens/revoke?id=${encodeURIComponent(row.id)}`);
      assert.equal(gone.status(), 404, `the revoked token's confirmation page: ${gone.status()}`);
      const reg2 = assertRegistered(await registration(server, url), url);
      assert.equal(reg2.verified, false, JSON.stringify(reg2));
      assert.equal(reg2.organization_id, null);
    } finally {
      await ctx.close();
    }
  });
});

describe('confirmation pages and their forms', () => {
  test('another user\'s key: its confirmation page is a 404 and the key stays live (also not yours: an unknown key, an app never connected, another organization\'s token)', async () => {
    const owner = await userWithPassword(server, smtp, { clientId });
    const intruder = await userWithPassword(server, smtp, { clientId });
    const key = await createKeyOverHttp(owner, `owner key ${uid()}`);
    assert.ok(key, 'the owner\'s key is stored');
    const token = await createVerificationTokenOverHttp(owner);
    const never = await registerPartner(server, { name: `Never Connected ${uid()}`, redirectUri: cb.redirectUri });
    const ownerBefore = storedState(owner);
    const { ctx, page } = await loggedIn(intruder);
    try {
      const res = await visit(page, `${server.url}/dashboard/keys/revoke?id=${encodeURIComponent(key.id)}`);
      assert.equal(res.status(), 404, `another user's key: ${res.status()} ${(await bodyText(page)).slice(0, 300)}`);
      const text = await bodyText(page);
      assert.ok(!text.includes(key.label) && !text.includes(key.mask), `nothing about the key is shown: ${text.slice(0, 500)}`);
      assert.equal(await page.getByRole('button', { name: 'Revoke key', exact: true }).count(), 0, 'no Revoke key button');
      assert.equal(q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE id = ?', key.id).revoked_at, null, 'the key stays live');

      for (const path of [
        `/dashboard/keys/revoke?id=${randomUUID()}`,
        '/dashboard/keys/revoke',
        `/dashboard/apps/disconnect?client_id=${encodeURIComponent(never)}`,
        `/dashboard/verification-tokens/revoke?id=${encodeURIComponent(token.id)}`,
        `/dashboard/verification-tokens/revoke?id=${randomUUID()}`,
      ]) {
        const r = await visit(page, `${server.url}${path}`);
        assert.equal(r.status(), 404, `${path}: ${r.status()} ${(await bodyText(page)).slice(0, 300)}`);
        assert.equal(await page.locator('form[method="post"] button.danger').count(), 0, `${path}: no confirming form`);
      }

      // Nor does a POST with the intruder's own valid csrf and the owner's ids change anything.
      const csrf = intruder.web.cookie(CSRF_COOKIE) ?? (await intruder.web.get('/dashboard'), intruder.web.cookie(CSRF_COOKIE));
      assert.ok(csrf, 'the intruder has a csrf cookie');
      const posted = await intruder.web.post('/dashboard/keys/revoke', { csrf, id: key.id });
      assert.ok(posted.status < 500, `POST another user's key id: ${posted.status}`);
      const tokenPost = await intruder.web.post('/dashboard/verification-tokens/revoke', { csrf, id: token.id });
      assert.equal(tokenPost.status, 403, `POST another organization's token id: ${tokenPost.status}`);
      assert.deepEqual(storedState(owner), ownerBefore, 'nothing of the owner\'s changed');
    } finally {
      await ctx.close();
    }
  });

  test('logged out, a confirmation page redirects to /login?next=…, and logging in comes back to it (nothing revoked)', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const key = await createKeyOverHttp(user, `deep key ${uid()}`);
    const keyPath = `/dashboard/keys/revoke?id=${encodeURIComponent(key.id)}`;
    const anon = new WebClient(server);
    for (const path of [
      keyPath,
      `/dashboard/apps/disconnect?client_id=${encodeURIComponent(clientId)}`,
      `/dashboard/verification-tokens/revoke?id=${randomUUID()}`,
    ]) {
      const r = await anon.get(path);
      assert.ok(r.status === 302 || r.status === 303, `${path} logged out: ${r.status} ${r.pageText.slice(0, 200)}`);
      const to = new URL(r.location, server.url);
      assert.equal(to.origin + to.pathname, `${server.url}/login`, `${path} → ${r.location}`);
      assert.equal(to.searchParams.get('next'), path, `next names the confirmation page: ${r.location}`);
    }

    const before = storedState(user);
    const { ctx, page } = await newPage();
    try {
      const res = await visit(page, `${server.url}${keyPath}`);
      const chain = await redirectChain(res);
      assert.ok(chain[0].status === 302 || chain[0].status === 303, JSON.stringify(chain));
      assert.equal(res.status(), 200, 'the login page');
      const at = new URL(page.url());
      assert.equal(at.pathname, '/login', page.url());
      assert.equal(at.searchParams.get('next'), keyPath, page.url());
      await logIn(page, user.email, user.password);
      assert.equal(page.url(), `${server.url}${keyPath}`, 'back on the confirmation page after logging in');
      assert.equal((await page.locator('h1').innerText()).trim(), `Revoke the key “${key.label}”?`);
      assert.deepEqual(storedState(user), before, 'nothing revoked by logging in through it');
    } finally {
      await ctx.close();
    }
  });

  test('a cross-site POST without the csrf field to /dashboard/keys/revoke → 403, nothing revoked; the page\'s own form works', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const key = await createKeyOverHttp(user, `target key ${uid()}`);
    const before = storedState(user);
    const action = `${server.url}/dashboard/keys/revoke`;

    // From another origin in the same browser (logged in there): a plain form, no csrf field.
    const evil = await startHtmlServer({
      '/prize': `<!doctype html><title>Prize</title><form method="post" action="${action}">`
        + `<input type="hidden" name="id" value="${key.id}"><button type="submit">Claim your prize</button></form>`,
      '/prize-disconnect': `<!doctype html><title>Prize</title><form method="post" action="${server.url}/dashboard/apps/disconnect">`
        + `<input type="hidden" name="client_id" value="${clientId}"><button type="submit">Claim your prize</button></form>`,
    });
    const { ctx, page } = await loggedIn(user);
    try {
      for (const path of ['/prize', '/prize-disconnect']) {
        await visit(page, `${evil.origin}${path}`);
        const r = await clickButton(page, 'Claim your prize');
        assert.equal(r.status(), 403, `${path}: ${r.status()} ${(await bodyText(page)).slice(0, 300)}`);
        assert.match(await bodyText(page), /This form has expired/);
        assert.equal(r.request().method(), 'POST');
      }
    } finally {
      await ctx.close();
      await evil.stop();
    }

    // The same over HTTP, with the session and csrf cookies attached: a foreign Origin, and none.
    for (const headers of [{ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, {}]) {
      const r = await user.web.post('/dashboard/keys/revoke', { id: key.id }, { headers });
      assert.equal(r.status, 403, `no csrf field, headers ${JSON.stringify(headers)}: ${r.status} ${r.pageText.slice(0, 200)}`);
    }
    assert.equal(q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE id = ?', key.id).revoked_at, null, 'the key stays live');
    assert.deepEqual(storedState(user), before, 'nothing changed');

    // Positive control: the confirmation page's own form revokes it.
    const confirm = await user.web.get(`/dashboard/keys/revoke?id=${encodeURIComponent(key.id)}`);
    assert.equal(confirm.status, 200, confirm.pageText.slice(0, 300));
    const form = formWithButton(confirm.forms, 'Revoke key');
    assert.ok(form, 'a Revoke key form');
    const ok = await user.web.submit(form);
    assert.ok(ok.status === 302 || ok.status === 303, `the genuine form: ${ok.status}`);
    assert.equal(new URL(ok.location, server.url).href, `${server.url}/dashboard?notice=key_revoked`);
    assert.notEqual(q1(server, 'SELECT revoked_at FROM personal_api_keys WHERE id = ?', key.id).revoked_at, null, 'revoked');
  });
});
