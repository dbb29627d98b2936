// Accessibility of every page (docs/PAGES.md "Pages"): axe-core finds no serious or critical
// violation and nothing scrolls sideways, at desktop (1280×900) and at phone (390×844) width.
//
// One user for the whole file: provisioned by the partner's account request (so the partner is a
// connected app), password set through the welcome email, a personal API key and a CIMD
// verification token created through the dashboard's forms. Each page is loaded once and checked
// at both widths by resizing the viewport: the pages run no script, so a resize lays them out as
// a fresh load at that width would, and a page shown only once (a new key) is checked at both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { q1, uniqueEmail } from '../blackbox/harness.mjs';
import {
  PARTNER_NAME, consentUrl, formWithButton, newUserByAccountRequest, parseForms, startPartnerWorld,
  userWithPassword,
} from './e2e.mjs';
import { decodeEntities } from './smtp_fixture.mjs';
import {
  DESKTOP_VIEWPORT, PHONE_VIEWPORT, bodyText, checkAccessibility, clickButton, closeBrowser, logIn,
  navigation, newPage, screenshot, visit,
} from './browser.mjs';

const KEY_LABEL = 'a11y scripts';

let world;
let server;
let smtp;
let clientId;
let user;
let signedIn; // the browser's storage state (session and csrf cookies) after logging in as `user`

before(async () => {
  world = await startPartnerWorld();
  ({ server, smtp, clientId } = world);
  // userWithPassword exchanges the account request's code: a token family, i.e. a connected app.
  user = await userWithPassword(server, smtp, { clientId });

  // A personal API key and a verification token, through the dashboard's forms over HTTP.
  const dash = await user.web.get('/dashboard');
  const key = await user.web.submit(formWithButton(dash.forms, 'Create key'), { label: KEY_LABEL });
  assert.equal(key.status, 302, `Create key: ${key.status} ${key.pageText.slice(0, 300)}`);
  const again = await user.web.get('/dashboard'); // shows (and spends) the new key
  const vt = await user.web.submit(formWithButton(again.forms, 'Create token'));
  assert.ok(vt.status === 200 || vt.status === 302, `Create token: ${vt.status} ${vt.pageText.slice(0, 300)}`);
  if (vt.status === 302) await user.web.get('/dashboard');

  // Log in once in the browser; each test opens a context with these cookies.
  const { ctx, page } = await newPage();
  try {
    await visit(page, `${server.url}/login`);
    await logIn(page, user.email, user.password);
    assert.equal(page.url(), `${server.url}/dashboard`);
    signedIn = await ctx.storageState();
  } finally {
    await ctx.close();
  }
});
after(async () => {
  await closeBrowser();
  await world?.stop();
});

/** A page at desktop width: signed in as `user` (the default) or not. */
function openPage({ loggedIn = true } = {}) {
  return newPage({ viewport: DESKTOP_VIEWPORT, ...(loggedIn ? { storageState: signedIn } : {}) });
}

/**
 * checkAccessibility at desktop and at phone width (both are run; the failures of both are
 * reported together); `shot` names the screenshots, taken at desktop width (screenshot() takes
 * the phone one too).
 */
async function checkBothWidths(page, label, shot) {
  const failures = [];
  for (const [width, viewport] of [['desktop', DESKTOP_VIEWPORT], ['phone', PHONE_VIEWPORT]]) {
    await page.setViewportSize(viewport);
    try {
      await checkAccessibility(page, `${label}, ${width}`);
    } catch (e) {
      if (!(e instanceof assert.AssertionError)) throw e;
      failures.push(e.message);
    }
    if (width === 'desktop' && shot) await screenshot(page, shot);
  }
  assert.ok(failures.length === 0, failures.join('\n'));
}

/** Visit a path of the server and assert the final status. */
async function open(page, path, status = 200) {
  const r = await visit(page, `${server.url}${path}`);
  assert.equal(r.status(), status, `GET ${path} → ${page.url()}: ${r.status()} ${(await bodyText(page)).slice(0, 300)}`);
  return r;
}

/**
 * The id that a dashboard control carries for `path` (/dashboard/keys/revoke …): from a link to
 * the confirmation page (`<a href="/dashboard/keys/revoke?id=…">`) or, before those exist, from
 * the POST form's hidden field.
 */
async function dashboardId(path, param) {
  const dash = await user.web.get('/dashboard');
  assert.equal(dash.status, 200, `GET /dashboard over HTTP: ${dash.status}`);
  for (const m of dash.text.matchAll(/<a\b[^>]*\bhref\s*=\s*"([^"]*)"/gi)) {
    const u = new URL(decodeEntities(m[1]), server.url);
    if (u.pathname === path && u.searchParams.get(param)) return u.searchParams.get(param);
  }
  const form = parseForms(dash.text).find((f) => new URL(f.action || '/dashboard', server.url).pathname === path && f.fields[param]);
  assert.ok(form, `the dashboard has a control for ${path} carrying ${param}: ${dash.pageText.slice(0, 1500)}`);
  return form.fields[param];
}

/** How the dashboard lists the user's verification token (masked). */
function tokenHint() {
  return q1(server, 'SELECT hint FROM verification_tokens WHERE organization_id = ?', user.orgId).hint;
}

/**
 * A confirmation page: it names what will go, and its content (<main>, not the header's brand
 * link) has a POST form with a confirm button and a cancel link back to /dashboard.
 */
async function assertConfirmationPage(page, path, what) {
  const text = await bodyText(page);
  assert.ok(text.includes(what), `${path} names what it acts on (${what}): ${text.slice(0, 600)}`);
  assert.ok(await page.locator('main form[method="post" i] :is(button, input[type="submit"])').count() >= 1,
    `${path} has a confirm button in a POST form`);
  assert.ok(await page.locator('main a:is([href="/dashboard"], [href^="/dashboard?"], [href^="/dashboard#"])').count() >= 1,
    `${path} has a cancel link back to /dashboard`);
}

describe('pages that exist', () => {
  test('login', async () => {
    const { ctx, page } = await openPage({ loggedIn: false });
    try {
      await open(page, '/login');
      await checkBothWidths(page, 'login', 'login');
    } finally {
      await ctx.close();
    }
  });

  test('login after a wrong password (401)', async () => {
    const { ctx, page } = await openPage({ loggedIn: false });
    try {
      await open(page, '/login');
      const bad = await logIn(page, user.email, 'not the password at all');
      assert.equal(bad.status(), 401);
      await checkBothWidths(page, 'login after a wrong password', 'login-wrong-password');
    } finally {
      await ctx.close();
    }
  });

  test('login for a pending consent', async () => {
    const c = await consentUrl(server, { clientId, email: user.email });
    const { ctx, page } = await openPage({ loggedIn: false });
    try {
      const r = await visit(page, c.url);
      assert.equal(new URL(page.url()).pathname, '/login', `not logged in → /login: ${page.url()}`);
      assert.equal(r.status(), 200);
      await checkBothWidths(page, 'login for a consent', 'login-for-consent');
    } finally {
      await ctx.close();
    }
  });

  test('set password (a live link)', async () => {
    const fresh = await newUserByAccountRequest(server, smtp, { clientId }); // password not set yet
    const { ctx, page } = await openPage({ loggedIn: false });
    try {
      const r = await visit(page, fresh.link);
      assert.equal(r.status(), 200, await bodyText(page));
      assert.equal(await page.locator('input[name="password"]').count(), 1, 'the set-password form');
      await checkBothWidths(page, 'set password', 'set-password');
    } finally {
      await ctx.close();
    }
  });

  test('set password with a bogus token (410 link expired)', async () => {
    const { ctx, page } = await openPage({ loggedIn: false });
    try {
      await open(page, '/account/set-password?token=bogus', 410);
      assert.match(await bodyText(page), /This link has expired or was already used/);
      await checkBothWidths(page, 'link expired', 'set-password-expired');
    } finally {
      await ctx.close();
    }
  });

  test('dashboard with a key, a verification token and a connected app', async () => {
    const { ctx, page } = await openPage();
    try {
      await open(page, '/dashboard');
      const text = await bodyText(page);
      assert.ok(text.includes(KEY_LABEL), `the key is listed: ${text.slice(0, 1500)}`);
      assert.ok(text.includes(PARTNER_NAME), `the connected app is listed: ${text.slice(0, 1500)}`);
      assert.ok(text.includes(tokenHint()), `the verification token is listed as ${tokenHint()}`);
      await checkBothWidths(page, 'dashboard', 'dashboard');
    } finally {
      await ctx.close();
    }
  });

  test('dashboard right after Create key (the one-time reveal)', async () => {
    const { ctx, page } = await openPage();
    try {
      await open(page, '/dashboard');
      await page.locator('input[name="label"]').fill('a11y reveal');
      const created = await clickButton(page, 'Create key');
      assert.equal(created.status(), 200);
      assert.match(await bodyText(page), /phx_[A-Za-z0-9]{43}/, 'the new key is shown');
      await checkBothWidths(page, 'dashboard with a new key', 'dashboard-key-created');
    } finally {
      await ctx.close();
    }
  });

  test('project', async () => {
    const { ctx, page } = await openPage();
    try {
      await open(page, `/project/${user.projectId}`);
      await checkBothWidths(page, 'project', 'project');
    } finally {
      await ctx.close();
    }
  });

  test('consent', async () => {
    const c = await consentUrl(server, { clientId, email: user.email, scopes: ['experiment:read', 'feature_flag:read'] });
    const { ctx, page } = await openPage();
    try {
      const r = await visit(page, c.url);
      assert.equal(page.url(), c.url, 'the consent page itself');
      assert.equal(r.status(), 200, await bodyText(page));
      await checkBothWidths(page, 'consent', 'consent');
    } finally {
      await ctx.close();
    }
  });

  test('account mismatch', async () => {
    const other = await userWithPassword(server, smtp, { clientId });
    const c = await consentUrl(server, { clientId, email: other.email });
    const { ctx, page } = await openPage(); // logged in as `user`, the consent is for `other`
    try {
      const r = await visit(page, c.url);
      assert.equal(new URL(page.url()).pathname, '/agentic/account-mismatch', page.url());
      assert.equal(r.status(), 200);
      await checkBothWidths(page, 'account mismatch', 'account-mismatch');
    } finally {
      await ctx.close();
    }
  });

  test('an unknown path in a browser (HTML 404 page)', async () => {
    const { ctx, page } = await openPage();
    try {
      const r = await open(page, '/no/such/page', 404);
      assert.match(r.headers()['content-type'] ?? '', /^text\/html/, 'a page, not the JSON envelope');
      await checkBothWidths(page, 'not found', 'not-found');
    } finally {
      await ctx.close();
    }
  });
});

// Pages being added: until they exist these fail (404, or a dashboard without the notice).
describe('pages being added', () => {
  test('forgot password: the form and its "check your email" answer', async () => {
    const { ctx, page } = await openPage({ loggedIn: false });
    try {
      await open(page, '/account/forgot-password');
      const form = page.locator('form:has(input[name="email"])');
      assert.equal(await form.count(), 1, 'one form with an email field');
      await checkBothWidths(page, 'forgot password', 'forgot-password');

      // An address with no account (nothing is mailed): the answer is the same as for a real one.
      await form.locator('input[name="email"]').fill(uniqueEmail('nobody'));
      const sent = await navigation(page, () => form.locator('button[type="submit"], button:not([type]), input[type="submit"]').first().click());
      assert.equal(sent.status(), 200, `the answer to the form: ${sent.status()} ${(await bodyText(page)).slice(0, 300)}`);
      await checkBothWidths(page, 'forgot password: sent', 'forgot-password-sent');
    } finally {
      await ctx.close();
    }
  });

  test('account: change password and sign out everywhere', async () => {
    const { ctx, page } = await openPage();
    try {
      await open(page, '/account');
      assert.equal(new URL(page.url()).pathname, '/account', `signed in, no redirect: ${page.url()}`);
      assert.ok(await page.locator('input[type="password"]').count() >= 1, 'a change-password form');
      assert.equal(await page.getByRole('button', { name: /sign out everywhere/i }).count(), 1, 'a "Sign out everywhere" button');
      await checkBothWidths(page, 'account', 'account');
    } finally {
      await ctx.close();
    }
  });

  test('confirm revoking a personal API key', async () => {
    const id = await dashboardId('/dashboard/keys/revoke', 'id');
    const { ctx, page } = await openPage();
    try {
      const path = `/dashboard/keys/revoke?id=${encodeURIComponent(id)}`;
      await open(page, path);
      const key = q1(server, 'SELECT label FROM personal_api_keys WHERE id = ? AND user_id = ?', id, user.userId);
      assert.ok(key, `the dashboard's key id ${id} is one of the user's keys`);
      await assertConfirmationPage(page, path, key.label);
      await checkBothWidths(page, 'confirm revoking a key', 'confirm-revoke-key');
    } finally {
      await ctx.close();
    }
  });

  test('confirm disconnecting an app', async () => {
    const id = await dashboardId('/dashboard/apps/disconnect', 'client_id');
    const { ctx, page } = await openPage();
    try {
      const path = `/dashboard/apps/disconnect?client_id=${encodeURIComponent(id)}`;
      await open(page, path);
      await assertConfirmationPage(page, path, PARTNER_NAME);
      await checkBothWidths(page, 'confirm disconnecting an app', 'confirm-disconnect');
    } finally {
      await ctx.close();
    }
  });

  test('confirm revoking a verification token', async () => {
    const id = await dashboardId('/dashboard/verification-tokens/revoke', 'id');
    const { ctx, page } = await openPage();
    try {
      const path = `/dashboard/verification-tokens/revoke?id=${encodeURIComponent(id)}`;
      await open(page, path);
      await assertConfirmationPage(page, path, tokenHint());
      await checkBothWidths(page, 'confirm revoking a verification token', 'confirm-revoke-token');
    } finally {
      await ctx.close();
    }
  });

  test('dashboard with a notice after an action (key_revoked)', async () => {
    const { ctx, page } = await openPage();
    try {
      await open(page, '/dashboard');
      const plain = await bodyText(page);
      await open(page, '/dashboard?notice=key_revoked');
      const text = await bodyText(page);
      assert.notEqual(text, plain, 'the notice adds something to the dashboard');
      assert.match(text, /revoked/i, `the notice says the key was revoked: ${text.slice(0, 600)}`);
      await checkBothWidths(page, 'dashboard with a notice', 'dashboard-notice');
    } finally {
      await ctx.close();
    }
  });
});
