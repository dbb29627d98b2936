// node-oidc-provider 9.x configured as close to provisiond's token endpoint as it allows,
// for the comparison workloads of bench/loadgen.mjs (oidc-refresh, oidc-code).
//
//   node oidc-server.mjs [--port 0] [--admin-port 0] [--adapter stock|indexed] [--store-max N]
//
// Prints one JSON line on stdout once both listeners are up:
//   {"issuer":"http://127.0.0.1:P","token":"http://127.0.0.1:P/oauth/token","admin":"http://127.0.0.1:A","pid":…}
//
// Configuration (mirrors provisiond's documented behaviour where oidc-provider allows):
//   * one public client `bench` (token_endpoint_auth_method none, one https redirect URI);
//   * PKCE required, S256 only (oidc-provider 9 supports nothing else);
//   * opaque access tokens (no resource indicator is ever resolved, so no JWT access tokens),
//     256 bits of randomness per token/code (= provisiond's 32 random bytes);
//   * no `openid` scope, so no ID Token is signed (provisiond issues none);
//   * refresh token always issued (issueRefreshToken → true), rotated on every use
//     (rotateRefreshToken: true); reuse of a rotated refresh token revokes the grant;
//   * TTLs: AccessToken 3600 s, AuthorizationCode 300 s, RefreshToken/Grant 30 days.
//   * storage: oidc-provider's own default in-memory adapter (lib/adapters/memory_adapter.js).
//     Everything (grants, codes, access and refresh tokens) lives in this process's heap, so
//     its RSS grows with the number of tokens issued — provisiond by contrast writes to SQLite.
//     The stock adapter keeps its store in an LRU capped at 1000 entries, which silently
//     evicts pre-minted codes, grants and refresh tokens under any real load (the benchmark
//     then sees invalid_grant: with 3000 pre-minted codes, all but the last ~1000 are gone).
//     We keep the very same adapter class (MemoryAdapter) and the same LRU class, and only
//     raise the cap (--store-max, default 50,000,000), passing it as the `adapter` factory
//     exactly as the default does internally. `--store-max 1000` restores the stock cap.
//     Note the stock adapter's per-grant index: every save of a token re-scans all tokens of
//     its grant (setGrantMembers), so a long refresh-rotation chain (one grant, a new access
//     and refresh token per refresh, consumed ones kept until expiry) gets slower as it grows.
//
// Codes are minted without a browser by a loopback-only admin listener in the same process
// (second port): POST /mint?n=K creates, per code, a new account id, a Grant (scope
// "project:read user:read") and an AuthorizationCode bound to a fresh S256 PKCE pair, exactly
// the objects oidc-provider's authorization endpoint would have saved. GET /stats reports heap
// figures. Neither is part of the measured path.

import { createServer } from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'admin-port': { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'store-max': { type: 'string', default: '50000000' },
    adapter: { type: 'string', default: 'stock' },
  },
});

const HOST = args.host;
if (!['127.0.0.1', 'localhost', '::1'].includes(HOST)) {
  throw new Error('oidc-server binds to loopback only');
}
const storeMax = Number(args['store-max']);
const adapterKind = args.adapter;

// --adapter stock: oidc-provider's default (initialize_adapter.js → createMemoryAdapter: one LRU
// shared by all models, maxSize 1000), but with our cap.
// --adapter indexed: same semantics kept in plain Maps, with the per-grant index held as a Set
// (O(1) per save instead of a re-scan of the grant's tokens). Not part of oidc-provider; it only
// shows how much of oidc-refresh's cost is the stock dev adapter. Entries expire lazily on read.
class IndexedMemoryAdapter {
  static data = new Map(); // key → { value, exp (ms epoch or Infinity) }

  static grants = new Map(); // grantId → Set(keys)

  static aux = new Map(); // sessionUid:/userCode: → id

  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  static get(key) {
    const e = IndexedMemoryAdapter.data.get(key);
    if (!e) return undefined;
    if (e.exp <= Date.now()) { IndexedMemoryAdapter.data.delete(key); return undefined; }
    return e.value;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const exp = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    IndexedMemoryAdapter.data.set(key, { value: payload, exp });
    if (this.model === 'Session') IndexedMemoryAdapter.aux.set(`sessionUid:${payload.uid}`, id);
    if (payload.userCode) IndexedMemoryAdapter.aux.set(`userCode:${payload.userCode}`, id);
    if (payload.grantId && ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode'].includes(this.model)) {
      let set = IndexedMemoryAdapter.grants.get(payload.grantId);
      if (!set) { set = new Set(); IndexedMemoryAdapter.grants.set(payload.grantId, set); }
      set.add(key);
    }
  }

  async find(id) { return IndexedMemoryAdapter.get(this.key(id)); }

  async findByUid(uid) { return this.find(IndexedMemoryAdapter.aux.get(`sessionUid:${uid}`)); }

  async findByUserCode(code) { return this.find(IndexedMemoryAdapter.aux.get(`userCode:${code}`)); }

  async consume(id) {
    const v = IndexedMemoryAdapter.get(this.key(id));
    if (v) v.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const v = IndexedMemoryAdapter.get(key);
    IndexedMemoryAdapter.data.delete(key);
    if (v?.grantId) IndexedMemoryAdapter.grants.get(v.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    const set = IndexedMemoryAdapter.grants.get(grantId);
    if (!set) return;
    for (const key of set) IndexedMemoryAdapter.data.delete(key);
    IndexedMemoryAdapter.grants.delete(grantId);
  }
}

let adapter;
if (adapterKind === 'stock') {
  const store = new LRU({ maxSize: storeMax });
  adapter = (model) => new MemoryAdapter(model, store, 0);
} else if (adapterKind === 'indexed') {
  adapter = (model) => new IndexedMemoryAdapter(model);
} else {
  throw new Error('--adapter must be stock or indexed');
}

const CLIENT_ID = 'bench';
const REDIRECT_URI = 'https://bench.example/cb';
const SCOPE = 'project:read user:read';
const DAY = 24 * 60 * 60;

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), HOST, () => resolve(server.address().port));
  });
}

// The issuer must be known before the port is; bind first, then build the provider.
const mainServer = createServer();
mainServer.keepAliveTimeout = 65_000;
mainServer.headersTimeout = 66_000;
const port = await listen(mainServer, args.port);
const issuer = `http://${HOST === '::1' ? '[::1]' : HOST}:${port}`;

const provider = new Provider(issuer, {
  adapter,
  clients: [{
    client_id: CLIENT_ID,
    client_name: 'Bench',
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    scope: SCOPE,
  }],
  scopes: ['project:read', 'user:read'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 300,
    RefreshToken: 30 * DAY,
    Grant: 30 * DAY,
    IdToken: 3600,
    Interaction: 3600,
    Session: DAY,
  },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: false },
    introspection: { enabled: false },
    revocation: { enabled: false },
  },
  routes: { token: '/oauth/token' },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
});
if (process.env.OIDC_DEBUG_ERRORS) provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_detail ?? '', err.cause?.message ?? ''));
provider.on('server_error', (ctx, err) => {
  console.error('server_error', err);
});

mainServer.on('request', provider.callback());

// ---- admin listener (loopback only, not measured) ----
const client = await provider.Client.find(CLIENT_ID);
let accountSeq = 0;

async function mintOne() {
  accountSeq += 1;
  const accountId = `acct-${process.pid}-${accountSeq}`;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
  grant.addOIDCScope(SCOPE);
  const grantId = await grant.save();
  const code = new provider.AuthorizationCode({
    accountId,
    client,
    grantId,
    scope: SCOPE,
    redirectUri: REDIRECT_URI,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    expiresWithSession: false,
    authTime: Math.floor(Date.now() / 1000),
  });
  return { code: await code.save(), verifier };
}

const admin = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://admin');
    if (req.method === 'POST' && url.pathname === '/mint') {
      const n = Math.min(Math.max(Number(url.searchParams.get('n') ?? 1) | 0, 1), 100_000);
      const out = new Array(n);
      for (let i = 0; i < n; i += 1) out[i] = await mintOne();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ memory: process.memoryUsage(), minted: accountSeq, storeMax, adapter: adapterKind }));
      return;
    }
    res.writeHead(404).end();
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err?.stack ?? err));
  }
});
const adminPort = await listen(admin, args['admin-port']);

process.stdout.write(`${JSON.stringify({
  issuer,
  token: `${issuer}/oauth/token`,
  admin: `http://${HOST === '::1' ? '[::1]' : HOST}:${adminPort}`,
  pid: process.pid,
  node: process.version,
  storeMax,
  adapter: adapterKind,
})}\n`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    mainServer.close();
    admin.close();
    mainServer.closeAllConnections?.();
    process.exit(0);
  });
}
