// Faults: a process killed (kill -9) in the middle of a burst of token requests while another
// serves the same database; the PostgreSQL server gone and back while provisiond runs.
//
// The SQLite case "another process holds an exclusive lock on the database file → 503 with
// Retry-After, detail in the access log" is http_hardening.test.mjs ("a 5xx leaves its detail in
// the log"); it is not repeated here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  ON_POSTGRES, accountRequest, api, bearer, count, createResource, exchangeCode, getResource,
  newAccount, q, q1, refreshGrant, registerClient, setLimit, sha256hex, sleep, startServer,
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

      // The burst: 52 token requests at once, alternately at A and B. A is killed as its 2nd
      // answer arrives, so most of its requests are still in flight.
      const jobs = [...codes, ...holders].sort(() => Math.random() - 0.5).map((job, i) => ({ ...job, at: i % 2 ? 'B' : 'A' }));
      let answeredByA = 0;
      let killed = false;
      const outcomes = await Promise.all(jobs.map(async (job) => {
        const target = job.at === 'A' ? A : B;
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
// PostgreSQL down and back. The cluster is this file's own (tests/pg/cluster.sh in a temp dir):
// pausing the suite's shared cluster would take down the test files running beside this one.

function clusterSh(cmd, dir) {
  const r = spawnSync('bash', [CLUSTER_SH, cmd, dir], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`cluster.sh ${cmd} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** The typed 503 of account_requests, the OAuth 503 of the token endpoint, the status 503 of resources. */
const UNAVAILABLE = 'The service is temporarily unavailable; retry shortly';

async function timed(fn) {
  const t0 = Date.now();
  const res = await fn();
  return { res, ms: Date.now() - t0 };
}

describe('PostgreSQL stops and starts again under a running server', () => {
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

  test('API requests answer 503 with Retry-After at once, /_health stays 200, /_ready 503; after the restart the same server serves again', {
    skip: ON_POSTGRES ? false : 'PostgreSQL only: SQLite has no server to stop (its locked-file 503 is in http_hardening.test.mjs)',
    timeout: 150000,
  }, async (t) => {
    const url = clusterSh('start', pgDir);
    const dbName = `fault_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const made = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', `${url}/postgres`, '-c', `CREATE DATABASE ${dbName}`], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const server = await startServer({ database: `${url}/${dbName}` });
    let stopped = false;
    try {
      const clientId = await registerClient(server);
      await unlimited(server, clientId);
      const before = await newAccount(server, { clientId });
      const project = before.account.available_teams[0].id;
      const unexchanged = await accountRequest(server, { clientId });
      assert.equal(unexchanged.res.status, 200, unexchanged.res.text);

      clusterSh('pause', pgDir);
      let slowest = 0;
      for (let round = 0; round < 3; round++) {
        const ar = await timed(() => accountRequest(server, { clientId, id: `req-down-${round}` }).then((x) => x.res));
        assert.equal(ar.res.status, 503, `account_requests while the database is down: ${ar.res.text}`);
        assert.deepEqual(ar.res.json, { id: `req-down-${round}`, type: 'error', error: { code: 'service_unavailable', message: UNAVAILABLE } });
        assert.equal(ar.res.headers['retry-after'], '5');
        assert.ok(ar.ms < 10000, `answered in ${ar.ms} ms`);

        const tok = await timed(() => refreshGrant(server, before.tokens.refresh_token));
        assert.equal(tok.res.status, 503, `token endpoint while the database is down: ${tok.res.text}`);
        assert.deepEqual(tok.res.json, { error: 'service_unavailable', error_description: UNAVAILABLE });
        assert.equal(tok.res.headers['retry-after'], '5');
        assert.equal(tok.res.headers['cache-control'], 'no-store');
        assert.ok(tok.ms < 10000, `answered in ${tok.ms} ms`);

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
        assert.ok(g.ms < 10000, `answered in ${g.ms} ms`);

        const health = await api(server, 'GET', '/_health', { apiVersion: false, timeoutMs: 10000 });
        assert.deepEqual([health.status, health.json], [200, { status: 'ok' }], '/_health is liveness: the process is fine');
        const ready = await timed(() => api(server, 'GET', '/_ready', { apiVersion: false, timeoutMs: 15000 }));
        assert.equal(ready.res.status, 503, ready.res.text);
        assert.deepEqual(ready.res.json, { status: 'unavailable', error: { code: 'storage_unavailable', message: 'The database does not answer' } });
        assert.ok(ready.ms < 10000, `/_ready answered in ${ready.ms} ms`);
        slowest = Math.max(slowest, ar.ms, tok.ms, code.ms, g.ms, ready.ms);
      }
      t.diagnostic(`while down: the slowest answer took ${slowest} ms`);
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

      // Nothing was stored by the refused requests (checked once the database is back).
      clusterSh('resume', pgDir);
      const deadline = Date.now() + 30000;
      let last;
      for (;;) {
        last = await api(server, 'GET', '/_ready', { apiVersion: false, timeoutMs: 15000 });
        if (last.status === 200) break;
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
      assert.equal(count(server, "SELECT COUNT(*) FROM account_requests WHERE request_id LIKE 'req-down-%'"), 0, 'nothing stored while down');

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
      if (!stopped) server.kill();
    }
  });
});

