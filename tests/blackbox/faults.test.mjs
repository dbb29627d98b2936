// Faults: a process killed (kill -9) in the middle of a burst of token requests, and of a burst of
// new accounts (their codes and welcome emails), while another serves the same database; the
// PostgreSQL server gone and back under load while provisiond runs.
//
// The SQLite case "another process holds an exclusive lock on the database file → 503 with
// Retry-After, detail in the access log" is http_hardening.test.mjs ("a 5xx leaves its detail in
// the log"); it is not repeated here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  ON_POSTGRES, P, accountRequest, api, bearer, count, createResource, dbExec, emails, exchangeCode, getResource,
  isAddressedTo, newAccount, pkce, q, q1, refreshGrant, registerClient, setLimit, sha256hex, sleep, startServer,
  uniqueEmail,
} from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLUSTER_SH = join(HERE, '../pg/cluster.sh');
const BACKEND = ON_POSTGRES ? 'PostgreSQL' : 'SQLite';
const CODE_REPLAYED = 'Authorization code was already used; tokens issued from it have been revoked';
const INTROSPECTION_TOKEN = `introspection-${randomBytes(16).toString('hex')}`;

async function unlimited(server, clientId) {
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
}

function introspect(server, token) {
  return api(server, 'POST', '/oauth/introspect', { form: { token }, apiVersion: false, headers: bearer(INTROSPECTION_TOKEN) });
}

/** A connection error (the process died under the request), as opposed to an HTTP answer. */
const isConnectionError = (e) => e && /ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/.test(`${e.code} ${e.message}`);

// =============================================================================================
describe(`kill -9 in the middle of a burst of token requests (${BACKEND})`, () => {
  test('every acknowledged token stays valid, every acknowledged exchange stays consumed, the database stays consistent', { timeout: 150000 }, async (t) => {
    const args = ['--introspection-token', INTROSPECTION_TOKEN];
    const A = await startServer({ extraArgs: args });
    const B = await startServer({ extraArgs: args, database: A.database });
    let A2;
    try {
      const clientId = await registerClient(B);
      await unlimited(B, clientId);

      // Prepared before the burst (at B): 40 unexchanged codes and 12 accounts holding tokens.
      const codes = [];
      for (let i = 0; i < 40; i++) {
        const a = await accountRequest(B, { clientId });
        assert.equal(a.res.status, 200, a.res.text);
        codes.push({ kind: 'code', code: a.res.json.oauth.code, verifier: a.verifier });
      }
      const holders = [];
      for (let i = 0; i < 12; i++) {
        const a = await newAccount(B, { clientId });
        holders.push({ kind: 'refresh', refresh: a.tokens.refresh_token, project: a.account.available_teams[0].id });
      }
      const projectOfCode = new Map();

      // The burst: 52 token requests, alternately at A and B, sent 2 ms apart. A is killed as its
      // 2nd answer arrives, so most of its requests are still in flight or not yet sent. (Sent
      // all at once, they could share one group commit at A and be answered together before
      // the kill lands.)
      const jobs = [...codes, ...holders].sort(() => Math.random() - 0.5).map((job, i) => ({ ...job, at: i % 2 ? 'B' : 'A' }));
      let answeredByA = 0;
      let killed = false;
      const outcomes = await Promise.all(jobs.map(async (job, i) => {
        const target = job.at === 'A' ? A : B;
        await sleep(2 * i);
        try {
          const res = job.kind === 'code'
            ? await exchangeCode(target, job.code, job.verifier)
            : await refreshGrant(target, job.refresh);
          if (job.at === 'A' && ++answeredByA === 2) {
            killed = true;
            A.proc.kill('SIGKILL');
          }
          return { job, res };
        } catch (e) {
          if (!isConnectionError(e)) throw e;
          return { job, error: e };
        }
      }));
      assert.ok(killed, 'A was killed during the burst');
      A.kill();

      const atA = outcomes.filter((o) => o.job.at === 'A');
      const atB = outcomes.filter((o) => o.job.at === 'B');
      const unanswered = atA.filter((o) => o.error);
      t.diagnostic(`A answered ${atA.length - unanswered.length} of ${atA.length} before dying; B answered ${atB.filter((o) => o.res).length} of ${atB.length}`);
      assert.ok(unanswered.length > 0, 'the kill came in the middle of the burst: some requests at A were never answered');
      // B went on serving through the death of A: every request there was answered 200.
      for (const o of atB) {
        assert.ok(o.res, `B: ${o.error?.message}`);
        assert.equal(o.res.status, 200, `B: ${o.res.text}`);
      }
      // Whatever A answered before dying, it answered properly.
      for (const o of atA.filter((x) => x.res)) assert.equal(o.res.status, 200, `A: ${o.res.text}`);
      const acknowledged = outcomes.filter((o) => o.res && o.res.status === 200);
      for (const o of acknowledged) {
        if (o.job.kind === 'code') projectOfCode.set(o.job.code, o.res.json.account.available_teams[0].id);
      }

      // Restart the killed process on the same database: it starts cleanly.
      A2 = await startServer({ extraArgs: args, database: A.database });

      // 1. The stored state is all-or-nothing for every code of the burst: consumed with one
      //    family holding one access and one refresh token, or untouched.
      for (const job of codes) {
        const row = q1(A2, 'SELECT consumed_at, family_id FROM authorization_codes WHERE code_hash = ?', sha256hex(job.code));
        assert.ok(row, 'the code row is there');
        const o = outcomes.find((x) => x.job.code === job.code);
        if (o.res) assert.notEqual(row.consumed_at, null, 'an acknowledged exchange is stored');
        if (row.consumed_at === null) {
          assert.equal(row.family_id, null, 'an unconsumed code has no family');
          continue;
        }
        assert.notEqual(row.family_id, null);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM access_tokens WHERE family_id = ?', row.family_id), 1, 'one access token per consumed code');
        assert.equal(count(A2, 'SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ?', row.family_id), 1, 'one refresh token per consumed code');
        job.consumed = true;
      }
      const lostButStored = codes.filter((job) => job.consumed && !outcomes.find((x) => x.job.code === job.code).res).length;
      t.diagnostic(`codes: ${codes.filter((job) => outcomes.find((x) => x.job.code === job.code).res).length} acknowledged, ` +
        `${lostButStored} exchanged without an answer, ${codes.filter((job) => !job.consumed).length} untouched`);
      for (const h of holders) {
        const o = outcomes.find((x) => x.job.refresh === h.refresh);
        const row = q1(A2, 'SELECT rotated_at, family_id FROM refresh_tokens WHERE token_hash = ?', sha256hex(h.refresh));
        if (o.res) assert.notEqual(row.rotated_at, null, 'an acknowledged rotation is stored');
        const children = count(A2, 'SELECT COUNT(*) FROM refresh_tokens WHERE parent_hash = ?', sha256hex(h.refresh));
        assert.equal(children, row.rotated_at === null ? 0 : 1, 'a rotation is stored with its child, or not at all');
      }

      // 2. Every token acknowledged before the kill works, at the restarted process and at B.
      let i = 0;
      for (const o of acknowledged) {
        const s = i++ % 2 ? B : A2;
        const project = o.job.kind === 'code' ? projectOfCode.get(o.job.code) : o.job.project;
        const g = await getResource(s, o.res.json.access_token, project);
        assert.equal(g.status, 200, `an access token acknowledged by ${o.job.at} before the kill: ${g.text}`);
        for (const token of [o.res.json.access_token, o.res.json.refresh_token]) {
          const r = await introspect(s, token);
          assert.equal(r.status, 200, r.text);
          assert.equal(r.json.active, true, `introspection of a token acknowledged by ${o.job.at}: ${r.text}`);
        }
      }
      // … and a refresh token acknowledged before the kill refreshes.
      for (const o of acknowledged.filter((x) => x.job.kind === 'refresh')) {
        const r = await refreshGrant(A2, o.res.json.refresh_token);
        assert.equal(r.status, 200, r.text);
      }

      // 3. Every code acknowledged as exchanged stays consumed; an unanswered one is exactly as
      //    the database says: exchanged → 400, untouched → 200 now.
      for (const job of codes) {
        const o = outcomes.find((x) => x.job.code === job.code);
        const r = await exchangeCode(i++ % 2 ? B : A2, job.code, job.verifier);
        if (o.res || job.consumed) {
          assert.deepEqual([r.status, r.json], [400, { error: 'invalid_grant', error_description: CODE_REPLAYED }], r.text);
        } else {
          assert.equal(r.status, 200, `an exchange that never committed left the code usable: ${r.text}`);
        }
      }

      // 4. The database passes its own checks.
      if (ON_POSTGRES) {
        assert.equal(count(A2, 'SELECT COUNT(*) FROM pg_index WHERE NOT indisvalid'), 0, 'no invalid index');
      } else {
        assert.deepEqual(q(A2, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
        assert.deepEqual(q(A2, 'PRAGMA foreign_key_check'), []);
      }
      assert.equal(count(A2, `SELECT COUNT(*) FROM access_tokens a LEFT JOIN token_families f ON f.id = a.family_id WHERE f.id IS NULL`), 0, 'no orphan access token');
      assert.equal(count(A2, `SELECT COUNT(*) FROM authorization_codes WHERE consumed_at IS NOT NULL AND family_id IS NULL`), 0, 'no consumed code without its family');

      // The restarted process serves a whole new flow.
      const fresh = await newAccount(A2, { clientId });
      assert.equal((await createResource(B, fresh.tokens.access_token)).status, 200);
    } finally {
      A.kill();
      await A2?.stop();
      await B.stop();
    }
  });
});

// =============================================================================================
// The same for account requests and their welcome emails: a burst of new accounts at two
// processes, one of them killed in the middle; every acknowledged account is whole and its email
// goes out exactly once; re-sending every request (same id, same body) never makes a second user.

/** A claim on an outbox row lasts 6 minutes (docs/STORAGE.md): claim_due sets next_attempt_at to claim time + 360 s. */
const OUTBOX_CLAIM_SECONDS = 360;

/**
 * Wait (up to timeoutMs) until every outbox row of the database is delivered. The only rows that
 * may wait longer are the ones the killed process had claimed and never sent: their claim lapses
 * after 6 minutes. The test stands in for the clock there: a claim that has stood for over 20 s
 * with no attempt recorded (a live worker sends its batch in well under a second) is moved to
 * now, exactly what the clock would do, so a surviving worker picks the message up. Returns how
 * many claims were moved.
 */
async function waitOutboxDelivered(s, { timeoutMs = 60000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let moved = 0;
  for (;;) {
    const now = Math.floor(Date.now() / 1000);
    const pending = q(s, 'SELECT id, attempts, next_attempt_at, last_error FROM outbox WHERE delivered_at IS NULL');
    if (pending.length === 0) return moved;
    for (const row of pending) {
      assert.equal(row.last_error, null, `an outbox row failed to send: ${JSON.stringify(row)}`);
      const at = Number(row.next_attempt_at);
      if (Number(row.attempts) === 0 && at > now && at < now + OUTBOX_CLAIM_SECONDS - 20) {
        dbExec(s, 'UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND next_attempt_at = ? AND delivered_at IS NULL', now, row.id, at);
        moved++;
      }
    }
    assert.ok(Date.now() < deadline, `outbox rows still undelivered after ${timeoutMs} ms: ${JSON.stringify(pending)}`);
    await sleep(250);
  }
}

describe(`kill -9 in the middle of a burst of account requests (${BACKEND})`, () => {
  test('every acknowledged account is stored whole with its code, its welcome email is sent exactly once, and re-sending every request creates no second user', { timeout: 170000 }, async (t) => {
    const A = await startServer();
    const B = await startServer({ database: A.database });
    let A2;
    try {
      const clientId = await registerClient(B);
      await unlimited(B, clientId);

      // 40 new accounts at once, alternately at A and B, each with its own email and request id.
      // A is killed as its 3rd answer arrives, so most of its requests are still in flight.
      const jobs = Array.from({ length: 40 }, (_, i) => {
        const pair = pkce();
        const body = {
          id: `req-kill-${randomUUID()}`,
          email: uniqueEmail('kill'),
          name: 'Jane Doe',
          client_id: clientId,
          code_challenge: pair.challenge,
          code_challenge_method: 'S256',
          configuration: { region: 'US' },
        };
        return { body, verifier: pair.verifier, at: i % 2 ? 'B' : 'A' };
      });
      const send = (server, body) => api(server, 'POST', `${P}/account_requests`, { body });
      let answeredByA = 0;
      let killed = false;
      // Sent 2 ms apart, as the token burst above and for the same reason.
      const outcomes = await Promise.all(jobs.map(async (job, i) => {
        await sleep(2 * i);
        try {
          const res = await send(job.at === 'A' ? A : B, job.body);
          if (job.at === 'A' && ++answeredByA === 3) {
            killed = true;
            A.proc.kill('SIGKILL');
          }
          return { job, res };
        } catch (e) {
          if (!isConnectionError(e)) throw e;
          return { job, error: e };
        }
      }));
      assert.ok(killed, 'A was killed during the burst');
      A.kill();

      const atA = outcomes.filter((o) => o.job.at === 'A');
      const atB = outcomes.filter((o) => o.job.at === 'B');
      const unanswered = outcomes.filter((o) => o.error);
      t.diagnostic(`A answered ${atA.length - unanswered.length} of ${atA.length} before dying; B answered ${atB.filter((o) => o.res).length} of ${atB.length}`);
      assert.ok(unanswered.length > 0, 'the kill came in the middle of the burst: some requests at A were never answered');
      for (const o of atB) assert.ok(o.res, `B: ${o.error?.message}`);
      for (const o of outcomes.filter((x) => x.res)) {
        assert.equal(o.res.status, 200, `${o.job.at}: ${o.res.text}`);
        assert.deepEqual(Object.keys(o.res.json).sort(), ['id', 'oauth', 'type'], o.res.text);
        assert.equal(o.res.json.type, 'oauth', o.res.text);
        assert.equal(o.res.json.id, o.job.body.id);
      }
      const acknowledged = outcomes.filter((o) => o.res);

      // Restart the killed process on the same database (an outbox directory of its own).
      A2 = await startServer({ database: A.database });

      // 1. Every acknowledged account request is stored whole: its user (one), organization,
      //    project and code; an unanswered one is all there or not at all.
      const stored = new Map();
      for (const o of outcomes) {
        const { email, id } = o.job.body;
        const users = q(A2, 'SELECT id FROM users WHERE email_normalized = ?', email);
        const reqRow = q1(A2, 'SELECT outcome, user_id, organization_id, project_id, code_hash FROM account_requests WHERE client_id = ? AND request_id = ?', clientId, id);
        if (!o.res && users.length === 0) {
          assert.equal(reqRow, undefined, `${email}: an account request without its user`);
          continue;
        }
        assert.equal(users.length, 1, `${email}: ${o.res ? 'an acknowledged account is stored' : 'one user'}`);
        assert.ok(reqRow, `${email}: the account request is recorded with its user`);
        assert.equal(reqRow.outcome, 'oauth');
        assert.equal(reqRow.user_id, users[0].id);
        const orgs = q(A2, 'SELECT organization_id FROM memberships WHERE user_id = ?', users[0].id);
        assert.deepEqual(orgs.map((x) => x.organization_id), [reqRow.organization_id], `${email}: one organization, the recorded one`);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM organizations WHERE id = ?', reqRow.organization_id), 1);
        const projects = q(A2, 'SELECT id FROM projects WHERE organization_id = ?', reqRow.organization_id);
        assert.deepEqual(projects.map((x) => Number(x.id)), [Number(reqRow.project_id)], `${email}: one project, the recorded one`);
        const codeHash = o.res ? sha256hex(o.res.json.oauth.code) : reqRow.code_hash;
        if (o.res) assert.equal(reqRow.code_hash, codeHash, `${email}: the acknowledged code is the recorded one`);
        const code = q1(A2, 'SELECT user_id, organization_id, project_id, consumed_at, family_id FROM authorization_codes WHERE code_hash = ?', codeHash);
        assert.ok(code, `${email}: the ${o.res ? 'acknowledged' : 'recorded'} code is stored`);
        assert.deepEqual({ ...code, project_id: Number(code.project_id) },
          { user_id: users[0].id, organization_id: reqRow.organization_id, project_id: Number(reqRow.project_id), consumed_at: null, family_id: null }, email);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM outbox WHERE user_id = ?', users[0].id), 1, `${email}: its welcome email is queued`);
        stored.set(email, { userId: users[0].id, organizationId: reqRow.organization_id, projectId: Number(reqRow.project_id) });
      }
      t.diagnostic(`accounts: ${acknowledged.length} acknowledged, ${stored.size - acknowledged.length} stored without an answer, ${outcomes.length - stored.size} never stored`);

      // 2. Every request sent again (same id, same body) to the surviving process: the same answer
      //    (oauth, the same id, a fresh code for the same account) and never a second user.
      const again = await Promise.all(jobs.map((job) => send(B, job.body)));
      for (const [i, r] of again.entries()) {
        const { email, id } = jobs[i].body;
        assert.equal(r.status, 200, `${email} sent again: ${r.text}`);
        assert.deepEqual(Object.keys(r.json).sort(), ['id', 'oauth', 'type'], r.text);
        assert.equal(r.json.type, 'oauth', r.text);
        assert.equal(r.json.id, id);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1, `${email}: one user`);
        const user = q1(A2, 'SELECT id FROM users WHERE email_normalized = ?', email);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM memberships WHERE user_id = ?', user.id), 1, `${email}: one organization`);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM account_requests WHERE client_id = ? AND request_id = ?', clientId, id), 1);
        if (stored.has(email)) assert.equal(user.id, stored.get(email).userId, `${email}: the same user as before`);
      }
      // The fresh codes are for the same accounts: exchanged at either process.
      for (const [i, r] of again.entries()) {
        const { email } = jobs[i].body;
        const tok = await exchangeCode(i % 2 ? B : A2, r.json.oauth.code, jobs[i].verifier);
        assert.equal(tok.status, 200, `${email}: ${tok.text}`);
        if (stored.has(email)) {
          const was = stored.get(email);
          assert.equal(tok.json.account.id, was.organizationId, `${email}: the same organization`);
          assert.deepEqual(tok.json.account.available_teams.map((x) => x.id), [was.projectId], `${email}: the same project`);
        }
        const g = await getResource(i % 2 ? A2 : B, tok.json.access_token, tok.json.account.available_teams[0].id);
        assert.equal(g.status, 200, g.text);
      }

      // 3. Every welcome email is sent exactly once: one .eml per recipient across the outbox
      //    directories of A (killed), B and A2, and one delivered outbox row each.
      const moved = await waitOutboxDelivered(A2, { timeoutMs: 60000 });
      t.diagnostic(`outbox claims left by the killed process and moved to now: ${moved}`);
      await sleep(1500); // a duplicate send would land now
      const files = (await Promise.all([A, B, A2].map((s) => emails(s)))).flat();
      for (const job of jobs) {
        const { email } = job.body;
        const mine = files.filter((m) => isAddressedTo(m, email));
        assert.equal(mine.length, 1, `${email}: ${mine.length} .eml files across the outbox directories (${mine.map((m) => m.file)})`);
        assert.equal(count(A2, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ?', `%${email}%`), 1, `${email}: one welcome email queued`);
      }
      assert.equal(files.length, count(A2, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL'), 'one file per delivered message');

      // 4. The database passes its own checks; no account is half there.
      if (ON_POSTGRES) {
        assert.equal(count(A2, 'SELECT COUNT(*) FROM pg_index WHERE NOT indisvalid'), 0, 'no invalid index');
      } else {
        assert.deepEqual(q(A2, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
        assert.deepEqual(q(A2, 'PRAGMA foreign_key_check'), []);
      }
      assertNoHalfAccount(A2);
    } finally {
      A.kill();
      await A2?.stop();
      await B.stop();
    }
  });
});

/** No account is half stored: every user has one organization with a project, every recorded request its user, organization, project and code, every consumed code its whole family. */
function assertNoHalfAccount(s) {
  assert.equal(count(s, 'SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)'), 0, 'a user without an organization');
  assert.equal(count(s, 'SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.organization_id = o.id)'), 0, 'an organization without a project');
  assert.equal(count(s, 'SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id)'), 0, 'an organization without a member');
  assert.equal(count(s, 'SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.user_id = u.id)'), 0, 'a user without a welcome email');
  assert.equal(count(s, `SELECT COUNT(*) FROM account_requests a WHERE a.outcome = 'oauth' AND (
      NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)
      OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = a.user_id AND m.organization_id = a.organization_id)
      OR NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = a.project_id AND p.organization_id = a.organization_id)
      OR NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.code_hash = a.code_hash AND c.user_id = a.user_id))`), 0,
  'an account request without its user, organization, project or code');
  assert.equal(count(s, 'SELECT COUNT(*) FROM authorization_codes WHERE consumed_at IS NULL AND family_id IS NOT NULL'), 0, 'an unconsumed code with a family');
  assert.equal(count(s, `SELECT COUNT(*) FROM authorization_codes c WHERE c.consumed_at IS NOT NULL AND (
      NOT EXISTS (SELECT 1 FROM token_families f WHERE f.id = c.family_id)
      OR NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = c.family_id)
      OR NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = c.family_id))`), 0, 'a consumed code without its whole family');
  assert.equal(count(s, 'SELECT COUNT(*) FROM token_families f WHERE NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.family_id = f.id)'), 0, 'a family without its code');
  assert.equal(count(s, 'SELECT COUNT(*) FROM access_tokens a WHERE NOT EXISTS (SELECT 1 FROM token_families f WHERE f.id = a.family_id)'), 0, 'an orphan access token');
  assert.equal(count(s, 'SELECT COUNT(*) FROM refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM token_families f WHERE f.id = r.family_id)'), 0, 'an orphan refresh token');
}

// =============================================================================================
// PostgreSQL down and back, under load. The cluster is this file's own (tests/pg/cluster.sh in a
// temp dir): pausing the suite's shared cluster would take down the test files running beside
// this one.

function clusterSh(cmd, dir) {
  const r = spawnSync('bash', [CLUSTER_SH, cmd, dir], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`cluster.sh ${cmd} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** cluster.sh without blocking the event loop: the load keeps sending while PostgreSQL stops and starts. */
function clusterShAsync(cmd, dir) {
  return new Promise((res, rej) => {
    const child = spawn('bash', [CLUSTER_SH, cmd, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', (e) => { clearTimeout(timer); rej(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) rej(new Error(`cluster.sh ${cmd} failed (${code}): ${err}`)); else res(out.trim());
    });
  });
}

/** The typed 503 of account_requests, the OAuth 503 of the token endpoint, the status 503 of resources. */
const UNAVAILABLE = 'The service is temporarily unavailable; retry shortly';
/** No request may take longer than this, down or up (the harness gives up on one at 30 s). */
const DEADLINE_MS = 15000;

async function timed(fn) {
  const t0 = Date.now();
  const res = await fn();
  return { res, ms: Date.now() - t0 };
}

/**
 * Concurrent workers, each in a loop of account_requests → token → resources (create, then read)
 * until stopped. Every answer is recorded with the phase it was sent in and how long it took; a
 * request that got no HTTP answer is recorded with its error. Checked once the load is stopped.
 */
class Load {
  constructor(server, clientId, workers) {
    this.server = server;
    this.clientId = clientId;
    this.phase = 'before';
    this.stopped = false;
    this.records = [];
    this.chains = Array.from({ length: workers }, () => []); // phases of each worker's complete chains
    this.done = Promise.all(this.chains.map((_, w) => this.worker(w)));
  }

  async call(w, op, fn) {
    const phase = this.phase;
    const t0 = Date.now();
    try {
      const res = await fn();
      const rec = { w, op, phase, ms: Date.now() - t0, status: res.status, json: res.json, text: res.text, headers: res.headers };
      this.records.push(rec);
      return rec;
    } catch (e) {
      this.records.push({ w, op, phase, ms: Date.now() - t0, error: String(e && e.message) });
      return null;
    }
  }

  async worker(w) {
    for (let n = 0; !this.stopped; n++) {
      const phase = this.phase;
      const id = `req-load-${w}-${n}`;
      const pair = pkce();
      const ar = await this.call(w, 'account_requests', () => accountRequest(this.server, { clientId: this.clientId, id, pkcePair: pair }).then((x) => x.res));
      let complete = false;
      if (ar?.status === 200 && ar.json?.type === 'oauth') {
        const tok = await this.call(w, 'token', () => exchangeCode(this.server, ar.json.oauth.code, pair.verifier));
        if (tok?.status === 200) {
          const made = await this.call(w, 'resources create', () => createResource(this.server, tok.json.access_token));
          if (made?.status === 200) {
            const got = await this.call(w, 'resources get', () => getResource(this.server, tok.json.access_token, made.json.id));
            complete = got?.status === 200;
          }
        }
      }
      if (complete) this.chains[w].push(phase);
      await sleep(complete ? 20 : 100); // a 503 is not retried at once
    }
  }

  /** Wait until every worker has completed a whole chain sent in `phase`. */
  async completedIn(phase, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!this.chains.every((c) => c.includes(phase))) {
      assert.ok(Date.now() < deadline, `not every worker completed a whole flow in phase ${phase} within ${timeoutMs} ms: ` +
        `${this.chains.map((c) => c.filter((p) => p === phase).length)}; last answers: ${this.records.slice(-8).map((r) => `${r.op} ${r.status ?? r.error}`).join(' | ')}`);
      await sleep(100);
    }
  }

  /** Wait until every worker has had a 503 for a request sent in `phase`. */
  async refusedIn(phase, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const refused = () => this.chains.map((_, w) => this.records.some((r) => r.w === w && r.phase === phase && r.status === 503));
    while (!refused().every(Boolean)) {
      assert.ok(Date.now() < deadline, `not every worker met a 503 in phase ${phase} within ${timeoutMs} ms: ${refused()}; ` +
        `last answers: ${this.records.slice(-8).map((r) => `${r.op} ${r.status ?? r.error}`).join(' | ')}`);
      await sleep(100);
    }
  }

  async stop() {
    this.stopped = true;
    await this.done;
  }

  /** Every answer: 200, or exactly the documented 503 with Retry-After: 5; none over the deadline. */
  check() {
    for (const r of this.records) {
      const what = `${r.op} (${r.phase}, ${r.ms} ms)`;
      assert.equal(r.error, undefined, `${what}: no HTTP answer: ${r.error}`);
      assert.ok(r.ms < DEADLINE_MS, `${what}: answered after ${r.ms} ms, over the ${DEADLINE_MS} ms deadline`);
      assert.ok(r.status === 200 || r.status === 503, `${what}: ${r.status} ${r.text}`);
      if (r.op === 'token') assert.equal(r.headers['cache-control'], 'no-store', what);
      if (r.status === 200) {
        if (r.op === 'account_requests') assert.equal(r.json.type, 'oauth', `${what}: ${r.text}`);
        continue;
      }
      assert.equal(r.headers['retry-after'], '5', `${what}: Retry-After`);
      if (r.op === 'account_requests') {
        assert.deepEqual(r.json, { id: r.json?.id, type: 'error', error: { code: 'service_unavailable', message: UNAVAILABLE } }, `${what}: ${r.text}`);
        assert.match(r.json.id, /^req-load-\d+-\d+$/, `${what}: ${r.text}`);
      } else if (r.op === 'token') {
        assert.deepEqual(r.json, { error: 'service_unavailable', error_description: UNAVAILABLE }, `${what}: ${r.text}`);
      } else {
        assert.deepEqual(Object.keys(r.json ?? {}).sort(), ['error', 'id', 'status'], `${what}: ${r.text}`);
        assert.equal(r.json.status, 'error', `${what}: ${r.text}`);
        assert.equal(typeof r.json.id, 'string', `${what}: ${r.text}`);
        assert.deepEqual(r.json.error, { code: 'service_unavailable', message: UNAVAILABLE }, `${what}: ${r.text}`);
      }
    }
  }

  summary() {
    const by = {};
    for (const r of this.records) {
      const k = `${r.phase} ${r.status ?? 'error'}`;
      by[k] = (by[k] ?? 0) + 1;
    }
    const slowest = Math.max(0, ...this.records.map((r) => r.ms));
    return `${this.records.length} requests (${Object.entries(by).map(([k, v]) => `${k}: ${v}`).join(', ')}); the slowest took ${slowest} ms`;
  }
}

describe('PostgreSQL stops and starts again under a running server, under load', () => {
  let pgDir = null;
  before(() => {
    if (!ON_POSTGRES) return;
    pgDir = mkdtempSync('/tmp/provisiond-pgfault-');
    process.on('exit', () => { if (pgDir) spawnSync('bash', [CLUSTER_SH, 'stop', pgDir]); });
  });
  after(() => {
    if (pgDir) clusterSh('stop', pgDir);
    pgDir = null;
  });

  test('with 8 clients looping over account_requests, token and resources: every answer 200 or 503 service_unavailable with Retry-After, none past the deadline; /_health 200 and /_ready 503 while down; afterwards the same server serves fully and no account is half stored', {
    skip: ON_POSTGRES ? false : 'PostgreSQL only: SQLite has no server to stop (its locked-file 503 is in http_hardening.test.mjs)',
    timeout: 170000,
  }, async (t) => {
    const url = clusterSh('start', pgDir);
    const dbName = `fault_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const made = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', `${url}/postgres`, '-c', `CREATE DATABASE ${dbName}`], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const server = await startServer({ database: `${url}/${dbName}` });
    let stopped = false;
    let load = null;
    try {
      const clientId = await registerClient(server);
      await unlimited(server, clientId);
      const before = await newAccount(server, { clientId });
      const project = before.account.available_teams[0].id;
      const unexchanged = await accountRequest(server, { clientId });
      assert.equal(unexchanged.res.status, 200, unexchanged.res.text);

      // The load runs from here until full service is back; every worker serves whole flows first.
      load = new Load(server, clientId, 8);
      await load.completedIn('before', 60000);

      load.phase = 'down';
      await clusterShAsync('pause', pgDir);
      const pausedAt = Date.now();
      await load.refusedIn('down', 30000); // every worker runs into the outage
      let slowest = 0;
      for (let round = 0; round < 3; round++) {
        const ar = await timed(() => accountRequest(server, { clientId, id: `req-down-${round}` }).then((x) => x.res));
        assert.equal(ar.res.status, 503, `account_requests while the database is down: ${ar.res.text}`);
        assert.deepEqual(ar.res.json, { id: `req-down-${round}`, type: 'error', error: { code: 'service_unavailable', message: UNAVAILABLE } });
        assert.equal(ar.res.headers['retry-after'], '5');

        const tok = await timed(() => refreshGrant(server, before.tokens.refresh_token));
        assert.equal(tok.res.status, 503, `token endpoint while the database is down: ${tok.res.text}`);
        assert.deepEqual(tok.res.json, { error: 'service_unavailable', error_description: UNAVAILABLE });
        assert.equal(tok.res.headers['retry-after'], '5');
        assert.equal(tok.res.headers['cache-control'], 'no-store');

        const code = await timed(() => exchangeCode(server, unexchanged.res.json.oauth.code, unexchanged.verifier));
        assert.equal(code.res.status, 503, code.res.text);
        assert.deepEqual(code.res.json, { error: 'service_unavailable', error_description: UNAVAILABLE });
        assert.equal(code.res.headers['retry-after'], '5');

        const g = await timed(() => getResource(server, before.tokens.access_token, project));
        assert.equal(g.res.status, 503, `resources while the database is down (not 401: the token is not known to be bad): ${g.res.text}`);
        assert.equal(g.res.json.status, 'error', g.res.text);
        assert.deepEqual(g.res.json.error, { code: 'service_unavailable', message: UNAVAILABLE });
        assert.ok(['', String(project)].includes(g.res.json.id), g.res.text);
        assert.equal(g.res.headers['retry-after'], '5');

        const health = await api(server, 'GET', '/_health', { apiVersion: false, timeoutMs: 10000 });
        assert.deepEqual([health.status, health.json], [200, { status: 'ok' }], '/_health is liveness: the process is fine');
        const ready = await timed(() => api(server, 'GET', '/_ready', { apiVersion: false, timeoutMs: 30000 }));
        assert.equal(ready.res.status, 503, ready.res.text);
        assert.deepEqual(ready.res.json, { status: 'unavailable', error: { code: 'storage_unavailable', message: 'The database does not answer' } });
        for (const [what, x] of Object.entries({ account_requests: ar, token: tok, code, resources: g, '/_ready': ready })) {
          assert.ok(x.ms < DEADLINE_MS, `${what} while down answered in ${x.ms} ms, over the ${DEADLINE_MS} ms deadline`);
          slowest = Math.max(slowest, x.ms);
        }
      }
      t.diagnostic(`while down: the test's own slowest answer took ${slowest} ms`);
      // The 503's detail is in the access log, found by its request id; never in the answer.
      const down = await accountRequest(server, { clientId });
      assert.equal(down.res.status, 503, down.res.text);
      const rid = down.res.headers['x-request-id'];
      let line;
      for (let i = 0; i < 50 && !line; i++) {
        line = server.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return null; } })
          .find((l) => l && l.request_id === rid);
        if (!line) await sleep(50);
      }
      assert.ok(line, `an access-log line for ${rid}`);
      assert.equal(line.status, 503);
      assert.equal(typeof line.error_detail, 'string', JSON.stringify(line));
      assert.ok(line.error_detail.length > 0);
      assert.ok(server.running, 'the server is still running');

      // Back up after at least 5 s of outage under load: /_ready says so, and the API serves
      // again, on the same process.
      await sleep(Math.max(0, pausedAt + 5000 - Date.now()));
      load.phase = 'resuming';
      await clusterShAsync('resume', pgDir);
      const deadline = Date.now() + 30000;
      let last;
      for (;;) {
        last = await api(server, 'GET', '/_ready', { apiVersion: false, timeoutMs: 30000 });
        if (last.status === 200) break;
        assert.equal(last.status, 503, last.text);
        assert.ok(Date.now() < deadline, `/_ready still ${last.status} 30 s after the database came back: ${last.text}`);
        await sleep(250);
      }
      assert.deepEqual(last.json, { status: 'ready' });
      // A pooled connection that died with the old server may cost one more 503: poll the API too.
      const resumedAt = Date.now();
      let after503 = 0;
      for (;; after503++) {
        last = await getResource(server, before.tokens.access_token, project);
        if (last.status === 200) break;
        assert.equal(last.status, 503, `only 503 while reconnecting: ${last.text}`);
        assert.ok(Date.now() < deadline, `resources still 503 30 s after the database came back: ${last.text}`);
        await sleep(250);
      }
      t.diagnostic(`after the restart: ${after503} more 503 from resources, serving again ${Date.now() - resumedAt} ms after /_ready`);
      // Full service under the same load: every worker completes whole flows again.
      load.phase = 'after';
      await load.completedIn('after', 30000);
      await load.stop();
      t.diagnostic(`load: ${load.summary()}`);
      load.check();
      for (const r of load.records.filter((x) => x.phase === 'after')) {
        assert.equal(r.status, 200, `full service after the restart: ${r.op} ${r.status} ${r.text}`);
      }
      const ready = await api(server, 'GET', '/_ready', { apiVersion: false });
      assert.deepEqual([ready.status, ready.json], [200, { status: 'ready' }]);

      // Nothing was stored by the refused requests, and nothing is half stored.
      assert.equal(count(server, "SELECT COUNT(*) FROM account_requests WHERE request_id LIKE 'req-down-%'"), 0, 'nothing stored while down');
      assertNoHalfAccount(server);
      const answered = load.records.filter((r) => r.op === 'account_requests' && r.status === 200).length;
      assert.ok(count(server, "SELECT COUNT(*) FROM account_requests WHERE request_id LIKE 'req-load-%'") >= answered,
        'every acknowledged account request of the load is stored');
      for (const r of load.records.filter((x) => x.op === 'account_requests' && x.status === 200)) {
        assert.equal(count(server, 'SELECT COUNT(*) FROM account_requests WHERE client_id = ? AND request_id = ? AND code_hash = ?',
          clientId, r.json.id, sha256hex(r.json.oauth.code)), 1, `acknowledged ${r.json.id} is stored with its code`);
      }

      // The whole flow works again, on the same process; and what was issued before still works.
      const after = await newAccount(server, { clientId });
      const created = await createResource(server, after.tokens.access_token);
      assert.equal(created.status, 200, created.text);
      const got = await getResource(server, after.tokens.access_token, created.json.id);
      assert.equal(got.status, 200, got.text);
      const rf = await refreshGrant(server, before.tokens.refresh_token);
      assert.equal(rf.status, 200, `the refresh token from before the outage: ${rf.text}`);
      const ex = await exchangeCode(server, unexchanged.res.json.oauth.code, unexchanged.verifier);
      assert.equal(ex.status, 200, `the code from before the outage was not spent by the refused exchanges: ${ex.text}`);

      stopped = true;
      await server.stop(); // exit 0, every log line JSON
    } finally {
      if (load && !load.stopped) { load.stopped = true; await load.done.catch(() => {}); }
      if (!stopped) server.kill();
    }
  });
});
