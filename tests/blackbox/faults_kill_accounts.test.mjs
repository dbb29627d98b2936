// A process killed (kill -9) in the middle of a burst of new accounts (their codes and welcome
// emails) while another serves the same database.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import {
  ON_POSTGRES, P, api, count, dbExec, emails, exchangeCode, getResource, isAddressedTo, pkce, q, q1,
  registerClient, sha256hex, sleep, startServer, uniqueEmail,
} from './harness.mjs';
import { unlimited, isConnectionError, assertNoHalfAccount } from './faults.mjs';

const BACKEND = ON_POSTGRES ? 'PostgreSQL' : 'SQLite';

// A burst of new accounts at two processes, one of them killed in the middle; every acknowledged
// account is whole and its email goes out (a second time only if the killed process had sent it
// and died before recording so); re-sending every request (same id, same body) never makes a
// second user.

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
  test('every acknowledged account is stored whole with its code, its welcome email is sent (a second time only if the killed process sent it unrecorded), and re-sending every request creates no second user', { timeout: 170000 }, async (t) => {
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
      // Sent 2 ms apart, as the token burst of faults_kill_tokens.test.mjs and for the same reason.
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

      // 3. Every welcome email is sent, and sent twice only when the killed process wrote it and
      //    died before recording so: at least once, never twice while processes live
      //    (docs/ARCHITECTURE.md). So one .eml per recipient across the outbox directories of B and
      //    A2, at most one in A's (killed), the same message (name: created_at and id) when there
      //    are two; one delivered outbox row each.
      const moved = await waitOutboxDelivered(A2, { timeoutMs: 60000 });
      t.diagnostic(`outbox claims left by the killed process and moved to now: ${moved}`);
      await sleep(1500); // a duplicate send would land now
      const atKilled = await emails(A);
      const atLive = (await Promise.all([B, A2].map((s) => emails(s)))).flat();
      let sentAgain = 0;
      for (const job of jobs) {
        const { email } = job.body;
        const killedCopies = atKilled.filter((m) => isAddressedTo(m, email));
        const liveCopies = atLive.filter((m) => isAddressedTo(m, email));
        const names = [...killedCopies, ...liveCopies].map((m) => m.file);
        assert.ok(killedCopies.length + liveCopies.length >= 1, `${email}: no .eml file in any outbox directory`);
        assert.ok(killedCopies.length <= 1 && liveCopies.length <= 1, `${email}: ${names.length} .eml files (${names})`);
        if (killedCopies.length === 1 && liveCopies.length === 1) {
          assert.equal(liveCopies[0].file, killedCopies[0].file, `${email}: a second copy is the same message`);
          sentAgain++;
        }
        assert.equal(count(A2, 'SELECT COUNT(*) FROM outbox WHERE recipient LIKE ?', `%${email}%`), 1, `${email}: one welcome email queued`);
      }
      t.diagnostic(`sent again: ${sentAgain} (written by the killed process, which died before recording it)`);
      assert.ok(sentAgain <= moved, `${sentAgain} sent again, but only ${moved} claims of the killed process were left`);
      assert.equal(atKilled.length + atLive.length - sentAgain, count(A2, 'SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL'),
        'one file per delivered message, and one more per message sent again');

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
