// One measured cell of a token workload, driven by wrk (bench/wrk/token.lua); called by run.sh.
//
//   node wrk-run.mjs --workload provisiond-refresh|provisiond-code|oidc-refresh|oidc-code
//       --target URL[,URL2] --clients C --duration S --warmup S
//       --warmup-file F --measure-file F [--server-pids P[,P2]] [--pg-dir DIR] [--threads T]
//       [--variant LABEL] [--database LABEL] [--setup JSON] [--json OUT.jsonl]
//
// Warm-up: one wrk run of --warmup seconds on --warmup-file's tokens/codes (not recorded). Then the
// measured wrk run of --duration seconds on --measure-file's. With two targets (two server
// processes on one database), each gets its own wrk with half the clients and half of each file,
// started together; rates add up and the latency histograms are merged.
//
// Around the measured run it reads /proc: CPU time (utime+stime) of the server processes, of the
// PostgreSQL cluster (--pg-dir: postmaster + its children, including exited ones via cutime/cstime),
// of wrk itself (bash `time` around it), and of the whole machine; the servers' VmRSS every 100 ms
// (the peak in the window) and VmRSS/VmHWM after.
// Appends one JSON line (the same shape as loadgen.mjs's, plus `generator` and `pg`) to --json.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    workload: { type: 'string' },
    target: { type: 'string' },
    clients: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'warmup-file': { type: 'string' },
    'measure-file': { type: 'string' },
    'server-pids': { type: 'string', default: '' },
    'pg-dir': { type: 'string' },
    threads: { type: 'string' },
    variant: { type: 'string' },
    database: { type: 'string' },
    setup: { type: 'string' },
    json: { type: 'string' },
    'tmp-dir': { type: 'string', default: '/tmp' },
  },
});
function die(msg) { console.error(`wrk-run: ${msg}`); process.exit(2); }
const W = opt.workload;
if (!/^(provisiond|oidc)-(refresh|code)$/.test(W ?? '')) die('--workload must be provisiond-refresh|provisiond-code|oidc-refresh|oidc-code');
const MODE = W.endsWith('refresh') ? 'refresh' : 'code';
const targets = (opt.target ?? '').split(',').filter(Boolean).map((u) => {
  const url = new URL(u);
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname) || url.protocol !== 'http:') die(`target must be plain http on loopback: ${u}`);
  return url;
});
if (!targets.length) die('--target is required');
const C = Number(opt.clients);
if (!(C >= targets.length) || C % targets.length) die(`--clients (${C}) must be a positive multiple of the number of targets`);
const CP = C / targets.length; // clients per wrk
const T = Math.max(1, Math.min(Number(opt.threads ?? 1), CP));
if (CP % T) die(`clients per wrk (${CP}) must be a multiple of --threads (${T})`);
const serverPids = opt['server-pids'].split(',').filter(Boolean).map(Number);
const tokenPath = W.startsWith('oidc') ? '/oauth/token' : '/api/agentic/oauth/token';
const clientId = W.startsWith('oidc') ? 'bench' : '-';

// ------------------------------------------------------------------ /proc
function statFields(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch { return null; }
}
// utime+stime (+ cutime+cstime) in seconds (USER_HZ = 100)
function cpuOf(pid, children = false) {
  const f = statFields(pid);
  if (!f) return 0;
  return (Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)) / 100;
}
function pgPostmaster() {
  if (!opt['pg-dir']) return null;
  try { return Number(readFileSync(join(opt['pg-dir'], 'data', 'postmaster.pid'), 'utf8').split('\n')[0]); } catch { return null; }
}
// The cluster's CPU: the postmaster (with its reaped children) plus its live children.
function pgCpu(pm) {
  if (!pm) return null;
  let total = cpuOf(pm, true);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (f && Number(f[1]) === pm) total += (Number(f[11]) + Number(f[12])) / 100;
  }
  return total;
}
function machineBusy() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / 100;
}
function mem(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM') };
  } catch { return { rss_kb: null, hwm_kb: null }; }
}

// ------------------------------------------------------------------ wrk
// Splits FILE's lines round-robin into one file per target.
function splitFile(file, tag) {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return targets.map((_, k) => {
    const f = join(opt['tmp-dir'], `wrk-${process.pid}-${tag}-${k}.txt`);
    writeFileSync(f, `${lines.filter((__, i) => i % targets.length === k).join('\n')}\n`);
    return { file: f, count: Math.ceil((lines.length - k) / targets.length) };
  });
}

function runWrk(url, file, seconds, out) {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      WRK_MODE: MODE, WRK_FILE: file, WRK_THREADS: String(T), WRK_CONNECTIONS: String(CP),
      WRK_CLIENT_ID: clientId, WRK_OUT: out, TIMEFORMAT: 'WRKTIME %3R %3U %3S',
    };
    const args = ['-c', `time wrk -t ${T} -c ${CP} -d ${seconds}s --timeout 10s -s "$0" "$1"`,
      join(HERE, 'wrk', 'token.lua'), `${url.origin}${tokenPath}`];
    const p = spawn('bash', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /WRKTIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
      let result = null;
      try { result = JSON.parse(readFileSync(out, 'utf8')); } catch { /* reported below */ }
      if (code !== 0 || !result) {
        reject(new Error(`wrk exited ${code}: ${stderr.replace(/WRKTIME.*/, '').trim().slice(0, 500)} ${stdout.slice(-500)}`));
        return;
      }
      resolve({ ...result, cpu_s: m ? Number(m[2]) + Number(m[3]) : null, wall_s: m ? Number(m[1]) : null, stdout });
    });
  });
}

function percentile(hist, total, q) {
  // hist sorted by value; nearest-rank
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [v, c] of hist) { seen += c; if (seen >= rank) return v; }
  return hist.length ? hist[hist.length - 1][0] : null;
}

async function main() {
  const tmpFiles = [];
  const warmFiles = splitFile(opt['warmup-file'], 'warm');
  const measFiles = splitFile(opt['measure-file'], 'meas');
  tmpFiles.push(...warmFiles.map((f) => f.file), ...measFiles.map((f) => f.file));
  const outs = targets.map((_, k) => join(opt['tmp-dir'], `wrk-${process.pid}-out-${k}.json`));
  tmpFiles.push(...outs);

  let warm = null;
  if (Number(opt.warmup) > 0) {
    warm = await Promise.all(targets.map((u, k) => runWrk(u, warmFiles[k].file, Number(opt.warmup), outs[k])));
  }

  const pm = pgPostmaster();
  const t0 = process.hrtime.bigint();
  const srv0 = serverPids.map((p) => cpuOf(p));
  const pg0 = pgCpu(pm);
  const mach0 = machineBusy();
  // VmRSS of the servers (summed) every 100 ms during the window: VmHWM also holds start-up peaks
  let rssPeak = 0;
  const sampleRss = () => { rssPeak = Math.max(rssPeak, serverPids.reduce((a, pid) => a + (mem(pid).rss_kb ?? 0), 0)); };
  const sampler = setInterval(sampleRss, 100);
  const runs = await Promise.all(targets.map((u, k) => runWrk(u, measFiles[k].file, Number(opt.duration), outs[k])));
  clearInterval(sampler);
  sampleRss();
  const mach1 = machineBusy();
  const pg1 = pgCpu(pm);
  const srv1 = serverPids.map((p) => cpuOf(p));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const mems = serverPids.map(mem);
  for (const f of tmpFiles) rmSync(f, { force: true });

  // merge
  const window = Math.max(...runs.map((r) => r.duration_us)) / 1e6;
  const sum = (k) => runs.reduce((a, r) => a + (r[k] ?? 0), 0);
  const histMap = new Map();
  for (const r of runs) for (const [v, c] of r.histogram_us) histMap.set(v, (histMap.get(v) ?? 0) + c);
  const hist = [...histMap.entries()].sort((a, b) => a[0] - b[0]);
  const total = hist.reduce((a, [, c]) => a + c, 0);
  const ms = (us) => (us === null || us === undefined ? null : Math.round(us) / 1000);
  const requests = sum('requests');
  const okCount = sum('ok');
  const errors = sum('bad_status') + sum('bad_body')
    + runs.reduce((a, r) => a + r.wrk_errors.connect + r.wrk_errors.read + r.wrk_errors.write + r.wrk_errors.timeout, 0);
  const starved = sum('starved');
  const statuses = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const srvCpu = srv1.reduce((a, v, i) => a + v - srv0[i], 0);
  const pgCpuS = pg0 !== null && pg1 !== null ? pg1 - pg0 : null;
  const genCpu = runs.every((r) => r.cpu_s !== null) ? sum('cpu_s') : null;
  const pct = (s) => (s === null ? null : Math.round((s / wall) * 1000) / 10);
  const result = {
    workload: W,
    ...(opt.variant ? { variant: opt.variant } : {}),
    ...(opt.database ? { database: opt.database } : {}),
    generator: `wrk (${targets.length} × -t ${T} -c ${CP})`,
    target: targets.map((u) => u.origin).join(' '),
    processes: targets.length,
    concurrency: C,
    mode: 'duration',
    warmup_s: Number(opt.warmup),
    window_s: Math.round(window * 1000) / 1000,
    requests,
    requests_per_s: Math.round((requests / window) * 10) / 10,
    iterations: okCount,
    iterations_per_s: Math.round((okCount / window) * 10) / 10,
    iteration_unit: 'request',
    p50_ms: ms(percentile(hist, total, 0.5)),
    p90_ms: ms(percentile(hist, total, 0.9)),
    p99_ms: ms(percentile(hist, total, 0.99)),
    max_ms: ms(hist.length ? hist[hist.length - 1][0] : null),
    latency_is_raw: runs.every((r) => r.histogram_is_raw),
    // wrk's own percentiles (with its coordinated-omission correction); with two wrk instances,
    // the worse of the two
    wrk_corrected_p50_ms: ms(Math.max(...runs.map((r) => r.corrected_us.p50))),
    wrk_corrected_p99_ms: ms(Math.max(...runs.map((r) => r.corrected_us.p99))),
    errors: errors + starved,
    error_kinds: {
      ...Object.fromEntries(Object.entries(statuses).map(([k, v]) => [`status ${k}`, v])),
      ...(sum('bad_body') ? { '200 without access_token/refresh_token': sum('bad_body') } : {}),
      ...(starved ? { 'pool empty: thread stopped early (rate undercounted)': starved } : {}),
      ...Object.fromEntries(['connect', 'read', 'write', 'timeout'].map((k) => [`socket ${k}`, runs.reduce((a, r) => a + r.wrk_errors[k], 0)]).filter(([, v]) => v)),
    },
    error_samples: runs.map((r) => r.sample).filter(Boolean).map((s) => ({ response: s })),
    errors_warmup: warm ? warm.reduce((a, r) => a + r.bad_status + r.bad_body + r.starved, 0) : 0,
    ok: errors + starved === 0 && (!warm || warm.every((r) => r.bad_status + r.bad_body + r.starved === 0)),
    shortened: starved > 0,
    pool: { loaded: sum('pool_loaded'), left: sum('pool_left') },
    setup: opt.setup ? JSON.parse(opt.setup) : null,
    cpu: {
      loadgen_pct_of_core: pct(genCpu),
      server_pct_of_core: pct(srvCpu),
      server_cpu_us_per_req: requests ? Math.round((srvCpu * 1e6) / requests) : null,
      pg_pct_of_core: pct(pgCpuS),
      pg_cpu_us_per_req: pgCpuS !== null && requests ? Math.round((pgCpuS * 1e6) / requests) : null,
      machine_pct_of_core: pct(mach1 - mach0),
      others_pct_of_core: Math.max(0, pct(mach1 - mach0 - srvCpu - (genCpu ?? 0) - (pgCpuS ?? 0))),
    },
    server_pid: serverPids.join(','),
    server_rss_kb: mems.reduce((a, m) => a + (m.rss_kb ?? 0), 0) || null,
    server_hwm_kb: mems.reduce((a, m) => a + (m.hwm_kb ?? 0), 0) || null,
    server_hwm_kb_each: mems.map((m) => m.hwm_kb),
    server_rss_peak_window_kb: rssPeak || null,
    started_at: new Date(Date.now() - wall * 1000).toISOString(),
  };
  const line = JSON.stringify(result);
  if (opt.json) appendFileSync(opt.json, `${line}\n`);
  process.stdout.write(`${line}\n`);
  const c = result.cpu;
  console.error(`  ${W}${opt.variant ? ` [${opt.variant}]` : ''}${opt.database ? ` {${opt.database}}` : ''} c=${C}: ${result.iterations_per_s} req/s p50 ${result.p50_ms} ms p99 ${result.p99_ms} ms (wrk corrected p99 ${result.wrk_corrected_p99_ms}) errors ${result.errors}${result.ok ? '' : ' ** FLAGGED **'} server ${c.server_pct_of_core}% wrk ${c.loadgen_pct_of_core}%${c.pg_pct_of_core !== null ? ` postgres ${c.pg_pct_of_core}%` : ''} others ${c.others_pct_of_core}% rss ${rssPeak} kB (hwm ${mems.map((m) => m.hwm_kb).join('+')} kB)`);
  if (result.error_samples.length) console.error(`    first bad answer: ${result.error_samples[0].response}`);
}

main().catch((err) => {
  console.error(`wrk-run: ${err?.stack ?? err}`);
  const line = JSON.stringify({ workload: W, ...(opt.variant ? { variant: opt.variant } : {}), ...(opt.database ? { database: opt.database } : {}), processes: targets.length, concurrency: C, fatal: String(err?.message ?? err), ok: false, errors: null });
  if (opt.json) appendFileSync(opt.json, `${line}\n`);
  process.stdout.write(`${line}\n`);
  process.exit(1);
});
