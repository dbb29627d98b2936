// Headless Chromium (Debian's `chromium` package) driven by playwright-core, and page helpers.
//
// One browser per test file (launchBrowser in `before`, closeBrowser in `after`), one context per
// test (newContext). SCREENSHOTS=1 saves named screenshots into docs/screenshots/<name>-desktop.png
// and <name>-phone.png. checkAccessibility runs axe-core on a page.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { REPO } from './e2e.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || join(REPO, 'docs/screenshots');
/** The widths the pages are made for: a laptop and a phone. */
export const DESKTOP_VIEWPORT = { width: 1280, height: 900 };
export const PHONE_VIEWPORT = { width: 390, height: 844 };

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

/**
 * With SCREENSHOTS=1: <name>-desktop.png of the page as it is (the context's viewport), then
 * <name>-phone.png at 390×844; the viewport is restored afterwards. The page is not reloaded, so a
 * page shown once (a new key) is taken at both widths.
 */
export async function screenshot(page, name) {
  if (process.env.SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-desktop.png`), fullPage: true });
  const previous = page.viewportSize();
  await page.setViewportSize(PHONE_VIEWPORT);
  try {
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-phone.png`), fullPage: true });
  } finally {
    if (previous) await page.setViewportSize(previous);
  }
}

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let axeSource = null;

/**
 * Assert that the page, as it is now, has no serious or critical axe-core violation and does not
 * scroll sideways (document.documentElement.scrollWidth <= window.innerWidth). axe is injected
 * with page.evaluate, which the pages' CSP (default-src 'none') does not block; a <script> tag
 * would be. `label` names the page in the failure message.
 */
export async function checkAccessibility(page, label) {
  axeSource ??= readFileSync(AXE_PATH, 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  const problems = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.targets.slice(0, 3).join(', ')}`
      + `${v.targets.length > 3 ? ` and ${v.targets.length - 3} more` : ''}`);

  // Sideways scrolling, and the elements that stick out past the right edge (the first few).
  const scroll = await page.evaluate(() => {
    const vw = window.innerWidth;
    const name = (el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '')
      + [...el.classList].map((c) => `.${c}`).join('');
    const wide = [...document.body.querySelectorAll('*')]
      .filter((el) => el.getBoundingClientRect().right > vw + 0.5)
      .slice(0, 5)
      .map((el) => `${name(el)} (right edge ${Math.round(el.getBoundingClientRect().right)})`);
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, wide };
  });
  if (scroll.scrollWidth > scroll.innerWidth) {
    problems.push(`horizontal scrolling: scrollWidth ${scroll.scrollWidth} > innerWidth ${scroll.innerWidth}`
      + `${scroll.wide.length ? `; too wide: ${scroll.wide.join(', ')}` : ''}`);
  }
  assert.ok(problems.length === 0,
    `${label} (${page.url()}, ${scroll.innerWidth} px wide): ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
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
