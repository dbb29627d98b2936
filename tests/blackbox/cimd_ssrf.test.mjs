// CIMD: the SSRF-safe fetcher (docs/CIMD.md "Fetching"): special-use addresses and internal names
// are refused without connecting, the vetted address is the only one connected to (no DNS
// rebinding), proxies from the environment are ignored.
//
// Every check here runs `provisiond clients check` WITHOUT --cimd-allow-loopback inside a network
// namespace made with `unshare -n` (root): its only interface is its own `lo`, where the test adds
// the special addresses and listens on port 443 to record any connection. Nothing can leave the
// machine. DNS scenarios also use a mount namespace (`unshare -n -m`) to bind-mount a resolv.conf
// pointing at a tiny DNS server (cimd_netns_runner.mjs) on 127.0.0.1:53 inside the namespace.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, HERE, NODE22, makeTempDir, runProcess } from './harness.mjs';
import { testCA } from './tls_fixture.mjs';

function canUnshare(args) {
  try {
    execFileSync('unshare', [...args, '--', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore', timeout: 10000 });
    return true;
  } catch {
    return false;
  }
}
const NETNS = !process.env.CIMD_TEST_NO_NETNS && canUnshare(['-n']);   // CIMD_TEST_NO_NETNS=1 forces the fallback
const MOUNTNS = NETNS && canUnshare(['-n', '-m']);
const NO_NETNS = NETNS ? false : 'needs `unshare -n` (root, util-linux, iproute2): cannot prove that no connection is made';
const NO_MOUNTNS = MOUNTNS ? false : 'needs `unshare -n -m` to give provisiond its own resolv.conf';

let ca;
let dir;
before(async () => {
  ca = await testCA();
  dir = await makeTempDir('provisiond-ssrf-');
});

let specNo = 0;
/** Run the runner in fresh namespaces; returns {setup, results} with results keyed by id too. */
async function inNamespace(spec, { mount = false } = {}) {
  const file = join(dir, `spec-${++specNo}.json`);
  writeFileSync(file, JSON.stringify({ bin: BIN, certFile: ca.certFile, keyFile: ca.keyFile, ...spec }));
  const r = await runProcess('unshare', ['-n', ...(mount ? ['-m'] : []), '--', NODE22, join(HERE, 'cimd_netns_runner.mjs'), file], { timeoutMs: 170000 });
  assert.equal(r.code, 0, `namespace runner failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  out.byId = Object.fromEntries(out.results.map((x) => [x.id, x]));
  return out;
}

const CA_ARGS = () => ['--cimd-ca-file', ca.caFile];

// What a refusal by the address policy must look like, once the host and address are removed from it.
const ADDRESS_POLICY = /special[- ]use|never fetched|not (a )?public|not allowed|forbidden|disallowed/i;
const NAME_POLICY = /internal|single[- ]label|local|never fetched|not allowed|forbidden/i;

/** The detail without the given strings (case-insensitive), so that a host name like x.internal cannot match the policy. */
function strip(detail, ...parts) {
  let d = detail;
  for (const p of parts.filter(Boolean)) d = d.replace(new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), ' ');
  return d;
}

/** Refused by the fetcher (exit 1, metadata_document failed naming the policy), and no connection at all. */
function assertRefused(r, policy, { address, host } = {}) {
  const ctx = `${r.url}: code ${r.code}; stdout ${r.stdout}; stderr ${r.stderr.slice(0, 500)}`;
  assert.equal(r.code, 1, ctx);
  assert.ok(r.json && Array.isArray(r.json.checks), ctx);
  const url = r.json.checks.find((c) => c.name === 'client_id_url');
  assert.equal(url?.ok, true, `the URL itself is well-formed: ${ctx}`);
  const md = r.json.checks.find((c) => c.name === 'metadata_document');
  assert.ok(md && md.ok === false, ctx);
  if (address) assert.ok(md.detail.includes(address), `the detail names the address ${address}: ${md.detail}`);
  assert.match(strip(md.detail, host, address, r.url), policy, `the detail names the policy: ${md.detail}`);
  assert.deepEqual(r.connections, [], `no connection may be made: ${JSON.stringify(r.connections)}`);
}

// =============================================================================================
// Special-use IP literals, with a listener on port 443 of every address.

const V4_SPECIAL = [
  ['0.0.0.0', '0/8'], ['0.1.2.3', '0/8'],
  ['10.0.0.1', '10/8'], ['10.255.255.254', '10/8'],
  ['100.64.0.1', '100.64/10'], ['100.127.255.254', '100.64/10'],
  ['127.0.0.1', '127/8'], ['127.1.2.3', '127/8'],
  ['169.254.169.254', '169.254/16 (cloud metadata)'], ['169.254.0.1', '169.254/16'],
  ['172.16.0.1', '172.16/12'], ['172.31.255.254', '172.16/12'],
  ['192.0.0.1', '192.0.0/24'], ['192.0.0.170', '192.0.0/24'],
  ['192.0.2.1', '192.0.2/24'],
  ['192.88.99.1', '192.88.99/24'],
  ['192.168.0.1', '192.168/16'], ['192.168.255.254', '192.168/16'],
  ['198.18.0.1', '198.18/15'], ['198.19.255.254', '198.18/15'],
  ['198.51.100.1', '198.51.100/24'],
  ['203.0.113.1', '203.0.113/24'],
  ['224.0.0.1', '224/4'], ['239.255.255.250', '224/4'],
  ['240.0.0.1', '240/4'], ['255.255.255.255', '240/4'],
];
// Public neighbours of those ranges: not refused by the policy, so a connection is attempted.
const V4_PUBLIC = [
  '1.1.1.1', '9.255.255.254', '11.0.0.1', '100.63.255.254', '100.128.0.1', '126.255.255.254', '128.0.0.1',
  '169.253.255.254', '169.255.0.1', '172.15.255.254', '172.32.0.1', '192.0.1.1', '192.0.3.1', '192.88.98.1',
  '192.88.100.1', '192.167.255.254', '192.169.0.1', '198.17.255.254', '198.20.0.1', '198.51.99.1', '198.51.101.1',
  '203.0.112.1', '203.0.114.1', '223.255.255.254', '93.184.216.34',
];
const V6_SPECIAL = [
  ['::', 'unspecified'], ['::1', 'loopback'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'], ['::ffff:10.0.0.1', 'IPv4-mapped private'],
  ['::ffff:93.184.216.34', 'IPv4-mapped, even of a public address'], ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::7f00:1', 'IPv4-compatible (::/96)'], ['::5db8:d822', 'IPv4-compatible of a public address'],
  ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'], ['64:ff9b::5db8:d822', 'NAT64, even of a public address'],
  ['64:ff9b:1::1', 'local-use NAT64 (64:ff9b:1::/48)'],
  ['100::1', 'discard-only (100::/64)'],
  ['2001::1', '2001::/23'], ['2001:1ff::1', '2001::/23 (end)'],
  ['2001:db8::1', 'documentation'],
  ['2002:a00:1::1', '6to4 of 10.0.0.1'], ['2002:5db8:d822::1', '6to4, even of a public address'],
  ['fc00::1', 'unique local'], ['fd12:3456::1', 'unique local'],
  ['fe80::1', 'link-local'], ['febf::1', 'link-local (end)'],
  ['fec0::1', 'site-local'], ['feff::1', 'site-local (end)'],
  ['ff02::1', 'multicast'], ['ff05::1:3', 'multicast'],
];
const V6_PUBLIC = ['2001:200::1', '2003::1', 'fbff::1', '64:ff9b:2::1', '2001:db9::1', '2606:2800:220:1::1'];

/** Addresses to put on lo so that a (wrong) connection to them would succeed and be recorded. */
function loAddresses() {
  const v4 = [...V4_SPECIAL.map(([a]) => a), ...V4_PUBLIC, '10.0.0.2', '192.168.1.1']
    .filter((a) => !['0.0.0.0', '0.1.2.3', '255.255.255.255'].includes(a) && !a.startsWith('127.') && !/^2(2[4-9]|3\d)\./.test(a));
  const v6 = [...V6_SPECIAL.map(([a]) => a), ...V6_PUBLIC]
    .filter((a) => !['::', '::1'].includes(a) && !a.startsWith('::ffff:') && !a.startsWith('ff'));
  return { v4: [...new Set(v4)], v6: [...new Set(v6)] };
}

describe('special-use addresses are refused without connecting', { skip: NO_NETNS }, () => {
  let out;
  before(async () => {
    const checks = [];
    for (const [a] of V4_SPECIAL) checks.push({ id: `v4:${a}`, url: `https://${a}/client.json`, args: CA_ARGS() });
    for (const [a] of V6_SPECIAL) checks.push({ id: `v6:${a}`, url: `https://[${a}]/client.json`, args: CA_ARGS() });
    for (const a of V4_PUBLIC) checks.push({ id: `pub4:${a}`, url: `https://${a}/client.json`, args: CA_ARGS() });
    for (const a of V6_PUBLIC) checks.push({ id: `pub6:${a}`, url: `https://[${a}]/client.json`, args: CA_ARGS() });
    // host map entries are vetted too
    for (const [name, addr] of [
      ['mapped-loopback.partner.test', '127.0.0.1'], ['mapped-private.partner.test', '10.0.0.1'],
      ['mapped-metadata.partner.test', '169.254.169.254'], ['mapped-v6loop.partner.test', '::1'],
      ['mapped-ula.partner.test', 'fd12:3456::1'], ['mapped-v4mapped.partner.test', '::ffff:10.0.0.1'],
    ]) {
      checks.push({ id: `map:${name}`, url: `https://${name}/client.json`, args: [...CA_ARGS(), '--cimd-resolve', `${name}:443:${addr}`], addr });
    }
    // --cimd-allow-loopback allows 127/8 and ::1, nothing else
    for (const a of ['10.0.0.1', '169.254.169.254', '192.168.1.1', '0.0.0.0']) {
      checks.push({ id: `allow-loopback:${a}`, url: `https://${a}/client.json`, args: [...CA_ARGS(), '--cimd-allow-loopback'] });
    }
    for (const a of ['::ffff:127.0.0.1', 'fd12:3456::1', '::']) {
      checks.push({ id: `allow-loopback:${a}`, url: `https://[${a}]/client.json`, args: [...CA_ARGS(), '--cimd-allow-loopback'] });
    }
    checks.push({ id: 'allow-loopback:map-private', url: 'https://mapped.partner.test/client.json', args: [...CA_ARGS(), '--cimd-allow-loopback', '--cimd-resolve', 'mapped.partner.test:443:10.0.0.2'] });
    // other spellings of loopback
    for (const h of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0', '017700000001', '0x7f.1']) {
      checks.push({ id: `odd:${h}`, url: `https://${h}/client.json`, args: CA_ARGS() });
    }
    out = await inNamespace({ ...loAddresses(), wildcard: true, checks });
    assert.deepEqual(out.setup.listenFailures, [], JSON.stringify(out.setup));
  });

  for (const [a, label] of V4_SPECIAL) {
    test(`IPv4 ${a} (${label})`, () => assertRefused(out.byId[`v4:${a}`], ADDRESS_POLICY, { address: a, host: a }));
  }
  for (const [a, label] of V6_SPECIAL) {
    test(`IPv6 [${a}] (${label})`, () => assertRefused(out.byId[`v6:${a}`], ADDRESS_POLICY, { host: a }));
  }
  test('a --cimd-resolve host map entry to a special-use address (v4 and v6) is vetted too', () => {
    for (const r of out.results.filter((x) => x.id.startsWith('map:'))) {
      const host = new URL(r.url).hostname;
      assertRefused(r, ADDRESS_POLICY, { host });
    }
  });
  test('--cimd-allow-loopback allows 127/8 and ::1 only: other special-use addresses stay refused', () => {
    for (const r of out.results.filter((x) => x.id.startsWith('allow-loopback:'))) {
      assertRefused(r, ADDRESS_POLICY, { host: new URL(r.url).hostname.replace(/^\[|\]$/g, '') });
    }
  });
  test('numeric spellings of loopback (2130706433, 0x7f000001, 0177.0.0.1, 127.1, 0 …) are refused without connecting', () => {
    for (const r of out.results.filter((x) => x.id.startsWith('odd:'))) {
      const host = r.id.slice(4);
      assert.equal(r.code, 1, `${r.url}: ${r.stdout}`);
      const md = r.json?.checks?.find((c) => c.name === 'metadata_document');
      const bad = r.json?.checks?.find((c) => !c.ok);
      assert.ok(bad, `${r.url}: ${r.stdout}`);
      if (md) assert.match(strip(md.detail, host, r.url), new RegExp(`${ADDRESS_POLICY.source}|${NAME_POLICY.source}`, 'i'), md.detail);
      assert.deepEqual(r.connections, [], `${r.url}: ${JSON.stringify(r.connections)}`);
    }
  });

  test('control: public IPv4 addresses next to every range are not refused by the policy (a connection is attempted)', () => {
    for (const a of V4_PUBLIC) {
      const r = out.byId[`pub4:${a}`];
      const md = r.json?.checks?.find((c) => c.name === 'metadata_document');
      assert.ok(md, `${r.url}: ${r.stdout} ${r.stderr}`);
      assert.doesNotMatch(strip(md.detail, a, r.url), ADDRESS_POLICY, `${a} is public: ${md.detail}`);
      assert.ok(r.connections.length >= 1, `${a}: a connection was attempted to the (recording) listener: ${md.detail}`);
      assert.ok(r.connections.every((c) => c.local.replace(/^::ffff:/, '') === a), JSON.stringify(r.connections));
    }
  });

  test('control: public IPv6 addresses next to the ranges are not refused by the policy (a connection is attempted)', () => {
    for (const a of V6_PUBLIC) {
      const r = out.byId[`pub6:${a}`];
      const md = r.json?.checks?.find((c) => c.name === 'metadata_document');
      assert.ok(md, `${r.url}: ${r.stdout} ${r.stderr}`);
      assert.doesNotMatch(strip(md.detail, a, r.url), ADDRESS_POLICY, `${a} is public: ${md.detail}`);
      assert.ok(r.connections.length >= 1, `[${a}]: a connection was attempted to the (recording) listener: ${md.detail}`);
    }
  });
});

// =============================================================================================
// Names: internal names refused before resolving; resolved addresses vetted; one lookup only.

const INTERNAL_NAMES = [
  'localhost', 'LOCALHOST', 'foo.localhost', 'metadata.google.internal', 'x.internal', 'a.local', 'svc.cluster.local',
  'vault.service.consul', 'printer.lan', 'nas.home', 'x.corp', 'box.localdomain', 'router.home.arpa', 'wiki.intranet',
  'db.priv', 'intranet', 'partner',
];
const TRAILING_DOT_NAMES = ['localhost.', 'metadata.google.internal.', 'x.internal.', 'a.local.'];

describe('names, DNS and rebinding', { skip: NO_MOUNTNS }, () => {
  let out;
  const PUBLIC = '93.184.216.34';
  before(async () => {
    const dns = {
      'rebind.test': { A: [[PUBLIC], ['127.0.0.1']], AAAA: [[]] },
      'pub.test': { A: [[PUBLIC]], AAAA: [[]] },
      'proxied.test': { A: [[PUBLIC]], AAAA: [[]] },
      'mixed.test': { A: [[PUBLIC, '10.0.0.1']], AAAA: [[]] },
      'mixed6.test': { A: [[PUBLIC]], AAAA: [['fd12:3456::1']] },
      'private.test': { A: [['192.168.1.1']], AAAA: [[]] },
      'metadata.test': { A: [['169.254.169.254']], AAAA: [[]] },
      'loop.test': { A: [['127.0.0.1']], AAAA: [['::1']] },
      'v4mapped.test': { A: [[]], AAAA: [['::ffff:127.0.0.1']] },
      'nat64.test': { A: [[]], AAAA: [['64:ff9b::a00:1']] },
      'sixtofour.test': { A: [[]], AAAA: [['2002:a00:1::1']] },
    };
    // Internal names answer with the public address where a valid document is served: only the name
    // policy can refuse them.
    for (const n of [...INTERNAL_NAMES, ...TRAILING_DOT_NAMES]) dns[n.toLowerCase().replace(/\.$/, '')] = { A: [[PUBLIC]], AAAA: [[]] };
    const proxy = 'http://127.0.0.1:3128';
    const checks = [
      { id: 'rebind', url: 'https://rebind.test/client.json', args: CA_ARGS() },
      { id: 'pub', url: 'https://pub.test/client.json', args: CA_ARGS() },
      {
        id: 'proxied', url: 'https://proxied.test/client.json', args: CA_ARGS(),
        env: { HTTPS_PROXY: proxy, https_proxy: proxy, ALL_PROXY: proxy, all_proxy: proxy, HTTP_PROXY: proxy, http_proxy: proxy },
      },
      { id: 'mixed', url: 'https://mixed.test/client.json', args: CA_ARGS() },
      { id: 'mixed6', url: 'https://mixed6.test/client.json', args: CA_ARGS() },
      { id: 'private', url: 'https://private.test/client.json', args: CA_ARGS() },
      { id: 'metadata', url: 'https://metadata.test/client.json', args: CA_ARGS() },
      { id: 'loop', url: 'https://loop.test/client.json', args: CA_ARGS() },
      { id: 'v4mapped', url: 'https://v4mapped.test/client.json', args: CA_ARGS() },
      { id: 'nat64', url: 'https://nat64.test/client.json', args: CA_ARGS() },
      { id: 'sixtofour', url: 'https://sixtofour.test/client.json', args: CA_ARGS() },
      ...INTERNAL_NAMES.map((n) => ({ id: `internal:${n}`, url: `https://${n}/client.json`, args: CA_ARGS() })),
      ...TRAILING_DOT_NAMES.map((n) => ({ id: `dot:${n}`, url: `https://${n}/client.json`, args: CA_ARGS() })),
    ];
    out = await inNamespace({
      v4: [PUBLIC, '10.0.0.1', '192.168.1.1', '169.254.169.254'],
      v6: ['fd12:3456::1', '64:ff9b::a00:1', '2002:a00:1::1'],
      tlsServers: [{ host: PUBLIC, port: 443 }],
      recorders: [
        { host: '127.0.0.1', port: 443 }, { host: '::1', port: 443 }, { host: '10.0.0.1', port: 443 },
        { host: '192.168.1.1', port: 443 }, { host: '169.254.169.254', port: 443 }, { host: 'fd12:3456::1', port: 443 },
        { host: '64:ff9b::a00:1', port: 443 }, { host: '2002:a00:1::1', port: 443 }, { host: '127.0.0.1', port: 3128 },
      ],
      dns,
      resolvConf: 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n',
      checks,
    }, { mount: true });
    assert.deepEqual(out.setup.listenFailures, [], JSON.stringify(out.setup));
    assert.deepEqual(out.setup.addFailures, [], JSON.stringify(out.setup));
  });

  test('control: a public name is resolved, fetched from its address and accepted', () => {
    const r = out.byId.pub;
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}`);
    assert.deepEqual(r.connections.map((c) => [c.kind, c.local.replace(/^::ffff:/, '')]), [['tls', PUBLIC]]);
  });

  test('DNS rebinding: the name is resolved once; the fetch goes to the vetted address, never to the rebound 127.0.0.1', () => {
    const r = out.byId.rebind;
    assert.equal(r.code, 0, `the document at the first address is fetched: ${r.stdout} ${r.stderr}`);
    const a = r.dns.filter((q) => q.name === 'rebind.test' && q.type === 'A').length;
    const aaaa = r.dns.filter((q) => q.name === 'rebind.test' && q.type === 'AAAA').length;
    assert.equal(a, 1, `one A lookup: ${JSON.stringify(r.dns)}`);
    assert.ok(aaaa <= 1, `at most one AAAA lookup: ${JSON.stringify(r.dns)}`);
    assert.deepEqual(r.connections.map((c) => [c.kind, c.local.replace(/^::ffff:/, '')]), [['tls', PUBLIC]],
      `only the vetted address was connected to: ${JSON.stringify(r.connections)}`);
  });

  test('proxies from the environment are ignored (HTTPS_PROXY, ALL_PROXY …)', () => {
    const r = out.byId.proxied;
    assert.equal(r.code, 0, `${r.stdout} ${r.stderr}`);
    assert.deepEqual(r.connections.map((c) => [c.kind, c.local.replace(/^::ffff:/, ''), c.localPort]), [['tls', PUBLIC, 443]],
      `straight to the document's address, not to the proxy: ${JSON.stringify(r.connections)}`);
  });

  for (const [id, label, address] of [
    ['mixed', 'one public and one private A record', '10.0.0.1'],
    ['mixed6', 'a public A and a unique-local AAAA record', null],
    ['private', 'a 192.168/16 address', '192.168.1.1'],
    ['metadata', 'the cloud metadata address', '169.254.169.254'],
    ['loop', 'loopback (A 127.0.0.1, AAAA ::1)', null],
    ['v4mapped', 'an IPv4-mapped AAAA (::ffff:127.0.0.1)', null],
    ['nat64', 'a NAT64 AAAA (64:ff9b::a00:1)', null],
    ['sixtofour', 'a 6to4 AAAA (2002:a00:1::1)', null],
  ]) {
    test(`a name resolving to ${label} is refused without connecting`, () => {
      const r = out.byId[id];
      assertRefused(r, ADDRESS_POLICY, { host: `${id}.test`, address: address ?? undefined });
      assert.equal(r.dns.filter((q) => q.type === 'A').length <= 1 && r.dns.filter((q) => q.type === 'AAAA').length <= 1, true,
        `resolved once: ${JSON.stringify(r.dns)}`);
    });
  }

  for (const n of INTERNAL_NAMES) {
    test(`internal name ${n} is refused before resolving`, () => {
      const r = out.byId[`internal:${n}`];
      assertRefused(r, NAME_POLICY, { host: n.toLowerCase() });
      assert.deepEqual(r.dns, [], `no DNS query: ${JSON.stringify(r.dns)}`);
    });
  }

  test('internal names with a trailing dot (localhost., metadata.google.internal. …) are refused too', () => {
    for (const n of TRAILING_DOT_NAMES) {
      const r = out.byId[`dot:${n}`];
      assert.equal(r.code, 1, `${n}: ${r.stdout}`);
      assert.deepEqual(r.connections, [], `${n}: ${JSON.stringify(r.connections)}`);
      const bad = r.json?.checks?.find((c) => !c.ok);
      assert.ok(bad, `${n}: ${r.stdout}`);
      // Refused by the client_id URL rules (a trailing dot is not allowed at all) or the name policy.
      assert.match(strip(bad.detail, n, n.replace(/\.$/, ''), r.url), new RegExp(`${NAME_POLICY.source}|end with a dot`, NAME_POLICY.flags), bad.detail);
      assert.deepEqual(r.dns, [], `${n}: no DNS query: ${JSON.stringify(r.dns)}`);
    }
  });
});

// =============================================================================================
// Without namespaces, only checks that cannot leave the machine even if the policy were broken:
// loopback literals, localhost names and a host map entry to 127.0.0.1.
describe('without a network namespace: loopback targets are refused', { skip: NETNS ? 'the namespace tests above cover this' : false }, () => {
  for (const [url, extra, policy] of [
    ['https://127.0.0.1/client.json', [], ADDRESS_POLICY],
    ['https://127.1.2.3/client.json', [], ADDRESS_POLICY],
    ['https://[::1]/client.json', [], ADDRESS_POLICY],
    ['https://[::ffff:127.0.0.1]/client.json', [], ADDRESS_POLICY],
    ['https://mapped.partner.test/client.json', ['--cimd-resolve', 'mapped.partner.test:443:127.0.0.1'], ADDRESS_POLICY],
    ['https://localhost/client.json', [], NAME_POLICY],
    ['https://foo.localhost/client.json', [], NAME_POLICY],
  ]) {
    test(url, async () => {
      const { cliCheck } = await import('./cimd_common.mjs');
      const r = await cliCheck(url, [...CA_ARGS(), ...extra]);
      assert.equal(r.code, 1, r.stdout);
      const md = r.json?.checks?.find((c) => c.name === 'metadata_document');
      assert.ok(md && md.ok === false, r.stdout);
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      assert.match(strip(md.detail, host, url), policy, md.detail);
    });
  }
});
