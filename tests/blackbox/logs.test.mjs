// The logs (src/app/logging.hpp): with the default --log-format json every line on stderr is one
// JSON object of one schema — time (ISO-8601 UTC), level, log ("app" | "access"), message — and a
// request's line adds request_id, method, route, path, status, duration_ms (a number), remote and
// the partner's client_id when the request named one. No line holds a secret. --log-format text
// is one readable line per event, for a terminal.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  P, TOKEN_PATH, api, bearer, createResource, newAccount, registerClient, setLimit, startServer,
  uniqueEmail,
} from './harness.mjs';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LEVELS = new Set(['trace', 'debug', 'info', 'warning', 'error', 'critical']);

function parsedLines(stderr) {
  return stderr.split('\n').filter((l) => l.length > 0).map((line) => {
    let entry;
    try { entry = JSON.parse(line); } catch { assert.fail(`a log line that is not JSON: ${line}`); }
    assert.equal(typeof entry, 'object', line);
    assert.match(entry.time, ISO, line);
    assert.ok(LEVELS.has(entry.level), `level ${entry.level}: ${line}`);
    assert.ok(entry.log === 'app' || entry.log === 'access', line);
    assert.equal(typeof entry.message, 'string', line);
    return entry;
  });
}

describe('--log-format json (the default)', () => {
  const servers = [];
  after(async () => { for (const s of servers) await s.stop().catch(() => {}); });

  test('every line of a run is one JSON object; requests carry route, status, duration and client_id; no secret appears', async () => {
    const server = await startServer();
    servers.push(server);
    const clientId = await registerClient(server);
    const acct = await newAccount(server, { clientId, email: uniqueEmail('logs') });
    const created = await createResource(server, acct.tokens.access_token);
    assert.equal(created.status, 200, created.text);
    // A refusal, an unknown path, a page, and a 429.
    const bad = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: 'password', client_id: clientId }, apiVersion: false });
    assert.equal(bad.status, 400);
    const missing = await api(server, 'GET', '/no/such/path');
    assert.equal(missing.status, 404);
    const page = await api(server, 'GET', '/login');
    assert.equal(page.status, 200);
    const limited = await registerClient(server);
    await setLimit(server, limited, 'account_requests', 0);
    const refused = await api(server, 'POST', `${P}/account_requests`, { body: { id: 'x', email: uniqueEmail('l'), client_id: limited } });
    assert.equal(refused.status, 429, refused.text);
    await server.stop();
    servers.pop();

    const stderr = server.stderr();
    const lines = parsedLines(stderr);
    const app = lines.filter((l) => l.log === 'app');
    assert.ok(app.some((l) => /listening on 127\.0\.0\.1:\d+/.test(l.message)), 'the start line');
    assert.ok(app.some((l) => l.message === 'stopped'), 'the stop line');

    const access = lines.filter((l) => l.log === 'access');
    for (const l of access) {
      assert.equal(l.message, 'request');
      assert.equal(typeof l.request_id, 'string');
      assert.equal(typeof l.status, 'number');
      assert.equal(typeof l.duration_ms, 'number');
      assert.ok(l.duration_ms >= 0);
      assert.equal(typeof l.route, 'string');
      assert.equal(l.remote, '127.0.0.1');
    }
    const one = (method, path) => {
      const found = access.filter((l) => l.method === method && l.path === path);
      assert.ok(found.length >= 1, `an access line for ${method} ${path}`);
      return found;
    };
    const ar = one('POST', `${P}/account_requests`).find((l) => l.status === 200);
    assert.deepEqual([ar.route, ar.client_id], [`${P}/account_requests`, clientId]);
    const tok = one('POST', TOKEN_PATH).find((l) => l.status === 200);
    assert.equal(tok.route, TOKEN_PATH);
    const badLine = one('POST', TOKEN_PATH).find((l) => l.status === 400);
    assert.deepEqual([badLine.error, badLine.client_id], ['unsupported_grant_type', clientId]);
    const res = one('POST', `${P}/resources`)[0];
    assert.equal(res.route, `${P}/resources`);
    const nf = one('GET', '/no/such/path')[0];
    assert.deepEqual([nf.status, nf.route], [404, '']);
    const limitedLine = one('POST', `${P}/account_requests`).find((l) => l.status === 429);
    assert.deepEqual([limitedLine.client_id, limitedLine.error], [limited, 'rate_limited']);

    // Never a secret: not the code, the verifier, the tokens, the keys.
    for (const secret of [acct.code, acct.verifier, acct.tokens.access_token, acct.tokens.refresh_token,
      created.json.complete.access_configuration.personal_api_key]) {
      assert.ok(secret && !stderr.includes(secret), `a secret in the log: ${String(secret).slice(0, 8)}…`);
    }
  });
});

describe('--log-format text', () => {
  test('one readable line per event, starting with the time and level', async () => {
    const server = await startServer({ extraArgs: ['--log-format', 'text'] });
    const h = await api(server, 'GET', '/_health');
    assert.equal(h.status, 200);
    await server.stop();
    const lines = server.stderr().split('\n').filter(Boolean);
    assert.ok(lines.length >= 3);
    for (const line of lines) {
      assert.match(line, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (trace|debug|info|warning|error|critical) /, line);
      assert.throws(() => JSON.parse(line), line);
    }
    assert.ok(lines.some((l) => / GET \/_health 200 \d+\.\dms 127\.0\.0\.1 /.test(l)), lines.join('\n'));
  });

  test('an unknown --log-format stops the server with a message', async () => {
    await assert.rejects(startServer({ extraArgs: ['--log-format', 'xml'] }), /log-format must be json or text/);
  });
});
