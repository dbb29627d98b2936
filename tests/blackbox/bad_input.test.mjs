// Hostile and malformed input. After every test the server still answers /_health and nothing that was
// stored before is lost (the baseline account's token still reads its project with the same key).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  P, TOKEN_PATH, accountRequest, api, assertHealthy, bearer, count, createResource, exchangeCode, getResource,
  newAccount, pkce, q1, rawHttp, rawSocket, registerClient, setLimit, sleep, startServer, statusOfRaw, uniqueEmail,
} from './harness.mjs';

let server;
let clientId;
let base; // {tokens, project, apiKey, userCount}

before(async () => {
  server = await startServer();
  clientId = await registerClient(server);
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
  const a = await newAccount(server, { clientId });
  const r = await createResource(server, a.tokens.access_token);
  assert.equal(r.status, 200, r.text);
  base = { tokens: a.tokens, project: a.account.available_teams[0].id, apiKey: r.json.complete.access_configuration.api_key, email: a.email };
});
after(async () => { await server?.stop(); });

afterEach(async () => {
  await assertHealthy(server);
  const g = await getResource(server, base.tokens.access_token, base.project);
  assert.equal(g.status, 200, `baseline resource after the test: ${g.text}`);
  assert.equal(g.json.complete.access_configuration.api_key, base.apiKey);
  assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', base.email), 1);
});

const AR = `${P}/account_requests`;
const RES = `${P}/resources`;

// One request per endpoint with the given raw body; check the endpoint's own envelope and code.
async function rejectEverywhere(body, { contentType = 'application/json', status = 400, code = 'invalid_request' } = {}) {
  const headers = contentType ? { 'content-type': contentType } : {};
  const users = count(server, 'SELECT COUNT(*) FROM users');
  const families = count(server, 'SELECT COUNT(*) FROM token_families');
  const keys = count(server, 'SELECT COUNT(*) FROM personal_api_keys');

  const a = await api(server, 'POST', AR, { body, headers });
  assert.equal(a.status, status, `account_requests: ${a.text}`);
  assert.equal(a.json?.type, 'error', `account_requests: ${a.text}`);
  assert.equal(a.json.error.code, code, `account_requests: ${a.text}`);

  const t = await api(server, 'POST', TOKEN_PATH, { body, headers, apiVersion: false });
  assert.equal(t.status, status, `token: ${t.text}`);
  assert.deepEqual(Object.keys(t.json ?? {}).sort(), ['error', 'error_description'], `token: ${t.text}`);
  assert.equal(t.json.error, code, `token: ${t.text}`);
  assert.equal(t.headers['cache-control'], 'no-store');

  const r = await api(server, 'POST', RES, { body, headers: { ...headers, ...bearer(base.tokens.access_token) } });
  assert.equal(r.status, status, `resources: ${r.text}`);
  assert.equal(r.json?.status, 'error', `resources: ${r.text}`);
  assert.equal(r.json.id, '', `resources: ${r.text}`);
  assert.equal(r.json.error.code, code, `resources: ${r.text}`);

  assert.equal(count(server, 'SELECT COUNT(*) FROM users'), users, 'no user created');
  assert.equal(count(server, 'SELECT COUNT(*) FROM token_families'), families, 'no token issued');
  assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys'), keys, 'no key minted');
}

describe('malformed and non-object JSON', () => {
  for (const body of ['{"email":', '{"a":1,}', "{'a':1}", '{"a":1}garbage', '{"a":1}{"b":2}', '{"a":"\u0001"}', '{"a":01}', '{"a":NaN}', '{', '{"a":"\\x41"}']) {
    test(`malformed ${JSON.stringify(body)} → 400 invalid_request`, async () => {
      await rejectEverywhere(body);
    });
  }
  for (const body of ['[]', '[1,2]', '"str"', 'null', '42', 'true']) {
    test(`non-object ${body} → 400 invalid_request`, async () => {
      await rejectEverywhere(body);
    });
  }
});

describe('wrong field types → 400 invalid_request', () => {
  const good = () => {
    const p = pkce();
    return { id: `t-${Math.random()}`, email: uniqueEmail('types'), client_id: clientId, code_challenge: p.challenge, code_challenge_method: 'S256' };
  };
  for (const [field, value] of [['email', 123], ['email', ['a@example.com']], ['email', { a: 1 }], ['name', 5], ['scopes', [1, 2]], ['scopes', { a: 1 }], ['code_challenge', 12345], ['code_challenge_method', ['S256']], ['configuration', { region: 5 }], ['configuration', { organization_name: ['x'] }], ['expires_at', 12]]) {
    test(`account_requests ${field} = ${JSON.stringify(value)}`, async () => {
      const body = { ...good(), [field]: value };
      const res = await api(server, 'POST', AR, { body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.type, 'error');
      assert.equal(res.json.error.code, 'invalid_request', res.text);
      if (typeof body.email === 'string') assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', body.email), 0);
    });
  }

  test('account_requests id that is not a string → 400 invalid_request without an id member', async () => {
    const res = await api(server, 'POST', AR, { body: { ...good(), id: 5 } });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['error', 'type']);
    assert.equal(res.json.error.code, 'invalid_request');
  });

  for (const [field, value] of [['code', 123], ['code', ['x']], ['code_verifier', { v: 1 }], ['grant_type', 7]]) {
    test(`token ${field} = ${JSON.stringify(value)}`, async () => {
      const body = { grant_type: 'authorization_code', code: 'c'.repeat(43), code_verifier: 'v'.repeat(43), [field]: value };
      const res = await api(server, 'POST', TOKEN_PATH, { body, apiVersion: false });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error, 'invalid_request', res.text);
    });
  }

  test('token refresh_token = ["x"]', async () => {
    const res = await api(server, 'POST', TOKEN_PATH, { body: { grant_type: 'refresh_token', refresh_token: [base.tokens.refresh_token] }, apiVersion: false });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error, 'invalid_request', res.text);
  });

  // (A non-object `configuration` is treated as {} as PostHog does, and `scopes` may be a space-separated
  // string as in form bodies: neither is asserted here.)
  for (const [field, value] of [['service_id', 5], ['configuration', { project_name: 5 }], ['project_id', { a: 1 }]]) {
    test(`resources ${field} = ${JSON.stringify(value)}`, async () => {
      const keys = count(server, 'SELECT COUNT(*) FROM personal_api_keys');
      const res = await createResource(server, base.tokens.access_token, { [field]: value });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.status, 'error');
      assert.equal(res.json.error.code, 'invalid_request', res.text);
      assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys'), keys);
    });
  }
});

describe('invalid UTF-8', () => {
  const jsonWith = (bytes) => {
    const p = pkce();
    const pre = `{"id":"utf8","email":"`;
    const post = `@example.com","client_id":"${clientId}","code_challenge":"${p.challenge}","code_challenge_method":"S256"}`;
    return Buffer.concat([Buffer.from(pre), Buffer.from(bytes), Buffer.from(post)]);
  };
  for (const [what, bytes] of [['0xFF 0xFE', [0xff, 0xfe]], ['a truncated sequence', [0xe2, 0x82]], ['an overlong "/"', [0xc0, 0xaf]], ['a UTF-8-encoded surrogate', [0xed, 0xa0, 0x80]], ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]]]) {
    test(`JSON with ${what} → 400 invalid_request on every endpoint`, async () => {
      await rejectEverywhere(jsonWith(bytes));
    });
  }

  test('form with percent-encoded invalid UTF-8 → 400 invalid_request', async () => {
    const p = pkce();
    const users = count(server, 'SELECT COUNT(*) FROM users');
    const body = `id=f1&email=%FF%FEx%40example.com&client_id=${encodeURIComponent(clientId)}&code_challenge=${p.challenge}&code_challenge_method=S256`;
    const a = await api(server, 'POST', AR, { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.json.type, 'error');
    assert.equal(a.json.error.code, 'invalid_request');
    assert.equal(count(server, 'SELECT COUNT(*) FROM users'), users);
    const t = await api(server, 'POST', TOKEN_PATH, { body: 'grant_type=authorization_code&code=%C0%AF&code_verifier=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' }, apiVersion: false });
    assert.equal(t.status, 400, t.text);
    assert.equal(t.json.error, 'invalid_request', t.text);
  });

  test('form with raw invalid bytes → 400 invalid_request', async () => {
    const body = Buffer.concat([Buffer.from('grant_type=refresh_token&refresh_token=phr_'), Buffer.from([0xff, 0x80, 0xfe])]);
    const t = await api(server, 'POST', TOKEN_PATH, { body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, apiVersion: false });
    assert.equal(t.status, 400, t.text);
    assert.equal(t.json.error, 'invalid_request', t.text);
    const a = await api(server, 'POST', AR, { body: Buffer.concat([Buffer.from('email='), Buffer.from([0xff]), Buffer.from('%40x.com&client_id=' + clientId)]), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.json.error.code, 'invalid_request', a.text);
  });

  test('valid non-ASCII UTF-8 is fine (name with accents, organization name with emoji)', async () => {
    const email = uniqueEmail('utf8ok');
    const { res } = await accountRequest(server, { clientId, email, name: 'Zoë Ångström', configuration: { organization_name: 'Café 🚀' } });
    assert.equal(res.status, 200, res.text);
    const row = q1(server, `SELECT u.first_name, o.name FROM users u JOIN memberships m ON m.user_id = u.id
      JOIN organizations o ON o.id = m.organization_id WHERE u.email_normalized = ?`, email);
    assert.deepEqual(row, { first_name: 'Zoë', name: 'Café 🚀' });
  });
});

describe('body size', () => {
  test('a 1 MiB body → 413 invalid_request in each endpoint envelope', async () => {
    const big = JSON.stringify({ email: 'a@example.com', pad: 'x'.repeat(1024 * 1024) });
    const a = await api(server, 'POST', AR, { body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(a.status, 413, a.text);
    assert.equal(a.json.type, 'error');
    assert.equal(a.json.error.code, 'invalid_request');
    const t = await api(server, 'POST', TOKEN_PATH, { body: big, headers: { 'content-type': 'application/json' }, apiVersion: false });
    assert.equal(t.status, 413, t.text);
    assert.equal(t.json.error, 'invalid_request');
    const r = await api(server, 'POST', RES, { body: big, headers: { 'content-type': 'application/json', ...bearer(base.tokens.access_token) } });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.status, 'error');
    assert.equal(r.json.error.code, 'invalid_request');
  });

  test('a 1 MiB chunked body → 413', async () => {
    const res = await rawHttp(server, 'POST', AR, {
      headers: { 'content-type': 'application/json', 'api-version': '0.1d', 'transfer-encoding': 'chunked' },
      body: Buffer.from(JSON.stringify({ pad: 'y'.repeat(1024 * 1024) })),
    });
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.error.code, 'invalid_request');
  });

  test('--max-body-bytes: at the limit accepted, over it 413', async () => {
    const s = await startServer({ extraArgs: ['--max-body-bytes', '2048'] });
    try {
      const cid = await registerClient(s);
      const p = pkce();
      const body = { id: 'mb', email: uniqueEmail('mb'), client_id: cid, code_challenge: p.challenge, code_challenge_method: 'S256', pad: '' };
      body.pad = 'p'.repeat(2048 - Buffer.byteLength(JSON.stringify(body)));
      assert.equal(Buffer.byteLength(JSON.stringify(body)), 2048);
      const ok = await api(s, 'POST', AR, { body });
      assert.equal(ok.status, 200, ok.text);
      body.email = uniqueEmail('mb2');
      body.pad = 'p'.repeat(2049 - Buffer.byteLength(JSON.stringify({ ...body, pad: '' })));
      const tooBig = await api(s, 'POST', AR, { body });
      assert.equal(tooBig.status, 413, tooBig.text);
      assert.equal(tooBig.json.error.code, 'invalid_request');
      assert.equal(count(s, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', body.email), 0);
    } finally {
      await s.stop();
    }
  });
});

describe('nesting', () => {
  const nested = (depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  test('an unknown field nested 10 deep is ignored', async () => {
    const p = pkce();
    const body = `{"id":"n10","email":"${uniqueEmail('nest')}","client_id":"${clientId}","code_challenge":"${p.challenge}","code_challenge_method":"S256","extra":${nested(10)}}`;
    const res = await api(server, 'POST', AR, { body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200, res.text);
  });
  test('nesting 100 deep → 400 invalid_request', async () => {
    await rejectEverywhere(`{"x":${nested(100)}}`);
  });
  test('60000 open brackets → 400 invalid_request (no stack overflow)', async () => {
    await rejectEverywhere(`{"x":${'['.repeat(60000)}`);
  });
  test('60000 nested arrays closed properly → 400 invalid_request', async () => {
    await rejectEverywhere(`{"x":${'['.repeat(30000)}${']'.repeat(30000)}}`);
  });
});

describe('unknown fields are ignored', () => {
  test('account_requests with Stripe-style extras', async () => {
    const email = uniqueEmail('extras');
    const { res } = await accountRequest(server, {
      clientId, email, object: 'account_request', client_capabilities: ['browser'], orchestrator: { type: 'stripe', stripe: { account: 'acct_1' } },
      confirmation_secret: 'x', terms_accepted_at: null, foo: [1, { b: null }], configuration: { region: 'US', wizard: { repo: 'x' }, whatever: 1 },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'oauth');
  });
  test('token with client_id, redirect_uri, resource, scope and junk', async () => {
    const a = await accountRequest(server, { clientId });
    const res = await exchangeCode(server, a.res.json.oauth.code, a.verifier, { extra: { client_id: clientId, redirect_uri: 'https://partner.example/callback', resource: 'https://r.test', junk: 'x' } });
    assert.equal(res.status, 200, res.text);
  });
  test('resources with payment_credentials and junk', async () => {
    const res = await createResource(server, base.tokens.access_token, { payment_credentials: { type: 'stripe_payment_token', stripe_payment_token: 'spt_1' }, junk: [1], configuration: { nope: true } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, String(base.project));
  });
});

describe('HTTP-level abuse', () => {
  const okOrClosed = (r, allowed, what) => {
    const st = statusOfRaw(r.text);
    assert.ok((st !== null && allowed.includes(st)) || (st === null && r.closed), `${what}: got ${st === null ? (r.closed ? 'closed' : 'no answer') : st}: ${r.text.slice(0, 200)}`);
  };

  test('one 20 KiB header → 431 or connection closed', async () => {
    const r = await rawSocket(server, `GET /_health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    okOrClosed(r, [431], '20 KiB header');
  });

  test('3000 small headers → 431 or connection closed', async () => {
    let h = '';
    for (let i = 0; i < 3000; i++) h += `X-H${i}: v\r\n`;
    const r = await rawSocket(server, `GET /_health HTTP/1.1\r\nHost: x\r\n${h}\r\n`);
    okOrClosed(r, [431], 'header flood');
  });

  test('a 20 KiB URL → 414/431/400 or connection closed', async () => {
    const r = await rawSocket(server, `GET /${'u'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    okOrClosed(r, [400, 404, 414, 431], 'long URL');
  });

  test('garbage request lines and bad framing → 4xx or closed', async () => {
    const cases = [
      ['garbage', 'GARBAGE\r\n\r\n', [400]],
      ['binary', '\x00\x01\x02\x03\xff\r\n\r\n', [400]],
      ['HTTP/9.9', 'GET /_health HTTP/9.9\r\nHost: x\r\n\r\n', [400, 505]],
      ['Content-Length abc', `POST ${AR} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}`, [400]],
      ['Content-Length -1', `POST ${AR} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}`, [400]],
      ['two Content-Lengths', `POST ${AR} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}`, [400]],
      ['CL and TE', `POST ${AR} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, [400]],
      ['bad chunk size', `POST ${AR} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, [400]],
      ['huge Content-Length', `POST ${AR} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}`, [400, 413]],
    ];
    for (const [what, bytes, allowed] of cases) {
      const r = await rawSocket(server, Buffer.from(bytes, 'latin1'), { timeoutMs: 5000 });
      okOrClosed(r, allowed, what);
      await assertHealthy(server);
    }
  });

  test('a body shorter than Content-Length, then the client hangs up', async () => {
    const r = await rawSocket(server, `POST ${AR} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"email":`, { timeoutMs: 300 });
    assert.equal(statusOfRaw(r.text), null, 'no answer to an incomplete body');
  });

  test('200 concurrent /_health requests all succeed', async () => {
    const rs = await Promise.all(Array.from({ length: 200 }, () => api(server, 'GET', '/_health', { apiVersion: false })));
    assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
  });

  test('40 concurrent new-account requests: 40 accounts, 40 codes, all exchangeable', async () => {
    const before = count(server, 'SELECT COUNT(*) FROM users');
    const ars = await Promise.all(Array.from({ length: 40 }, () => accountRequest(server, { clientId })));
    for (const a of ars) {
      assert.equal(a.res.status, 200, a.res.text);
      assert.equal(a.res.json.type, 'oauth', a.res.text);
    }
    assert.equal(count(server, 'SELECT COUNT(*) FROM users'), before + 40);
    const ts = await Promise.all(ars.map((a) => exchangeCode(server, a.res.json.oauth.code, a.verifier)));
    for (const t of ts) assert.equal(t.status, 200, t.text);
  });

  test('100 idle connections (one half-sent request each) do not stop the server from answering', async () => {
    const socks = [];
    try {
      for (let i = 0; i < 100; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        s.on('error', () => {});
        socks.push(s);
        if (i % 2) s.write('GET /_health HTTP/1.1\r\nHost: x\r\n');
      }
      await sleep(200);
      await assertHealthy(server);
      const a = await accountRequest(server, { clientId });
      assert.equal(a.res.status, 200, a.res.text);
    } finally {
      for (const s of socks) s.destroy();
    }
  });

  test('keep-alive: several requests on one connection, pipelined', async () => {
    const one = 'GET /_health HTTP/1.1\r\nHost: x\r\n\r\n';
    const r = await rawSocket(server, one + one + `GET /_health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { timeoutMs: 5000 });
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200'], r.text.slice(0, 500));
  });
});
