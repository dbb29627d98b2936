// Background maintenance (src/maintenance/sweeper.cpp, src/storage/sql_purge_repository.cpp):
// every --maintenance-interval-seconds a pass deletes, in batches of 500, the rows past their
// time — codes, access tokens, pending consents, authorization requests, sessions, deep links,
// reveals and set-password links more than an hour after they expired (refresh tokens an hour
// plus --refresh-grace-seconds), rate-limit windows that started more than two hours ago, emails
// and webhook deliveries delivered more than 7 days ago (and then the webhook events that were
// fanned out before that cutoff and have no delivery left); a token family goes with its last
// token. It logs "maintenance: removed N expired rows from TABLE" and counts
// provisiond_maintenance_purged_rows_total{table}.
//
// One server, --maintenance-interval-seconds 1. Real data through the API (a partner, two
// accounts, a rotated refresh token, a password set in the browser, a pending consent, an
// /oauth/authorize request, a deep link, webhooks delivered to a receiver), then rows written
// straight into the database on both sides of every cutoff. When the sweeper is done, the database
// is compared with what it held plus the rows that were not yet due: EXACTLY the rows past their
// time are gone, everything else (every live row of the flow included) is unchanged, row for row.
// The rows "not yet due" are MARGIN seconds short of their cutoff, so the clock moving on while
// the test runs cannot make them due.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { DatabaseSync } from 'node:sqlite';

import {
  ON_POSTGRES, P, accountRequest, api, bearer, count, createResource, dbExec, exchangeCode, freePort, getResource,
  newAccount, pgInline, pkce, q, q1, refreshGrant, registerClient, setPasswordToken, sleep, startServer, uniqueEmail,
  waitForEmail,
} from './harness.mjs';
import { setPasswordOverHttp, stopServer } from '../e2e/e2e.mjs';

const HOUR = 3600;
const AFTER_EXPIRY = HOUR; // rows stay an hour after they expire
const GRACE = 600; // --refresh-grace-seconds: refresh tokens stay that much longer
const RATE_WINDOW_KEEP = 2 * HOUR;
const DELIVERED_KEEP = 7 * 24 * HOUR;
const MARGIN = 60; // "not yet due" rows are this far short of their cutoff
const REDIRECT = 'https://partner.example/callback';

const nowSec = () => Math.floor(Date.now() / 1000);
const hex = () => randomBytes(32).toString('hex');
const msgId = () => `msg_${randomBytes(40).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 27)}`;

/** Prometheus text → the value of provisiond_maintenance_purged_rows_total per table. */
function purgedCounters(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^provisiond_maintenance_purged_rows_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const table = /table="([^"]*)"/.exec(m[1]);
    assert.ok(table, line);
    out[table[1]] = (out[table[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The JSON log lines' "maintenance: removed N expired rows from TABLE", summed per table. */
function purgedInLogs(stderr) {
  const out = {};
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry;
    try { entry = JSON.parse(line); } catch { continue; }
    const m = /^maintenance: removed (\d+) expired rows from (\w+)$/.exec(entry.message ?? '');
    if (m) out[m[2]] = (out[m[2]] ?? 0) + Number(m[1]);
  }
  return out;
}

/** Every table of the database: {table: [row as JSON, …] sorted}. */
function snapshot(server) {
  const tables = (ON_POSTGRES
    ? q(server, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
    : q(server, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")).map((r) => r.name);
  const out = {};
  for (const t of tables) out[t] = q(server, `SELECT * FROM "${t}"`).map((r) => JSON.stringify(r)).sort();
  return out;
}

/**
 * Runs [sql, params] statements in ONE write transaction from outside the server (the sweeper
 * must never see a part of them): SQLite BEGIN IMMEDIATE; PostgreSQL one psql script.
 */
function writeAtomically(server, statements) {
  if (ON_POSTGRES) {
    const script = ['BEGIN;', ...statements.map(([sql, params]) => `${pgInline(sql, params)};`), 'COMMIT;', ''].join('\n');
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', server.database], { input: script, encoding: 'utf8' });
    assert.equal(r.status, 0, `psql: ${r.stdout}\n${r.stderr}`);
    return;
  }
  const d = new DatabaseSync(server.dbPath, { timeout: 10000 });
  try {
    d.exec('BEGIN IMMEDIATE');
    for (const [sql, params] of statements) d.prepare(sql).run(...params);
    d.exec('COMMIT');
  } catch (e) {
    try { d.exec('ROLLBACK'); } catch { /* not in a transaction */ }
    throw e;
  } finally {
    d.close();
  }
}

/** Poll until check() is truthy (every 100 ms, at most timeoutMs); fail with what() otherwise. */
async function until(check, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------

let server;
let admin;
let receiver;
let hooksReceived = 0;

before(async () => {
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { hooksReceived += 1; res.writeHead(204); res.end(); });
  });
  await new Promise((res) => receiver.listen(0, '127.0.0.1', res));
  admin = await freePort();
  server = await startServer({
    extraArgs: [
      '--maintenance-interval-seconds', '1',
      '--refresh-grace-seconds', String(GRACE),
      '--admin-listen', `127.0.0.1:${admin}`,
      '--webhook-url', `http://127.0.0.1:${receiver.address().port}/hooks`,
      '--webhook-secret', `whsec_${randomBytes(32).toString('base64')}`,
    ],
  });
});
after(async () => {
  await stopServer(server);
  await new Promise((res) => receiver?.close(res));
});

async function scrapePurged() {
  const r = await fetch(`http://127.0.0.1:${admin}/metrics`);
  assert.equal(r.status, 200);
  return purgedCounters(await r.text());
}

describe('background maintenance', () => {
  test('--maintenance-interval-seconds must be at least 1', async () => {
    await assert.rejects(startServer({ extraArgs: ['--maintenance-interval-seconds', '0'] }),
      /maintenance-interval-seconds must be at least 1/);
  });

  test('a pass removes exactly the rows past their time (in batches), counts and logs them; live data and the flow are untouched', async () => {
    // ---- Real data through the API.
    const clientId = await registerClient(server, { redirectUri: REDIRECT });
    const r = await server.cli(['clients', 'set-capability', clientId, 'deep_links', 'on']);
    assert.equal(r.code, 0, r.stderr);
    const a = await newAccount(server, { clientId });
    const project = a.account.available_teams[0].id;
    const resource = await createResource(server, a.tokens.access_token);
    assert.equal(resource.status, 200, resource.text);
    // The password from the welcome email: a used set-password link and a browser session.
    const link = setPasswordToken(server, await waitForEmail(server, a.email));
    assert.ok(link, 'a set-password link in the welcome email');
    await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(link)}`);
    // A rotated refresh token: the old one (rotated) and the live one.
    const rotated = await refreshGrant(server, a.tokens.refresh_token);
    assert.equal(rotated.status, 200, rotated.text);
    const live = rotated.json;
    // A second account whose code is never exchanged (its welcome email holds an unused link).
    const pendingCode = await accountRequest(server, { clientId });
    assert.equal(pendingCode.res.json.type, 'oauth', pendingCode.res.text);
    // A consent waiting in the browser (the account exists).
    const consent = await accountRequest(server, { clientId, email: a.email });
    assert.equal(consent.res.json.type, 'requires_auth', consent.res.text);
    // The standard flow waiting for a login: an authorization request.
    const authorize = await api(server, 'GET', `/oauth/authorize?${new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 'maint-state',
      scope: 'project:read user:read', code_challenge: pkce().challenge, code_challenge_method: 'S256',
    })}`, { apiVersion: false });
    assert.equal(authorize.status, 302, authorize.text);
    // A deep link, not yet used.
    const deep = await api(server, 'POST', `${P}/deep_links`, {
      body: { purpose: 'dashboard', path: '/dashboard' }, headers: bearer(live.access_token),
    });
    assert.equal(deep.status, 200, deep.text);

    // Quiet: every email delivered (its set-password link minted), every event fanned out and
    // delivered, every audit event shipped to the log (the shipper sets logged_at: the password
    // set just above could otherwise be shipped between the snapshot below and the one after).
    await until(() => count(server, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL') === 0
      && count(server, 'SELECT COUNT(*) FROM webhook_events WHERE fanned_out = 0') === 0
      && count(server, 'SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL') === 0
      && count(server, 'SELECT COUNT(*) FROM audit_events WHERE logged_at IS NULL') === 0,
    () => 'the outbox and the webhooks to be delivered, the audit events to be shipped');
    for (const [table, min] of Object.entries({
      authorization_codes: 2, access_tokens: 2, refresh_tokens: 2, pending_consents: 1, authorization_requests: 1,
      sessions: 1, deep_links: 1, password_set_tokens: 2, rate_limit_counters: 1, outbox: 2,
      webhook_events: 1, webhook_deliveries: 1,
    })) {
      assert.ok(count(server, `SELECT COUNT(*) FROM ${table}`) >= min, `the flow left live rows in ${table}`);
    }
    assert.ok(hooksReceived >= 1, 'the receiver got the webhooks');
    assert.deepEqual(await scrapePurged(), {}, 'nothing was due before the test rows were written');
    const before = snapshot(server);

    // ---- Rows on both sides of every cutoff, copied from the real ones where a row needs parents.
    const code = q1(server, 'SELECT * FROM authorization_codes WHERE family_id IS NOT NULL LIMIT 1');
    const family = code.family_id;
    const user = code.user_id;
    const pc = q1(server, 'SELECT * FROM pending_consents LIMIT 1');
    const ar = q1(server, 'SELECT * FROM authorization_requests LIMIT 1');
    const dl = q1(server, 'SELECT * FROM deep_links LIMIT 1');

    const gone = {}; // table → [{key column: value}], rows that must be removed
    const keptRows = {}; // table → [row as JSON], rows that must stay
    const kept = []; // [table, key] of the rows that must stay, read back once written
    const statements = []; // every INSERT, written in one transaction
    const now = nowSec();
    {
      // The primary key of each table written here (the first column, but for the deliveries).
      const keyOf = (table, row) => (table === 'webhook_deliveries'
        ? { event_id: row.event_id, endpoint_id: row.endpoint_id }
        : { [Object.keys(row)[0]]: Object.values(row)[0] });
      const insert = (table, row, due) => {
        const cols = Object.keys(row);
        statements.push([`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
          cols.map((c) => row[c])]);
        const key = keyOf(table, row);
        if (due) (gone[table] ??= []).push(key); else kept.push([table, key]);
      };
      // Each table: one just past its cutoff (due), one MARGIN short of it (stays).
      const expiring = (table, cutoff, make) => {
        insert(table, make(cutoff - 1), true);
        insert(table, make(cutoff + MARGIN), false);
      };
      const expiryCutoff = now - AFTER_EXPIRY;
      expiring('authorization_codes', expiryCutoff, (exp) => ({
        code_hash: hex(), client_id: code.client_id, user_id: user, organization_id: code.organization_id,
        project_id: code.project_id, scopes: code.scopes, code_challenge: code.code_challenge,
        code_challenge_method: 'S256', issued_at: exp - 600, expires_at: exp,
      }));
      // Access tokens: 1201 due (more than two batches of 500), and one that stays.
      for (let i = 0; i < 1201; i++) {
        insert('access_tokens', { token_hash: hex(), family_id: family, created_at: expiryCutoff - 4000 - i, expires_at: expiryCutoff - 1 - i }, true);
      }
      insert('access_tokens', { token_hash: hex(), family_id: family, created_at: expiryCutoff - 3600, expires_at: expiryCutoff + MARGIN }, false);
      // Refresh tokens: the grace is added. One past hour + grace (due); one past the hour but
      // inside the grace (stays: it would be gone if the grace were not added).
      const refresh = (exp, extra = {}) => ({
        token_hash: hex(), family_id: family, access_token_hash: hex(), created_at: exp - 30 * 86400, expires_at: exp, ...extra,
      });
      insert('refresh_tokens', refresh(now - AFTER_EXPIRY - GRACE - 1, { rotated_at: now - 40 * 86400 }), true);
      insert('refresh_tokens', refresh(now - AFTER_EXPIRY - GRACE + MARGIN), false);
      insert('refresh_tokens', refresh(now - AFTER_EXPIRY - 1), false);
      // A family whose every token is due goes with its last token, counted under its own table
      // (the family above keeps its live tokens, and so stays).
      const emptied = { ...q1(server, 'SELECT * FROM token_families WHERE id = ?', family), id: `fam-${hex()}` };
      insert('token_families', emptied, true);
      insert('access_tokens', { token_hash: hex(), family_id: emptied.id, created_at: expiryCutoff - 4000, expires_at: expiryCutoff - 1 }, true);
      insert('refresh_tokens', refresh(now - AFTER_EXPIRY - GRACE - 1, { family_id: emptied.id }), true);
      expiring('pending_consents', expiryCutoff, (exp) => ({
        state_hash: hex(), client_id: pc.client_id, email_normalized: pc.email_normalized, user_id: pc.user_id,
        scopes: pc.scopes, region: pc.region, code_challenge: pc.code_challenge, code_challenge_method: pc.code_challenge_method,
        created_at: exp - 600, expires_at: exp,
      }));
      expiring('authorization_requests', expiryCutoff, (exp) => ({
        state_hash: hex(), client_id: ar.client_id, redirect_uri: ar.redirect_uri, client_state: 'old', scopes: ar.scopes,
        code_challenge: ar.code_challenge, created_at: exp - 600, expires_at: exp,
      }));
      expiring('sessions', expiryCutoff, (exp) => ({
        id_hash: hex(), user_id: user, created_at: exp - 86400, last_seen_at: exp - 3600, expires_at: exp,
      }));
      expiring('deep_links', expiryCutoff, (exp) => ({
        token_hash: hex(), user_id: dl.user_id, client_id: dl.client_id, project_id: dl.project_id, purpose: dl.purpose,
        path: dl.path, created_at: exp - 300, expires_at: exp,
      }));
      expiring('reveals', expiryCutoff, (exp) => ({
        key_hash: hex(), user_id: user, kind: 'personal_api_key', box: 'sealed', expires_at: exp,
      }));
      // Set-password links: a used one and an unused one are due alike.
      insert('password_set_tokens', { token_hash: hex(), user_id: user, created_at: expiryCutoff - 90000, expires_at: expiryCutoff - 1, used_at: expiryCutoff - 80000 }, true);
      expiring('password_set_tokens', expiryCutoff, (exp) => ({
        token_hash: hex(), user_id: user, created_at: exp - 86400, expires_at: exp,
      }));
      // Rate-limit windows: by window_start, two hours.
      expiring('rate_limit_counters', now - RATE_WINDOW_KEEP, (start) => ({
        bucket: `maintenance-test:${randomUUID()}`, window_start: start, count: 7,
      }));
      // Emails: only delivered ones, 7 days after delivery. An undelivered one (in a long
      // backoff, not due for a year) older than that stays.
      const deliveredCutoff = now - DELIVERED_KEEP;
      expiring('outbox', deliveredCutoff, (at) => ({
        id: randomUUID(), kind: 'welcome', recipient: uniqueEmail('old'), subject: 'Welcome', body_text: '',
        created_at: at - 5, attempts: 1, next_attempt_at: at - 5, delivered_at: at,
      }));
      insert('outbox', {
        id: randomUUID(), kind: 'welcome', recipient: uniqueEmail('stuck'), subject: 'Welcome', body_text: 'never sent',
        created_at: now - 30 * 86400, attempts: 12, next_attempt_at: now + 365 * 86400, delivered_at: null, last_error: 'HTTP 550',
      }, false);
      // Webhooks. Old events (8 days), all fanned out:
      //  e1: its one delivery delivered 7 days + 1 s ago → the delivery and then the event go;
      //  e2: one delivery as old (goes), one delivered MARGIN short of the cutoff (stays) → e2 stays;
      //  e3: its delivery never succeeded (not due again for a year) → both stay;
      //  e4: fanned out to no endpoint at all → no delivery left: goes;
      //  e5: as e4, but created MARGIN short of the cutoff → stays.
      const event = (createdAt, due) => {
        const id = msgId();
        insert('webhook_events', { id, type: 'account.created', body: JSON.stringify({ id }), created_at: createdAt, fanned_out: 1 }, due);
        return id;
      };
      const delivery = (eventId, deliveredAt, due) => insert('webhook_deliveries', {
        event_id: eventId, endpoint_id: `ep_${randomBytes(11).toString('hex')}`, attempts: 1,
        next_attempt_at: deliveredAt === null ? now + 365 * 86400 : deliveredAt - 1, delivered_at: deliveredAt,
        last_error: deliveredAt === null ? 'HTTP 500' : null,
      }, due);
      const old = now - 8 * 86400;
      const e1 = event(old, true);
      delivery(e1, deliveredCutoff - 1, true);
      const e2 = event(old, false);
      delivery(e2, deliveredCutoff - 1, true);
      delivery(e2, deliveredCutoff + MARGIN, false);
      const e3 = event(old, false);
      delivery(e3, null, false);
      event(old, true); // e4
      event(deliveredCutoff + MARGIN, false); // e5
    }
    writeAtomically(server, statements);
    // The rows that stay, as the database holds them (defaults filled in): not due, so still there.
    for (const [table, key] of kept) {
      const back = q(server, `SELECT * FROM ${table} WHERE ${Object.keys(key).map((c) => `${c} = ?`).join(' AND ')}`,
        ...Object.values(key));
      assert.equal(back.length, 1);
      (keptRows[table] ??= []).push(JSON.stringify(back[0]));
    }

    // ---- The sweeper removes what is due.
    const present = () => {
      const left = [];
      for (const [table, keys] of Object.entries(gone)) {
        // The key columns of every row of the table (one query per table), then each due key.
        const cols = Object.keys(keys[0]);
        const stored = new Set(q(server, `SELECT ${cols.join(', ')} FROM ${table}`).map((r) => JSON.stringify(cols.map((c) => r[c]))));
        for (const k of keys) {
          if (stored.has(JSON.stringify(cols.map((c) => k[c])))) left.push(`${table} ${JSON.stringify(k).slice(0, 40)}`);
        }
      }
      return left;
    };
    await until(() => present().length === 0, () => `the due rows to be purged; still there: ${present().slice(0, 20).join(', ')} (${present().length})`);
    // One more whole pass with everything else still in place: a code due now goes in a pass that
    // starts after it was written, and the pass logs once it went through every table.
    const sentinel = hex();
    dbExec(server, `INSERT INTO authorization_codes (code_hash, client_id, user_id, organization_id, project_id, scopes,
      code_challenge, code_challenge_method, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'S256', ?, ?)`,
    sentinel, code.client_id, user, code.organization_id, code.project_id, code.scopes, code.code_challenge,
    now - AFTER_EXPIRY - 700, now - AFTER_EXPIRY - 100);
    await until(() => (purgedInLogs(server.stderr()).authorization_codes ?? 0) === 2,
      () => `the pass that removes the second due code to finish; logged: ${JSON.stringify(purgedInLogs(server.stderr()))}`);
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE code_hash = ?', sentinel), 0);

    // ---- Exactly the due rows are gone; every other row is as it was, row for row.
    const expected = {};
    for (const [table, rows] of Object.entries(before)) {
      expected[table] = [...rows, ...(keptRows[table] ?? [])].sort();
    }
    const afterSweep = snapshot(server);
    assert.deepEqual(Object.keys(afterSweep), Object.keys(expected), 'the same tables');
    for (const table of Object.keys(expected)) {
      assert.deepEqual(afterSweep[table], expected[table], `${table}: the rows not past their time, and only those`);
    }
    assert.ok(nowSec() - now < MARGIN, `the test took ${nowSec() - now} s; rows MARGIN (${MARGIN} s) short of their cutoff may have become due`);

    // ---- Counted and logged per table.
    const removed = {
      authorization_codes: 2, // one past its cutoff, and the one written after the first pass
      access_tokens: 1202,
      refresh_tokens: 2,
      token_families: 1, // the family whose last tokens went
      pending_consents: 1,
      authorization_requests: 1,
      sessions: 1,
      deep_links: 1,
      reveals: 1,
      password_set_tokens: 2,
      rate_limit_counters: 1,
      outbox: 1,
      webhook_deliveries: 2,
      webhook_events: 2, // the events that went with them (e1, e4), counted under their own table
    };
    assert.deepEqual(await scrapePurged(), removed, 'provisiond_maintenance_purged_rows_total{table}');
    assert.deepEqual(purgedInLogs(server.stderr()), removed, '"maintenance: removed N expired rows from TABLE"');
    assert.doesNotMatch(server.stderr(), /maintenance: purging \w+ failed/);
    // 1202 access tokens took three batches: at least one pass removed more than 500.
    const accessLines = server.stderr().split('\n').map((l) => /maintenance: removed (\d+) expired rows from access_tokens/.exec(l)).filter(Boolean);
    assert.ok(accessLines.some((m) => Number(m[1]) > 500), `access tokens removed in one pass, several batches: ${accessLines.map((m) => m[1])}`);

    // ---- The flow still works.
    const rf = await refreshGrant(server, live.refresh_token);
    assert.equal(rf.status, 200, `the live refresh token after the sweep: ${rf.text}`);
    assert.equal((await getResource(server, rf.json.access_token, project)).status, 200);
    assert.equal((await getResource(server, rf.json.access_token, resource.json.id)).status, 200);
    const ex = await exchangeCode(server, pendingCode.res.json.oauth.code, pendingCode.verifier);
    assert.equal(ex.status, 200, `the code issued before the sweep: ${ex.text}`);
    const fresh = await newAccount(server, { clientId, email: uniqueEmail('after-sweep') });
    const created = await createResource(server, fresh.tokens.access_token);
    assert.equal(created.status, 200, created.text);
  });
});

describe('background maintenance without webhook endpoints', () => {
  let plain;
  after(async () => { await stopServer(plain); });

  test('events fanned out to no endpoint go 7 days after they were created, as those whose deliveries went', async () => {
    // No --webhook-url and no `webhooks add`: every event is still written with its change and
    // fanned out to nobody, so it never has a delivery row.
    plain = await startServer({ extraArgs: ['--maintenance-interval-seconds', '1'] });
    const clientId = await registerClient(plain);
    await newAccount(plain, { clientId });
    await until(() => count(plain, 'SELECT COUNT(*) FROM webhook_events WHERE fanned_out = 0') === 0
      && count(plain, 'SELECT COUNT(*) FROM webhook_events') >= 1, () => 'the events of the flow to be fanned out');
    assert.equal(count(plain, 'SELECT COUNT(*) FROM webhook_deliveries'), 0, 'no endpoint: no delivery');
    const real = q1(plain, "SELECT * FROM webhook_events WHERE type = 'account.created'");
    assert.ok(real, 'the account.created event of the flow');
    const code = q1(plain, 'SELECT * FROM authorization_codes LIMIT 1');

    const now = nowSec();
    const cutoff = now - DELIVERED_KEEP;
    const oldId = msgId();
    const recentId = msgId();
    const sentinel = hex();
    const ev = 'INSERT INTO webhook_events (id, type, body, created_at, fanned_out) VALUES (?, ?, ?, ?, 1)';
    writeAtomically(plain, [
      [ev, [oldId, real.type, real.body, cutoff - 1]], // as the real one, 7 days + 1 s later
      [ev, [recentId, real.type, real.body, cutoff + MARGIN]],
      // A code due now: the pass that removes it went through every table (it logs at its end).
      [`INSERT INTO authorization_codes (code_hash, client_id, user_id, organization_id, project_id, scopes,
        code_challenge, code_challenge_method, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'S256', ?, ?)`,
      [sentinel, code.client_id, code.user_id, code.organization_id, code.project_id, code.scopes, code.code_challenge,
        now - AFTER_EXPIRY - 700, now - AFTER_EXPIRY - 100]],
    ]);
    await until(() => (purgedInLogs(plain.stderr()).authorization_codes ?? 0) === 1,
      () => `a pass after the rows were written; logged: ${JSON.stringify(purgedInLogs(plain.stderr()))}`);
    assert.equal(count(plain, 'SELECT COUNT(*) FROM webhook_events WHERE id = ?', recentId), 1, 'an event younger than 7 days stays');
    assert.equal(count(plain, 'SELECT COUNT(*) FROM webhook_events WHERE id = ?', real.id), 1, 'the live event stays');
    assert.equal(count(plain, 'SELECT COUNT(*) FROM webhook_events WHERE id = ?', oldId), 0,
      'an event fanned out more than 7 days ago with no delivery row is removed (else, without webhook endpoints, webhook_events only grows)');
  });
});

describe('migration 0017_empty_token_families', () => {
  test('removes the families an earlier purge left with no token, and only those', async () => {
    const s = await startServer();
    let stopped = false;
    try {
      const clientId = await registerClient(s);
      const a = await newAccount(s, { clientId });
      const live = q1(s, 'SELECT * FROM token_families');
      assert.ok(live, 'the family of the new account');
      await s.stop();
      stopped = true;

      // As a purge before 0017 left it: a family whose tokens are all gone.
      const orphan = { ...live, id: `fam-${hex()}` };
      const cols = Object.keys(orphan);
      dbExec(s, `INSERT INTO token_families (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
        ...cols.map((c) => orphan[c]));
      dbExec(s, 'DELETE FROM schema_migrations WHERE version >= 17');
      const r = await s.cli(['migrate']);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /applied 0017_empty_token_families/);
      assert.equal(count(s, 'SELECT COUNT(*) FROM token_families WHERE id = ?', orphan.id), 0, 'the emptied family is gone');
      assert.deepEqual(q(s, 'SELECT id FROM token_families'), [{ id: live.id }], 'the family with tokens stays');

      await s.startOnNewPort();
      stopped = false;
      const rotated = await refreshGrant(s, a.tokens.refresh_token);
      assert.equal(rotated.status, 200, `the live family still rotates: ${rotated.text}`);
    } finally {
      if (!stopped) await s.stop();
    }
  });
});

describe('migration 0018_room_for_updates', () => {
  // The tables whose rows the token flow updates; on PostgreSQL their pages keep 30 % free so
  // that those updates stay on the row's page (HOT: no new index entries).
  const UPDATED = ['access_tokens', 'authorization_codes', 'refresh_tokens'];
  const storage = (s) => (ON_POSTGRES
    ? q(s, `SELECT relname AS table, reloptions::text AS options FROM pg_class
            WHERE relkind = 'r' AND relname IN (${UPDATED.map((t) => `'${t}'`).join(', ')}) ORDER BY relname`)
    : q(s, `SELECT name, sql FROM sqlite_schema WHERE tbl_name IN (${UPDATED.map((t) => `'${t}'`).join(', ')})
            ORDER BY name`));

  test('on PostgreSQL leaves room for updates (on SQLite changes nothing), and the flow goes on', async () => {
    const s = await startServer();
    let stopped = false;
    try {
      const clientId = await registerClient(s);
      const a = await newAccount(s, { clientId });
      const migrated = storage(s);
      if (ON_POSTGRES) {
        assert.deepEqual(migrated, UPDATED.map((table) => ({ table, options: '{fillfactor=70}' })));
      }
      await s.stop();
      stopped = true;

      // As before 0018: the tables' default storage, the migration not applied.
      if (ON_POSTGRES) dbExec(s, UPDATED.map((t) => `ALTER TABLE ${t} RESET (fillfactor)`).join('; '));
      dbExec(s, 'DELETE FROM schema_migrations WHERE version >= 18');
      if (ON_POSTGRES) {
        assert.deepEqual(storage(s), UPDATED.map((table) => ({ table, options: null })), 'reset to the default');
      }
      const r = await s.cli(['migrate']);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^applied 0018_room_for_updates$/m);
      assert.deepEqual(storage(s), migrated, 'the same storage as a database migrated from scratch');
      assert.equal(count(s, 'SELECT COUNT(*) FROM refresh_tokens'), 1, 'no row lost');

      await s.startOnNewPort();
      stopped = false;
      const rotated = await refreshGrant(s, a.tokens.refresh_token);
      assert.equal(rotated.status, 200, `the refresh token still rotates: ${rotated.text}`);
      const fresh = await newAccount(s, { clientId });
      assert.equal(fresh.tokens.token_type, 'bearer', 'a new code still exchanges');
    } finally {
      if (!stopped) await s.stop();
    }
  });
});
