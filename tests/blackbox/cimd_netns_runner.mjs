// Runs inside a fresh network namespace (and, for DNS scenarios, a mount namespace) created by
// cimd_ssrf.test.mjs with `unshare -n [-m]`. Only the namespace's own `lo` exists here, so nothing
// can leave the machine. Usage: node cimd_netns_runner.mjs SPEC.json  → prints one JSON object.
//
// SPEC: {
//   bin,                                   provisiond binary
//   v4: [addr…], v6: [addr…],              addresses added to lo (failures are reported, not fatal)
//   wildcard: true,                        a plain TCP recorder on [::]:443 (dual stack) catching every address
//   recorders: [{host, port}],             plain TCP recorders on specific addresses
//   tlsServers: [{host, port}],            TLS servers (certFile/keyFile) answering any GET with a valid
//                                          metadata document for https://<Host header><path>
//   certFile, keyFile,
//   dns: {name: {A: [[addr…]…], AAAA: [[addr…]…]}}   answers in sequence per (name, type); the last repeats;
//                                          names not listed → NXDOMAIN. Served on 127.0.0.1:53 (udp).
//   resolvConf: "…",                       bind-mounted over /etc/resolv.conf (needs a mount namespace)
//   checks: [{id, url, args: […], env: {…}}]  `provisiond clients check url args…`, one after the other
// }
// OUTPUT: {setup: {addFailures, listenFailures}, results: [{id, url, code, stdout, stderr, json, elapsedMs,
//          connections: [{local, localPort, kind}], dns: [{name, type}]}]}
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const setup = { addFailures: [], listenFailures: [] };
const connections = [];   // {local, localPort, kind, t}
const dnsLog = [];        // {name, type, t}

function sh(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (e) {
    return String(e.stderr || e.message).trim();
  }
}

// --- interfaces ---------------------------------------------------------------------------
const upErr = sh('ip', ['link', 'set', 'lo', 'up']);
if (upErr) setup.addFailures.push({ addr: 'lo up', error: upErr });
for (const a of spec.v4 ?? []) {
  const err = sh('ip', ['addr', 'add', `${a}/32`, 'dev', 'lo']);
  if (err) setup.addFailures.push({ addr: a, error: err });
}
for (const a of spec.v6 ?? []) {
  const err = sh('ip', ['-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad']);
  if (err) setup.addFailures.push({ addr: a, error: err });
}

// --- resolv.conf ----------------------------------------------------------------------------
if (spec.resolvConf !== undefined) {
  const file = `${process.argv[2]}.resolv.conf`;
  writeFileSync(file, spec.resolvConf);
  const err = sh('mount', ['--bind', file, '/etc/resolv.conf']);
  if (err) setup.addFailures.push({ addr: 'resolv.conf', error: err });
}

// --- listeners ------------------------------------------------------------------------------
const servers = [];
function listen(server, host, port, label) {
  return new Promise((res) => {
    server.once('error', (e) => { setup.listenFailures.push({ host, port, label, error: e.code || String(e) }); res(false); });
    const opts = { host, port };
    if (host === '::') opts.ipv6Only = false;
    server.listen(opts, () => { servers.push(server); res(true); });
  });
}
function record(socket, kind) {
  connections.push({ local: socket.localAddress, localPort: socket.localPort, kind, t: Date.now() });
}

if (spec.wildcard) {
  const s = net.createServer((sock) => { record(sock, 'wildcard'); sock.on('error', () => {}); sock.destroy(); });
  await listen(s, '::', 443, 'wildcard');
}
for (const r of spec.recorders ?? []) {
  const s = net.createServer((sock) => { record(sock, 'recorder'); sock.on('error', () => {}); sock.destroy(); });
  await listen(s, r.host, r.port, 'recorder');
}
if ((spec.tlsServers ?? []).length) {
  const key = readFileSync(spec.keyFile);
  const cert = readFileSync(spec.certFile);
  for (const t of spec.tlsServers) {
    const s = tls.createServer({ key, cert }, (sock) => {
      sock.on('error', () => {});
      let head = '';
      sock.on('data', (d) => {
        head += d.toString('latin1');
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        const [reqLine, ...lines] = head.slice(0, i).split('\r\n');
        const path = reqLine.split(' ')[1];
        const host = (lines.find((l) => /^host:/i.test(l)) || '').replace(/^host:\s*/i, '');
        const body = JSON.stringify({
          client_id: `https://${host}${path}`, client_name: 'Namespace Partner',
          redirect_uris: ['https://partner.example/callback'], token_endpoint_auth_method: 'none',
        });
        sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
    });
    s.on('secureConnection', (sock) => record(sock, 'tls'));
    s.on('tlsClientError', () => {});
    await listen(s, t.host, t.port, 'tls');
  }
}

// --- DNS ------------------------------------------------------------------------------------
function v6bytes(addr) {
  let a = addr;
  let tail = [];
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (m) {
    const p = m[1].split('.').map(Number);
    tail = [((p[0] << 8) | p[1]).toString(16), ((p[2] << 8) | p[3]).toString(16)];
    a = a.slice(0, -m[1].length) + tail.join(':');
  }
  const [l, r] = a.split('::');
  const left = l ? l.split(':') : [];
  const right = r !== undefined && r !== '' ? r.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}
const dnsState = new Map();
function answersFor(name, type) {
  const entry = spec.dns?.[name];
  if (!entry) return null;
  const seq = entry[type] ?? [[]];
  const key = `${name}/${type}`;
  const n = dnsState.get(key) ?? 0;
  dnsState.set(key, n + 1);
  return seq[Math.min(n, seq.length - 1)];
}
if (spec.dns) {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      const id = msg.readUInt16BE(0);
      let off = 12;
      const labels = [];
      while (msg[off] !== 0) { labels.push(msg.slice(off + 1, off + 1 + msg[off]).toString('latin1')); off += msg[off] + 1; }
      off += 1;
      const qtype = msg.readUInt16BE(off);
      const question = msg.slice(12, off + 4);
      const name = labels.join('.').toLowerCase();
      const type = qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : String(qtype);
      dnsLog.push({ name, type, t: Date.now() });
      const addrs = (type === 'A' || type === 'AAAA') ? answersFor(name, type) : (spec.dns[name] ? [] : null);
      const header = Buffer.alloc(12);
      header.writeUInt16BE(id, 0);
      header.writeUInt16BE(addrs === null ? 0x8183 : 0x8180, 2);   // QR RD RA (+ NXDOMAIN)
      header.writeUInt16BE(1, 4);
      const rrs = [];
      for (const a of addrs ?? []) {
        const rdata = type === 'A' ? Buffer.from(a.split('.').map(Number)) : v6bytes(a);
        const rr = Buffer.alloc(12);
        rr.writeUInt16BE(0xc00c, 0);
        rr.writeUInt16BE(qtype, 2);
        rr.writeUInt16BE(1, 4);
        rr.writeUInt32BE(0, 6);          // TTL 0
        rr.writeUInt16BE(rdata.length, 10);
        rrs.push(rr, rdata);
      }
      header.writeUInt16BE((addrs ?? []).length, 6);
      sock.send(Buffer.concat([header, question, ...rrs]), rinfo.port, rinfo.address);
    } catch { /* ignore malformed */ }
  });
  await new Promise((res) => {
    sock.once('error', (e) => { setup.listenFailures.push({ host: '127.0.0.1', port: 53, label: 'dns', error: e.code }); res(); });
    sock.bind(53, '127.0.0.1', res);
  });
}

// --- checks ---------------------------------------------------------------------------------
function run(args, env) {
  return new Promise((res) => {
    const t0 = Date.now();
    const child = spawn(spec.bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr, elapsedMs: Date.now() - t0 }); });
  });
}

const results = [];
for (const c of spec.checks ?? []) {
  const c0 = connections.length;
  const d0 = dnsLog.length;
  const r = await run(['clients', 'check', c.url, ...(c.args ?? [])], c.env ?? {});
  await new Promise((res) => setTimeout(res, 100));   // let late accepts land
  let json;
  try { json = JSON.parse(r.stdout); } catch { json = undefined; }
  results.push({ id: c.id, url: c.url, ...r, json, connections: connections.slice(c0), dns: dnsLog.slice(d0) });
}

process.stdout.write(JSON.stringify({ setup, results }));
for (const s of servers) s.close();
process.exit(0);
