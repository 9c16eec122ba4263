import path from 'node:path';
import Bottleneck from 'bottleneck';
import { createEngine } from '../engine/engine.js';
import { loadPipeline } from '../engine/load.js';
import { LocalRateLimiter } from '../engine/providers/limiter.js';
import { SimulatorThread } from '../engine/providers/simulator-thread.js';
import { warmUpSimulator } from '../engine/providers/simulator.js';
import { onRequestWritten } from '../engine/providers/wire-stamp.js';
import { maxInWindow, tempDir, writeJsonl, writePipeline } from './util.js';

export interface LimiterResult {
  achievedPct: number;
  /** Most arrivals in any sliding second, counted by the server. */
  maxPerSecond: number;
  /** Most requests written to the socket in any sliding second, on this side: what the limiter decided. */
  maxAtWire: number;
  rateLimited: number;
  seconds: number;
  /**
   * How long after our socket write the server counted each arrival (p99 and max, ms). The target leaves
   * 5 ms a second for all of it: more, and a request counted late meets one counted on time.
   */
  countDelay: { p99: number; max: number };
}

/**
 * `jobs` HTTP calls of `latencyMs` each against a simulator that enforces `perSecond` itself, all
 * queued at once, paced by `acquire`. Achieved % is the steady rate between the first and the last
 * arrival against the limit; the maxima are over every sliding second, at the server and at our socket
 * writes. The two differ by the spread of write-to-count delays, which on a shared VM includes the
 * server thread waiting for a CPU.
 */
async function paced(jobs: number, perSecond: number, latencyMs: number, acquire: () => Promise<() => void>): Promise<LimiterResult> {
  const sim = await SimulatorThread.start({ latencyMs, latencyJitter: 0, rpm: perSecond * 60 });
  await warmUpSimulator(sim.url);
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'pace me' }], max_tokens: 8 });
  const t0 = performance.now();
  const wire: number[] = []; // performance.timeOrigin-based, as the server's arrival stamps
  await Promise.all(Array.from({ length: jobs }, async () => {
    const sent = await acquire();
    sent();
    // As the engine's adapters do: the start is stamped again once the request has been written.
    const res = await onRequestWritten(() => { wire.push(performance.timeOrigin + performance.now()); sent(); }, () => fetch(`${sim.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
    await res.arrayBuffer();
  }));
  const seconds = (performance.now() - t0) / 1000;
  const stats = await sim.stats();
  await sim.stop();
  const a = [...stats.arrivals].sort((x, y) => x - y);
  // Starts per second between the first and the last arrival (the first second's ramp included).
  const steady = (a.length - 1) / ((a.at(-1)! - a[0]!) / 1000);
  // Writes and arrivals pair up in order: requests ~50 ms apart do not overtake each other on loopback.
  const w = [...wire].sort((x, y) => x - y);
  const delays = a.length === w.length ? a.map((x, i) => x - w[i]!).sort((x, y) => x - y) : [NaN];
  const countDelay = { p99: delays[Math.floor(0.99 * (delays.length - 1))]!, max: delays.at(-1)! };
  return { achievedPct: (100 * steady) / perSecond, maxPerSecond: maxInWindow(a, 1000), maxAtWire: maxInWindow(wire, 1000), rateLimited: stats.rateLimited, seconds, countDelay };
}

/** Ours alone (the first row of limiterComparison), for quick before/after runs. */
export async function ourLimiter(jobs = 400, perSecond = 20, latencyMs = 100): Promise<LimiterResult> {
  const ours = new LocalRateLimiter({ rpm: perSecond * 60 });
  const r = await paced(jobs, perSecond, latencyMs, async () => { const p = await ours.acquire(1); return () => p.sent(); });
  await ours.stop();
  return r;
}

export async function limiterComparison(jobs = 400, perSecond = 20, latencyMs = 100): Promise<Record<'ours' | 'minTime' | 'reservoir', LimiterResult>> {
  const r1 = await ourLimiter(jobs, perSecond, latencyMs);

  const minTime = new Bottleneck({ minTime: 1000 / perSecond });
  const r2 = await paced(jobs, perSecond, latencyMs, () => minTime.schedule(async () => () => undefined));
  await minTime.stop();

  const reservoir = new Bottleneck({ reservoir: perSecond, reservoirRefreshAmount: perSecond, reservoirRefreshInterval: 1000 });
  const r3 = await paced(jobs, perSecond, latencyMs, () => reservoir.schedule(async () => () => undefined));
  await reservoir.stop();
  return { ours: r1, minTime: r2, reservoir: r3 };
}

/**
 * The full engine on a latency-bound pipeline: measured seconds against max(N/rate, N·latency/concurrency).
 * The rate is the one the provider enforces, floor(rpm/60) per sliding second (the simulator answers the
 * 59th in a second at 3,500 RPM with a 429), not rpm/60, which no client can sustain. The timed span
 * runs from the engine's start event (workers spawned, simulator up and warmed) to the summary.
 */
export async function latencyBound(items = 1000, latencyMs = 200, rpm = 3500, workers = 16): Promise<{ seconds: number; ideal: number; violations: number; rateLimited: number }> {
  const t = tempDir('latency-bound');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), items, (i) => ({ id: i, text: `document ${i} to summarise` }));
    const file = writePipeline(t.dir, 'summarise', `{ name: 'summarise', workers: ${workers}, id: (r: { id: number }) => String(r.id),
      providers: { openai: { rpm: ${rpm} } },
      async process(r: { text: string }, ctx) { const res = await ctx.llm('openai', { prompt: r.text, maxTokens: 16 }); return { summary: res.text }; } }`);
    const engine = createEngine(await loadPipeline(file, { cwd: t.dir }), { cwd: t.dir, simulate: true, simulator: { latencyMs, latencyJitter: 0, rpm } });
    let t0 = 0;
    engine.on('event', (e) => { if (e.type === 'start') t0 = performance.now(); });
    const summary = await engine.run(['in.jsonl']);
    const seconds = (performance.now() - t0) / 1000;
    if (summary.totals.done !== items) throw new Error(`latency-bound bench: ${summary.totals.done} of ${items} done`);
    const ideal = Math.max(items / Math.floor(rpm / 60), (items * latencyMs) / 1000 / workers);
    return { seconds, ideal, violations: summary.simulator?.violations ?? -1, rateLimited: summary.providers.openai?.rateLimited ?? -1 };
  } finally {
    t.cleanup();
  }
}
