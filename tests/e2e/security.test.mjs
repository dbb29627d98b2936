// Page security (docs/PAGES.md "Pages"): CSRF, session fixation, open redirects, clickjacking, and
// consent POSTs that name someone else's state or project. Every check has a positive control so a
// broken check cannot pass by accident.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { count, createResource, q, q1, sha256hex } from '../blackbox/harness.mjs';
import {
  CSRF_COOKIE, PARTNER_NAME, SESSION_COOKIE, assertPageHeaders, consentUrl, formWithButton, loginOverHttp,
  newUserByAccountRequest, startHtmlServer,
  userWithPassword, WebClient, startPartnerWorld,
} from './e2e.mjs';
import { closeBrowser, cookieNamed, logIn, newPage, visit } from './browser.mjs';

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

const rand43 = () => randomBytes(32).toString('base64url');

function assert403(res, what) {
  assert.equal(res.status, 403, `${what}: ${res.status} ${res.pageText?.slice(0, 300)}`);
  assert.match(res.headers['content-type'] || '', /^text\/html/, `${what}: a 403 page`);
  assertPageHeaders(res, `${what} (403 page)`);
}

describe('CSRF', () => {
  test('the csrf cookie is HttpOnly and SameSite=Strict; every form carries it', async () => {
    const web = new WebClient(server);
    const page = await web.get('/login');
    const c = page.setCookies.find((x) => x.name === CSRF_COOKIE) ?? null;
    assert.ok(c || web.cookie(CSRF_COOKIE), 'the login page sets provisiond_csrf');
    if (c) {
      assert.ok(c.flags.has('httponly'), `HttpOnly: ${c.raw}`);
      assert.equal((c.attrs.samesite || '').toLowerCase(), 'strict', `SameSite=Strict: ${c.raw}`);
      assert.equal(c.attrs.path, '/', `Path=/: ${c.raw}`);
    }
    const form = formWithButton(page.forms, 'Log in');
    assert.equal(form.fields.csrf, web.cookie(CSRF_COOKIE), 'the hidden csrf field equals the cookie');
  });

  test('create key: no csrf / wrong csrf / no cookie / foreign Origin → 403 and nothing stored; the real form works', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const { web } = user;
    const dash = await web.get('/dashboard');
    assert.equal(dash.status, 200);
    const form = formWithButton(dash.forms, 'Create key');
    assert.ok(form, 'a Create key form');
    assert.equal(form.method, 'post');
    const keys = () => count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE user_id = ?', user.userId);
    const n0 = keys();
    const good = web.cookie(CSRF_COOKIE);

    assert403(await web.submit(form, { label: 'no csrf', csrf: undefined }), 'no csrf field');
    assert403(await web.submit(form, { label: 'wrong csrf', csrf: rand43() }), 'wrong csrf');
    assert403(await web.submit(form, { label: 'empty csrf', csrf: '' }), 'empty csrf');
    assert403(await web.submit(form, { label: 'foreign origin' }, { headers: { origin: 'https://evil.example' } }), 'foreign Origin');
    // Origin: null is what Chromium sends on a same-origin form POST from a page with
    // some referrer policies and privacy contexts, so it cannot mean "foreign"; the csrf token still decides.
    assert403(await web.submit(form, { label: 'null origin', csrf: rand43() }, { headers: { origin: 'null' } }), 'Origin: null, wrong csrf');
    const other = `http://127.0.0.1:${server.port + 1}`;
    assert403(await web.submit(form, { label: 'other port' }, { headers: { origin: other } }), 'Origin on another port');
    // Field present but the cookie gone.
    web.setCookie(CSRF_COOKIE, undefined);
    assert403(await web.submit(form, { label: 'no cookie', csrf: good }), 'csrf cookie missing');
    web.setCookie(CSRF_COOKIE, good);
    assert.equal(keys(), n0, 'no key was created by a refused form');
    assert.equal(q(server, "SELECT * FROM personal_api_keys WHERE label IN ('no csrf','wrong csrf','empty csrf','foreign origin','null origin','other port','no cookie')").length, 0);

    // Positive controls: the same form, freshly loaded, with our own Origin, and with the Origin: null
    // a browser sends in privacy-sensitive contexts.
    for (const [i, origin] of [server.url, 'null'].entries()) {
      const fresh = formWithButton((await web.get('/dashboard')).forms, 'Create key');
      const ok = await web.submit(fresh, { label: `control ${i}` }, { headers: { origin } });
      assert.ok(ok.status === 200 || ok.status === 302 || ok.status === 303, `the genuine form with Origin: ${origin}: ${ok.status} ${ok.pageText.slice(0, 300)}`);
      assert.equal(keys(), n0 + 1 + i, `the genuine form with Origin: ${origin} creates the key`);
    }
  });

  test('logout, login, set-password, consent and disconnect refuse a missing csrf and change nothing', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const { web } = user;

    // logout
    const dash = await web.get('/dashboard');
    const logout = dash.forms.find((f) => f.action === '/logout' || f.action.endsWith('/logout'));
    assert.ok(logout, 'a logout form on the dashboard');
    assert403(await web.submit(logout, { csrf: undefined }), 'logout without csrf');
    assert403(await web.submit(logout, { csrf: rand43() }), 'logout with a wrong csrf');
    assert.equal((await web.get('/dashboard')).status, 200, 'still logged in');

    // disconnect: the dashboard links to a confirmation page, whose form does it
    const disconnectLink = dash.text.match(/href="(\/dashboard\/apps\/disconnect\?client_id=[^"]+)"/);
    assert.ok(disconnectLink, 'a Disconnect link on the dashboard (the partner holds tokens)');
    const confirm = await web.get(disconnectLink[1].replaceAll('&amp;', '&'));
    assert.equal(confirm.status, 200, confirm.pageText.slice(0, 300));
    const disc = formWithButton(confirm.forms, /^Disconnect /);
    assert.ok(disc, 'a Disconnect form on the confirmation page');
    assert403(await web.submit(disc, { csrf: undefined }), 'disconnect without csrf');
    assert.equal(count(server, 'SELECT COUNT(*) FROM token_families WHERE user_id = ? AND revoked_at IS NOT NULL', user.userId), 0, 'nothing revoked');

    // consent
    const c = await consentUrl(server, { clientId, email: user.email });
    const cp = await web.get(new URL(c.url).pathname + new URL(c.url).search);
    assert.equal(cp.status, 200, cp.pageText.slice(0, 300));
    const approve = formWithButton(cp.forms, 'Approve');
    assert.ok(approve, 'an Approve form');
    const codes = count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', user.userId);
    assert403(await web.submit(approve, { csrf: undefined }), 'approve without csrf');
    assert403(await web.submit(approve, { csrf: rand43() }), 'approve with a wrong csrf');
    assert403(await web.submit(approve, {}, { headers: { origin: 'https://evil.example' } }), 'approve from a foreign Origin');
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', user.userId), codes, 'no code');
    const cp2 = await web.get(new URL(c.url).pathname + new URL(c.url).search);
    assert.equal(cp2.status, 200, 'the refused posts did not spend the consent');
    const ok = await web.submit(formWithButton(cp2.forms, 'Approve'), {});
    assert.equal(ok.status, 302, 'the genuine approve still works (the refused posts did not spend the consent)');
    assert.ok(ok.location.startsWith(cb.redirectUri), ok.location);

    // login
    const anon = new WebClient(server);
    const lp = await anon.get('/login');
    const lf = formWithButton(lp.forms, 'Log in');
    assert403(await anon.submit(lf, { email: user.email, password: user.password, csrf: undefined }), 'login without csrf');
    assert403(await anon.submit(lf, { email: user.email, password: user.password, csrf: rand43() }), 'login with a wrong csrf');
    assert.equal(anon.cookie(SESSION_COOKIE), undefined, 'no session from a refused login');
    const lf2 = formWithButton((await anon.get('/login')).forms, 'Log in');
    const good = await anon.submit(lf2, { email: user.email, password: user.password });
    assert.equal(good.status, 302, 'positive control: the genuine login');

    // set-password
    const fresh = await newUserByAccountRequest(server, smtp, { clientId });
    const sw = new WebClient(server);
    const link = new URL(fresh.link);
    const sp = await sw.get(link.pathname + link.search);
    const sf = formWithButton(sp.forms, 'Set password');
    assert403(await sw.submit(sf, { password: 'abcdefghijkl', password_confirm: 'abcdefghijkl', csrf: undefined }), 'set-password without csrf');
    assert.equal(q1(server, 'SELECT password_hash FROM users WHERE id = ?', fresh.userId).password_hash, null, 'no password set');
    const sf2 = formWithButton((await sw.get(link.pathname + link.search)).forms, 'Set password');
    assert.ok(sf2, 'the link still opens the form after the refused post');
    const spOk = await sw.submit(sf2, { password: 'abcdefghijkl', password_confirm: 'abcdefghijkl' });
    assert.equal(spOk.status, 302, 'positive control: the link was not spent by the refused post');
  });
});

describe('session fixation', () => {
  test('a session id planted before login is not the one after login, and is not logged in', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    // The attacker gets whatever session id the server hands an anonymous visitor (or invents one).
    const attacker = new WebClient(server);
    await attacker.get('/login');
    const planted = attacker.cookie(SESSION_COOKIE) ?? rand43();
    attacker.setCookie(SESSION_COOKIE, planted);

    const { ctx, page } = await newPage();
    try {
      await ctx.addCookies([{ name: SESSION_COOKIE, value: planted, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Lax' }]);
      await visit(page, `${server.url}/login`);
      await logIn(page, user.email, user.password);
      assert.equal(page.url(), `${server.url}/dashboard`);
      const now = await cookieNamed(ctx, SESSION_COOKIE);
      assert.ok(now, 'a session cookie');
      assert.notEqual(now.value, planted, 'login issues a new session id');
      assert.equal(count(server, 'SELECT COUNT(*) FROM sessions WHERE id_hash = ?', sha256hex(planted)), 0, 'the planted id is no session');
      const r = await attacker.get('/dashboard');
      assert.equal(r.status, 302, 'the attacker\'s planted id is not logged in');
      assert.equal(new URL(r.location, server.url).pathname, '/login');

      // Positive control: the victim's real cookie is logged in.
      const v = new WebClient(server);
      v.setCookie(SESSION_COOKIE, now.value);
      assert.equal((await v.get('/dashboard')).status, 200);

      // Logging in again (already logged in) also issues a new id.
      await visit(page, `${server.url}/login`);
      if (await page.locator('input[name="password"]').count()) {
        await logIn(page, user.email, user.password);
        const again = await cookieNamed(ctx, SESSION_COOKIE);
        assert.notEqual(again.value, now.value, 'a new id at every login');
      }
    } finally {
      await ctx.close();
    }
  });
});

describe('open redirects', () => {
  const BAD = [
    'https://evil.example', '//evil.example', '/\\evil.example', '\\\\evil.example', '/\\/evil.example',
    'http:evil.example', 'javascript:alert(1)', '/\t/evil.example', '/\n/evil.example', ' //evil.example',
    '///evil.example', 'HTTPS://EVIL.EXAMPLE',
  ];

  test('login with a bad next ends on /dashboard (HTTP); a good next is honoured', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    for (const next of BAD) {
      const { res } = await loginOverHttp(server, user.email, user.password, { next });
      const dest = new URL(res.location, server.url);
      assert.equal(dest.href, `${server.url}/dashboard`, `next=${JSON.stringify(next)} → Location ${res.location}`);
    }
    // Positive control.
    const { res } = await loginOverHttp(server, user.email, user.password, { next: `/project/${user.projectId}` });
    assert.equal(new URL(res.location, server.url).href, `${server.url}/project/${user.projectId}`);
    // The hidden next field cannot be swapped for a bad one either.
    const web = new WebClient(server);
    const lp = await web.get('/login?next=%2Fdashboard');
    const f = formWithButton(lp.forms, 'Log in');
    const r = await web.submit(f, { email: user.email, password: user.password, next: '//evil.example' });
    assert.equal(new URL(r.location, server.url).href, `${server.url}/dashboard`);
  });

  test('in Chromium: /login?next=https://evil.example, //evil.example, /\\evil.example end on /dashboard', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    for (const next of ['https://evil.example', '//evil.example', '/\\evil.example']) {
      const { ctx, page } = await newPage();
      try {
        await visit(page, `${server.url}/login?next=${encodeURIComponent(next)}`);
        await logIn(page, user.email, user.password);
        assert.equal(page.url(), `${server.url}/dashboard`, `next=${next}`);
      } finally {
        await ctx.close();
      }
    }
  });

  test('logout with a bad next stays on our origin', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const dash = await user.web.get('/dashboard');
    const logout = dash.forms.find((f) => f.action.endsWith('/logout'));
    const r = await user.web.submit(logout, { next: 'https://evil.example' });
    assert.equal(r.status, 302);
    const dest = new URL(r.location, server.url);
    assert.equal(dest.origin, server.url, r.location);
    assert.equal(dest.pathname, '/login');
    const n = dest.searchParams.get('next');
    if (n !== null) assert.ok(n.startsWith('/') && !n.startsWith('//') && !n.includes('evil'), `next after logout: ${n}`);
  });
});

describe('clickjacking', () => {
  test('every page sends frame-ancestors \'none\' and X-Frame-Options: DENY (and the rest of the header set)', async () => {
    const a = await userWithPassword(server, smtp, { clientId });
    const b = await userWithPassword(server, smtp, { clientId });
    const anon = new WebClient(server);
    const pages = [];
    const add = (what, res, opts) => pages.push({ what, res, opts });
    add('login', await anon.get('/login'));
    add('login?next', await anon.get('/login?next=%2Fdashboard'));
    add('set-password (bad token)', await anon.get(`/account/set-password?token=${rand43()}`));
    add('consent (expired state)', await a.web.get(`/api/agentic/authorize?state=${rand43()}`));
    add('dashboard', await a.web.get('/dashboard'));
    add('project', await a.web.get(`/project/${a.projectId}`));
    const c = await consentUrl(server, { clientId, email: a.email });
    add('consent', await a.web.get(new URL(c.url).pathname + new URL(c.url).search), { formActionExtra: cb.origin });
    const cB = await consentUrl(server, { clientId, email: b.email });
    add('account mismatch', await a.web.follow(new URL(cB.url).pathname + new URL(cB.url).search));
    const lp = await anon.get('/login');
    add('login 401', await anon.submit(formWithButton(lp.forms, 'Log in'), { email: a.email, password: 'wrong-password-x' }));
    add('csrf 403', await anon.submit(formWithButton(lp.forms, 'Log in'), { email: a.email, password: 'x', csrf: rand43() }));
    add('oauth/authorize 400', await anon.get('/oauth/authorize?response_type=code&client_id=nope&redirect_uri=https%3A%2F%2Fx.example%2Fcb'));
    for (const { what, res, opts } of pages) {
      assert.ok(res.status < 500, `${what}: ${res.status}`);
      assert.match(res.headers['content-type'] || '', /^text\/html/, `${what}: HTML (${res.status})`);
      assertPageHeaders(res, `${what} (${res.status})`, opts);
    }
    const statuses = Object.fromEntries(pages.map((p) => [p.what, p.res.status]));
    assert.equal(statuses['login 401'], 401);
    assert.equal(statuses['csrf 403'], 403);
    assert.equal(statuses['oauth/authorize 400'], 400);
    assert.equal(statuses['consent (expired state)'], 400);
    assert.equal(statuses['account mismatch'], 200);
  });

  test('a page on another origin that frames our pages does not get them rendered (logged out and logged in)', async () => {
    const user = await userWithPassword(server, smtp, { clientId });
    const c = await consentUrl(server, { clientId, email: user.email });
    const control = await startHtmlServer({ '/form': '<!doctype html><form><input name="password" type="password"><button>Go</button></form>' });
    const framing = (urls) => `<!doctype html><title>evil</title>${urls.map((u) => `<iframe src="${u}" width="600" height="300"></iframe>`).join('')}
      <iframe src="${control.origin}/form" width="600" height="200"></iframe>`;
    const badLink = `${server.url}/account/set-password?token=${rand43()}`;
    const evil = await startHtmlServer({
      '/out': framing([`${server.url}/login`, badLink]),
      '/in': framing([`${server.url}/dashboard`, c.url]),
    });
    const probe = async (frame, sel) => {
      try { return await frame.locator(sel).count(); } catch { return 0; }
    };
    /** Open the framing page; assert our frames were answered 200 yet render nothing; the control renders. */
    const check = async (page, path, ours) => {
      const seen = [];
      const onResponse = (r) => { if (r.url().startsWith(server.url)) seen.push({ url: r.url(), status: r.status() }); };
      page.on('response', onResponse);
      await visit(page, `${evil.origin}${path}`);
      await page.waitForTimeout(800);
      page.off('response', onResponse);
      // Each framed URL was requested and our server answered with a page (possibly after a
      // redirect to the login page: browsers may withhold cookies from cross-origin frames).
      for (const u of ours) {
        assert.ok(seen.some((x) => x.url === u && x.status < 500), `the frame ${u} was requested: ${JSON.stringify(seen)}`);
      }
      assert.ok(seen.filter((x) => x.status !== 302 && x.status < 500).length >= ours.length, `our server answered pages: ${JSON.stringify(seen)}`);
      let controlSeen = 0;
      let ourFrames = 0;
      for (const f of page.frames()) {
        if (f === page.mainFrame()) continue;
        if (f.url().startsWith(control.origin)) { controlSeen += await probe(f, 'input[name="password"]'); continue; }
        ourFrames += 1;
        assert.equal(await probe(f, 'form'), 0, `our page rendered forms inside a frame (${f.url()})`);
        assert.equal(await probe(f, 'button'), 0, `our buttons rendered inside a frame (${f.url()})`);
        assert.ok(!f.url().startsWith(server.url), `a frame shows our page: ${f.url()}`);
      }
      assert.equal(ourFrames, ours.length, 'one (blocked) frame per framed page');
      assert.equal(controlSeen, 1, 'positive control: a frameable page on another origin renders in a frame');
    };
    const { ctx, page } = await newPage();
    try {
      await check(page, '/out', [`${server.url}/login`, badLink]);
      await visit(page, `${server.url}/login`);
      await logIn(page, user.email, user.password);
      await check(page, '/in', [`${server.url}/dashboard`, c.url]);
      assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', user.userId), 1, 'no code from the framed consent');
    } finally {
      await ctx.close();
      await evil.stop();
      await control.stop();
    }
  });
});

describe('consent POSTs that name someone else\'s things', () => {
  test('A cannot approve B\'s state, nor pick a project of another organization', async () => {
    const a = await userWithPassword(server, smtp, { clientId });
    const b = await userWithPassword(server, smtp, { clientId });
    const extra = await createResource(server, a.tokens.access_token, { project_id: 'sec-second' });
    assert.equal(extra.status, 200, extra.text);

    // A's own consent page gives A a valid csrf and form; swap in B's state.
    const ca = await consentUrl(server, { clientId, email: a.email });
    const cb2 = await consentUrl(server, { clientId, email: b.email });
    const page = await a.web.get(new URL(ca.url).pathname + new URL(ca.url).search);
    const form = formWithButton(page.forms, 'Approve');
    assert.ok(form, 'A\'s consent page');
    const codesA = count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', a.userId);
    const codesB = count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', b.userId);
    const r1 = await a.web.submit(form, { state: cb2.state });
    assert.ok(!(r1.status === 302 && (r1.location || '').startsWith(cb.redirectUri) && /[?&]code=/.test(r1.location)), `A approved B's consent: ${r1.status} ${r1.location}`);
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', b.userId), codesB, 'no code for B');

    // A project of B's organization.
    const r2 = await a.web.submit(form, { project_id: String(b.projectId) });
    assert.ok(!(r2.status === 302 && /[?&]code=/.test(r2.location || '')), `A got a code for B's project: ${r2.status} ${r2.location}`);
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE project_id = ? AND user_id = ?', b.projectId, a.userId), 0);

    // Positive control: A's own second project works.
    const fresh = await a.web.get(new URL(ca.url).pathname + new URL(ca.url).search);
    const f2 = formWithButton(fresh.forms, 'Approve');
    assert.ok(f2, 'A\'s consent is still open after the refused posts');
    const ok = await a.web.submit(f2, { project_id: String(Number(extra.json.id)) });
    assert.equal(ok.status, 302, ok.pageText?.slice(0, 300));
    assert.match(ok.location, /[?&]code=/);
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE user_id = ?', a.userId), codesA + 1);
  });
});
