// A process killed (kill -9) in the middle of a burst of token requests while another serves the
// same database: every acknowledged token stays valid, every acknowledged exchange consumed.
// The other faults: faults_kill_accounts.test.mjs (a burst of new accounts) and
// faults_pg_restart.test.mjs (the PostgreSQL server gone and back under load).
//
// The SQLite case "another process holds an exclusive lock on the database file → 503 with
// Retry-After, detail in the access log" is http_hardening.test.mjs ("a 5xx leaves its detail in
// the log"); it is not repeated here.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import {
  ON_POSTGRES, accountRequest, api, bearer, count, createResource, exchangeCode, getResource, newAccount, q,
  q1, refreshGrant, registerClient, sha256hex, sleep, startServer,
} from './harness.mjs';
import { unlimited, isConnectionError } from './faults.mjs';

const BACKEND = ON_POSTGRES ? 'PostgreSQL' : 'SQLite';
const CODE_REPLAYED = 'Authorization code was already used; tokens issued from it have been revoked';
const INTROSPECTION_TOKEN = `introspection-${randomBytes(16).toString('hex')}`;

function introspect(server, token) {
  return api(server, 'POST', '/oauth/introspect', { form: { token }, apiVersion: false, headers: bearer(INTROSPECTION_TOKEN) });
}

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
