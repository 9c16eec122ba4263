// `npm run bench`: speed and memory against the named peers, measured in one run on this machine.
// Targets live here, never in tests: tests assert behaviour, this file measures.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { checkpointCost, cpuBound, dispatchLatency, engineThroughput, millionLines } from './engine-bench.js';
import { atomicsWakeLatency, piscinaAllAtOnce, piscinaWindow, rawPostMessageLatency, threadsSpawn } from './peers.js';
import { dashboardBench } from './dashboard-bench.js';
import { distributedBench } from './distributed-bench.js';
import { inputMemory } from './io-bench.js';
import { latencyBound, limiterComparison } from './provider-bench.js';
import { loaderBench } from './loader-bench.js';
import { runtimeBench } from './runtime-bench.js';
import { printTable, type Row } from './util.js';

const quick = process.argv.includes('--quick');
const N = quick ? 20_000 : 100_000;
const MILLION = quick ? 200_000 : 1_000_000;
const threads = 2;
const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rows: Row[] = [];
const step = (s: string) => process.stderr.write(`bench: ${s}\n`);

/**
 * CPU time the hypervisor gave to others while this bench ran (/proc/stat's `steal`): on a shared VM a
 * few % of it turns every time figure here into noise, so the table says how much there was.
 */
function stealTicks(): { steal: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { steal: cpu[7] ?? 0, total: cpu.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch { return undefined; }
}
const stealAtStart = stealTicks();

process.stdout.write(`pipeline-tui bench — node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${threads} worker threads${quick ? ', --quick sizes' : ''}\n\n`);

step(`engine, ${fmt(N)} trivial items`);
const ours = await engineThroughput(N, threads);
step('piscina, all at once');
const pAll = await piscinaAllAtOnce(N, threads);
step('piscina, 64 in flight');
const p64 = await piscinaWindow(N, threads, 64);
step('threads.js spawn, 64 in flight');
const tjs = await threadsSpawn(N, threads, 64);
const bestPiscina = Math.max(pAll, p64);
rows.push({ metric: `items/s, ${fmt(N)} trivial items (checkpoint on)`, ours: fmt(ours), peer: `piscina all-at-once ${fmt(pAll)}`, ratio: `${fmt(ours / pAll, 2)}x`, target: '>= 3x piscina', ok: ours / bestPiscina >= 3 });
rows.push({ metric: '', ours: '', peer: `piscina 64 in flight ${fmt(p64)}`, ratio: `${fmt(ours / p64, 2)}x`, target: '>= 3x piscina', ok: ours / p64 >= 3 });
rows.push({ metric: '', ours: '', peer: `threads.js spawn ${fmt(tjs)}`, ratio: `${fmt(ours / tjs, 2)}x`, target: '', ok: null });

step('CPU-bound, 1 vs 2 threads');
const cpuItems = quick ? 60 : 200;
await cpuBound(20, 1); // warm the transpile cache and the JIT
const t1 = await cpuBound(cpuItems, 1);
const t2 = await cpuBound(cpuItems, 2);
rows.push({ metric: `CPU-bound speedup 1->2 threads (${cpuItems} items)`, ours: `${fmt(t1 / t2, 3)}x (${fmt(t1)} ms -> ${fmt(t2)} ms)`, target: '>= 1.93', ok: t1 / t2 >= 1.93 });

step('idle dispatch latency');
const lat = await dispatchLatency(quick ? 300 : 2000);
const raw = await rawPostMessageLatency(quick ? 300 : 2000);
const wake = await atomicsWakeLatency(quick ? 300 : 2000, false);
const wakeJson = await atomicsWakeLatency(quick ? 300 : 2000, true);
rows.push({ metric: 'idle dispatch latency p50 / p99', ours: `${fmt(lat.p50, 1)} µs / ${fmt(lat.p99, 1)} µs`, peer: `bare postMessage ${fmt(raw.p50, 1)} / ${fmt(raw.p99, 1)} µs`, ratio: `${fmt(lat.p50 / raw.p50, 2)}x`, target: 'p50 < 50 µs', ok: lat.p50 < 50 });
rows.push({ metric: '', ours: '', peer: `floor: bare Atomics wake ${fmt(wake.p50, 1)} / ${fmt(wake.p99, 1)} µs, with a 1-item JSON batch ${fmt(wakeJson.p50, 1)} / ${fmt(wakeJson.p99, 1)} µs`, ratio: `${fmt(lat.p50 / wakeJson.p50, 2)}x`, target: '', ok: null });

step(`checkpoint cost over ${fmt(MILLION)} items`);
const ck = await checkpointCost(MILLION, MILLION / 10);
rows.push({ metric: `checkpoint cost/item, first vs last ${fmt(MILLION / 10)}`, ours: `${fmt(ck.firstUs, 3)} µs vs ${fmt(ck.lastUs, 3)} µs`, ratio: `${fmt(ck.lastUs / ck.firstUs, 2)}x`, target: 'last within 10% of first', ok: ck.lastUs <= ck.firstUs * 1.1 });
rows.push({ metric: `resume: open ${fmt(MILLION)}-item state`, ours: `${fmt(ck.resumeCompactedMs)} ms compacted, ${fmt(ck.resumeCrashMs)} ms after a crash`, target: '< 2 s', ok: Math.max(ck.resumeCompactedMs, ck.resumeCrashMs) < 2000 });

step(`CLI on a ${fmt(MILLION)}-line jsonl`);
const m = await millionLines(MILLION);
rows.push({ metric: `peak RSS (process tree), CLI on ${fmt(MILLION)}-line jsonl`, ours: `${fmt(m.rssMb)} MB, launcher ${fmt(m.launcherMb)} (${fmt(m.itemsPerSec)} items/s)`, target: '< 300 MB', ok: m.rssMb < 300 });
rows.push({ metric: `re-run with all ${fmt(MILLION)} done (resume, nothing left)`, ours: `${fmt(m.resumeRunMs)} ms`, target: '', ok: null });

step('rate limiters: 400 jobs of 100 ms at 20/s (ours, bottleneck minTime, bottleneck reservoir)');
const lim = await limiterComparison(quick ? 120 : 400, 20, 100);
const limRow = (r: { achievedPct: number; maxPerSecond: number; maxAtWire: number; rateLimited: number }) => `${fmt(r.achievedPct, 1)}% of limit, max ${r.maxPerSecond}/s at server (${r.maxAtWire}/s sent), ${r.rateLimited} 429s`;
const delayNote = (r: { countDelay: { p99: number; max: number } }) => `server counted p99 ${fmt(r.countDelay.p99, 1)} / max ${fmt(r.countDelay.max, 1)} ms after our write`;
rows.push({ metric: `limiter, ${quick ? 120 : 400} jobs at 20/s (server-measured)`, ours: limRow(lim.ours), peer: `bottleneck minTime: ${limRow(lim.minTime)}`, target: '>= 99.5%, max <= 20/s, 0 429s', ok: lim.ours.achievedPct >= 99.5 && lim.ours.maxPerSecond <= 20 && lim.ours.rateLimited === 0 });
rows.push({ metric: '', ours: '', peer: `bottleneck reservoir: ${limRow(lim.reservoir)}`, target: '', ok: null });
rows.push({ metric: '', ours: delayNote(lim.ours), peer: '', target: '', ok: null });

step('latency-bound run: 1,000 items, 200 ms latency, 3,500 RPM');
const lb = await latencyBound(quick ? 300 : 1000, 200, 3500, 16);
rows.push({ metric: `latency-bound (${quick ? 300 : 1000} items, 200 ms, 3,500 RPM, 16 workers)`, ours: `${fmt(lb.seconds, 2)} s, ${lb.violations} violations, ${lb.rateLimited} 429s`, peer: `ideal ${fmt(lb.ideal, 2)} s`, ratio: `${fmt(lb.seconds / lb.ideal, 3)}x`, target: 'within 5% of ideal', ok: lb.seconds <= lb.ideal * 1.05 && lb.violations === 0 });

step('cold start: run on a small .ts pipeline to the first item done');
const rt = await runtimeBench({ runs: quick ? 3 : 7 });
rows.push({ metric: 'cold start to first item done (median)', ours: `${fmt(rt.sandboxed.medianMs)} ms sandboxed, ${fmt(rt.unsandboxed.medianMs)} ms with -A`, peer: `node -e "" ${fmt(rt.nodeStartMs)} ms`, target: '< 700 ms', ok: rt.sandboxed.medianMs < 700 });

step('pipeline loaders: jiti vs tsx, a small .ts pipeline in a fresh process and in a worker thread');
const ld = await loaderBench({ runs: quick ? 3 : 7 });
const ldFig = (f: { warmMs: number; afterEditMs: number; workerMs: number }) => `${fmt(f.warmMs)} ms warm, ${fmt(f.afterEditMs)} ms after an edit, +${fmt(f.workerMs)} ms in a worker`;
const ldBox = (f: { sandboxedWarm: string; sandboxedAfterEdit: string }) => `sandboxed: warm ${f.sandboxedWarm}, after an edit ${f.sandboxedAfterEdit}`;
rows.push({ metric: 'pipeline loader: load it + import (median)', ours: `jiti ${ldFig(ld.jiti)}`, peer: ld.tsx ? `tsx ${ldFig(ld.tsx)}` : 'tsx not installed', ratio: ld.tsx ? `${fmt(ld.tsx.warmMs / ld.jiti.warmMs, 1)}x warm` : '', target: 'pick the faster', ok: ld.tsx ? ld.jiti.warmMs <= ld.tsx.warmMs && ld.jiti.workerMs <= ld.tsx.workerMs : null });
rows.push({ metric: '', ours: `jiti ${ldBox(ld.jiti)}`, peer: ld.tsx ? `tsx ${ldBox(ld.tsx)}` : '', target: '', ok: null });

step(`inputs: RSS on ${fmt(MILLION)}-row jsonl and csv`);
const io = await inputMemory(MILLION);
rows.push({ metric: `peak RSS (process tree), ${fmt(MILLION)}-row jsonl / csv`, ours: `${fmt(io.jsonl.rssMb)} MB / ${fmt(io.csv.rssMb)} MB, launcher ${fmt(io.jsonl.launcherMb)} / ${fmt(io.csv.launcherMb)}`, target: '< 300 MB', ok: io.jsonl.rssMb < 300 && io.csv.rssMb < 300 });

step('dashboard on a pseudo-terminal vs plain');
const db = await dashboardBench(quick ? { items: 300_000 } : {});
// With -A there is no launcher: the dashboard draws on a thread of the process that runs the pipeline.
const dbA = await dashboardBench({ ...(quick ? { items: 300_000 } : {}), args: ['-A'] });
rows.push({ metric: `dashboard cost on throughput, ${fmt(db.items)} items (paired median)`, ours: `${fmt(db.pairedOverheadPct, 1)}% (${fmt(db.plainItemsPerSec)} vs ${fmt(db.dashboardItemsPerSec)} items/s)`, peer: `-A: ${fmt(dbA.pairedOverheadPct, 1)}% (${fmt(dbA.plainItemsPerSec)} vs ${fmt(dbA.dashboardItemsPerSec)})`, target: '<= 5%', ok: db.pairedOverheadPct <= 5 });
rows.push({ metric: 'dashboard first frame', ours: `${fmt(db.firstFrameMs)} ms (${fmt(db.firstFrameNoSandboxMs)} ms with -A)`, target: '< 500 ms', ok: db.firstFrameMs < 500 });

step('distributed: redis-server, 1 vs 2 worker processes, engine overhead vs bare BullMQ');
try {
  const dist = await distributedBench();
  rows.push({ metric: '10 ms CPU items, 1 vs 2 worker processes', ours: `${fmt(dist.cpu.speedup, 2)}x`, target: '>= 1.8x', ok: dist.cpu.speedup >= 1.8 });
  rows.push({ metric: 'per-job cost on Redis', ours: `${fmt(dist.overhead.engine.usPerJob)} µs/job`, peer: `bare BullMQ ${fmt(dist.overhead.bare.usPerJob)} µs/job`, ratio: `+${fmt(dist.overhead.overheadUsPerJob)} µs`, target: '', ok: null });
} catch (e) {
  rows.push({ metric: 'distributed', ours: `not measured: ${(e as Error).message}`, target: '', ok: null });
}

process.stdout.write('\n');
printTable(rows);
const stealAtEnd = stealTicks();
if (stealAtStart && stealAtEnd && stealAtEnd.total > stealAtStart.total) {
  const pct = (100 * (stealAtEnd.steal - stealAtStart.steal)) / (stealAtEnd.total - stealAtStart.total);
  process.stdout.write(`\nhost steal during the bench: ${fmt(pct, 1)}% of CPU time (time figures above are unreliable past ~1%)\n`);
}
