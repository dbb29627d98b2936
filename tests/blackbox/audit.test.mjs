// Audit events (src/audit/): each security-relevant change writes one audit_events row in the
// transaction of the change; committed rows are logged ("audit {…}" lines) and listed by
// `provisiond audit`; maintenance removes logged rows after --audit-retention-days.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, TOKEN_PATH, accountRequest, api, bearer, createResource, dbExec, exchangeCode, newAccount, q, q1,
  refreshGrant, registerClient, setPasswordToken, startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';
import { DEFAULT_PASSWORD, WebClient, consentUrl, formWithButton, loginOverHttp, setPasswordOverHttp } from '../e2e/e2e.mjs';

let server;
let clientId;

// Every row already seen when an action starts; what the action wrote is what is new after it.
const seen = new Set();
/** Marks every stored row seen (call right before the action under test); returns a token. */
function nowSec() {
  for (const r of q(server, 'SELECT id FROM audit_events')) seen.add(r.id);
  return 0;
}
/** The rows of a kind written since the last nowSec(). */
function rowsOf(kind) {
  return q(server, 'SELECT * FROM audit_events WHERE kind = ? ORDER BY created_at, id', kind).filter((r) => !seen.has(r.id));
}
function one(kind) {
  const rows = rowsOf(kind);
  assert.equal(rows.length, 1, `one new ${kind} event: ${JSON.stringify(rows)}`);
  return { ...rows[0], detail: JSON.parse(rows[0].detail) };
}

before(async () => {
  server = await startServer({ extraArgs: ['--refresh-grace-seconds', '0', '--maintenance-interval-seconds', '1', '--audit-retention-days', '1'] });
});
after(async () => { await server?.stop(); });

describe('each kind comes from the action that should produce it', () => {
  let acct;
  let user;
  let web;

  test('partner.registered: `clients add` (actor operator)', async () => {
    const since = nowSec();
    clientId = await registerClient(server);
    const e = one('partner.registered', since);
    assert.deepEqual([e.actor, e.client_id, e.user_id], ['operator', clientId, null]);
  });

  test('code.replayed and family.revoked (code_replayed): a used code exchanged again', async () => {
    acct = await newAccount(server, { clientId, email: uniqueEmail('audit') });
    user = q1(server, 'SELECT id FROM users WHERE email = ?', acct.email);
    const family = q1(server, 'SELECT id FROM token_families WHERE user_id = ?', user.id);
    const since = nowSec();
    const again = await exchangeCode(server, acct.code, acct.verifier);
    assert.equal(again.status, 400);
    const replay = one('code.replayed', since);
    assert.deepEqual([replay.actor, replay.user_id, replay.client_id, replay.detail], ['partner', user.id, clientId, { family_id: family.id }]);
    const revoked = one('family.revoked', since);
    assert.deepEqual(revoked.detail, { family_id: family.id, reason: 'code_replayed' });
  });

  test('key.created (via partner) and credentials.rotated; family.revoked (refresh_token_reused)', async () => {
    const a = await newAccount(server, { clientId, email: uniqueEmail('audit-r') });
    let since = nowSec();
    const created = await createResource(server, a.tokens.access_token);
    assert.equal(created.status, 200, created.text);
    const key = one('key.created', since);
    assert.deepEqual([key.actor, key.client_id, key.detail.via], ['partner', clientId, 'partner']);
    since = nowSec();
    const id = created.json.id;
    const rotated = await api(server, 'POST', `${P}/resources/${id}/rotate_credentials`, { body: {}, headers: bearer(a.tokens.access_token) });
    assert.equal(rotated.status, 200, rotated.text);
    assert.deepEqual(one('credentials.rotated', since).detail, { project_id: Number(id) });
    since = nowSec();
    const first = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(first.status, 200, first.text);
    const reuse = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(reuse.status, 400, reuse.text);
    assert.equal(one('family.revoked', since).detail.reason, 'refresh_token_reused');
  });

  test('password.set (email_link), login.failed, login.succeeded', async () => {
    const token = setPasswordToken(server, await waitForEmail(server, acct.email));
    let since = nowSec();
    web = await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
    const set = one('password.set', since);
    assert.deepEqual([set.actor, set.user_id, set.detail], ['user', user.id, { via: 'email_link' }]);
    since = nowSec();
    const wrong = new WebClient(server);
    const page = await wrong.get('/login');
    const bad = await wrong.submit(formWithButton(page.forms, 'Log in'), { email: acct.email, password: 'not the password at all' });
    assert.equal(bad.status, 401);
    const failed = one('login.failed', since);
    assert.deepEqual([failed.user_id, failed.detail, failed.remote], [user.id, { reason: 'wrong_password' }, '127.0.0.1']);
    const nobody = await wrong.submit(formWithButton((await wrong.get('/login')).forms, 'Log in'), { email: uniqueEmail('nobody'), password: 'whatever it is 1' });
    assert.equal(nobody.status, 401);
    assert.equal(rowsOf('login.failed', since).length, 2);
    since = nowSec();
    await loginOverHttp(server, acct.email, DEFAULT_PASSWORD);
    assert.equal(one('login.succeeded', since).user_id, user.id);
  });

  test('key.created (via dashboard) and key.revoked', async () => {
    let since = nowSec();
    const dash = await web.get('/dashboard');
    const form = formWithButton(dash.forms, 'Create key');
    const made = await web.submit(form, { label: 'audit key' });
    assert.equal(made.status, 302, made.pageText.slice(0, 300));
    const created = one('key.created', since);
    assert.equal(created.detail.via, 'dashboard');
    since = nowSec();
    const confirm = await web.get(`/dashboard/keys/revoke?id=${encodeURIComponent(created.detail.key_id)}`);
    const revoke = await web.submit(formWithButton(confirm.forms, 'Revoke key'));
    assert.equal(revoke.status, 302);
    assert.deepEqual(one('key.revoked', since).detail, { key_id: created.detail.key_id });
  });

  test('consent.approved and consent.denied', async () => {
    for (const [button, kind] of [['Approve', 'consent.approved'], ['Deny', 'consent.denied']]) {
      const since = nowSec();
      const c = await consentUrl(server, { clientId, email: acct.email });
      const page = await web.get(new URL(c.url).pathname + new URL(c.url).search);
      assert.equal(page.status, 200, page.pageText.slice(0, 300));
      const r = await web.submit(formWithButton(page.forms, button));
      assert.equal(r.status, 302);
      const e = one(kind, since);
      assert.deepEqual([e.actor, e.user_id, e.client_id], ['user', user.id, clientId]);
      const code = new URL(r.location).searchParams.get('code');
      if (code) {
        // The partner exchanges it: the user is connected again (the next test disconnects).
        const tokens = await exchangeCode(server, code, c.verifier);
        assert.equal(tokens.status, 200, tokens.text);
      }
    }
  });

  test('family.revoked (disconnect), password.set (change), password.reset_requested', async () => {
    let since = nowSec();
    const page = await web.get(`/dashboard/apps/disconnect?client_id=${encodeURIComponent(clientId)}`);
    const form = page.forms.find((f) => f.action.endsWith('/dashboard/apps/disconnect'));
    assert.ok(form, page.pageText.slice(0, 300));
    assert.equal((await web.submit(form)).status, 302);
    assert.equal(one('family.revoked', since).detail.reason, 'disconnect');
    since = nowSec();
    const account = await web.get('/account');
    const next = 'a brand new password 42';
    const changed = await web.submit(formWithButton(account.forms, 'Change password'), { current_password: DEFAULT_PASSWORD, password: next, password_confirm: next });
    assert.equal(changed.status, 302);
    assert.deepEqual(one('password.set', since).detail, { via: 'change' });
    since = nowSec();
    const visitor = new WebClient(server);
    const forgot = await visitor.get('/account/forgot-password');
    assert.equal((await visitor.submit(forgot.forms[0], { email: acct.email })).status, 200);
    assert.equal(one('password.reset_requested', since).user_id, user.id);
    // An unknown address asks for nothing that is recorded.
    await visitor.submit((await visitor.get('/account/forgot-password')).forms[0], { email: uniqueEmail('nobody') });
    assert.equal(rowsOf('password.reset_requested', since).length, 1);
  });

  test('partner.disabled (`clients disable`) and partner.blocked (`clients block`)', async () => {
    let since = nowSec();
    const other = await registerClient(server);
    const off = await server.cli(['clients', 'disable', other]);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual([one('partner.disabled', since).client_id, one('partner.disabled', since).actor], [other, 'operator']);
    since = nowSec();
    const blocked = await server.cli(['clients', 'block', 'evil.example', '--reason', 'abuse']);
    assert.equal(blocked.code, 0, blocked.stderr);
    assert.deepEqual(one('partner.blocked', since).detail, { entry: 'evil.example', kind: 'domain', reason: 'abuse', disabled_clients: [] });
  });
});

describe('listing, logging, retention', () => {
  test('`provisiond audit --json` lists them newest first, filtered by partner and by user', async () => {
    const all = await server.cli(['audit', '--json', '--since', '1h']);
    assert.equal(all.code, 0, all.stderr);
    const events = JSON.parse(all.stdout);
    const stored = q(server, 'SELECT id FROM audit_events ORDER BY created_at DESC, id');
    assert.deepEqual(events.map((e) => e.id).sort(), stored.map((r) => r.id).sort());
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1].time >= events[i].time, 'newest first');
    const byClient = JSON.parse((await server.cli(['audit', '--json', '--client-id', clientId])).stdout);
    assert.ok(byClient.length >= 5 && byClient.every((e) => e.client_id === clientId));
    const table = await server.cli(['audit', '--since', '1h']);
    assert.match(table.stdout.split('\n')[0], /^TIME +KIND +ACTOR/);
    const bad = await server.cli(['audit', '--since', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since must be a span such as 30m, 24h or 7d/);
  });

  test('committed events are logged once, as "audit {…}" lines, and marked', async () => {
    const deadline = Date.now() + 10000;
    while (q1(server, 'SELECT COUNT(*) AS n FROM audit_events WHERE logged_at IS NULL').n > 0) {
      assert.ok(Date.now() < deadline, 'every event logged within 10 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const lines = server.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.message.startsWith('audit {'));
    const logged = lines.map((l) => JSON.parse(l.message.slice('audit '.length)).id);
    const ids = q(server, 'SELECT id FROM audit_events').map((r) => r.id);
    assert.deepEqual([...new Set(logged)].sort(), ids.sort());
    assert.equal(logged.length, new Set(logged).size, 'each once');
  });

  test('logged events older than --audit-retention-days are removed; newer ones stay', async () => {
    const old = Math.floor(Date.now() / 1000) - 2 * 86400;
    dbExec(server, "INSERT INTO audit_events (id, created_at, kind, actor, detail, logged_at) VALUES ('old-logged', ?, 'login.failed', 'user', '{}', ?)", old, old);
    const deadline = Date.now() + 10000;
    while (q(server, "SELECT id FROM audit_events WHERE id = 'old-logged'").length > 0) {
      assert.ok(Date.now() < deadline, 'purged within 10 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(q(server, 'SELECT COUNT(*) AS n FROM audit_events').map((r) => r.n)[0] > 5, 'the recent events stay');
  });
});
