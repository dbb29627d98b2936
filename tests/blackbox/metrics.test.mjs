// The admin listener (--admin-listen; src/app/admin_listener.cpp): /metrics in the Prometheus
// text format (prometheus-cpp), /_health and /_ready, off the public port. Counters move with
// the traffic this test sends: requests by route and status, token grants and their outcomes, a
// code replay and the family it revoked, account requests by outcome, a 429 of the partner
// limit, storage transactions, the outbox.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, TOKEN_PATH, accountRequest, api, exchangeCode, freePort, newAccount, registerClient, setLimit,
  startServer, uniqueEmail,
} from './harness.mjs';

/** Prometheus text format 0.0.4 → [{name, labels, value}], with # HELP/# TYPE checked. */
function parseExposition(text) {
  const samples = [];
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
      types.set(name, type);
      continue;
    }
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels = {};
    if (m[3]) {
      for (const pair of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    }
    const value = Number(m[4]);
    assert.ok(!Number.isNaN(value) || m[4] === 'NaN', line);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

function value(exposition, name, labels = {}) {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

let server;
let admin;
const scrape = async () => {
  const r = await fetch(`http://127.0.0.1:${admin}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parseExposition(await r.text());
};

before(async () => {
  admin = await freePort();
  server = await startServer({ extraArgs: ['--admin-listen', `127.0.0.1:${admin}`] });
});
after(async () => { await server?.stop(); });

describe('admin listener', () => {
  test('/_health and /_ready answer there; /metrics is not on the public port', async () => {
    const h = await fetch(`http://127.0.0.1:${admin}/_health`);
    assert.deepEqual([h.status, await h.json()], [200, { status: 'ok' }]);
    const ready = await fetch(`http://127.0.0.1:${admin}/_ready`);
    assert.deepEqual([ready.status, await ready.json()], [200, { status: 'ready' }]);
    const pub = await api(server, 'GET', '/metrics');
    assert.equal(pub.status, 404);
    const first = await scrape();
    // A family appears once it has a sample: these have some from the server's first steps.
    assert.equal(first.types.get('provisiond_http_requests_total'), 'counter');
    assert.equal(first.types.get('provisiond_http_request_duration_seconds'), 'histogram');
    assert.equal(first.types.get('provisiond_storage_transaction_seconds'), 'histogram');
    assert.equal(first.types.get('provisiond_outbox_depth'), 'gauge');
    assert.equal(first.types.get('provisiond_http_connections_open'), 'gauge');
  });

  test('counters move with the traffic: requests, grants, a code replay, account requests, a 429', async () => {
    const before = await scrape();
    const clientId = await registerClient(server);
    const acct = await newAccount(server, { clientId, email: uniqueEmail('metrics') });
    // The same code again: a replay, which revokes the family it produced.
    const replay = await exchangeCode(server, acct.code, acct.verifier);
    assert.equal(replay.status, 400, replay.text);
    // A refused grant type, and a partner over its limit.
    const bad = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'password' }, apiVersion: false });
    assert.equal(bad.status, 400);
    const limited = await registerClient(server);
    await setLimit(server, limited, 'account_requests', 0);
    const refused = await accountRequest(server, { clientId: limited });
    assert.equal(refused.res.status, 429, refused.res.text);
    const after = await scrape();
    for (const name of ['provisiond_token_grants_total', 'provisiond_code_replays_total', 'provisiond_family_revocations_total',
      'provisiond_account_requests_total', 'provisiond_rate_limit_rejections_total']) {
      assert.equal(after.types.get(name), 'counter', name);
    }
    const delta = (name, labels) => value(after, name, labels) - value(before, name, labels);

    assert.equal(delta('provisiond_http_requests_total', { route: `${P}/account_requests`, method: 'POST', status: '200' }), 1);
    assert.equal(delta('provisiond_http_requests_total', { route: `${P}/account_requests`, method: 'POST', status: '429' }), 1);
    assert.equal(delta('provisiond_http_requests_total', { route: TOKEN_PATH, method: 'POST', status: '200' }), 1);
    assert.equal(delta('provisiond_http_requests_total', { route: TOKEN_PATH, method: 'POST', status: '400' }), 2);
    assert.equal(delta('provisiond_token_grants_total', { grant_type: 'authorization_code', outcome: 'issued' }), 1);
    assert.equal(delta('provisiond_token_grants_total', { grant_type: 'authorization_code', outcome: 'invalid_grant' }), 1);
    assert.equal(delta('provisiond_code_replays_total'), 1);
    assert.equal(delta('provisiond_family_revocations_total', { reason: 'code_replayed' }), 1);
    assert.equal(delta('provisiond_account_requests_total', { outcome: 'new' }), 1);
    assert.equal(delta('provisiond_account_requests_total', { outcome: 'rate_limited' }), 1);
    assert.equal(delta('provisiond_rate_limit_rejections_total', { endpoint: 'account_requests' }), 1);
    // Each request was timed, and the storage work behind it too.
    assert.ok(delta('provisiond_http_request_duration_seconds_count', { route: TOKEN_PATH }) >= 3);
    assert.ok(delta('provisiond_storage_transaction_seconds_count', { mode: 'write' }) >= 3);
    assert.ok(delta('provisiond_storage_pool_wait_seconds_count') >= 3);
  });

  test('the outbox: the welcome email is delivered and counted; the depth falls back to 0', async () => {
    const clientId = await registerClient(server);
    await newAccount(server, { clientId, email: uniqueEmail('outbox') });
    const deadline = Date.now() + 10000;
    let exposition;
    for (;;) {
      exposition = await scrape();
      if (value(exposition, 'provisiond_outbox_delivery_attempts_total', { outcome: 'delivered' }) >= 1 &&
          value(exposition, 'provisiond_outbox_depth') === 0) break;
      assert.ok(Date.now() < deadline, 'the welcome email is delivered within 10 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(value(exposition, 'provisiond_outbox_oldest_undelivered_age_seconds'), 0);
  });

  test('--admin-listen off: no admin port; a taken port stops the server with a message', async () => {
    const off = await startServer({ extraArgs: ['--admin-listen', 'off'] });
    assert.doesNotMatch(off.stderr(), /admin listener on/);
    await off.stop();
    await assert.rejects(startServer({ extraArgs: ['--admin-listen', `127.0.0.1:${admin}`] }),
      /admin listener: .*set --admin-listen to a free address, or off/);
  });
});
