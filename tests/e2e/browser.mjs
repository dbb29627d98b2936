// Headless Chromium (Debian's `chromium` package) driven by playwright-core, and page helpers.
//
// One browser per test file (launchBrowser in `before`, closeBrowser in `after`), one context per
// test (newContext). SCREENSHOTS=1 saves named screenshots into docs/screenshots/<name>.png.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { REPO } from './e2e.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || join(REPO, 'docs/screenshots');

let browser = null;

export async function launchBrowser() {
  if (browser) return browser;
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
  });
  return browser;
}

export async function closeBrowser() {
  const b = browser;
  browser = null;
  if (b) await b.close();
}

/** A fresh context (no cookies), CSP enforced as in a real browser. */
export async function newContext(opts = {}) {
  const b = await launchBrowser();
  const ctx = await b.newContext({ viewport: { width: 1100, height: 900 }, locale: 'en-US', ...opts });
  ctx.setDefaultTimeout(15000);
  ctx.setDefaultNavigationTimeout(20000);
  return ctx;
}

/** A new page in a new context: {ctx, page}. */
export async function newPage(opts) {
  const ctx = await newContext(opts);
  const page = await ctx.newPage();
  return { ctx, page };
}

export async function screenshot(page, name) {
  if (process.env.SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * Run `action` (which starts a main-frame navigation: a click, a goto) and return the final,
 * non-redirect response of that navigation, after the page has loaded.
 */
export async function navigation(page, action) {
  const resp = page.waitForEvent('response', {
    predicate: (r) => r.request().isNavigationRequest() && r.frame() === page.mainFrame()
      && !(r.status() >= 300 && r.status() < 400),
    timeout: 20000,
  });
  const [r] = await Promise.all([resp, action()]);
  await page.waitForLoadState('load');
  return r;
}

/** goto, returning the final response (after redirects). */
export async function visit(page, url) {
  return navigation(page, () => page.goto(url, { waitUntil: 'commit' }));
}

/** Click a submit button by its exact label and return the final navigation response. */
export async function clickButton(page, label) {
  const btn = page.getByRole('button', { name: label, exact: true });
  const n = await btn.count();
  assert.ok(n >= 1, `a button labelled "${label}" on ${page.url()}: ${(await bodyText(page)).slice(0, 600)}`);
  assert.equal(n, 1, `exactly one button labelled "${label}" on ${page.url()}`);
  return navigation(page, () => btn.click());
}

/** [{url, status, method}] from the first request of a navigation to the final response. */
export async function redirectChain(response) {
  const chain = [];
  let req = response.request();
  const reqs = [];
  while (req) { reqs.unshift(req); req = req.redirectedFrom(); }
  for (const r of reqs) {
    const resp = await r.response();
    chain.push({ url: r.url(), method: r.method(), status: resp ? resp.status() : null, location: resp ? (await resp.allHeaders()).location : undefined });
  }
  return chain;
}

export async function bodyText(page) {
  return (await page.locator('body').innerText()).replace(/\s+/g, ' ').trim();
}

/** On a login page: type the email (unless it is fixed) and password and press "Log in". */
export async function logIn(page, email, password) {
  const emailInput = page.locator('input[name="email"]');
  if (await emailInput.count()) {
    if (await emailInput.isEditable()) await emailInput.fill(email);
    else assert.equal(await emailInput.inputValue(), email, 'the fixed email on the login page');
  }
  await page.locator('input[name="password"]').fill(password);
  return clickButton(page, 'Log in');
}

/** The session cookie in a context: {name, value, httpOnly, sameSite, secure, ...} or undefined. */
export async function cookieNamed(ctx, name) {
  return (await ctx.cookies()).find((c) => c.name === name);
}

/**
 * Click the button `label` inside the smallest element that contains `text` and such a button
 * (a row of a list: "Revoke" next to a key's label, "Disconnect" next to a partner's name).
 */
export async function clickButtonNear(page, text, label) {
  const marker = `e2e-${Math.random().toString(36).slice(2)}`;
  const found = await page.evaluate(({ text, label, marker }) => {
    const buttons = [...document.querySelectorAll('button, input[type=submit]')]
      .filter((b) => (b.tagName === 'BUTTON' ? b.textContent : b.value).trim() === label);
    let best = null;
    for (const b of buttons) {
      for (let el = b.parentElement; el; el = el.parentElement) {
        if (el.textContent.includes(text)) {
          if (!best || el.textContent.length < best.len) best = { b, len: el.textContent.length };
          break;
        }
      }
    }
    if (!best) return false;
    best.b.setAttribute('data-e2e', marker);
    return true;
  }, { text, label, marker });
  assert.ok(found, `a "${label}" button next to "${text}" on ${page.url()}`);
  return navigation(page, () => page.locator(`[data-e2e="${marker}"]`).click());
}
