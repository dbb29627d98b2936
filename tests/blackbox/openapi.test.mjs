// docs/openapi.json: the contract lints clean, matches the routes provisiond registers, every
// operation is exercised here against a live server (and so validated by the harness), and the
// validator the harness runs on every response does catch drift.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  HERE, NODE22, P, api, bearer, newAccount, pkce, registerClient, runProcess, startServer,
} from './harness.mjs';
import { ContractViolation, SPEC_PATH, coverage, createValidator, enabled } from './openapi_validator.mjs';

const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8'));
const validator = createValidator(spec);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** "METHOD /path" for every operation in the document. */
function documentedOperations() {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const m of METHODS) if (item[m]) out.push(`${m.toUpperCase()} ${path}`);
  }
  return out.sort();
}

describe('the document', () => {
  test('OpenAPI 3.1.0 with the JSON Schema 2020-12 dialect', () => {
    assert.equal(spec.openapi, '3.1.0');
    assert.equal(spec.jsonSchemaDialect, 'https://json-schema.org/draft/2020-12/schema');
  });

  test('redocly lint (recommended rules, tests/blackbox/redocly.yaml): no error, no warning', async () => {
    const cli = resolve(HERE, 'node_modules/@redocly/cli/bin/cli.js');
    const r = await runProcess(NODE22, [cli, 'lint', SPEC_PATH, '--config', resolve(HERE, 'redocly.yaml'), '--format', 'stylish'], {
      cwd: HERE,
      timeoutMs: 120000,
      // No telemetry and no update check: the linter runs offline.
      env: { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, `redocly lint exit ${r.code}:\n${out}`);
    assert.doesNotMatch(out, /\b\d+ warnings?\b/, `redocly lint warnings:\n${out}`);
  });

  test('every schema compiles under strict Ajv (2020-12, formats)', () => {
    assert.ok(validator.compileAll() > 100);
  });

  test('documents exactly the JSON routes of src/app/routes.cpp (HTML pages excluded)', () => {
    // A light reading of routes.cpp: `for (std::string NAME : {"…", …})` loops and
    // `router.add("METHOD", EXPR, …)` with EXPR a literal, NAME, or NAME + "literal".
    const src = readFileSync(resolve(HERE, '../../src/app/routes.cpp'), 'utf8');
    const vars = {};
    const routes = [];
    // In source order, so that a loop variable means the values of the nearest loop above.
    for (const m of src.matchAll(/for \(std::string (\w+) :\s*\{([^}]*)\}\)|router\.add\(\s*"([A-Z]+)",\s*([^,]+),/g)) {
      if (m[1]) {
        vars[m[1]] = [...m[2].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
        continue;
      }
      const [, , , method, expr] = m;
      let paths = [''];
      for (const part of expr.split('+').map((p) => p.trim())) {
        const lit = /^"(.*)"$/.exec(part);
        const values = lit ? [lit[1]] : vars[part];
        assert.ok(values, `routes.cpp: cannot read the path expression ${expr}`);
        paths = paths.flatMap((a) => values.map((b) => a + b));
      }
      for (const p of paths) routes.push(`${method} ${p}`);
    }
    assert.ok(routes.length > 30, `read ${routes.length} routes from routes.cpp`);
    const htmlPages = new Set(['GET /api/agentic/authorize', 'POST /api/agentic/authorize']); // docs/PAGES.md
    const api = routes
      .filter((r) => /^[A-Z]+ \/(api\/|oauth\/|\.well-known\/|_health$|_ready$)/.test(r))
      .filter((r) => !htmlPages.has(r))
      .sort();
    assert.deepEqual(documentedOperations(), api);
  });
});

describe('the validator catches drift', () => {
  const H = {
    'content-type': 'application/json',
    'x-request-id': '5b0c6f0e-7a47-4bd4-9bb1-3a0b6a0e7f11',
    'cache-control': 'no-store',
    pragma: 'no-cache',
  };
  const tokens = {
    token_type: 'bearer',
    access_token: `pha_${'a'.repeat(43)}`,
    refresh_token: `phr_${'b'.repeat(43)}`,
    expires_in: 3600,
  };
  const check = (method, path, status, body, headers = H) => validator.check(method, path, {
    status, headers, text: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const violation = (fn, re) => assert.throws(fn, (e) => e instanceof ContractViolation && re.test(e.message));

  test('a well-formed token response passes, on every alias and with a trailing slash', () => {
    for (const p of ['/api/agentic/oauth/token', '/api/provisioning/oauth/token', '/oauth/token', '/oauth/token/?x=1']) {
      assert.ok(check('POST', p, 200, tokens));
    }
  });

  test('a token response without access_token fails, naming method, path, status and the missing member', () => {
    const { access_token: _, ...broken } = tokens;
    violation(() => check('POST', '/api/agentic/oauth/token', 200, broken),
      /POST \/api\/agentic\/oauth\/token .*→ 200.*must have required property 'access_token'/s);
  });

  test('an undocumented status fails', () => {
    violation(() => check('POST', '/oauth/token', 418, { error: 'teapot', error_description: 'x' }), /status 418 is not documented/);
  });

  test('a member the contract does not know fails (additionalProperties: false)', () => {
    violation(() => check('POST', '/oauth/token', 200, { ...tokens, scope: 'query:read' }), /must NOT have additional properties/);
  });

  test('a wrong error envelope fails: the status envelope on account_requests', () => {
    violation(() => check('POST', `${P}/account_requests`, 401, { status: 'error', id: '', error: { code: 'unauthorized', message: 'x' } }), /does not match/);
  });

  test('an error code outside the documented enum fails', () => {
    violation(() => check('POST', `${P}/resources`, 401, { status: 'error', id: '', error: { code: 'forbidden', message: 'x' } }, { ...H, 'www-authenticate': 'Bearer' }),
      /does not match/);
  });

  test('a missing required header fails (Cache-Control: no-store on tokens)', () => {
    const { 'cache-control': _, ...headers } = H;
    violation(() => check('POST', '/oauth/token', 200, tokens, headers), /required header Cache-Control is missing/);
  });

  test('a body that is not JSON, or in another media type, fails', () => {
    violation(() => check('GET', '/_health', 200, 'ok'), /not JSON/);
    violation(() => check('GET', '/_health', 200, 'ok', { ...H, 'content-type': 'text/plain' }), /Content-Type "text\/plain" is not documented/);
  });

  test('a GET resource answer that shows the personal API key fails', () => {
    const body = {
      status: 'complete', id: '7', service_id: 'analytics',
      complete: { access_configuration: { api_key: `phc_${'c'.repeat(43)}`, host: 'https://us.posthog.com', personal_api_key: `phx_${'d'.repeat(43)}` } },
    };
    violation(() => check('GET', `${P}/resources/7`, 200, body), /additional properties/);
  });

  test('requests the contract does not describe are not checked', () => {
    assert.equal(check('GET', '/dashboard', 200, '<html>', { ...H, 'content-type': 'text/html' }), null);
    assert.equal(check('GET', '/api/agentic/authorize?state=x', 200, '<html>', { ...H, 'content-type': 'text/html' }), null);
    assert.equal(check('GET', `${P}/account_requests`, 405, { type: 'error', error: { code: 'method_not_allowed', message: 'x' } }), null);
    assert.equal(check('GET', `${P}/nope`, 404, { error: { code: 'not_found', message: 'x' } }), null);
  });
});

describe('every documented operation, exercised against a live server', { skip: !enabled && 'OPENAPI_VALIDATE=0' }, () => {
  const INTROSPECTION = 'introspection-secret-for-the-openapi-test-0123456789';
  let server;
  before(async () => { server = await startServer({ extraArgs: ['--introspection-token', INTROSPECTION] }); });
  after(async () => { await server?.stop(); });

  test('each operation answers as documented (the harness validates every response)', async () => {
    const clientId = await registerClient(server);
    const cap = await server.cli(['clients', 'set-capability', clientId, 'deep_links', 'on']);
    assert.equal(cap.code, 0, cap.stderr);
    const opts = { apiVersion: false };

    // One full flow per provisioning prefix, and every token-endpoint alias.
    const prefixes = ['/api/agentic/provisioning', '/api/provisioning'];
    const tokenPaths = ['/api/agentic/oauth/token', '/api/provisioning/oauth/token', '/oauth/token'];
    for (const [i, prefix] of prefixes.entries()) {
      const acct = await newAccount(server, { clientId, path: `${prefix}/account_requests` });
      const access = acct.tokens.access_token;
      let r = await api(server, 'POST', `${prefix}/resources`, { body: { project_id: `p-${i}` }, headers: bearer(access) });
      assert.equal(r.status, 200, r.text);
      const id = r.json.id;
      assert.equal((await api(server, 'GET', `${prefix}/resources/${id}`, { headers: bearer(access) })).status, 200);
      assert.equal((await api(server, 'POST', `${prefix}/resources/${id}/rotate_credentials`, { body: {}, headers: bearer(access) })).status, 200);
      assert.equal((await api(server, 'POST', `${prefix}/deep_links`, { body: { path: '/dashboard' }, headers: bearer(access) })).status, 200);
      assert.equal((await api(server, 'POST', `${prefix}/resources/${id}/remove`, { headers: bearer(access) })).status, 200);
      r = await api(server, 'POST', `${prefix}/client_registration`, { body: { client_id: clientId } });
      assert.equal(r.status, 200, r.text);
    }
    for (const path of tokenPaths) {
      const acct = await newAccount(server, { clientId });
      const r = await api(server, 'POST', path, { form: { grant_type: 'refresh_token', refresh_token: acct.tokens.refresh_token }, ...opts });
      assert.equal(r.status, 200, r.text);
    }
    const acct = await newAccount(server, { clientId });
    for (const path of ['/oauth/introspect', '/api/agentic/oauth/introspect']) {
      const r = await api(server, 'POST', path, { form: { token: acct.tokens.access_token }, headers: bearer(INTROSPECTION), ...opts });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.active, true);
    }
    for (const path of ['/oauth/revoke', '/api/agentic/oauth/revoke']) {
      const r = await api(server, 'POST', path, { form: { token: acct.tokens.refresh_token }, ...opts });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal((await api(server, 'GET', '/.well-known/oauth-authorization-server', opts)).status, 200);
    const { challenge } = pkce();
    const q = new URLSearchParams({ client_id: clientId, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' });
    assert.equal((await api(server, 'GET', `/oauth/authorize?${q}`, opts)).status, 302);
    assert.equal((await api(server, 'GET', '/api/agentic/openapi.json', opts)).status, 200);
    assert.equal((await api(server, 'GET', '/_health', opts)).status, 200);
    assert.equal((await api(server, 'GET', '/_ready', opts)).status, 200);

    const missing = documentedOperations().filter((o) => !coverage.has(o));
    assert.deepEqual(missing, [], 'operations no response was validated for');
  });
});

describe('the contract the server serves', () => {
  test('GET /api/agentic/openapi.json is docs/openapi.json, byte for byte', async () => {
    const { readFile } = await import('node:fs/promises');
    const { startServer: start, api: call } = await import('./harness.mjs');
    const kept = await readFile(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
    const s = await start();
    try {
      const r = await call(s, 'GET', '/api/agentic/openapi.json');
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'] ?? r.headers.get?.('content-type') ?? '', /^application\/json/);
      assert.equal(r.text, kept, 'rebuild after editing docs/openapi.json: the binary embeds it');
    } finally {
      await s.stop();
    }
  });
});
