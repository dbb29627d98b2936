// Turns the JSON lines written by loadgen.mjs (plus run.sh's meta.json) into the Markdown report.
//
//   node report.mjs RESULTS.jsonl META.json > latest.md

import { readFileSync } from 'node:fs';

const [resultsPath, metaPath] = process.argv.slice(2);
const rows = readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const meta = JSON.parse(readFileSync(metaPath, 'utf8'));

const out = [];
const p = (s = '') => out.push(s);
const f1 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(1));
const f2 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(2));
const mib = (kb) => (kb ? (kb / 1024).toFixed(1) : '–');
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '–');

// label: workload name plus the variant (the oidc server's adapter)
const label = (r) => (r.variant ? `${r.workload} [${r.variant}]` : r.workload);

p(`# provisiond benchmark — ${meta.date}`);
p();
p(`Command: \`${meta.command}\``);
p();
p(`Machine: ${meta.nproc} cores (${meta.cpu_model}), ${meta.mem_total}, Linux ${meta.kernel}. `
  + `**The load generator runs on the same machine** as the server under test and competes with it for the ${meta.nproc} cores `
  + '(its own CPU share is in the "gen CPU" column; server CPU can exceed 100 % of one core).');
p();
p(`Versions: provisiond ${meta.provisiond_version} (${meta.provisiond_path}); git ${meta.git}; `
  + `node ${meta.node} (bench/node_modules/.bin/node); oidc-provider ${meta.oidc_provider}; undici ${meta.undici}.`);
p();
p(`Method: closed loop, each virtual client on its own keep-alive HTTP/1.1 connection, ${meta.warmup} s warm-up then `
  + `${meta.duration} s measured; latency is per request (high-resolution clock, request sent → body read). `
  + 'Any unexpected status or body shape is an error; a run with errors is flagged ⚠. '
  + 'provisiond: fresh SQLite database in a temp dir, partner limits raised to unlimited for the bench client. '
  + 'oidc-provider: in-process memory store (all grants, codes and tokens live in the server heap).');
p();

if (meta.skipped?.length) {
  p(`**Skipped:** ${meta.skipped.join('; ')}`);
  p();
}

p('## Results');
p();
const OTHERS_MAX = 25; // % of one core taken by unrelated processes before a row is marked
p('| workload | clients | rate | req/s | p50 ms | p99 ms | errors | server CPU % | server CPU µs/req | gen CPU % | other CPU % | server RSS after run MiB |');
p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  if (r.fatal) {
    p(`| ${label(r)} | ${r.concurrency} | **failed:** ${String(r.fatal).replace(/\|/g, '\\|').slice(0, 120)} | | | | ${r.errors ?? '?'} ⚠ | | | | | |`);
    continue;
  }
  const unit = r.iteration_unit === 'flow' ? 'flows/s' : 'req/s';
  const flag = r.ok ? '' : ' ⚠';
  const short = r.shortened ? ` (${f1(r.window_s)} s ⏱)` : '';
  p(`| ${label(r)} | ${r.concurrency} | ${f1(r.iterations_per_s)} ${unit}${short} | ${f1(r.requests_per_s)} | ${f2(r.p50_ms)} | ${f2(r.p99_ms)} | ${r.errors}${flag} | ${f1(r.cpu?.server_pct_of_core)} | ${r.cpu?.server_cpu_us_per_req ?? '–'} | ${f1(r.cpu?.loadgen_pct_of_core)} | ${f1(r.cpu?.others_pct_of_core)}${(r.cpu?.others_pct_of_core ?? 0) > OTHERS_MAX ? ' ⚡' : ''} | ${mib(r.server_rss_kb)} |`);
}
p();
p('For provisiond-flow, "rate" is complete three-call flows per second and p50/p99 are whole-flow latencies; '
  + 'req/s counts all three calls. For the other workloads one request is one token call. '
  + '⏱ = the pre-minted code pool ran out early and the measured window was shorter (its length is shown). '
  + `"other CPU" is what processes other than the server and the generator used during the window (100 = one core); `
  + `⚡ marks more than ${OTHERS_MAX} %: that row competed with something else on the machine and is not comparable.`);
p();

const flows = rows.filter((r) => r.workload === 'provisiond-flow' && !r.fatal);
if (flows.length) {
  p('### provisiond-flow: per-call latency (ms)');
  p();
  p('| clients | account_requests p50 / p99 | token(code) p50 / p99 | resources p50 / p99 | flow p50 / p99 |');
  p('|---:|---:|---:|---:|---:|');
  for (const r of flows) {
    const c = (n) => (r.latency?.[n] ? `${f2(r.latency[n].p50_ms)} / ${f2(r.latency[n].p99_ms)}` : '–');
    p(`| ${r.concurrency} | ${c('account_requests')} | ${c('token(code)')} | ${c('resources')} | ${c('flow')} |`);
  }
  p();
}

p('## provisiond / oidc-provider');
p();
p('Ratio of provisiond to node-oidc-provider at the same concurrency: rate > 1 means provisiond is faster, '
  + 'p50/p99 < 1 means provisiond answers sooner.');
p();
p('| workload | baseline | clients | rate ratio | p50 ratio | p99 ratio |');
p('|---|---|---:|---:|---:|---:|');
let anyRatio = false;
for (const kind of ['refresh', 'code']) {
  const pv = rows.filter((r) => r.workload === `provisiond-${kind}` && !r.fatal);
  const baselines = rows.filter((r) => r.workload === `oidc-${kind}` && !r.fatal);
  const variants = [...new Set(baselines.map((r) => r.variant ?? ''))];
  for (const v of variants) {
    for (const a of pv) {
      const b = baselines.find((r) => (r.variant ?? '') === v && r.concurrency === a.concurrency);
      if (!b) continue;
      anyRatio = true;
      const warn = a.ok && b.ok ? '' : ' ⚠';
      p(`| ${kind} | oidc-provider${v ? ` [${v}]` : ''} | ${a.concurrency} | ${ratio(a.iterations_per_s, b.iterations_per_s)}${warn} | ${ratio(a.p50_ms, b.p50_ms)} | ${ratio(a.p99_ms, b.p99_ms)} |`);
    }
  }
}
if (!anyRatio) p('| – | – | – | – | – | – |');
p();

p('## Peak RSS (VmHWM at the end of each server\'s runs)');
p();
p('| server | peak RSS MiB | workloads it served |');
p('|---|---:|---|');
for (const s of meta.servers ?? []) p(`| ${s.name} | ${mib(s.hwm_kb)} | ${s.workloads} |`);
p();

const flagged = rows.filter((r) => !r.ok);
p('## Errors and oddities');
p();
if (!flagged.length) {
  p('No errors: every request got its expected status and body shape.');
} else {
  for (const r of flagged) {
    p(`### ⚠ ${label(r)} at ${r.concurrency} clients: ${r.errors ?? 0} errors${r.errors_warmup ? ` (${r.errors_warmup} during warm-up)` : ''}${r.errors_setup ? ` (${r.errors_setup} during set-up)` : ''}`);
    p();
    if (r.fatal) p(`Run failed: ${r.fatal}`);
    if (r.note) p(r.note);
    for (const [k, n] of Object.entries(r.error_kinds ?? {})) p(`* ${n} × ${k}`);
    if (r.error_samples?.length) {
      p();
      p('First samples (exact request and response):');
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
  p(`* ⚡ ${busy.length} of ${rows.length} runs shared the machine with other busy processes (more than ${OTHERS_MAX} % of a core): `
    + `${busy.map((r) => `${label(r)} c=${r.concurrency} (${f1(r.cpu.others_pct_of_core)} %)`).join(', ')}. Re-run on an idle machine before comparing them.`);
}
const shortened = rows.filter((r) => r.pool_exhausted_at_s !== null && r.pool_exhausted_at_s !== undefined);
for (const r of shortened) p(`* ${label(r)} at ${r.concurrency} clients: ${r.note}.`);
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
p(`Raw results: one JSON line per run in \`bench/results/latest.jsonl\` (per-call latencies, per-second counts, error samples).`);

process.stdout.write(`${out.join('\n')}\n`);
