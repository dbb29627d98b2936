// Webhooks (Standard Webhooks, src/webhooks/): every event kind arrives signed from the action
// that causes it; `provisiond webhooks add|list|rotate-secret|remove` with event filters and
// sealed secrets; retries with a stable webhook-id while the receiver is down or failing; nothing
// lost across a kill -9; nothing sent for a rolled-back change; bad settings refuse to serve.
//
// Every receiver here is a node:http server on 127.0.0.1 that verifies EVERY request with the
// reference library (`standardwebhooks`: new Webhook(secret).verify(body, headers)); a request
// that does not verify is answered 400 and recorded, and any such record fails the test.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';

import {
  BIN, ON_POSTGRES, P, Server, api, bearer, count, createResource, dbExec, dbFileBytes, exchangeCode, freePort, makeTempDir,
  newAccount, q, q1, refreshGrant, registerClient, runProcess, setLimit, setPasswordToken, sha256hex, sleep,
  startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import { assertRegistered, cimdDoc, registration, uid } from './cimd_common.mjs';
import { DEFAULT_PASSWORD, formWithButton, setPasswordOverHttp, stopServer } from '../e2e/e2e.mjs';

// instr (SQLite) and strpos (PostgreSQL): the 1-based position of an exact, case-sensitive substring, 0 if none.
const INSTR = ON_POSTGRES ? 'strpos' : 'instr';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const MSG_ID_RE = /^msg_[A-Za-z0-9]{27}$/;
const SIG_RE = /^v1,[A-Za-z0-9+/]{43}=$/;
const ENDPOINT_ID_RE = /^ep_[A-Za-z0-9]{22}$/;
const nowSec = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------
// The receiver.

const receivers = new Set();

class Receiver {
  constructor(name, secret) {
    this.name = name;
    this.secret = secret;
    this.retired = []; // secrets that must NOT verify any request from now on
    this.mode = 'ok'; // 'ok' → 200, '500' → 500 (after verifying)
    this.requests = []; // every request, verified or not, with its answer
    this.failures = []; // verification failures: any entry fails the test
    this.port = null;
    this.server = null;
    receivers.add(this);
  }

  get path() { return `/hooks/${this.name}`; }
  get url() { return `http://127.0.0.1:${this.port}${this.path}`; }
  /** Requests answered 2xx: the deliveries. */
  get events() { return this.requests.filter((r) => r.status === 200); }

  async reservePort() {
    if (this.port === null) this.port = await freePort();
    return this;
  }

  async up() {
    await this.reservePort();
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(this.port, '127.0.0.1', res);
    });
    return this;
  }

  /** Stop listening: connections are refused until up() again (same port). */
  async down() {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((res) => s.close(res));
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const rec = {
        at: Date.now(), method: req.method, path: req.url, headers: req.headers, body,
        id: req.headers['webhook-id'], secret: this.secret,
      };
      try {
        rec.payload = new Webhook(this.secret).verify(body, req.headers);
        rec.verified = true;
      } catch (e) {
        rec.verified = false;
        this.failures.push(`${this.name}: verification failed (${e.message}) for webhook-id ${rec.id}: ${body.slice(0, 300)}`);
      }
      for (const old of this.retired) {
        let verifiesWithOld = false;
        try { new Webhook(old).verify(body, req.headers); verifiesWithOld = true; } catch { /* expected */ }
        if (verifiesWithOld) this.failures.push(`${this.name}: ${rec.id} still verifies with a retired secret`);
      }
      if (req.method !== 'POST' || req.url !== this.path) {
        this.failures.push(`${this.name}: unexpected ${req.method} ${req.url}`);
      }
      rec.status = !rec.verified ? 400 : this.mode === '500' ? 500 : 200;
      this.requests.push(rec);
      res.writeHead(rec.status, { 'content-type': 'text/plain' });
      res.end(rec.status === 200 ? 'ok' : 'no');
    });
  }

  async close() {
    await this.down();
    receivers.delete(this);
  }
}

function assertNoVerificationFailures() {
  const all = [...receivers].flatMap((r) => r.failures);
  assert.deepEqual(all, [], 'every webhook request verifies with its endpoint secret (standardwebhooks)');
}

afterEach(() => { assertNoVerificationFailures(); });

async function waitFor(fn, what, { timeoutMs = 15000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assertNoVerificationFailures();
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A reader over a receiver's deliveries: next(n) waits for exactly the next n. */
function cursor(receiver) {
  let seen = receiver.events.length;
  return {
    async next(n, what = `${n} webhook(s)`, timeoutMs = 15000) {
      await waitFor(() => receiver.events.length >= seen + n, `${what} at ${receiver.name}`, { timeoutMs });
      const got = receiver.events.slice(seen, seen + n);
      seen += n;
      return got;
    },
    /** Nothing more arrives within ms. */
    async quiet(ms, what) {
      await sleep(ms);
      assertNoVerificationFailures();
      const extra = receiver.events.slice(seen);
      assert.deepEqual(extra.map((e) => `${e.id} ${e.body}`), [], `no webhook at ${receiver.name} ${what}`);
    },
    skip() { seen = receiver.events.length; },
  };
}

/**
 * The Standard Webhooks request as received, checked against the stored event: headers, exact
 * body bytes, {"type","timestamp","data"} in that order, created_at; returns data.
 */
function checkEvent(server, rec, type, { from, to } = {}) {
  assert.equal(rec.verified, true);
  assert.equal(rec.method, 'POST');
  assert.equal(rec.headers['content-type'], 'application/json');
  assert.equal(rec.headers['user-agent'], 'provisiond-webhooks');
  assert.match(rec.id, MSG_ID_RE, 'webhook-id');
  assert.match(rec.headers['webhook-timestamp'], /^\d+$/, 'webhook-timestamp');
  assert.ok(Math.abs(Number(rec.headers['webhook-timestamp']) - rec.at / 1000) < 5, 'webhook-timestamp is the send time');
  assert.match(rec.headers['webhook-signature'], SIG_RE, 'webhook-signature');
  const body = JSON.parse(rec.body);
  assert.deepEqual(Object.keys(body), ['type', 'timestamp', 'data'], rec.body);
  assert.equal(body.type, type, rec.body);
  assert.match(body.timestamp, ISO_RE, rec.body);
  assert.deepEqual(rec.payload, body, 'the verified payload is the body');
  const t = Date.parse(body.timestamp) / 1000;
  if (from !== undefined) assert.ok(t >= from - 1 && t <= (to ?? nowSec()) + 1, `timestamp ${body.timestamp} is when the action happened`);
  const row = q1(server, 'SELECT * FROM webhook_events WHERE id = ?', rec.id);
  assert.ok(row, `webhook_events has the row ${rec.id}`);
  assert.equal(row.type, type);
  assert.equal(row.body, rec.body, 'the stored body is the exact bytes sent');
  assert.equal(row.created_at, t, 'created_at is the event timestamp');
  assert.equal(row.fanned_out, 1);
  return body.data;
}

/** The delivery row of (event, endpoint) gets delivered_at; returns it. */
async function delivered(server, eventId, endpointId = 'settings') {
  return waitFor(() => {
    const d = q1(server, 'SELECT * FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = ?', eventId, endpointId);
    return d && d.delivered_at !== null ? d : null;
  }, `delivered_at of ${eventId} for ${endpointId}`);
}

/** `provisiond <args> --database …` must exit 0. */
async function cli(server, args) {
  const r = await server.cli(args);
  assert.equal(r.code, 0, `provisiond ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  return r;
}

async function unlimited(server, clientId) {
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
}

function userRow(server, email) {
  return q1(server, 'SELECT * FROM users WHERE email_normalized = ?', email.toLowerCase());
}

/** The new account's user, organization and default project as stored. */
function accountRows(server, email) {
  const user = userRow(server, email);
  assert.ok(user, `user ${email}`);
  const org = q1(server, 'SELECT o.* FROM organizations o JOIN memberships m ON m.organization_id = o.id WHERE m.user_id = ?', user.id);
  const project = q1(server, 'SELECT * FROM projects WHERE organization_id = ? ORDER BY id', org.id);
  return { user, org, project };
}

function expectedAccountCreated(server, email, client) {
  const { user, org, project } = accountRows(server, email);
  return {
    user: { id: user.id, email, name: 'Jane Doe' },
    organization: { id: org.id, name: `${client.name} (${email})`, region: 'US' },
    project: { id: project.id, name: 'Default project' },
    partner: { client_id: client.id, name: client.name },
  };
}

function familyOfAccess(server, accessToken) {
  return q1(server, 'SELECT f.* FROM token_families f JOIN access_tokens a ON a.family_id = f.id WHERE a.token_hash = ?', sha256hex(accessToken));
}

/** Write to the live database (a trigger for the rollback test). */
function writeDb(server, sql) {
  dbExec(server, sql);
}

// =============================================================================================
describe('every event kind arrives, verified, from the action that causes it', () => {
  let server;
  let site;
  let R;
  let C;
  const secret = newSecret();
  const client = { id: `wh-partner-${uid()}`, name: 'Webhook Partner' };
  let acct; // the first account: {email, tokens, ...}
  let user; // its users row
  let web; // its logged-in browser
  let extProject; // the project created by project_id

  before(async () => {
    site = await startTlsSite();
    R = await new Receiver('all', secret).up();
    server = await startServer({
      extraArgs: [
        '--webhook-url', R.url, '--webhook-secret', secret, '--webhook-retry-seconds', '1',
        '--refresh-grace-seconds', '0', ...site.cimdArgs(['partner.test']),
      ],
    });
    C = cursor(R);
  });
  after(async () => {
    await stopServer(server);
    await R?.close();
    await site?.stop();
  });

  test('partner.registered: `provisiond clients add`', async () => {
    const from = nowSec();
    await registerClient(server, { clientId: client.id, name: client.name });
    const [ev] = await C.next(1, 'partner.registered');
    const data = checkEvent(server, ev, 'partner.registered', { from });
    const row = q1(server, 'SELECT kind FROM oauth_clients WHERE client_id = ?', client.id);
    assert.equal(row.kind, 'registered');
    assert.deepEqual(data, { partner: { client_id: client.id, name: client.name, kind: 'registered' }, registered_by: 'operator' });
    const d = await delivered(server, ev.id);
    assert.equal(d.attempts, 1);
    assert.equal(d.last_error, null);
    assert.equal(count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = ?', ev.id), 1, 'one delivery: the --webhook-url endpoint');
    await unlimited(server, client.id); // set-limit sends nothing (checked by the next event)
  });

  test('account.created: a new account by account_requests', async () => {
    const from = nowSec();
    acct = await newAccount(server, { clientId: client.id });
    const [ev] = await C.next(1, 'account.created');
    const data = checkEvent(server, ev, 'account.created', { from });
    assert.deepEqual(data, expectedAccountCreated(server, acct.email, client));
    user = userRow(server, acct.email);
    assert.equal(q1(server, 'SELECT created_at FROM webhook_events WHERE id = ?', ev.id).created_at, user.created_at);
    assert.equal(data.project.id, Number(acct.account.available_teams[0].id));
    await delivered(server, ev.id);
  });

  test('project.created: POST resources with a new project_id (and not for the default project or a known project_id)', async () => {
    const dflt = await createResource(server, acct.tokens.access_token, {});
    assert.equal(dflt.status, 200, dflt.text);
    const from = nowSec();
    const r = await createResource(server, acct.tokens.access_token, { project_id: 'wh-ext-1', configuration: { project_name: 'Production' } });
    assert.equal(r.status, 200, r.text);
    const again = await createResource(server, acct.tokens.access_token, { project_id: 'wh-ext-1' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.id, r.json.id);
    const [ev] = await C.next(1, 'project.created');
    const data = checkEvent(server, ev, 'project.created', { from });
    extProject = q1(server, 'SELECT * FROM projects WHERE id = ?', Number(r.json.id));
    assert.ok(extProject);
    assert.deepEqual(data, {
      project: { id: extProject.id, name: 'Production' },
      organization_id: acct.account.id,
      user_id: user.id,
      partner: { client_id: client.id },
    });
    assert.equal(extProject.organization_id, acct.account.id);
    await delivered(server, ev.id);
  });

  test('credentials.rotated: POST resources/{id}/rotate_credentials', async () => {
    const before = extProject.api_token;
    const from = nowSec();
    const r = await api(server, 'POST', `${P}/resources/${extProject.id}/rotate_credentials`, { body: {}, headers: bearer(acct.tokens.access_token) });
    assert.equal(r.status, 200, r.text);
    const [ev] = await C.next(1, 'credentials.rotated');
    const data = checkEvent(server, ev, 'credentials.rotated', { from });
    assert.deepEqual(data, {
      project_id: extProject.id, organization_id: acct.account.id, user_id: user.id, partner: { client_id: client.id },
    });
    assert.notEqual(q1(server, 'SELECT api_token FROM projects WHERE id = ?', extProject.id).api_token, before);
    await delivered(server, ev.id);
  });

  test('resource.removed: POST resources/{id}/remove', async () => {
    const from = nowSec();
    const r = await api(server, 'POST', `${P}/resources/${extProject.id}/remove`, { body: {}, headers: bearer(acct.tokens.access_token) });
    assert.equal(r.status, 200, r.text);
    const [ev] = await C.next(1, 'resource.removed');
    const data = checkEvent(server, ev, 'resource.removed', { from });
    assert.deepEqual(data, { project_id: extProject.id, user_id: user.id, partner: { client_id: client.id } });
    assert.ok(!JSON.parse(familyOfAccess(server, acct.tokens.access_token).project_ids).includes(extProject.id), 'the grant no longer reaches the project');
    await delivered(server, ev.id);
  });

  test('grant.revoked reason replay: a used authorization code exchanged again', async () => {
    const a = await newAccount(server, { clientId: client.id });
    const [created] = await C.next(1, 'account.created');
    checkEvent(server, created, 'account.created');
    const family = familyOfAccess(server, a.tokens.access_token);
    assert.equal(family.revoked_at, null);
    const from = nowSec();
    const again = await exchangeCode(server, a.code, a.verifier);
    assert.equal(again.status, 400, again.text);
    assert.deepEqual(again.json, { error: 'invalid_grant', error_description: 'Authorization code was already used; tokens issued from it have been revoked' });
    const [ev] = await C.next(1, 'grant.revoked (replay)');
    const data = checkEvent(server, ev, 'grant.revoked', { from });
    const u = userRow(server, a.email);
    assert.deepEqual(data, { client_id: client.id, user_id: u.id, reason: 'replay', family_id: family.id });
    const now = q1(server, 'SELECT * FROM token_families WHERE id = ?', family.id);
    assert.notEqual(now.revoked_at, null);
    assert.equal(now.revoked_reason, 'code_replayed');
    await delivered(server, ev.id);
  });

  test('grant.revoked reason family_reuse: a rotated refresh token presented after the grace window (--refresh-grace-seconds 0)', async () => {
    const a = await newAccount(server, { clientId: client.id });
    const [created] = await C.next(1, 'account.created');
    checkEvent(server, created, 'account.created');
    const family = familyOfAccess(server, a.tokens.access_token);
    const first = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(first.status, 200, first.text);
    // Grace 0 still counts the second of the rotation as inside the window (now - rotated_at <= 0),
    // so present the old token in a later second.
    const rotatedAt = q1(server, 'SELECT rotated_at FROM refresh_tokens WHERE token_hash = ?', sha256hex(a.tokens.refresh_token)).rotated_at;
    await waitFor(() => nowSec() > rotatedAt, 'the next second');
    const from = nowSec();
    const reuse = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(reuse.status, 400, reuse.text);
    assert.deepEqual(reuse.json, { error: 'invalid_grant', error_description: 'Refresh token was already used; the token family has been revoked' });
    const [ev] = await C.next(1, 'grant.revoked (family_reuse)');
    const data = checkEvent(server, ev, 'grant.revoked', { from });
    assert.deepEqual(data, { client_id: client.id, user_id: userRow(server, a.email).id, reason: 'family_reuse', family_id: family.id });
    const now = q1(server, 'SELECT * FROM token_families WHERE id = ?', family.id);
    assert.notEqual(now.revoked_at, null);
    assert.equal(now.revoked_reason, 'refresh_token_reused');
    await delivered(server, ev.id);
  });

  test('user.password_set via email_link: the welcome email\'s set-password link', async () => {
    const token = setPasswordToken(server, await waitForEmail(server, acct.email));
    assert.ok(token, 'a set-password link in the welcome email');
    const from = nowSec();
    web = await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
    const [ev] = await C.next(1, 'user.password_set');
    const data = checkEvent(server, ev, 'user.password_set', { from });
    assert.deepEqual(data, { user_id: user.id, via: 'email_link' });
    assert.ok(userRow(server, acct.email).password_hash);
    await delivered(server, ev.id);
  });

  test('grant.revoked reason disconnect: the dashboard\'s Disconnect (POST /dashboard/apps/disconnect)', async () => {
    const page = await web.get(`/dashboard/apps/disconnect?client_id=${encodeURIComponent(client.id)}`);
    assert.equal(page.status, 200, page.pageText.slice(0, 500));
    const form = formWithButton(page.forms, `Disconnect ${client.name}`);
    assert.ok(form, `a "Disconnect ${client.name}" form: ${page.pageText.slice(0, 500)}`);
    const from = nowSec();
    const r = await web.submit(form);
    assert.equal(r.status, 302, r.pageText.slice(0, 300));
    assert.equal(r.location, '/dashboard?notice=app_disconnected');
    const [ev] = await C.next(1, 'grant.revoked (disconnect)');
    const data = checkEvent(server, ev, 'grant.revoked', { from });
    assert.deepEqual(data, { client_id: client.id, user_id: user.id, reason: 'disconnect' }, 'no family_id: every family of the pair');
    const fams = q(server, 'SELECT revoked_at FROM token_families WHERE client_id = ? AND user_id = ?', client.id, user.id);
    assert.ok(fams.length >= 1 && fams.every((f) => f.revoked_at !== null), 'every family of the pair is revoked');
    await delivered(server, ev.id);
    // Disconnecting what is no longer connected reports nothing (checked by the next event).
    const again = await web.post('/dashboard/apps/disconnect', { ...form.fields });
    assert.ok([302, 404].includes(again.status), `${again.status} ${again.pageText.slice(0, 300)}`);
  });

  test('user.password_set via change: the account page\'s Change password', async () => {
    const page = await web.get('/account');
    assert.equal(page.status, 200, page.pageText.slice(0, 300));
    const form = formWithButton(page.forms, 'Change password');
    assert.ok(form, 'a Change password form');
    const from = nowSec();
    const next = 'a brand new password 42';
    const r = await web.submit(form, { current_password: DEFAULT_PASSWORD, password: next, password_confirm: next });
    assert.equal(r.status, 302, r.pageText.slice(0, 300));
    assert.equal(r.location, '/account?notice=password_changed');
    const [ev] = await C.next(1, 'user.password_set (change)');
    const data = checkEvent(server, ev, 'user.password_set', { from });
    assert.deepEqual(data, { user_id: user.id, via: 'change' });
    await delivered(server, ev.id);
  });

  test('grant.revoked reason client_disabled: `provisiond clients disable` (user_id null)', async () => {
    const other = { id: `wh-other-${uid()}`, name: 'Other Partner' };
    await registerClient(server, { clientId: other.id, name: other.name });
    const [reg] = await C.next(1, 'partner.registered');
    assert.deepEqual(checkEvent(server, reg, 'partner.registered'), { partner: { client_id: other.id, name: other.name, kind: 'registered' }, registered_by: 'operator' });
    await unlimited(server, other.id);
    const a = await newAccount(server, { clientId: other.id });
    const [created] = await C.next(1, 'account.created');
    assert.deepEqual(checkEvent(server, created, 'account.created'), expectedAccountCreated(server, a.email, other));
    const from = nowSec();
    await cli(server, ['clients', 'disable', other.id]);
    const [ev] = await C.next(1, 'grant.revoked (client_disabled)');
    const data = checkEvent(server, ev, 'grant.revoked', { from });
    assert.deepEqual(data, { client_id: other.id, user_id: null, reason: 'client_disabled' });
    assert.equal(q1(server, 'SELECT is_active FROM oauth_clients WHERE client_id = ?', other.id).is_active, 0);
    assert.equal((await createResource(server, a.tokens.access_token, {})).status, 401, 'its tokens stopped working');
    await delivered(server, ev.id);
  });

  test('partner.registered by a CIMD client\'s first metadata document, then partner.blocked (+ client_disabled) by `clients block`', async () => {
    const path = `/wh/${uid()}.json`;
    const url = site.url('partner.test', path);
    site.writeDoc(path, cimdDoc(url, { client_name: 'Self Registered' }));
    let from = nowSec();
    assertRegistered(await registration(server, url), url);
    const [reg] = await C.next(1, 'partner.registered (cimd)');
    assert.deepEqual(checkEvent(server, reg, 'partner.registered', { from }), {
      partner: { client_id: url, name: 'Self Registered', kind: 'cimd' }, registered_by: 'metadata_document', verified: false,
    });
    // Its second registration (document already known) announces nothing: checked by the next event.
    assertRegistered(await registration(server, url), url);

    from = nowSec();
    const b = await cli(server, ['clients', 'block', url, '--reason', 'abuse']);
    assert.match(b.stdout, new RegExp(`disabled ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const evs = await C.next(2, 'grant.revoked + partner.blocked');
    assert.deepEqual(evs.map((e) => JSON.parse(e.body).type).sort(), ['grant.revoked', 'partner.blocked']);
    const revoked = evs.find((e) => JSON.parse(e.body).type === 'grant.revoked');
    const blocked = evs.find((e) => JSON.parse(e.body).type === 'partner.blocked');
    assert.deepEqual(checkEvent(server, revoked, 'grant.revoked', { from }), { client_id: url, user_id: null, reason: 'client_disabled' });
    assert.deepEqual(checkEvent(server, blocked, 'partner.blocked', { from }), {
      entry: url, kind: 'url', reason: 'abuse', disabled_clients: [url],
    });
    await delivered(server, blocked.id);
  });

  test('all 8 types and the 4 grant.revoked reasons were seen; each stored event delivered exactly once, in one attempt', async () => {
    await C.quiet(1500, 'beyond the events above');
    const events = R.events.map((e) => JSON.parse(e.body));
    assert.deepEqual([...new Set(events.map((e) => e.type))].sort(), [
      'account.created', 'credentials.rotated', 'grant.revoked', 'partner.blocked', 'partner.registered',
      'project.created', 'resource.removed', 'user.password_set',
    ]);
    assert.deepEqual([...new Set(events.filter((e) => e.type === 'grant.revoked').map((e) => e.data.reason))].sort(),
      ['client_disabled', 'disconnect', 'family_reuse', 'replay']);
    const ids = R.events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no webhook-id delivered twice');
    assert.equal(R.requests.length, R.events.length, 'no failed attempt');
    const rows = q(server, 'SELECT id FROM webhook_events ORDER BY id').map((r) => r.id);
    assert.deepEqual([...ids].sort(), rows, 'the deliveries are exactly the stored events');
    await waitFor(() => count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL') === 0, 'no pending delivery');
    assert.deepEqual(q(server, 'SELECT DISTINCT endpoint_id, attempts FROM webhook_deliveries'), [{ endpoint_id: 'settings', attempts: 1 }]);
  });

  // `--refresh-grace-seconds 0` is documented as "0 disables" (src/cli/settings.cpp): then a
  // rotated refresh token presented again at once is a reuse, and grant.revoked family_reuse goes out.
  test('--refresh-grace-seconds 0: a rotated refresh token presented again in the same second revokes the family (family_reuse)', async () => {
    const a = await newAccount(server, { clientId: client.id });
    const [created] = await C.next(1, 'account.created');
    checkEvent(server, created, 'account.created');
    const family = familyOfAccess(server, a.tokens.access_token);
    // Rotate and present again early in one second, so the test does not depend on a boundary.
    await waitFor(() => Date.now() % 1000 < 300, 'the start of a second', { intervalMs: 20 });
    const first = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(first.status, 200, first.text);
    const reuse = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(reuse.status, 400, `the grace window is off (0), yet presenting the rotated token again at once got ${reuse.status} ${reuse.json?.error ?? 'and a new token pair'}`);
    assert.deepEqual(reuse.json, { error: 'invalid_grant', error_description: 'Refresh token was already used; the token family has been revoked' });
    const [ev] = await C.next(1, 'grant.revoked (family_reuse)');
    assert.deepEqual(checkEvent(server, ev, 'grant.revoked'), { client_id: client.id, user_id: userRow(server, a.email).id, reason: 'family_reuse', family_id: family.id });
  });
});

// =============================================================================================
describe('`provisiond webhooks add|list|rotate-secret|remove`', () => {
  /** `webhooks add` → its JSON line (with the secret, shown once). */
  async function add(server, url, events, extra = []) {
    const args = ['webhooks', 'add', '--url', url, ...(events ? ['--events', events] : []), ...extra];
    const r = await cli(server, args);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const out = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(out).sort(), ['created_at', 'events', 'id', 'pending', 'secret', 'url'], r.stdout);
    assert.match(out.id, ENDPOINT_ID_RE);
    assert.equal(out.url, url);
    assert.equal(out.pending, 0);
    assert.match(out.created_at, ISO_RE);
    assert.match(out.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'whsec_ + base64 of 32 bytes');
    assert.match(r.stderr, /shown only this once/);
    return out;
  }

  async function list(server) {
    const r = await cli(server, ['webhooks', 'list', '--json']);
    return JSON.parse(r.stdout);
  }

  function assertKeyFile(path) {
    assert.ok(existsSync(path), `the secrets key file ${path} exists`);
    assert.equal(statSync(path).mode & 0o777, 0o600, `${path} has mode 0600`);
    assert.match(readFileSync(path, 'utf8'), /^[A-Za-z0-9_-]{43}\n$/, 'one key: 43 base64url characters');
  }

  async function assertNoSecretInDb(server, secrets) {
    const tables = (ON_POSTGRES
      ? q(server, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
      : q(server, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")).map((r) => r.name);
    const needles = ['whsec_', ...secrets, ...secrets.map((s) => s.slice(6))];
    for (const t of tables) {
      const cols = (ON_POSTGRES
        ? q(server, 'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?', t)
        : q(server, `PRAGMA table_info("${t}")`)).map((c) => c.name);
      // One query per table: for each column and needle, the number of rows holding it.
      const checks = cols.flatMap((c) => needles.map((needle) => ({ c, needle })));
      const row = q1(server, `SELECT ${checks.map(({ c }, i) => `COUNT(CASE WHEN ${INSTR}(CAST("${c}" AS TEXT), ?) > 0 THEN 1 END) AS n${i}`).join(', ')} FROM "${t}"`,
        ...checks.map(({ needle }) => needle));
      checks.forEach(({ c, needle }, i) => {
        assert.equal(Number(row[`n${i}`]), 0, `${t}.${c} holds ${needle.slice(0, 12)}… in the clear`);
      });
    }
    // SQLite: the file and its WAL; PostgreSQL: a pg_dump of the database (harness dbFileBytes).
    const raw = ON_POSTGRES
      ? await dbFileBytes(server)
      : Buffer.concat(['', '-wal'].filter((s) => existsSync(server.dbPath + s)).map((s) => readFileSync(server.dbPath + s)));
    assert.equal(raw.indexOf('whsec_'), -1, 'no whsec_ in the database files');
  }

  /**
   * The endpoint's first account.created arrives within 10 s; on failure the message carries what
   * the database and the log say (the deliveries rows, fanned_out, the worker's last log line).
   */
  async function expectArrival(server, receiver, email, what) {
    try {
      await waitFor(() => receiver.events.some((e) => e.body.includes(email)), what, { timeoutMs: 10000 });
    } catch (e) {
      const event = q1(server, `SELECT id, fanned_out FROM webhook_events WHERE ${INSTR}(body, ?) > 0`, email);
      const rows = event ? q(server, 'SELECT endpoint_id, attempts, delivered_at, last_error FROM webhook_deliveries WHERE event_id = ?', event.id) : [];
      const log = server.stderr().split('\n').filter((l) => /webhooks:/.test(l));
      e.message += `\nwebhook_events row: ${JSON.stringify(event)}; its webhook_deliveries: ${JSON.stringify(rows)}`
        + `\n${log.length} webhook log lines, the last: ${log.at(-1)}`;
      throw e;
    }
    const rec = receiver.events.find((x) => x.body.includes(email));
    assert.equal(checkEvent(server, rec, 'account.created').user.email, email);
    return rec;
  }

  test('an endpoint added while provisiond is serving (no secrets key file at its start) gets the events that follow, at the latest after a restart', async () => {
    const server = await startServer({ extraArgs: ['--webhook-retry-seconds', '1'] });
    const late = await new Receiver('late', 'whsec_placeholder').up();
    try {
      const keyFile = `${server.dbPath}-secrets.key`;
      assert.ok(!existsSync(keyFile), 'no key file before the first `webhooks add`');
      const ep = await add(server, late.url, 'account.created');
      late.secret = ep.secret;
      assertKeyFile(keyFile);
      const clientId = await registerClient(server);
      const first = await newAccount(server, { clientId }); // while the running server has no key
      let problem = null;
      try {
        await expectArrival(server, late, first.email, 'account.created at the endpoint added while serving');
      } catch (e) {
        problem = e;
      }
      // A restart loads the key file: later events arrive (positive control) and so, if it was
      // only waiting, does the first one.
      await server.restart();
      const second = await newAccount(server, { clientId });
      await expectArrival(server, late, second.email, 'account.created after the restart');
      if (problem) {
        await sleep(3000);
        const stillMissing = !late.events.some((e) => e.body.includes(first.email));
        const event = q1(server, `SELECT id, fanned_out FROM webhook_events WHERE ${INSTR}(body, ?) > 0`, first.email);
        const rows = q(server, 'SELECT endpoint_id FROM webhook_deliveries WHERE event_id = ?', event.id);
        assert.fail(`${problem.message}\nafter a restart the event ${stillMissing ? 'is still not delivered' : 'was delivered'} (fanned_out=${event.fanned_out}, delivery rows ${JSON.stringify(rows)}): `
          + 'events fanned out while the endpoint\'s secret could not be opened are never delivered to it');
      }
    } finally {
      await stopServer(server);
      await late.close();
    }
  });

  test('an endpoint whose secret cannot be opened (serve without its key file) gets its events once the key file is back ("its deliveries wait")', async () => {
    const dir = await makeTempDir();
    const port = await freePort();
    const R = await new Receiver('waiting', 'whsec_placeholder').up();
    const elsewhere = join(await makeTempDir('provisiond-keys-'), 'missing.key');
    const server = new Server({ dir, port, extraArgs: ['--webhook-retry-seconds', '1', '--secrets-key-file', elsewhere], env: {} });
    try {
      await cli(server, ['migrate']);
      const ep = await add(server, R.url, 'account.created'); // sealed under <db>-secrets.key
      R.secret = ep.secret;
      await server.startOnFreePorts(); // --secrets-key-file names a file that does not exist: serve starts anyway
      const clientId = await registerClient(server);
      const a = await newAccount(server, { clientId });
      await sleep(2000);
      assert.equal(R.requests.length, 0, 'nothing can be signed without the key');
      assert.match(server.stderr(), new RegExp(`cannot open the signing secret of endpoint ${ep.id}`));
      // The operator restores the key: restart with the right file.
      await server.stop();
      server.extraArgs = ['--webhook-retry-seconds', '1'];
      await server.start();
      await expectArrival(server, R, a.email, 'the account.created that waited for the key');
    } finally {
      await stopServer(server);
      await R.close();
    }
  });

  test('--events filter, its own secret, rotate-secret, list with pending counts, remove; secrets sealed under a 0600 key file', async () => {
    const dir = await makeTempDir();
    const port = await freePort();
    const A = await new Receiver('only-accounts', 'whsec_placeholder').up();
    const B = await new Receiver('everything', 'whsec_placeholder').up();
    const server = new Server({ dir, port, extraArgs: ['--webhook-retry-seconds', '1'], env: {} });
    try {
      await cli(server, ['migrate']);
      const keyFile = `${server.dbPath}-secrets.key`;
      assert.ok(!existsSync(keyFile));

      // Bad input first: nothing is added, no key file is made by a refusal.
      const badEvents = await server.cli(['webhooks', 'add', '--url', A.url, '--events', 'account.created,nope.nope']);
      assert.equal(badEvents.code, 2, badEvents.stderr);
      assert.match(badEvents.stderr, /unknown event type "nope\.nope"; the types are: account\.created, project\.created, credentials\.rotated, resource\.removed, grant\.revoked, partner\.registered, partner\.blocked, user\.password_set/);
      const badUrl = await server.cli(['webhooks', 'add', '--url', 'ftp://127.0.0.1/x']);
      assert.equal(badUrl.code, 2, badUrl.stderr);
      assert.match(badUrl.stderr, /--url must start with http:\/\/ or https:\/\//);
      assert.equal(count(server, 'SELECT COUNT(*) FROM webhook_endpoints'), 0);

      const a = await add(server, A.url, 'account.created');
      assert.deepEqual(a.events, ['account.created']);
      assertKeyFile(keyFile);
      const keyBefore = readFileSync(keyFile, 'utf8');
      const b = await add(server, B.url);
      assert.equal(b.events, '*');
      assert.notEqual(a.secret, b.secret);
      assert.equal(readFileSync(keyFile, 'utf8'), keyBefore, 'the second add reuses the key file');
      A.secret = a.secret;
      B.secret = b.secret;
      A.retired.push(b.secret); // A's deliveries are signed with A's secret, not B's
      B.retired.push(a.secret);
      await assertNoSecretInDb(server, [a.secret, b.secret]);
      const stored = q(server, 'SELECT id, url, events, secret_box FROM webhook_endpoints ORDER BY created_at, id');
      assert.deepEqual(stored.map((r) => [r.id, r.url, r.events]).sort(), [[a.id, A.url, 'account.created'], [b.id, B.url, '']].sort());
      for (const r of stored) assert.ok(r.secret_box.length > 0);

      await server.startOnFreePorts();
      const ca = cursor(A);
      const cb = cursor(B);

      // partner.registered, account.created, project.created: A gets only account.created.
      const clientId = await registerClient(server, { name: 'Filter Partner' });
      await unlimited(server, clientId);
      const acct = await newAccount(server, { clientId });
      const p = await createResource(server, acct.tokens.access_token, { project_id: 'filtered', configuration: { project_name: 'Filtered' } });
      assert.equal(p.status, 200, p.text);
      const bEvents = await cb.next(3, 'partner.registered, account.created, project.created');
      // (Events of one second go out in webhook-id order, not creation order: compare as sets.)
      const bOf = (type) => bEvents.find((e) => JSON.parse(e.body).type === type);
      assert.deepEqual(bEvents.map((e) => JSON.parse(e.body).type).sort(), ['account.created', 'partner.registered', 'project.created']);
      checkEvent(server, bOf('partner.registered'), 'partner.registered');
      checkEvent(server, bOf('project.created'), 'project.created');
      const [aEvent] = await ca.next(1, 'account.created');
      const data = checkEvent(server, aEvent, 'account.created');
      assert.equal(data.user.email, acct.email);
      assert.equal(aEvent.id, bOf('account.created').id, 'one event, one webhook-id, at every endpoint');
      assert.equal(aEvent.body, bOf('account.created').body);
      assert.notEqual(aEvent.headers['webhook-signature'], bOf('account.created').headers['webhook-signature'], 'each endpoint signs with its own secret');
      await ca.quiet(1500, 'but account.created (--events account.created)');
      const partnerEvent = bOf('partner.registered').id;
      assert.deepEqual(q(server, 'SELECT endpoint_id FROM webhook_deliveries WHERE event_id = ?', partnerEvent).map((r) => r.endpoint_id), [b.id],
        'the filtered endpoint gets no delivery row for an event it does not want');
      assert.equal(count(server, "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = 'settings'"), 0, 'no --webhook-url: no settings deliveries');
      await delivered(server, aEvent.id, a.id);

      // rotate-secret: later deliveries verify with the new secret only.
      const rot = await cli(server, ['webhooks', 'rotate-secret', a.id]);
      const rotated = JSON.parse(rot.stdout);
      assert.deepEqual(Object.keys(rotated).sort(), ['id', 'secret']);
      assert.equal(rotated.id, a.id);
      assert.match(rotated.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.notEqual(rotated.secret, a.secret);
      assert.match(rot.stderr, /shown only this once/);
      A.secret = rotated.secret;
      A.retired.push(a.secret);
      await assertNoSecretInDb(server, [a.secret, b.secret, rotated.secret]);
      const acct2 = await newAccount(server, { clientId });
      const [afterRotate] = await ca.next(1, 'account.created after rotate-secret');
      assert.equal(checkEvent(server, afterRotate, 'account.created').user.email, acct2.email);
      assert.equal(afterRotate.secret, rotated.secret);
      await cb.next(1, 'account.created');
      const badRotate = await server.cli(['webhooks', 'rotate-secret', 'ep_nope']);
      assert.equal(badRotate.code, 1);
      assert.match(badRotate.stderr, /no endpoint ep_nope/);

      // list: A is down, two account.created wait for it; B has nothing waiting.
      await A.down();
      const waiting = [await newAccount(server, { clientId }), await newAccount(server, { clientId })];
      await cb.next(2, 'account.created ×2');
      await waitFor(() => count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ? AND delivered_at IS NULL AND attempts >= 1', a.id) === 2,
        'two failed deliveries to the endpoint that is down');
      const listed = await list(server);
      const byId = (x, y) => (x.id < y.id ? -1 : 1);
      assert.deepEqual(listed.map((e) => ({ ...e })).sort(byId), [
        { id: a.id, url: A.url, events: ['account.created'], created_at: a.created_at, pending: 2 },
        { id: b.id, url: B.url, events: '*', created_at: b.created_at, pending: 0 },
      ].sort(byId));
      assert.ok(listed.every((e) => !('secret' in e) && !('secret_box' in e)), 'list shows no secret');

      // remove: what waited is dropped; nothing more is sent there.
      const rm = await cli(server, ['webhooks', 'remove', a.id]);
      assert.deepEqual(JSON.parse(rm.stdout), { id: a.id, removed: true });
      assert.equal(count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ? AND delivered_at IS NULL', a.id), 0);
      assert.equal(count(server, 'SELECT COUNT(*) FROM webhook_endpoints WHERE id = ?', a.id), 0);
      await A.up();
      ca.skip();
      const acct3 = await newAccount(server, { clientId });
      const [bLast] = await cb.next(1, 'account.created after remove');
      assert.equal(checkEvent(server, bLast, 'account.created').user.email, acct3.email);
      await ca.quiet(3500, 'after `webhooks remove` (retry base 1 s)');
      assert.equal(A.requests.filter((r) => waiting.some((w) => r.body.includes(w.email))).length, 0, 'the dropped deliveries were never sent');
      assert.deepEqual((await list(server)).map((e) => [e.id, e.pending]), [[b.id, 0]]);
      const again = await server.cli(['webhooks', 'remove', a.id]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(`no endpoint ${a.id}`));
      await assertNoSecretInDb(server, [a.secret, b.secret, rotated.secret]);
    } finally {
      await stopServer(server);
      await A.close();
      await B.close();
    }
  });

  test('--secrets-key-file: the key file is made there (0600), not next to the database, and serve opens it', async () => {
    const dir = await makeTempDir();
    const keyDir = await makeTempDir('provisiond-keys-');
    const keyFile = join(keyDir, 'custom.key');
    const port = await freePort();
    const R = await new Receiver('custom-key', 'whsec_placeholder').up();
    const server = new Server({ dir, port, extraArgs: ['--webhook-retry-seconds', '1', '--secrets-key-file', keyFile], env: {} });
    try {
      await cli(server, ['migrate']);
      const ep = await add(server, R.url, 'partner.registered', ['--secrets-key-file', keyFile]);
      R.secret = ep.secret;
      assertKeyFile(keyFile);
      assert.ok(!existsSync(`${server.dbPath}-secrets.key`), 'nothing next to the database');
      await assertNoSecretInDb(server, [ep.secret]);
      await server.startOnFreePorts();
      const clientId = await registerClient(server, { name: 'Key File Partner' });
      await waitFor(() => R.events.length >= 1, 'partner.registered');
      assert.equal(checkEvent(server, R.events[0], 'partner.registered').partner.client_id, clientId);
      await delivered(server, R.events[0].id, ep.id);
    } finally {
      await stopServer(server);
      await R.close();
    }
  });
});

// =============================================================================================
describe('retries', () => {
  test('receiver answering 500, then refusing connections, then back: every event delivered once, same webhook-id on every attempt', async () => {
    const secret = newSecret();
    const R = new Receiver('flaky', secret);
    R.mode = '500';
    await R.up();
    const server = await startServer({ extraArgs: ['--webhook-url', R.url, '--webhook-secret', secret, '--webhook-retry-seconds', '1'] });
    try {
      const clientId = await registerClient(server, { name: 'Retry Partner' });
      await unlimited(server, clientId);
      const accts = [await newAccount(server, { clientId }), await newAccount(server, { clientId })];
      const events = () => q(server, 'SELECT id, type, body FROM webhook_events ORDER BY created_at, id');
      assert.equal(events().length, 3);
      // 500 phase: at least two attempts of each event (1 s backoff between them).
      await waitFor(() => events().every((e) => R.requests.filter((r) => r.id === e.id).length >= 2), 'two 500 attempts of each event');
      for (const d of q(server, "SELECT * FROM webhook_deliveries WHERE endpoint_id = 'settings'")) {
        assert.equal(d.delivered_at, null);
        assert.equal(d.last_error, 'HTTP 500');
      }
      // Down phase: connections refused; wait for a failed attempt the receiver cannot see.
      R.mode = 'ok';
      await R.down();
      const seen500 = new Map(events().map((e) => [e.id, R.requests.filter((r) => r.id === e.id).length]));
      await waitFor(() => q(server, 'SELECT * FROM webhook_deliveries').every((d) => d.attempts > seen500.get(d.event_id) && d.last_error !== 'HTTP 500'),
        'an attempt against the closed port', { timeoutMs: 20000 });
      for (const d of q(server, 'SELECT * FROM webhook_deliveries')) {
        assert.match(d.last_error, /connect/i, 'a refused connection is recorded as such');
      }
      // Back up.
      await R.up();
      await waitFor(() => count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL') === 0, 'every delivery done', { timeoutMs: 30000 });
      await sleep(1500);
      for (const e of events()) {
        const attempts = R.requests.filter((r) => r.id === e.id);
        const failed = attempts.filter((r) => r.status === 500);
        const ok = attempts.filter((r) => r.status === 200);
        assert.equal(ok.length, 1, `${e.type} ${e.id} delivered exactly once`);
        assert.ok(failed.length >= 2, `${e.id}: the 500 attempts were recorded`);
        assert.deepEqual([...failed, ...ok].map((r) => r.id), attempts.map(() => e.id), 'the same webhook-id on every attempt');
        for (const r of attempts) assert.equal(r.body, e.body, 'the same bytes on every attempt');
        assert.deepEqual(attempts.map((r) => r.status), [...failed.map(() => 500), 200], 'the 500s came first, then the one 200');
        checkEvent(server, ok[0], e.type);
        const d = q1(server, "SELECT * FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = 'settings'", e.id);
        assert.notEqual(d.delivered_at, null);
        assert.equal(d.last_error, null);
        assert.ok(d.attempts >= failed.length + 2, `attempts ${d.attempts}: ${failed.length} answered 500, at least one refused, one delivered`);
        // Backoff doubles: successive 500 attempts of one event are spaced at least ~1 s, then ~2 s.
        const gaps = failed.slice(1).map((r, i) => r.at - failed[i].at);
        if (gaps.length >= 1) assert.ok(gaps[0] >= 500, `first retry after ${gaps[0]} ms`);
        if (gaps.length >= 2) assert.ok(gaps[1] >= 1000, `second retry after ${gaps[1]} ms (2 s backoff)`);
      }
      assert.deepEqual(events().map((e) => e.type).sort(), ['account.created', 'account.created', 'partner.registered']);
      assert.ok(accts.every((a) => R.events.some((r) => JSON.parse(r.body).data.user?.email === a.email)));
    } finally {
      await stopServer(server);
      await R.close();
    }
  });

  test('kill -9 with events queued: after a restart on the same database every event is delivered, none lost, none twice', async () => {
    const secret = newSecret();
    const R = await new Receiver('after-crash', secret).reservePort(); // not listening yet
    const server = await startServer({ extraArgs: ['--webhook-url', R.url, '--webhook-secret', secret, '--webhook-retry-seconds', '1'] });
    try {
      const clientId = await registerClient(server, { name: 'Crash Partner' });
      await unlimited(server, clientId);
      const a = await newAccount(server, { clientId });
      await newAccount(server, { clientId });
      const p = await createResource(server, a.tokens.access_token, { project_id: 'crash', configuration: { project_name: 'Crash' } });
      assert.equal(p.status, 200, p.text);
      const r = await api(server, 'POST', `${P}/resources/${p.json.id}/rotate_credentials`, { body: {}, headers: bearer(a.tokens.access_token) });
      assert.equal(r.status, 200, r.text);
      await cli(server, ['clients', 'disable', clientId]);
      const rows = () => q(server, 'SELECT id, type, body FROM webhook_events ORDER BY created_at, id');
      assert.equal(rows().length, 6);
      // Let the worker fan out and fail at least once against the closed port, then kill it.
      await waitFor(() => count(server, "SELECT COUNT(*) FROM webhook_deliveries WHERE attempts >= 1 AND endpoint_id = 'settings'") === 6, 'a failed attempt of each');
      server.proc.kill('SIGKILL');
      await server._exited;
      server.proc = null;
      assert.equal(R.requests.length, 0);
      const stored = rows();
      await R.up();
      await server.start();
      await waitFor(() => count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL') === 0, 'every delivery done after the restart', { timeoutMs: 30000 });
      await sleep(2000);
      const ids = R.requests.map((x) => x.id);
      assert.equal(new Set(ids).size, ids.length, `no webhook-id delivered twice: ${ids.join(' ')}`);
      assert.deepEqual([...ids].sort(), stored.map((e) => e.id).sort(), 'the set of webhook-ids is the set of webhook_events rows');
      assert.deepEqual(rows(), stored, 'no event added or changed by the restart');
      for (const rec of R.requests) {
        assert.equal(rec.status, 200);
        const e = stored.find((x) => x.id === rec.id);
        assert.equal(rec.body, e.body);
        checkEvent(server, rec, e.type);
      }
      assert.deepEqual(stored.map((e) => e.type).sort(), ['account.created', 'account.created', 'credentials.rotated', 'grant.revoked', 'partner.registered', 'project.created']);
    } finally {
      await stopServer(server);
      await R.close();
    }
  });
});

// =============================================================================================
describe('a rolled-back change sends nothing', () => {
  test('account_requests failing after the event was enqueued (trigger on authorization_codes): error, no user, no event, no webhook; then the same request works', async () => {
    const secret = newSecret();
    const R = await new Receiver('rollback', secret).up();
    const server = await startServer({ extraArgs: ['--webhook-url', R.url, '--webhook-secret', secret, '--webhook-retry-seconds', '1'] });
    try {
      const clientId = await registerClient(server, { name: 'Rollback Partner' });
      await waitFor(() => R.events.length === 1, 'partner.registered');
      const C = cursor(R);
      // A trigger that fails every INSERT INTO authorization_codes (PostgreSQL: a plpgsql function raising).
      writeDb(server, ON_POSTGRES
        ? `CREATE FUNCTION webhooks_test_abort() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'webhooks test: abort'; END $$;
           CREATE TRIGGER webhooks_test_abort BEFORE INSERT ON authorization_codes FOR EACH ROW EXECUTE FUNCTION webhooks_test_abort();`
        : "CREATE TRIGGER webhooks_test_abort BEFORE INSERT ON authorization_codes BEGIN SELECT RAISE(ABORT, 'webhooks test: abort'); END;");
      const email = uniqueEmail('rollback');
      const body = {
        id: `req_${randomUUID()}`, email, name: 'Jane Doe', client_id: clientId,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', configuration: { region: 'US' },
      };
      const eventsBefore = count(server, 'SELECT COUNT(*) FROM webhook_events');
      const failed = await api(server, 'POST', `${P}/account_requests`, { body });
      // docs/openapi.json AccountRequestServerError: 500, the typed envelope, account_creation_failed.
      assert.equal(failed.status, 500, `${failed.status} ${failed.text}`);
      assert.deepEqual(failed.json, { id: body.id, type: 'error', error: { code: 'account_creation_failed', message: 'Failed to create account' } });
      assert.ok(failed.headers['x-request-id'], 'X-Request-Id names the access-log line with the detail');
      assert.doesNotMatch(failed.text, /webhooks test|authorization_codes|trigger/i, 'the SQL detail is not shown to the caller');
      assert.equal(userRow(server, email), undefined, 'no user row');
      assert.equal(count(server, 'SELECT COUNT(*) FROM webhook_events'), eventsBefore, 'no webhook_events row');
      assert.equal(count(server, `SELECT COUNT(*) FROM webhook_events WHERE ${INSTR}(body, ?) > 0`, email), 0);
      assert.equal(count(server, `SELECT COUNT(*) FROM outbox WHERE ${INSTR}(recipient, ?) > 0`, email), 0, 'no welcome email queued');
      assert.equal(count(server, 'SELECT COUNT(*) FROM account_requests WHERE request_id = ?', body.id), 0);
      assert.equal(count(server, `SELECT COUNT(*) FROM organizations WHERE ${INSTR}(name, ?) > 0`, email), 0, 'no organization');
      await C.quiet(3000, 'for the rolled-back account request');

      writeDb(server, ON_POSTGRES
        ? 'DROP TRIGGER webhooks_test_abort ON authorization_codes; DROP FUNCTION webhooks_test_abort();'
        : 'DROP TRIGGER webhooks_test_abort;');
      const from = nowSec();
      const ok = await api(server, 'POST', `${P}/account_requests`, { body });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.type, 'oauth', ok.text);
      const [ev] = await C.next(1, 'account.created after the trigger is gone');
      const data = checkEvent(server, ev, 'account.created', { from });
      assert.deepEqual(data, expectedAccountCreated(server, email, { id: clientId, name: 'Rollback Partner' }));
      await C.quiet(1500, 'beyond that one account.created');
    } finally {
      await stopServer(server);
      await R.close();
    }
  });
});

// =============================================================================================
describe('bad webhook settings: serve refuses to start', () => {
  async function serve(extra, env = {}) {
    const dir = await makeTempDir();
    const port = await freePort();
    const r = await runProcess(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--database', join(dir, 'p.db'), '--outbox-dir', join(dir, 'outbox'), ...extra], { env, timeoutMs: 20000 });
    assert.equal(r.signal, null, `serve exited by itself (not killed after 20 s): ${r.stderr}`);
    assert.notEqual(r.code, 0, `serve ${extra.join(' ')} must fail; stderr: ${r.stderr}`);
    return r;
  }
  const URL_ = 'http://127.0.0.1:9/hooks';
  const TOGETHER = /webhook-url and webhook-secret go together: set both \(the secret as whsec_ followed by base64, e\.g\. from `openssl rand -base64 32`\), or neither/;
  const SECRET_FORM = /webhook-secret must be whsec_ followed by the base64 of 16 to 64 random bytes \(e\.g\. whsec_\$\(openssl rand -base64 32\)\)/;

  test('--webhook-url without --webhook-secret (and the other way round)', async () => {
    assert.match((await serve(['--webhook-url', URL_])).stderr, TOGETHER);
    assert.match((await serve(['--webhook-secret', newSecret()])).stderr, TOGETHER);
    assert.match((await serve([], { PROVISIOND_WEBHOOK_URL: URL_ })).stderr, TOGETHER, 'the same from the environment');
  });

  test('a secret that is not whsec_ + base64 of 16-64 bytes', async () => {
    for (const bad of [
      randomBytes(32).toString('base64'), // no prefix
      'whsec_', // empty
      'whsec_not*base64!at#all', // not base64
      `whsec_${randomBytes(8).toString('base64')}`, // too short
      `whsec_${randomBytes(65).toString('base64')}`, // too long
      `WHSEC_${randomBytes(32).toString('base64')}`,
    ]) {
      const r = await serve(['--webhook-url', URL_, '--webhook-secret', bad]);
      assert.match(r.stderr, SECRET_FORM, `secret ${bad}`);
      assert.ok(!r.stderr.includes(bad.slice(6)) || bad.length <= 6, 'the bad secret is not echoed');
    }
  });

  test('a URL that is not http(s), and a retry base out of range', async () => {
    assert.match((await serve(['--webhook-url', 'ftp://127.0.0.1/x', '--webhook-secret', newSecret()])).stderr, /webhook-url must be an http:\/\/ or https:\/\/ URL/);
    for (const n of ['0', '3601']) {
      assert.match((await serve(['--webhook-url', URL_, '--webhook-secret', newSecret(), '--webhook-retry-seconds', n])).stderr, /webhook-retry-seconds must be 1 to 3600/);
    }
  });

  test('positive control: a good pair starts', async () => {
    const secret = newSecret();
    const server = await startServer({ extraArgs: ['--webhook-url', URL_, '--webhook-secret', secret] });
    await stopServer(server);
  });
});
