// Turns the JSON lines written by wrk-run.mjs and loadgen.mjs (plus run.sh's meta.json) into the
// Markdown report.
//
//   node report.mjs RESULTS.jsonl META.json > latest.md

import { readFileSync } from 'node:fs';

const [resultsPath, metaPath] = process.argv.slice(2);
const rows = readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const meta = JSON.parse(readFileSync(metaPath, 'utf8'));

const out = [];
const p = (s = '') => out.push(s);
const has = (v) => v !== null && v !== undefined && !Number.isNaN(v);
const f0 = (v) => (has(v) ? Number(v).toFixed(0) : '–');
const f1 = (v) => (has(v) ? Number(v).toFixed(1) : '–');
const f2 = (v) => (has(v) ? Number(v).toFixed(2) : '–');
const mib = (kb) => (kb ? (kb / 1024).toFixed(1) : '–');
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '–');
const db = (r) => r.database ?? (r.workload.startsWith('oidc') ? 'memory' : 'sqlite');
const procs = (r) => r.processes ?? 1;
const label = (r) => (r.variant ? `${r.workload} [${r.variant}]` : r.workload);
const OTHERS_MAX = 25; // % of one core taken by unrelated processes before a row is marked
const flag = (r) => (r.ok ? '' : ' ⚠') + ((r.cpu?.others_pct_of_core ?? 0) > OTHERS_MAX ? ' ⚡' : '');
const find = (pred) => rows.find((r) => !r.fatal && pred(r));

p(`# provisiond benchmark — ${meta.date}`);
p();
p(`Command: \`${meta.command}\``);
p();
p(`Machine: ${meta.nproc} cores (${meta.cpu_model}), ${meta.mem_total}, Linux ${meta.kernel}. `
  + `**The load generator runs on the same machine** as the server under test and competes with it for the ${meta.nproc} cores; `
  + 'its own CPU is in the "gen CPU" columns (100 = one core).');
p();
p(`Versions: provisiond ${meta.provisiond_version} (${meta.provisiond_path}; SQLite ${meta.sqlite_synchronous || 'synchronous mode unknown'}); git ${meta.git}; `
  + `${meta.wrk} (${meta.wrk_threads} thread per wrk process); node ${meta.node} (bench/node_modules/.bin/node); oidc-provider ${meta.oidc_provider}; undici ${meta.undici}; sqlite3 CLI ${meta.sqlite3}`
  + `${meta.postgres ? `; PostgreSQL ${meta.postgres.version} (${meta.postgres.settings})` : ''}.`);
p();
p('Method:');
p(`* **A fresh server per cell.** Every (workload, clients) row below had a server of its own: a new process on a new database `
  + '(SQLite: a new file in a new temp dir; PostgreSQL: a new database in one throwaway cluster; oidc-provider: a new process, so a new heap), '
  + 'stopped after the row. The scale rows share one seeded database, with a new process per row.');
p(`* **Token workloads (refresh, code): wrk**, closed loop, one keep-alive HTTP/1.1 connection per client, `
  + `${meta.warmup} s warm-up (a separate wrk run, on its own tokens/codes) then ${meta.duration} s measured. `
  + 'refresh: each client rotates refresh tokens from its thread\'s pool (the answer\'s new token goes back into the pool); '
  + 'code: each request exchanges a new pre-minted code with its PKCE verifier. A non-200 answer or a 200 without both tokens is an error (⚠). '
  + 'Latency percentiles are per request as measured: wrk\'s histogram with its coordinated-omission correction undone (exactly, in done()); '
  + 'wrk\'s own corrected p99 is shown beside it.');
p('* **Flow: bench/loadgen.mjs** (Node, undici), three chained calls per iteration (account_requests → token → resources); its CPU is the gen CPU column.');
p('* **Set-up outside the window.** provisiond refresh tokens come from the real API (account_requests + code exchange); the run waits until the '
  + 'welcome emails and webhook events they queued are handled before the window opens (column "set-up"). provisiond codes are rows written '
  + 'to the database before the server starts — per code the user, organization, membership, project and authorization_codes row that a fresh-email '
  + 'account_requests call leaves (bench/prep.mjs pvd-codes), the counterpart of oidc-provider\'s codes, minted in-process on its admin port — '
  + 'so code cells have no emails at all. oidc-provider refresh tokens: admin-minted code → /oauth/token.');
p('* CPU: utime+stime from /proc over the measured run (server; PostgreSQL = postmaster and its children; wrk via `time`). '
  + `"other CPU" = the rest of the machine (100 = one core); ⚡ marks > ${OTHERS_MAX} %: that row competed with something else. `
  + 'Memory: "RSS max" = the server\'s VmRSS sampled every 100 ms during the measured window, its peak; "VmHWM" = the kernel\'s high-water mark '
  + 'at the end of the cell, which also holds anything since the process started (start-up, set-up). Two processes: sums.');
p();

// What the generators cost per request, from this run's own cells
const genCost = (list) => {
  const xs = list.filter((r) => !r.fatal && has(r.cpu?.loadgen_pct_of_core) && r.requests_per_s)
    .map((r) => (r.cpu.loadgen_pct_of_core / 100) * 1e6 / r.requests_per_s);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
};
const wrkCost = genCost(rows.filter((r) => r.generator?.startsWith('wrk')));
const lgCost = genCost(rows.filter((r) => !r.generator));
const srvCost = (() => {
  const xs = rows.filter((r) => !r.fatal && r.workload.startsWith('provisiond') && r.cpu?.server_cpu_us_per_req).map((r) => r.cpu.server_cpu_us_per_req);
  return xs.length ? Math.min(...xs) : null;
})();
if (has(wrkCost) || has(lgCost)) {
  p(`Generator cost in this run (CPU per request, mean over its cells): wrk ${has(wrkCost) ? `${f0(wrkCost)} µs` : '–'}, `
    + `loadgen.mjs ${has(lgCost) ? `${f0(lgCost)} µs` : '–'} (flow cells); provisiond's own cost is at least ${has(srvCost) ? `${srvCost} µs` : '–'} per request.`);
  p();
}

if (meta.skipped?.length) {
  p(`**Skipped:** ${meta.skipped.join('; ')}`);
  p();
}

function setupCell(r) {
  const s = r.setup;
  if (!s) return '';
  if (s.codes) return `${s.codes} codes`;
  if (s.refresh_tokens) {
    const bg = has(s.emails_queued) ? `; ${s.emails_queued} emails handled before the window${s.background_pending_at_window ? `, **${s.background_pending_at_window} still pending**` : ''}` : '';
    return `${s.refresh_tokens} tokens${bg}`;
  }
  return '';
}
function tokenTable(list) {
  p('| workload | clients | req/s | p50 ms | p99 ms | wrk p99 ms | errors | server CPU % | server µs/req | gen CPU % | other CPU % | RSS max MiB | VmHWM MiB | set-up |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of list) {
    if (r.fatal) {
      p(`| ${label(r)} | ${r.concurrency} | **failed:** ${String(r.fatal).replace(/\|/g, '\\|').slice(0, 120)} | | | | ⚠ | | | | | | | |`);
      continue;
    }
    p(`| ${label(r)} | ${r.concurrency} | ${f0(r.iterations_per_s)}${r.shortened ? ' ⏱' : ''} | ${f2(r.p50_ms)} | ${f2(r.p99_ms)}${r.latency_is_raw === false ? '*' : ''} | ${f2(r.wrk_corrected_p99_ms)} | ${r.errors}${flag(r)} | ${f0(r.cpu?.server_pct_of_core)} | ${r.cpu?.server_cpu_us_per_req ?? '–'} | ${f0(r.cpu?.loadgen_pct_of_core)} | ${f0(r.cpu?.others_pct_of_core)} | ${mib(r.server_rss_peak_window_kb)} | ${mib(r.server_hwm_kb)} | ${setupCell(r)} |`);
  }
  p();
}

const tokenRows = rows.filter((r) => /-(refresh|code)$/.test(r.workload));
const fresh = tokenRows.filter((r) => (db(r) === 'sqlite' || db(r) === 'memory'));
p('## Token workloads: provisiond (SQLite, fresh database) and node-oidc-provider');
p();
if (fresh.length) tokenTable(fresh); else { p('Not run.'); p(); }
p('⏱ = a pool ran dry and a wrk thread stopped early: that rate is an undercount. * = the wrk histogram could not be un-corrected; p99 is wrk\'s.');
p();

p('## provisiond ÷ oidc-provider');
p();
p('Same workload and clients; rate > 1: provisiond is faster; p99 < 1: provisiond answers sooner. '
  + 'The O(1) adapter is oidc-server.mjs\'s indexed memory adapter (oidc-provider without its stock adapter\'s per-grant rescans).');
p();
p('| workload | clients | provisiond req/s | ÷ O(1) adapter | ÷ stock adapter | provisiond p99 ms | p99 ÷ O(1) adapter |');
p('|---|---:|---:|---:|---:|---:|---:|');
let anyRatio = false;
for (const kind of ['refresh', 'code']) {
  for (const a of fresh.filter((r) => r.workload === `provisiond-${kind}` && !r.fatal)) {
    const idx = find((r) => r.workload === `oidc-${kind}` && r.variant === 'indexed memory adapter' && r.concurrency === a.concurrency);
    const stock = find((r) => r.workload === `oidc-${kind}` && r.variant === 'stock memory adapter' && r.concurrency === a.concurrency);
    anyRatio = true;
    const warn = [a, idx, stock].some((r) => r && !r.ok) ? ' ⚠' : '';
    p(`| ${kind} | ${a.concurrency} | ${f0(a.iterations_per_s)} | ${ratio(a.iterations_per_s, idx?.iterations_per_s)}${warn} | ${ratio(a.iterations_per_s, stock?.iterations_per_s)} | ${f2(a.p99_ms)} | ${ratio(a.p99_ms, idx?.p99_ms)} |`);
  }
}
if (!anyRatio) p('| – | – | – | – | – | – | – |');
p();

const flows = rows.filter((r) => r.workload === 'provisiond-flow');
if (flows.length) {
  p('## Full three-call flow (provisiond, SQLite, fresh database; loadgen.mjs)');
  p();
  p('| clients | flows/s | req/s | flow p50 ms | flow p99 ms | account_requests p50 / p99 | token(code) p50 / p99 | resources p50 / p99 | errors | server CPU % | gen CPU % | other CPU % | RSS max MiB | VmHWM MiB |');
  p('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of flows) {
    if (r.fatal) { p(`| ${r.concurrency} | **failed:** ${String(r.fatal).slice(0, 100)} | | | | | | | ⚠ | | | | | |`); continue; }
    const c = (n) => (r.latency?.[n] ? `${f2(r.latency[n].p50_ms)} / ${f2(r.latency[n].p99_ms)}` : '–');
    p(`| ${r.concurrency} | ${f1(r.iterations_per_s)} | ${f0(r.requests_per_s)} | ${f2(r.p50_ms)} | ${f2(r.p99_ms)} | ${c('account_requests')} | ${c('token(code)')} | ${c('resources')} | ${r.errors}${flag(r)} | ${f0(r.cpu?.server_pct_of_core)} | ${f0(r.cpu?.loadgen_pct_of_core)} | ${f0(r.cpu?.others_pct_of_core)} | ${mib(r.server_rss_peak_window_kb)} | ${mib(r.server_hwm_kb)} |`);
  }
  p();
  p('Each flow creates an account, so its welcome email is queued and delivered while the flow runs: that is part of the flow\'s work (counts in the notes).');
  p();
}

const scale = tokenRows.filter((r) => db(r) === 'scale');
if (scale.length || meta.seed) {
  p('## Scale: the token workloads on a database already holding many accounts and token families');
  p();
  const s = meta.seed;
  if (s) {
    p(`Seeded by \`bench/seed.sh\` (sqlite3 CLI, one transaction, not through the API) in ${s.seconds} s: ${s.accounts} accounts `
      + `(user, organization, membership, project each) and ${s.families} token families of client bench, each with its live refresh and access token `
      + `(${s.users_total} users, ${s.token_families_total} families, ${s.refresh_tokens_total} refresh and ${s.access_tokens_total} access tokens; `
      + `${(s.db_bytes / 2 ** 20).toFixed(0)} MiB). ${s.known_families} of the seeded families have known plaintexts (their SHA-256 given to the seeder): `
      + `the refresh rows rotate those; the code rows exchange codes inserted on top (as in the fresh rows). Check: ${s.check ?? 'not done'}. `
      + `After the runs: ${s.after_runs ?? '?'}.`);
    p();
  }
  if (scale.length) {
    tokenTable(scale);
    p('| workload | clients | fresh req/s | scale req/s | scale ÷ fresh | fresh p99 ms | scale p99 ms |');
    p('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of scale.filter((x) => !x.fatal)) {
      const f = find((x) => x.workload === r.workload && db(x) === 'sqlite' && x.concurrency === r.concurrency);
      p(`| ${r.workload} | ${r.concurrency} | ${f0(f?.iterations_per_s)} | ${f0(r.iterations_per_s)} | ${ratio(r.iterations_per_s, f?.iterations_per_s)} | ${f2(f?.p99_ms)} | ${f2(r.p99_ms)} |`);
    }
    p();
  }
}

const pg = tokenRows.filter((r) => db(r) === 'postgresql');
if (pg.length) {
  p('## PostgreSQL');
  p();
  p(`One cluster (tests/pg/cluster.sh, restarted with ${meta.postgres?.settings ?? '?'}), a new database per row. `
    + 'Two processes: two provisiond serve on the same database, each driven by its own wrk with half the clients (rates added, histograms merged). '
    + `PostgreSQL CPU = the postmaster and all its children over the window; "share" = its part of the whole machine (${meta.nproc} cores = ${meta.nproc * 100} %).`);
  p();
  p('| workload | processes | clients | req/s | p50 ms | p99 ms | errors | provisiond CPU % | PostgreSQL CPU % | PostgreSQL share of machine | PostgreSQL µs/req | gen CPU % | other CPU % | RSS max MiB (sum) | VmHWM MiB (sum) |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of pg) {
    if (r.fatal) { p(`| ${r.workload} | ${procs(r)} | ${r.concurrency} | **failed:** ${String(r.fatal).slice(0, 100)} | | | ⚠ | | | | | | | | |`); continue; }
    const share = has(r.cpu?.pg_pct_of_core) ? `${f0(r.cpu.pg_pct_of_core / meta.nproc)} %` : '–';
    p(`| ${r.workload} | ${procs(r)} | ${r.concurrency} | ${f0(r.iterations_per_s)}${r.shortened ? ' ⏱' : ''} | ${f2(r.p50_ms)} | ${f2(r.p99_ms)} | ${r.errors}${flag(r)} | ${f0(r.cpu?.server_pct_of_core)} | ${f0(r.cpu?.pg_pct_of_core)} | ${share} | ${r.cpu?.pg_cpu_us_per_req ?? '–'} | ${f0(r.cpu?.loadgen_pct_of_core)} | ${f0(r.cpu?.others_pct_of_core)} | ${mib(r.server_rss_peak_window_kb)} | ${mib(r.server_hwm_kb)} |`);
  }
  p();
}

// ------------------------------------------------------------------ aims
p('## Against the aims');
p();
const aims = [];
for (const kind of ['refresh', 'code']) {
  for (const c of [8, 32]) {
    const a = find((r) => r.workload === `provisiond-${kind}` && db(r) === 'sqlite' && r.concurrency === c);
    const b = find((r) => r.workload === `oidc-${kind}` && r.variant === 'indexed memory adapter' && r.concurrency === c);
    if (a && b) aims.push(`${kind} at ${c} clients: ${ratio(a.iterations_per_s, b.iterations_per_s)}× the O(1) adapter's rate (aim ≥ 5×): ${a.iterations_per_s / b.iterations_per_s >= 5 ? 'met' : '**not met**'}`);
  }
  const a8 = find((r) => r.workload === `provisiond-${kind}` && db(r) === 'sqlite' && r.concurrency === 8);
  if (a8) aims.push(`${kind} p99 at 8 clients: ${f2(a8.p99_ms)} ms (wrk's corrected: ${f2(a8.wrk_corrected_p99_ms)} ms; aim < 5 ms): ${a8.p99_ms < 5 ? 'met' : '**not met**'}`);
}
for (const r of scale.filter((x) => !x.fatal)) {
  const f = find((x) => x.workload === r.workload && db(x) === 'sqlite' && x.concurrency === r.concurrency);
  if (f) {
    const q = r.iterations_per_s / f.iterations_per_s;
    aims.push(`scale ${r.workload} at ${r.concurrency} clients: ${(q * 100).toFixed(0)} % of the fresh database's rate (aim ≥ 80 %): ${q >= 0.8 ? 'met' : '**not met**'}`);
  }
}
const sq32 = rows.filter((r) => !r.fatal && r.workload.startsWith('provisiond') && db(r) === 'sqlite' && r.concurrency === 32 && r.server_hwm_kb);
if (sq32.length) {
  const worst = (k) => sq32.reduce((a, r) => ((r[k] ?? 0) > (a[k] ?? 0) ? r : a));
  const w = worst('server_rss_peak_window_kb'); const h = worst('server_hwm_kb');
  aims.push(`peak RSS at 32 clients on SQLite (aim < 64 MiB): in the measured window at most ${mib(w.server_rss_peak_window_kb)} MiB (${w.workload}): `
    + `${(w.server_rss_peak_window_kb ?? Infinity) < 64 * 1024 ? 'met' : '**not met**'}; VmHWM (process lifetime, start-up included) at most ${mib(h.server_hwm_kb)} MiB (${h.workload}): `
    + `${h.server_hwm_kb < 64 * 1024 ? 'met' : '**not met**'}`);
}
if (!aims.length) p('Nothing to compare (cells missing).');
for (const a of aims) p(`* ${a}`);
p();

// ------------------------------------------------------------------ errors
const flagged = rows.filter((r) => !r.ok);
p('## Errors and oddities');
p();
if (!flagged.length) {
  p('No errors: every request got its expected status and body shape.');
} else {
  for (const r of flagged) {
    p(`### ⚠ ${label(r)} {${db(r)}${procs(r) > 1 ? `, ${procs(r)} processes` : ''}} at ${r.concurrency} clients: ${r.errors ?? '?'} errors${r.errors_warmup ? ` (${r.errors_warmup} during warm-up)` : ''}${r.errors_setup ? ` (${r.errors_setup} during set-up)` : ''}`);
    p();
    if (r.fatal) p(`Run failed: ${r.fatal}`);
    if (r.note) p(r.note);
    for (const [k, n] of Object.entries(r.error_kinds ?? {})) p(`* ${n} × ${k}`);
    if (r.error_samples?.length) {
      p();
      p('First samples:');
      p();
      p('```json');
      for (const s of r.error_samples.slice(0, 3)) p(JSON.stringify(s, null, 1).slice(0, 3000));
      p('```');
    }
    p();
  }
}
const busy = rows.filter((r) => (r.cpu?.others_pct_of_core ?? 0) > OTHERS_MAX);
if (busy.length) {
  p(`* ⚡ ${busy.length} of ${rows.length} cells shared the machine with other busy processes (more than ${OTHERS_MAX} % of a core): `
    + `${busy.map((r) => `${label(r)} {${db(r)}} c=${r.concurrency} (${f1(r.cpu.others_pct_of_core)} %)`).join(', ')}. Re-run on an idle machine before comparing them.`);
}
for (const r of rows.filter((x) => x.pool_exhausted_at_s !== null && x.pool_exhausted_at_s !== undefined)) p(`* ${label(r)} at ${r.concurrency} clients: ${r.note}.`);
const degraded = rows.filter((r) => Array.isArray(r.per_second) && r.per_second.length >= 4 && r.ok)
  .map((r) => {
    const ps = r.per_second;
    const first = (ps[0] + ps[1]) / 2; const last = (ps[ps.length - 1] + ps[ps.length - 2]) / 2;
    return { r, first, last, drop: first ? 1 - last / first : 0 };
  })
  .filter((x) => x.drop > 0.25);
for (const { r, first, last } of degraded) {
  p(`* ${label(r)} at ${r.concurrency} clients slowed down during the run: ${first.toFixed(0)}/s in the first two seconds, ${last.toFixed(0)}/s in the last two (per second: ${r.per_second.join(', ')}).`);
}
p();
for (const n of meta.notes ?? []) p(`* ${n}`);
p();
p('Raw results: one JSON line per cell in `bench/results/latest.jsonl` (latency histograms are not kept; per-call latencies of the flow, set-up details, CPU, error samples).');

process.stdout.write(`${out.join('\n')}\n`);
