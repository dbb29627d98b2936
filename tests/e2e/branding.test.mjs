// Branding (docs/PAGES.md, `provisiond serve --help`): --brand-name, --brand-logo, --brand-accent,
// --support-email and --dashboard-url change every page and every email; a partner's name is
// escaped in the HTML email; the default look without flags; accents that are too light or not a
// colour stop `serve`. Also the structure of the welcome email: multipart/alternative, text first,
// the HTML part quoted-printable, one set-password link in both parts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BIN, decodeQuotedPrintable, freePort, makeTempDir, mimeParts, q, q1, rawHttp, runProcess, uniqueEmail,
} from '../blackbox/harness.mjs';
import {
  PARTNER_NAME, assertPageHeaders, newUserByAccountRequest, registerPartner, startWithSmtp, stopServer,
} from './e2e.mjs';
import { decodeEntities } from './smtp_fixture.mjs';
import { closeBrowser, newPage, visit } from './browser.mjs';

const BRAND = 'Acme Cloud';
const ACCENT = '#7a1fa2';
const SUPPORT = 'help@acme.test';
const DASHBOARD = 'https://app.acme.test/home';
const EVIL = 'Evil <script>alert(1)</script> & Co';
// A 1×1 PNG: what --brand-logo serves must be these bytes exactly.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let server;
let smtp;
let clientId;
let evilClientId;

before(async () => {
  const dir = await makeTempDir('provisiond-brand-');
  const logo = join(dir, 'logo.png');
  writeFileSync(logo, PNG);
  ({ server, smtp } = await startWithSmtp({
    extraArgs: ['--brand-name', BRAND, '--brand-logo', logo, '--brand-accent', ACCENT,
      '--support-email', SUPPORT, '--dashboard-url', DASHBOARD],
  }));
  clientId = await registerPartner(server, { name: PARTNER_NAME });
  evilClientId = await registerPartner(server, { name: EVIL });
});
after(async () => {
  await closeBrowser();
  await stopServer(server);
  await smtp?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers.

/** The look of the page open in `page`: title, header link and text, logo, footer, accent. */
async function pageLook(page) {
  return page.evaluate(() => {
    const brand = document.querySelector('header a.brand');
    const img = brand?.querySelector('img');
    const mail = document.querySelector('footer a[href^="mailto:"]');
    return {
      title: document.title,
      headerHref: brand?.getAttribute('href'),
      headerText: brand?.textContent.replace(/\s+/g, ' ').trim(),
      imgSrc: img?.getAttribute('src') ?? null,
      imgLoaded: img ? img.complete && img.naturalWidth > 0 : null,
      imgCount: document.querySelectorAll('img').length,
      footerText: document.querySelector('footer')?.textContent.replace(/\s+/g, ' ').trim(),
      mailto: mail ? { href: mail.getAttribute('href'), text: mail.textContent.trim() } : null,
      accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
      buttonBackground: (() => {
        const b = document.querySelector('button[type="submit"]');
        return b ? getComputedStyle(b).backgroundColor : null;
      })(),
    };
  });
}

const lf = (s) => s.replace(/\r\n/g, '\n').replace(/\n+$/, '');

function setPasswordLinks(mail, base) {
  const prefix = `${base}/account/set-password?token=`;
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    text: [...mail.text.matchAll(new RegExp(`${esc}[A-Za-z0-9_-]+`, 'g'))].map((m) => m[0]),
    html: [...mail.html.matchAll(/href\s*=\s*"([^"]*)"/gi)].map((m) => decodeEntities(m[1])).filter((u) => u.startsWith(prefix)),
  };
}

// ---------------------------------------------------------------------------------------------

describe('branded pages', () => {
  test('title "… · Acme Cloud", header name and logo linking to --dashboard-url, footer mailto the support address', async () => {
    const { ctx, page } = await newPage();
    try {
      for (const [path, title] of [['/login', 'Log in'], ['/account/forgot-password', 'Forgot password'], ['/no-such-page', 'Page not found']]) {
        const res = await visit(page, `${server.url}${path}`);
        assert.equal(res.status(), path === '/no-such-page' ? 404 : 200, path);
        assertPageHeaders({ headers: await res.allHeaders() }, path);
        const look = await pageLook(page);
        assert.equal(look.title, `${title} · ${BRAND}`, `${path}: <title>`);
        assert.ok(look.title.endsWith(' · Acme Cloud'));
        assert.equal(look.headerHref, DASHBOARD, `${path}: the header links to the product's dashboard`);
        assert.equal(look.headerText, BRAND, `${path}: the header shows the product name`);
        assert.equal(look.imgSrc, '/static/brand-logo', `${path}: the header shows the logo`);
        assert.equal(look.imgLoaded, true, `${path}: the logo loads under the page's CSP (img-src 'self')`);
        assert.deepEqual(look.mailto, { href: `mailto:${SUPPORT}`, text: SUPPORT }, `${path}: the footer's support link`);
        assert.ok(look.footerText.startsWith(BRAND), `${path}: footer "${look.footerText}"`);
        assert.equal(look.accent, ACCENT, `${path}: brand.css sets --accent`);
        if (path !== '/no-such-page') assert.equal(look.buttonBackground, 'rgb(122, 31, 162)', `${path}: the submit button wears the accent`);
        assert.ok(!(await page.content()).includes('provisiond</'), `${path}: the default name is not shown`);
      }
    } finally {
      await ctx.close();
    }
  });

  test('GET /static/brand-logo → the PNG bytes as image/png; /static/brand.css sets --accent: #7a1fa2', async () => {
    const logo = await rawHttp(server, 'GET', '/static/brand-logo');
    assert.equal(logo.status, 200);
    assert.equal(logo.headers['content-type'], 'image/png');
    assert.ok(logo.raw.equals(PNG), `the logo file's bytes (${logo.raw.length} bytes served, ${PNG.length} in the file)`);
    assert.equal(logo.headers['x-content-type-options'], 'nosniff');

    const css = await rawHttp(server, 'GET', '/static/brand.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.ok(css.text.includes(`--accent: ${ACCENT}`), css.text);
    // #7a1fa2 reaches 4.5:1 against white, so button text stays white.
    assert.ok(css.text.includes('--accent-ink: #ffffff'), css.text);
  });
});

describe('branded welcome email', () => {
  test('subject, text part and HTML part carry the product name, support address and dashboard URL; the HTML the logo and accent', async () => {
    const email = uniqueEmail('brand');
    const u = await newUserByAccountRequest(server, smtp, { clientId, email });
    const { mail } = u;
    assert.equal(mail.subject, `${PARTNER_NAME} created your ${BRAND} account`);
    assert.match(mail.raw, /^X-Provisiond-Kind: welcome\r?$/m);
    for (const [part, body] of [['text', mail.text], ['html', decodeEntities(mail.html)]]) {
      assert.ok(body.includes(BRAND), `${part} part names ${BRAND}`);
      assert.ok(body.includes(SUPPORT), `${part} part gives ${SUPPORT}`);
      assert.ok(body.includes(DASHBOARD), `${part} part links ${DASHBOARD}`);
      assert.ok(!body.includes(`${server.url}/dashboard`), `${part} part: not this server's /dashboard`);
      assert.ok(!/\bprovisiond\b/.test(body.replace(/\/\/[^\s"<>]*/g, '')), `${part} part: the default product name is gone`);
    }
    assert.ok(mail.text.includes(`Your dashboard: ${DASHBOARD}`), mail.text);
    assert.ok(mail.html.includes(`href="${DASHBOARD}"`), 'the HTML part links the dashboard URL');
    assert.ok(mail.html.includes(`href="mailto:${SUPPORT}"`), 'the HTML part has a mailto link to support');
    assert.match(mail.html, new RegExp(`<img src="${server.url.replace(/[.]/g, '\\.')}/static/brand-logo"`),
      'the HTML part shows the logo from this server');
    assert.ok(mail.html.includes(`background:${ACCENT}`), 'the button wears the accent');
    assert.ok(mail.html.includes(`color:${ACCENT}`), 'links wear the accent (it reaches 4.5:1 on white)');
  });

  test('a partner name with markup is escaped in the HTML part and verbatim in the text part', async () => {
    const stored = q1(server, 'SELECT name FROM oauth_clients WHERE client_id = ?', evilClientId);
    assert.equal(stored.name, EVIL, 'the CLI keeps the name as typed');
    const u = await newUserByAccountRequest(server, smtp, { clientId: evilClientId });
    const { mail } = u;
    assert.equal(mail.subject, `${EVIL} created your ${BRAND} account`, 'the subject is plain text: verbatim');
    // The text part is wrapped at 72 columns: compare with the line breaks as spaces.
    const flat = mail.text.replace(/\s+/g, ' ');
    assert.ok(flat.includes(`${EVIL} created an account for you on ${BRAND}`), mail.text);
    assert.ok(mail.text.includes('Evil <script>alert(1)</script> & Co'), 'the text part has the name verbatim');
    assert.ok(!/<script/i.test(mail.html), 'no raw <script> in the HTML part');
    assert.ok(!mail.html.includes('& Co'), 'no bare & in the HTML part');
    assert.ok(mail.html.includes('Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co created an account'),
      'the name is HTML-escaped where it is shown');
    assert.ok(mail.html.includes('<title>Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co created your Acme Cloud account</title>'),
      'and in the HTML <title>');
    assert.ok(decodeEntities(mail.html).replace(/\s+/g, ' ').includes(`${EVIL} created an account for you on ${BRAND}`),
      'it reads the same once decoded');
  });
});

describe('welcome email structure', () => {
  test('multipart/alternative, text part first, HTML part quoted-printable, the same set-password link in both', async () => {
    const u = await newUserByAccountRequest(server, smtp, { clientId });
    const { mail } = u;
    assert.equal(mail.contentType, 'multipart/alternative');
    const m = mimeParts(mail.raw);
    assert.match(m.headers['content-type'], /^multipart\/alternative; boundary="[^"]+"$/);
    assert.equal(m.headers['mime-version'], '1.0');
    assert.equal(m.parts.length, 2, 'two parts');
    assert.equal(m.parts[0].headers['content-type'], 'text/plain; charset=utf-8', 'the text part comes first');
    assert.equal(m.parts[1].headers['content-type'], 'text/html; charset=utf-8', 'the HTML part second (preferred)');
    assert.equal(m.parts[1].headers['content-transfer-encoding'], 'quoted-printable');
    assert.equal(m.epilogue.trim(), '--', 'the closing boundary ends the message');

    // Quoted-printable as RFC 2045 wants it: lines of at most 76, "=" escaped (href=3D"…"), and it
    // decodes to what the mail reader shows.
    const qp = m.parts[1].body;
    for (const line of qp.split('\r\n')) assert.ok(line.length <= 76, `QP line of ${line.length}: ${line}`);
    assert.ok(qp.includes('href=3D"'), 'attribute "=" is encoded as =3D');
    assert.ok(!/[^\x00-\x7f]/.test(qp), 'only ASCII on the wire');
    assert.equal(lf(decodeQuotedPrintable(qp)), lf(mail.html), 'the part decodes to the HTML body');
    assert.equal(lf(m.parts[0].body), lf(mail.text), 'the text part is sent as is');

    const links = setPasswordLinks(mail, server.url);
    assert.equal(links.text.length, 1, mail.text);
    assert.deepEqual(links.text, [u.link]);
    assert.ok(links.html.length >= 1, 'the HTML part links to set-password');
    assert.ok(links.html.every((l) => l === u.link), `HTML links ${JSON.stringify(links.html)} = text link ${u.link}`);
    assert.equal(q(server, 'SELECT 1 FROM password_set_tokens WHERE user_id = ?', u.userId).length, 1,
      'one token minted for both parts');
  });
});

describe('default look and refused settings', () => {
  test('without branding flags: "provisiond", the neutral mark, no logo (404), the default accent, no support link', async () => {
    const plain = await startWithSmtp();
    const { ctx, page } = await newPage();
    try {
      const res = await visit(page, `${plain.server.url}/login`);
      assert.equal(res.status(), 200);
      const look = await pageLook(page);
      assert.equal(look.title, 'Log in · provisiond');
      assert.equal(look.headerHref, '/dashboard');
      assert.equal(look.headerText, '◆ provisiond');
      assert.equal(look.imgSrc, null, 'no brand-logo img');
      assert.equal(look.imgCount, 0);
      assert.equal(look.mailto, null, 'no support link');
      assert.equal(look.footerText, 'provisiond');
      assert.equal(look.accent, '#1f5eff');

      const logo = await rawHttp(plain.server, 'GET', '/static/brand-logo');
      assert.equal(logo.status, 404, 'no logo to serve');
      const css = await rawHttp(plain.server, 'GET', '/static/brand.css');
      assert.equal(css.status, 200);
      assert.ok(css.text.includes('--accent: #1f5eff'), css.text);

      const partner = await registerPartner(plain.server, { name: PARTNER_NAME });
      const u = await newUserByAccountRequest(plain.server, plain.smtp, { clientId: partner });
      assert.equal(u.mail.subject, `${PARTNER_NAME} created your provisiond account`);
      assert.ok(u.mail.text.includes(`Your dashboard: ${plain.server.url}/dashboard`), u.mail.text);
      assert.ok(!u.mail.html.includes('brand-logo'), 'no logo in the HTML email');
      assert.ok(!u.mail.html.includes('mailto:'), 'no support address in the HTML email');
      assert.ok(!u.mail.text.includes('Questions?'), 'no support line in the text email');
      assert.ok(u.mail.html.includes('background:#1f5eff'), 'the default accent');
    } finally {
      await ctx.close();
      await stopServer(plain.server);
      await plain.smtp.stop();
    }
  });

  test('serve exits 2 for a too-light accent (names 3:1) and for one that is not #rrggbb', async () => {
    const dir = await makeTempDir('provisiond-accent-');
    for (const [accent, message] of [['#ffcc00', /brand-accent #ffcc00 has 1\.5:1 contrast against white.*at least 3:1/], ['red', /#rrggbb/]]) {
      const port = await freePort();
      const r = await runProcess(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`,
        '--database', join(dir, 'p.db'), '--outbox-dir', join(dir, 'outbox'), '--brand-accent', accent], { timeoutMs: 20000 });
      assert.equal(r.code, 2, `--brand-accent ${accent}: serve must refuse to start\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, message, `--brand-accent ${accent}`);
      assert.ok(r.stderr.includes(accent === 'red' ? '#rrggbb' : '3:1'));
    }
  });
});
