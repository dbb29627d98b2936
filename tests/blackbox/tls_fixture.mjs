// TLS fixtures for the CIMD tests: a throwaway certificate authority (openssl CLI), a real nginx that
// serves client metadata documents over HTTPS on loopback with per-location variants, and a raw Node
// TLS server for misbehaving peers (stalls, lying Content-Length).
//
// Needs the Debian packages `openssl` and `nginx` (nginx is only run from a generated config inside a
// temp dir; the system service is never touched).
//
// Everything here listens on 127.0.0.1 only.

import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { dirname, join } from 'node:path';
import { freePort, listenOnFreePort, makeTempDir, retryOnTakenPort, sleep } from './harness.mjs';

/** Every DNS name (and IP) the server certificate is valid for. */
export const CERT_NAMES = [
  'partner.test', '*.partner.test', 'other.test', '*.other.test', 'xother.test',
  'site1.test', 'site2.test', 'site3.test', 'site4.test', 'site5.test', 'site6.test', 'site7.test', 'site8.test',
  'rebind.test', 'mixed.test', 'pub.test', 'pub2.test', 'proxied.test',
];
export const CERT_IPS = ['127.0.0.1', '93.184.216.34'];

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

export function haveCommand(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function nginxBinary() {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (existsSync(p)) return p;
  }
  return haveCommand('nginx') ? 'nginx' : null;
}

// ---------------------------------------------------------------------------------------------
// Certificate authority.

let caPromise = null;

/**
 * A CA plus one server certificate for CERT_NAMES / CERT_IPS, made once per test process.
 * Returns {dir, caFile, caKey, certFile, keyFile, ca, cert, key} (the last three as PEM strings).
 * `otherCaFile` is a second, unrelated CA (for "untrusted issuer" tests).
 */
export function testCA() {
  if (!caPromise) caPromise = makeCA();
  return caPromise;
}

async function makeCA() {
  const dir = await makeTempDir('provisiond-ca-');
  const o = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  o(['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '2', '-subj', '/CN=provisiond test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
    '-out', caFile]);
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.pem');
  o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  o(['req', '-new', '-key', keyFile, '-subj', '/CN=partner.test', '-out', csr]);
  const san = [...CERT_NAMES.map((n) => `DNS:${n}`), ...CERT_IPS.map((i) => `IP:${i}`)].join(',');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
    `subjectAltName=${san}`,
    '',
  ].join('\n'));
  o(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-sha256', '-days', '2',
    '-extfile', ext, '-out', certFile]);
  // A second CA nobody trusts.
  const otherKey = join(dir, 'other-ca.key');
  const otherCaFile = join(dir, 'other-ca.pem');
  o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', otherKey]);
  o(['req', '-x509', '-new', '-key', otherKey, '-sha256', '-days', '2', '-subj', '/CN=unrelated CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', otherCaFile]);
  return {
    dir, caFile, caKey, certFile, keyFile, otherCaFile,
    ca: readFileSync(caFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'),
  };
}

// ---------------------------------------------------------------------------------------------
// nginx.

/** Size of the body served by the slow-drip locations (bytes) and their rates (bytes/s). */
export const SLOW_BODY_BYTES = 3000;

function nginxConf({ dir, port, certFile, keyFile, docroot }) {
  const L = (s) => s.split('\n').map((x) => `    ${x}`).join('\n');
  // Locations. Every variant serves files from the docroot at the request path, so a test writes
  // `/<variant>/<unique>.json` and gets that variant's behaviour.
  const locations = `
# Plain documents: application/json, no Cache-Control.
location / {
    try_files $uri =404;
}
# Cache-Control variants.
location /maxage1/    { add_header Cache-Control "max-age=1" always; }
location /maxage2/    { add_header Cache-Control "public, max-age=2" always; }
# max-age=1 until the test writes "<file>.long" next to the document, then max-age=3600: a
# refreshed document that stays fresh however slowly the rest of the test runs.
location /maxage1then3600/ {
    set $cc "max-age=1";
    if (-f $request_filename.long) { set $cc "max-age=3600"; }
    add_header Cache-Control $cc always;
}
location /maxage3600/ { add_header Cache-Control "max-age=3600" always; }
location /maxagebig/  { add_header Cache-Control "max-age=999999999" always; }
location /nostore/    { add_header Cache-Control "no-store" always; }
location /nocache/    { add_header Cache-Control "no-cache" always; }
location /extraheaders/ {
    add_header X-Frame-Options DENY always;
    add_header Set-Cookie "a=b; Secure" always;
    add_header Link "<https://partner.test/>; rel=preload" always;
}
# Content types.
location /ct-foo/     { types { } default_type "application/foo+json"; }
location /ct-charset/ { types { } default_type "application/json; charset=utf-8"; }
location /ct-html/    { types { } default_type "text/html"; }
location /ct-text/    { types { } default_type "text/plain"; }
location /ct-textjson/ { types { } default_type "text/json"; }
location /ct-jsonx/   { types { } default_type "application/jsonx"; }
location /ct-octet/   { types { } default_type "application/octet-stream"; }
location /ct-none/    { types { } default_type ""; }
# Status codes.
location /s500/       { return 500; }
location /s503/       { return 503; }
location /s204/       { return 204; }
location /s201/       { return 201 '{}'; }
location /s403/       { return 403; }
location /s410/       { return 410; }
location /s301/       { return 301 https://$host:$server_port/plain/redirect-target.json; }
location /s302/       { return 302 https://$host:$server_port/plain/redirect-target.json; }
location /s307/       { return 307 https://$host:$server_port/plain/redirect-target.json; }
location /s308/       { return 308 https://$host:$server_port/plain/redirect-target.json; }
location /s302same/   { return 302 $uri.json; }
# Chunked: sub_filter drops Content-Length, so nginx streams with Transfer-Encoding: chunked.
location /chunked/ {
    sub_filter_types application/json image/png;
    sub_filter 'zz-never-present-zz' 'zz';
    sub_filter_once off;
}
# Slow drip: 150 bytes every second (never a 5 s gap), the whole body takes ~${Math.round(SLOW_BODY_BYTES / 150)} s.
location /slow/ {
    limit_rate 150;
    sendfile off;
    postpone_output 0;
    output_buffers 1 64;
}
# A moderately slow document (whole body in ~2-3 s), for "registration in progress" tests.
location /slowish/ {
    limit_rate 1200;
    sendfile off;
    postpone_output 0;
    output_buffers 1 64;
}
`;
  return `
worker_processes 1;
daemon off;
master_process on;
user root root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 512; }
http {
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    log_format cimd escape=json '{"m":"$request_method","u":"$request_uri","s":$status,"b":$body_bytes_sent,'
        '"h":"$host","ua":"$http_user_agent","acc":"$http_accept","ae":"$http_accept_encoding",'
        '"t":$msec,"rt":"$request_time","c":"$connection"}';
    access_log ${dir}/access.log cimd;
    types {
        application/json json; text/html html; text/plain txt;
        image/png png; image/gif gif; image/jpeg jpg; image/webp webp; image/svg+xml svg;
    }
    default_type application/json;
    sendfile on;
    keepalive_timeout 5;
    server_tokens off;
    gzip off;
    server {
        listen 127.0.0.1:${port} ssl;
        server_name _;
        ssl_certificate ${certFile};
        ssl_certificate_key ${keyFile};
        ssl_protocols TLSv1.2 TLSv1.3;
        root ${docroot};
${L(locations)}
    }
}
`;
}

/** Wait until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port, { host = '127.0.0.1', timeoutMs = 10000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, host);
      s.on('connect', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (proc && proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * nginx answers on its port and has written its pid file, which it does only once it has bound
 * (a taken port may have another process's listener answering on it; nginx then gives up binding
 * after ~2.5 s and exits).
 */
async function nginxUp(child, port, dir) {
  await waitForPort(port, { proc: child });
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode})`);
    let pid;
    try { pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim()); } catch { pid = undefined; }
    if (pid === child.pid) return;
    if (Date.now() > deadline) throw new Error('nginx wrote no pid file within 10 s');
    await sleep(50);
  }
}

function readErrorLog(dir) {
  try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; }
}

/**
 * Start nginx serving a docroot over HTTPS on a free loopback port with the test CA's certificate.
 * Returns a site object:
 *  port, caFile, otherCaFile, dir, docroot
 *  url(host, path)            → `https://host:port/path`
 *  resolveArgs(names)         → ['--cimd-resolve', 'name:port:127.0.0.1', …] (a [name, address] pair maps elsewhere)
 *  cimdArgs(names, {loopback}) → --cimd-ca-file + (--cimd-allow-loopback) + resolve args
 *  writeDoc(path, obj|string|Buffer) (atomic; returns the path's URL on partner.test)
 *  removeDoc(path)
 *  log()                      → parsed access-log entries [{m,u,s,b,h,ua,acc,...}]
 *  fetchCount(path[, host])   → entries whose URI is path (and whose Host matches host, when given)
 *  totalFetches()             → number of requests logged
 *  waitForFetchCount(path, n, {timeoutMs}) → polls the log until at least n; returns the count
 *  stop()
 */
export async function startTlsSite() {
  const nginx = nginxBinary();
  if (!nginx) throw new Error('nginx is not installed (apt-get install -y nginx)');
  const ca = await testCA();
  const dir = await makeTempDir('provisiond-nginx-');
  const docroot = join(dir, 'docroot');
  mkdirSync(docroot, { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  const accessLog = join(dir, 'access.log');
  // On another port when the one picked was taken before nginx bound it (see retryOnTakenPort
  // in harness.mjs): nginx then exits saying so.
  const { port, proc, exited, stderr } = await retryOnTakenPort(async () => {
    const picked = await freePort();
    writeFileSync(conf, nginxConf({ dir, port: picked, certFile: ca.certFile, keyFile: ca.keyFile, docroot }));
    writeFileSync(accessLog, '');
    writeFileSync(join(dir, 'error.log'), '');
    rmSync(join(dir, 'nginx.pid'), { force: true });
    const child = spawn(nginx, ['-e', join(dir, 'error.log'), '-c', conf, '-p', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    child.stdout.resume();
    const done = new Promise((res) => child.on('exit', (code, signal) => { live.delete(child); res({ code, signal }); }));
    try {
      await nginxUp(child, picked, dir);
    } catch (e) {
      child.kill('SIGKILL');
      await done;
      throw new Error(`nginx did not start: ${e.message}\n${err}${readErrorLog(dir)}`);
    }
    return { port: picked, proc: child, exited: done, stderr: () => err };
  }, (e) => /Address already in use/.test(e.message));

  const site = {
    port, dir, docroot, caFile: ca.caFile, otherCaFile: ca.otherCaFile, ca,
    url(host, path) { return `https://${host}:${port}${path}`; },
    /** Each name maps to 127.0.0.1, or give [name, address] to map it elsewhere. */
    resolveArgs(names) {
      return names.flatMap((n) => {
        const [name, address] = Array.isArray(n) ? n : [n, '127.0.0.1'];
        return ['--cimd-resolve', `${name}:${port}:${address}`];
      });
    },
    cimdArgs(names = ['partner.test'], { loopback = true, caFile = ca.caFile } = {}) {
      return [...(caFile ? ['--cimd-ca-file', caFile] : []), ...(loopback ? ['--cimd-allow-loopback'] : []), ...site.resolveArgs(names)];
    },
    writeDoc(path, content) {
      const file = join(docroot, path);
      mkdirSync(dirname(file), { recursive: true });
      const data = Buffer.isBuffer(content) ? content : Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
      const tmp = `${file}.${randomUUID()}.tmp`;
      writeFileSync(tmp, data);
      renameSync(tmp, file);
      return data.length;
    },
    removeDoc(path) { rmSync(join(docroot, path), { force: true }); },
    log() {
      const text = readFileSync(accessLog, 'utf8');
      const out = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try { out.push(JSON.parse(line)); } catch { out.push({ raw: line }); }
      }
      return out;
    },
    fetchCount(path, host) {
      return site.log().filter((e) => e.u === path && (host === undefined || e.h === host)).length;
    },
    fetches(path) { return site.log().filter((e) => e.u === path); },
    totalFetches() { return site.log().length; },
    async waitForFetchCount(path, n, { timeoutMs = 15000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = site.fetchCount(path);
        if (c >= n || Date.now() > deadline) return c;
        await sleep(50);
      }
    },
    stderr() { return stderr(); },
    errorLog() { return readErrorLog(dir); },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const r = await Promise.race([exited, sleep(10000).then(() => 'timeout')]);
      if (r === 'timeout') proc.kill('SIGKILL');
    },
  };
  return site;
}

// ---------------------------------------------------------------------------------------------
// Raw TLS server (Node) for peers nginx cannot imitate.

/**
 * startRawTlsServer(handler): TLS on 127.0.0.1:<free port> with the test CA's certificate.
 * handler(socket, requestHead) is called once the request head (up to CRLFCRLF) has arrived.
 * Returns {port, connections(), requests: [head…], stop()}.
 */
export async function startRawTlsServer(handler) {
  const ca = await testCA();
  const sockets = new Set();
  const requests = [];
  let connections = 0;
  const server = tls.createServer({ key: ca.key, cert: ca.cert }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    let done = false;
    socket.on('data', (d) => {
      if (done) return;
      head += d.toString('latin1');
      const i = head.indexOf('\r\n\r\n');
      if (i >= 0) {
        done = true;
        requests.push(head.slice(0, i));
        handler(socket, head.slice(0, i));
      }
    });
  });
  server.on('connection', () => { connections += 1; });
  server.on('tlsClientError', () => {});
  const port = await listenOnFreePort(server);
  return {
    port,
    requests,
    connections: () => connections,
    stop: () => new Promise((res) => {
      for (const s of sockets) s.destroy();
      server.close(() => res());
    }),
  };
}

/** Sends a 200 status line and headers, then nothing (keeps the connection open). */
export function stallAfterHeaders(extraHead = 'Content-Type: application/json\r\nContent-Length: 300\r\n') {
  return (socket) => { socket.write(`HTTP/1.1 200 OK\r\n${extraHead}\r\n`); };
}

/** Sends headers and the first part of the body, then nothing. */
export function stallMidBody(bodyStart = '{"client_id": "') {
  return (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n${bodyStart}`);
  };
}

/** Announces a large Content-Length, then sends nothing: a client that trusts the header refuses at once. */
export function hugeContentLength(n = 10_000_000) {
  return (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${n}\r\n\r\n`);
  };
}
