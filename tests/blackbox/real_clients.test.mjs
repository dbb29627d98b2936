// Real clients, unchanged: @posthog/wizard 2.77.0 (`wizard provision`), oauth4webapi 3.8.8, and the
// public document's own Node.js example.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { resolve } from 'node:path';
import * as oauth from 'oauth4webapi';
import {
  ACCESS_RE, HERE, NODE22, makeTempDir, PROJECT_TOKEN_RE, REFRESH_RE, WIZARD_SCOPES, accountRequest, count, getResource, q1,
  registerClient, runProcess, sha256hex, startServer, uniqueEmail,
} from './harness.mjs';

// What the wizard sends when --base-url pins a (dev-seeded) instance: its POSTHOG_DEV_CLIENT_ID,
// read from node_modules/@posthog/wizard/dist (getProvisioningClientId) — the same id as real-clients.md.
const WIZARD_CLIENT_ID = 'DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ';
const WIZARD_BIN = resolve(HERE, 'node_modules/@posthog/wizard/dist/bin.js');

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function wizard(args) {
  const home = await makeTempDir('wizard-home-');
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: home,
    DO_NOT_TRACK: '1',
    POSTHOG_WIZARD_TELEMETRY: 'false',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '', ALL_PROXY: '', all_proxy: '',
    NO_COLOR: '1',
  };
  return runProcess(NODE22, [WIZARD_BIN, ...args], { env, timeoutMs: 60000 });
}

describe('@posthog/wizard 2.77.0: wizard provision', () => {
  before(async () => {
    await registerClient(server, { clientId: WIZARD_CLIENT_ID, name: 'PostHog Wizard', redirectUri: 'http://localhost:8239/callback', scopes: WIZARD_SCOPES });
  });

  test('a new email: exit 0 and one JSON line with the provisioned credentials', async () => {
    const email = uniqueEmail('wizard');
    const r = await wizard(['provision', '--email', email, '--base-url', server.url, '--json']);
    assert.equal(r.signal, null, `wizard was killed (timeout?): ${r.stderr}`);
    assert.equal(r.code, 0, `wizard exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    const out = JSON.parse(lines[lines.length - 1]);
    assert.match(out.projectApiKey, PROJECT_TOKEN_RE);
    assert.match(out.accessToken, ACCESS_RE);
    assert.match(out.refreshToken, REFRESH_RE);
    assert.equal(out.oauthClientId, WIZARD_CLIENT_ID);
    assert.equal(out.host, server.url);
    assert.equal(typeof out.projectId, 'string');
    assert.equal(typeof out.expiresAt, 'number');
    assert.match(out.personalApiKey, /^phx_/);

    const user = q1(server, 'SELECT * FROM users WHERE email_normalized = ?', email);
    assert.ok(user, 'user created');
    assert.equal(user.first_name, '', 'the wizard sends name ""');
    const project = q1(server, 'SELECT * FROM projects WHERE id = ?', Number(out.projectId));
    assert.equal(project.api_token, out.projectApiKey);
    const org = q1(server, 'SELECT * FROM organizations WHERE id = ?', project.organization_id);
    assert.equal(out.accountId, org.id);
    const fam = q1(server, 'SELECT f.* FROM token_families f JOIN access_tokens a ON a.family_id = f.id WHERE a.token_hash = ?', sha256hex(out.accessToken));
    assert.equal(fam.client_id, WIZARD_CLIENT_ID);
    assert.deepEqual(fam.scopes.split(' ').filter(Boolean).sort(), [...WIZARD_SCOPES].sort());
    const g = await getResource(server, out.accessToken, out.projectId);
    assert.equal(g.status, 200, g.text);
  });

  test('the same email again: exit 1 with {"code":"email_exists"} on stderr', async () => {
    const email = uniqueEmail('wizard-again');
    const first = await wizard(['provision', '--email', email, '--base-url', server.url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const second = await wizard(['provision', '--email', email, '--base-url', server.url, '--json']);
    assert.equal(second.signal, null);
    assert.equal(second.code, 1, `stdout: ${second.stdout}\nstderr: ${second.stderr}`);
    const errLine = second.stderr.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    assert.ok(errLine, second.stderr);
    assert.deepEqual(JSON.parse(errLine), {
      error: 'This email is already associated with a PostHog account. Please use the login flow instead.',
      code: 'email_exists',
    });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users WHERE email_normalized = ?', email), 1);
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE email_normalized = ? AND client_id = ?', email, WIZARD_CLIENT_ID), 1);
  });

  test('--region eu --name: the organization is EU and the first name recorded', async () => {
    const email = uniqueEmail('wizard-eu');
    const r = await wizard(['provision', '--email', email, '--region', 'eu', '--name', 'Grace Hopper', '--base-url', server.url, '--json']);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const row = q1(server, `SELECT u.first_name, o.region FROM users u JOIN memberships m ON m.user_id = u.id
      JOIN organizations o ON o.id = m.organization_id WHERE u.email_normalized = ?`, email);
    assert.deepEqual(row, { first_name: 'Grace', region: 'EU' });
  });
});

describe('oauth4webapi 3.8.8', () => {
  let clientId;
  let as;
  let client;
  const opts = { [oauth.allowInsecureRequests]: true };

  before(async () => {
    clientId = await registerClient(server, { name: 'oauth4webapi' });
    as = { issuer: server.url, token_endpoint: `${server.url}/api/agentic/oauth/token` };
    client = { client_id: clientId };
  });

  async function codeFor(verifier) {
    const challenge = await oauth.calculatePKCECodeChallenge(verifier);
    const ar = await accountRequest(server, { clientId, pkcePair: { verifier, challenge } });
    assert.equal(ar.res.status, 200, ar.res.text);
    assert.equal(ar.res.json.type, 'oauth', ar.res.text);
    return ar.res.json.oauth.code;
  }

  test('generic token endpoint request with a public client parses our code-exchange response', async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const code = await codeFor(verifier);
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), 'authorization_code', { code, code_verifier: verifier }, opts);
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    assert.equal(result.token_type, 'bearer');
    assert.match(result.access_token, ACCESS_RE);
    assert.match(result.refresh_token, REFRESH_RE);
    assert.equal(result.expires_in, 3600);
    assert.equal(result.account.payment_credentials, 'orchestrator');

    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), result.refresh_token, opts));
    assert.equal(refreshed.token_type, 'bearer');
    assert.match(refreshed.access_token, ACCESS_RE);
    assert.match(refreshed.refresh_token, REFRESH_RE);
    assert.notEqual(refreshed.refresh_token, result.refresh_token);
    assert.equal(refreshed.expires_in, 3600);
    const g = await getResource(server, refreshed.access_token, result.account.available_teams[0].id);
    assert.equal(g.status, 200, g.text);
  });

  test('an invalid code surfaces as ResponseBodyError invalid_grant', async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), 'authorization_code', { code: 'not-a-real-code', code_verifier: verifier }, opts);
    await assert.rejects(oauth.processGenericTokenEndpointResponse(as, client, response), (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
      assert.equal(err.status, 400);
      assert.equal(err.error_description, 'Invalid or expired authorization code');
      return true;
    });
  });

  test('a wrong verifier and a reused refresh token surface as invalid_grant too', async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const code = await codeFor(verifier);
    const bad = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), 'authorization_code', { code, code_verifier: oauth.generateRandomCodeVerifier() }, opts);
    await assert.rejects(oauth.processGenericTokenEndpointResponse(as, client, bad), (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant');
    const good = await oauth.processGenericTokenEndpointResponse(as, client, await oauth.genericTokenEndpointRequest(as, client, oauth.None(), 'authorization_code', { code, code_verifier: verifier }, opts));
    const r1 = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), good.refresh_token, opts));
    await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), r1.refresh_token, opts));
    const reuse = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), good.refresh_token, opts);
    await assert.rejects(oauth.processRefreshTokenResponse(as, client, reuse), (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  test('an unsupported grant surfaces as unsupported_grant_type', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.None(), {}, opts);
    await assert.rejects(oauth.processClientCredentialsResponse(as, client, response), (err) => err instanceof oauth.ResponseBodyError && err.error === 'unsupported_grant_type');
  });
});

describe('the public document\'s Node.js example, verbatim but for BASE_URL and CLIENT_ID', () => {
  test('provisionPostHogAccount() returns a project token, host, PAT and project id', async () => {
    const CLIENT_ID = await registerClient(server, { name: 'Docs Example' });
    const BASE_URL = server.url;
    async function provisionPostHogAccount(email, name) {
      const codeVerifier = crypto.randomBytes(32).toString('base64url');
      const codeChallenge = crypto.createHash('sha256').update(codeVerifier).digest('base64url');
      const accountRes = await fetch(`${BASE_URL}/api/agentic/provisioning/account_requests`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'API-Version': '0.1d' },
        body: JSON.stringify({ id: crypto.randomUUID(), email, name, client_id: CLIENT_ID, code_challenge: codeChallenge, code_challenge_method: 'S256', configuration: { region: 'US' } }),
      });
      if (!accountRes.ok) {
        const err = await accountRes.json();
        throw new Error(`Account request failed (${accountRes.status}): ${err.error?.message || JSON.stringify(err)}`);
      }
      const account = await accountRes.json();
      if (account.type === 'requires_auth') return { type: 'requires_auth', url: account.requires_auth.url };
      if (account.type !== 'oauth') throw new Error(account.error?.message || 'Unexpected response type');
      const tokenRes = await fetch(`${BASE_URL}/api/agentic/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'API-Version': '0.1d' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: account.oauth.code, code_verifier: codeVerifier }),
      });
      if (!tokenRes.ok) {
        const err = await tokenRes.json();
        throw new Error(`Token exchange failed (${tokenRes.status}): ${err.error_description || JSON.stringify(err)}`);
      }
      const tokens = await tokenRes.json();
      const resourceRes = await fetch(`${BASE_URL}/api/agentic/provisioning/resources`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens.access_token}`, 'API-Version': '0.1d' },
        body: JSON.stringify({ service_id: 'analytics', label_prefix: 'Acme Co', configuration: { project_name: 'Production' } }),
      });
      if (!resourceRes.ok) {
        const err = await resourceRes.json();
        throw new Error(`Resource provisioning failed (${resourceRes.status}): ${err.error?.message || JSON.stringify(err)}`);
      }
      const resource = await resourceRes.json();
      return {
        type: 'provisioned',
        apiKey: resource.complete.access_configuration.api_key,
        host: resource.complete.access_configuration.host,
        personalApiKey: resource.complete.access_configuration.personal_api_key,
        projectId: resource.id,
      };
    }

    const email = uniqueEmail('docs');
    const out = await provisionPostHogAccount(email, 'Jane Doe');
    assert.equal(out.type, 'provisioned');
    assert.match(out.apiKey, PROJECT_TOKEN_RE);
    assert.equal(out.host, server.url);
    assert.match(out.personalApiKey, /^phx_/);
    assert.equal(q1(server, 'SELECT label FROM personal_api_keys WHERE key_hash = ?', sha256hex(out.personalApiKey)).label, 'Acme Co - Default project');
    const again = await provisionPostHogAccount(email, 'Jane Doe');
    assert.equal(again.type, 'requires_auth');
    assert.ok(again.url.startsWith(`${server.url}/api/agentic/authorize?state=`));
  });
});
