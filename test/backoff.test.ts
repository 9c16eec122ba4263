// Pure units (backoff, priority queue, histogram, batch sizing, stats, ids) and the engine's retry backoff.
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../dist/engine/backoff.js';
import { BatchSizer } from '../dist/engine/batching.js';
import { Histogram } from '../dist/engine/histogram.js';
import { canonicalJson, defaultId } from '../dist/engine/ids.js';
import { BucketPriorityQueue, clampPriority } from '../dist/engine/priority-queue.js';
import { RunStats } from '../dist/engine/stats.js';
import { createEngine, loadPipeline } from '../dist/index.js';
import type { EngineEvent } from '../dist/index.js';
import { cleanupProjects, makeProject, readJsonl, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);
afterEach(() => { vi.useRealTimers(); vi.restoreAllMocks(); });

const retry = (backoffMs: number, maxBackoffMs: number) => ({ attempts: 5, backoffMs, maxBackoffMs });

describe('backoffDelay (full-jitter exponential)', () => {
  it('the ceiling doubles per failed attempt from backoffMs and stops at maxBackoffMs', () => {
    const top = () => 0.999999;
    const r = retry(100, 1_000);
    expect([1, 2, 3, 4, 5, 6, 20].map((a) => backoffDelay(a, r, top))).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect([1, 2, 3].map((a) => backoffDelay(a, r, () => 0.5))).toEqual([50, 100, 200]);
  });

  it('is 0 at the bottom of the jitter range and never negative', () => {
    for (let a = 1; a < 10; a++) expect(backoffDelay(a, retry(100, 1_000), () => 0)).toBe(0);
  });

  it('treats attempt 0 (or less) like the first attempt and survives huge attempt numbers', () => {
    const r = retry(100, 5_000);
    expect(backoffDelay(0, r, () => 0.5)).toBe(50);
    expect(backoffDelay(-3, r, () => 0.5)).toBe(50);
    expect(backoffDelay(10_000, r, () => 0.5)).toBe(2_500);
  });

  it('is 0 when backoffMs or maxBackoffMs is 0', () => {
    expect(backoffDelay(3, retry(0, 1_000), () => 0.9)).toBe(0);
    expect(backoffDelay(3, retry(100, 0), () => 0.9)).toBe(0);
  });

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(backoffDelay(2, retry(333, 10_000), () => 0.123456))).toBe(true);
  });

  it('uses Math.random by default, spread uniformly over [0, ceiling)', () => {
    const spy = vi.spyOn(Math, 'random').mockReturnValue(0.25);
    expect(backoffDelay(3, retry(100, 10_000))).toBe(100);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    const samples = Array.from({ length: 4_000 }, () => backoffDelay(3, retry(100, 10_000)));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(400);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(180);
    expect(mean).toBeLessThan(220);
    expect(new Set(samples).size).toBeGreaterThan(300); // jittered, not lock-step
  });
});

describe('BucketPriorityQueue', () => {
  it('dequeues the highest priority first and FIFO within a priority', () => {
    const q = new BucketPriorityQueue<string>();
    const input: [string, number][] = [['a', 0], ['b', 5], ['c', 0], ['d', -3], ['e', 5], ['f', 10], ['g', -3], ['h', 0]];
    for (const [v, p] of input) q.enqueue(v, p);
    expect(q.size).toBe(8);
    const out: string[] = [];
    for (let v = q.dequeue(); v !== undefined; v = q.dequeue()) out.push(v);
    expect(out).toEqual(['f', 'b', 'e', 'a', 'c', 'h', 'd', 'g']);
    expect(q.size).toBe(0);
    expect(q.dequeue()).toBeUndefined();
  });

  it('a higher priority enqueued after lower ones were partly dequeued still goes first', () => {
    const q = new BucketPriorityQueue<string>();
    q.enqueue('low1', -5);
    q.enqueue('low2', -5);
    expect(q.dequeue()).toBe('low1');
    q.enqueue('high', 7);
    q.enqueue('mid', 0);
    expect(q.dequeue()).toBe('high');
    expect(q.dequeue()).toBe('mid');
    expect(q.dequeue()).toBe('low2');
    expect(q.dequeue()).toBeUndefined();
    // After running empty it works from the bottom level up again.
    q.enqueue('bottom', -10);
    q.enqueue('top', 10);
    expect(q.dequeue()).toBe('top');
    expect(q.dequeue()).toBe('bottom');
  });

  it('clamps and rounds priorities', () => {
    expect([50, 10, 9.6, 0.4, -0.6, -9.6, -99, Number.NaN, Infinity, -Infinity].map(clampPriority)).toEqual([10, 10, 10, 0, -1, -10, -10, 0, 0, 0]);
    const q = new BucketPriorityQueue<string>();
    q.enqueue('over', 1e9);
    q.enqueue('ten', 10);
    q.enqueue('under', -1e9);
    q.enqueue('nan', Number.NaN);
    expect(Object.fromEntries(q.sizes())).toEqual({ '10': 2, '0': 1, '-10': 1 });
    expect([q.dequeue(), q.dequeue(), q.dequeue(), q.dequeue()]).toEqual(['over', 'ten', 'nan', 'under']);
  });

  it('sizes() counts per priority, highest first', () => {
    const q = new BucketPriorityQueue<number>();
    for (let i = 0; i < 5; i++) q.enqueue(i, 2);
    for (let i = 0; i < 3; i++) q.enqueue(i, -1);
    q.enqueue(0, 9);
    expect([...q.sizes().entries()]).toEqual([[9, 1], [2, 5], [-1, 3]]);
    q.dequeue();
    q.dequeue();
    expect([...q.sizes().entries()]).toEqual([[2, 4], [-1, 3]]);
  });

  it('keeps falsy items (0, "", null, false)', () => {
    const q = new BucketPriorityQueue<unknown>();
    for (const v of [0, '', null, false]) q.enqueue(v, 0);
    expect([q.dequeue(), q.dequeue(), q.dequeue(), q.dequeue()]).toEqual([0, '', null, false]);
    expect(q.size).toBe(0);
  });

  it('stays FIFO across its internal compaction (thousands of items)', () => {
    const q = new BucketPriorityQueue<number>();
    let next = 0;
    let expectNext = 0;
    for (let i = 0; i < 5_000; i++) q.enqueue(next++, 1);
    for (let i = 0; i < 3_000; i++) expect(q.dequeue()).toBe(expectNext++);
    for (let i = 0; i < 2_500; i++) q.enqueue(next++, 1);
    for (let i = 0; i < 4_000; i++) expect(q.dequeue()).toBe(expectNext++);
    for (let i = 0; i < 10; i++) q.enqueue(next++, 1);
    expect(q.size).toBe(next - expectNext);
    while (q.size > 0) expect(q.dequeue()).toBe(expectNext++);
    expect(expectNext).toBe(next);
  });

  it('drain() returns everything, highest priority first, and empties the queue', () => {
    const q = new BucketPriorityQueue<string>();
    q.enqueue('a', 0);
    q.enqueue('b', 3);
    q.enqueue('c', 0);
    q.enqueue('d', -2);
    q.dequeue(); // b
    expect(q.drain()).toEqual(['a', 'c', 'd']);
    expect(q.size).toBe(0);
    expect(q.dequeue()).toBeUndefined();
    q.enqueue('e', -7);
    expect(q.dequeue()).toBe('e');
  });
});

describe('Histogram', () => {
  it('is all zeros when empty', () => {
    const h = new Histogram();
    expect(h.count).toBe(0);
    expect(h.stats()).toEqual({ min: 0, avg: 0, p50: 0, p95: 0, max: 0 });
    expect(h.percentile(50)).toBe(0);
  });

  it('gets min/avg/max exactly and percentiles within ~3%', () => {
    const h = new Histogram();
    // Shuffled order must not matter.
    const values = Array.from({ length: 1_000 }, (_, i) => i + 1).sort((a, b) => ((a * 7919) % 1000) - ((b * 7919) % 1000));
    for (const v of values) h.record(v);
    const s = h.stats();
    expect(h.count).toBe(1_000);
    expect(s.min).toBe(1);
    expect(s.max).toBe(1_000);
    expect(s.avg).toBeCloseTo(500.5, 3);
    expect(Math.abs(s.p50 - 500) / 500).toBeLessThan(0.03);
    expect(Math.abs(s.p95 - 950) / 950).toBeLessThan(0.03);
    expect(Math.abs(h.percentile(99) - 990) / 990).toBeLessThan(0.03);
  });

  it('percentiles are monotonic and stay within [min, max]', () => {
    const h = new Histogram();
    for (let i = 0; i < 500; i++) h.record(0.05 + (i % 50) * 3.7 + (i % 7) * 100);
    let prev = -Infinity;
    for (let p = 0; p <= 100; p += 5) {
      const v = h.percentile(p);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(v).toBeGreaterThanOrEqual(h.stats().min);
      expect(v).toBeLessThanOrEqual(h.stats().max);
      prev = v;
    }
  });

  it('handles a skewed distribution (p50 small, p95 large)', () => {
    const h = new Histogram();
    for (let i = 0; i < 90; i++) h.record(2);
    for (let i = 0; i < 10; i++) h.record(5_000);
    const s = h.stats();
    expect(Math.abs(s.p50 - 2) / 2).toBeLessThan(0.03);
    expect(Math.abs(s.p95 - 5_000) / 5_000).toBeLessThan(0.03);
    expect(s.avg).toBeCloseTo(501.8, 3);
  });

  it('ignores negative and NaN samples; a single sample is every percentile', () => {
    const h = new Histogram();
    h.record(-1);
    h.record(Number.NaN);
    expect(h.count).toBe(0);
    h.record(42);
    expect(h.stats()).toEqual({ min: 42, avg: 42, p50: 42, p95: 42, max: 42 });
  });

  it('copes with sub-microsecond and very large durations', () => {
    const h = new Histogram();
    h.record(0);
    h.record(0.0000001);
    h.record(1e12);
    const s = h.stats();
    expect(s.min).toBe(0);
    expect(s.max).toBe(1e12);
    expect(h.percentile(100)).toBeLessThanOrEqual(1e12);
    expect(h.percentile(1)).toBe(0);
  });
});

describe('BatchSizer', () => {
  it('probes with small batches, grows for tiny items, and sends slow items one at a time', () => {
    const b = new BatchSizer(4, 512);
    // Unknown cost: a small probe, one batch at a time.
    expect(b.size).toBeGreaterThanOrEqual(1);
    expect(b.size).toBeLessThanOrEqual(4);
    expect(b.maxOutstanding).toBe(1);
    b.observe(10, 10); // 1 ms each
    expect([b.size, b.maxOutstanding]).toEqual([4, 2]);
    const tiny = new BatchSizer(4, 512);
    tiny.observe(1_000, 1); // 1 µs each
    expect(tiny.size).toBe(512);
    const slow = new BatchSizer(4, 512);
    slow.observe(2, 100); // 50 ms each
    expect([slow.size, slow.maxOutstanding]).toEqual([1, 1]);
    slow.observe(0, 0); // ignored
    expect(slow.size).toBe(1);
  });

  it('lets a worker hold its next batch of slow items only where it can be taken back, and not past 50 ms an item', () => {
    const unknown = new BatchSizer(4, 512);
    expect(unknown.maxOutstanding).toBe(1);
    const fast = new BatchSizer(4, 512);
    fast.observe(100, 10); // 0.1 ms each
    expect([fast.maxOutstanding, fast.reclaimableOnly]).toEqual([2, false]);
    const medium = new BatchSizer(4, 512);
    medium.observe(1, 11); // like the CPU-bound bench
    expect([medium.size, medium.maxOutstanding, medium.reclaimableOnly]).toEqual([1, 2, true]);
    const slow = new BatchSizer(4, 512);
    slow.observe(1, 60);
    expect([slow.size, slow.maxOutstanding]).toEqual([1, 1]);
  });
});

describe('RunStats rate and ETA (driven by a fake 1-second ticker, as the engine does)', () => {
  it('computes the rate over the sampled window and the ETA from what is left', () => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
    const s = new RunStats();
    s.counts.total = 1_000;
    const ticker = setInterval(() => s.sample(Date.now()), 1_000);
    s.sample(Date.now());
    expect(s.rate(Date.now())).toBe(0);
    expect(s.eta(Date.now())).toBeNull();
    for (let sec = 0; sec < 5; sec++) {
      s.doneThisRun += 20;
      s.counts.done += 20;
      vi.advanceTimersByTime(1_000);
    }
    expect(s.rate(Date.now())).toBeCloseTo(20, 5);
    expect(s.eta(Date.now())).toBe(45_000); // 900 left at 20/s
    // Old samples fall out of the ~10 s window: after a long stall the rate drops to 0.
    vi.advanceTimersByTime(15_000);
    expect(s.rate(Date.now())).toBe(0);
    expect(s.eta(Date.now())).toBeNull();
    clearInterval(ticker);
  });
});

describe('default item ids', () => {
  it('do not depend on key order, and differ when a value differs', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(defaultId({ a: 1, b: [1, 2] })).toBe(defaultId({ b: [1, 2], a: 1 }));
    expect(defaultId({ a: 1, b: [1, 2] })).not.toBe(defaultId({ a: 1, b: [2, 1] }));
    expect(defaultId({ a: '1' })).not.toBe(defaultId({ a: 1 }));
    expect(defaultId({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('retries with backoff in the engine', () => {
  it('waits at least the announced jittered delay, each under the exponential ceiling', async () => {
    const dir = makeProject();
    const file = writePipeline(dir, 'pipe.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'backoff',
  id: (r: any) => String(r.id),
  workers: 2,
  retry: { attempts: 4, backoffMs: 80, maxBackoffMs: 120 },
  async process(r: any, ctx) {
    const now = Date.now();
    if (ctx.attempt < 4) throw new Error('try ' + ctx.attempt + ' at ' + now);
    return { id: r.id, attempt: ctx.attempt, at: now };
  },
});
`);
    const n = 12;
    const input = writeJsonl(dir, 'in.jsonl', n);
    const pipeline = await loadPipeline(file, { cwd: dir });
    const engine = createEngine(pipeline, { cwd: dir });
    const retrying: Extract<EngineEvent, { type: 'retrying' }>[] = [];
    engine.on('event', (e) => { if (e.type === 'retrying') retrying.push(e); });
    const summary = await engine.run([input]);
    expect(summary.exitCode).toBe(0);
    expect(summary.totals.retries).toBe(n * 3);
    expect(summary.totals.attempts).toBe(n * 4);

    const out = readJsonl<{ id: string; result: { attempt: number; at: number } }>(path.join(dir, 'out', 'backoff.jsonl'));
    expect(out).toHaveLength(n);
    const ceilings = [80, 120, 120]; // 80, min(120, 160), min(120, 320)
    const delays: number[] = [];
    for (const line of out) {
      expect(line.result.attempt).toBe(4);
      const mine = retrying.filter((e) => e.id === line.id);
      expect(mine.map((e) => e.attempt)).toEqual([1, 2, 3]);
      const starts = mine.map((e) => Number(/ at (\d+)/.exec(e.error.message)?.[1]));
      starts.push(line.result.at);
      mine.forEach((e, k) => {
        expect(e.delayMs).toBeGreaterThanOrEqual(0);
        expect(e.delayMs).toBeLessThan(ceilings[k]!);
        // The next try started no sooner than the delay after this one failed (2 ms of clock slack).
        expect(starts[k + 1]! - starts[k]!, `item ${line.id} attempt ${k + 1}`).toBeGreaterThanOrEqual(e.delayMs - 2);
        delays.push(e.delayMs);
      });
    }
    // Jittered: not all the same, and not all (near) zero.
    expect(new Set(delays).size).toBeGreaterThan(5);
    expect(Math.max(...delays)).toBeGreaterThan(40);
  });

  it('an error with retryAfterMs delays the next try at least that long, up to maxBackoffMs', async () => {
    const dir = makeProject();
    const file = writePipeline(dir, 'pipe.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'later',
  id: (r: any) => String(r.id),
  retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 700 },
  async process(r: any, ctx) {
    if (ctx.attempt === 1) throw Object.assign(new Error('busy'), { retryAfterMs: r.id === 1 ? 400 : 60_000 });
    return { id: r.id };
  },
});
`);
    const input = writeJsonl(dir, 'in.jsonl', 2);
    const engine = createEngine(await loadPipeline(file, { cwd: dir }), { cwd: dir });
    const retrying: Extract<EngineEvent, { type: 'retrying' }>[] = [];
    engine.on('event', (e) => { if (e.type === 'retrying') retrying.push(e); });
    const summary = await engine.run([input]);
    expect(summary.totals.done).toBe(2);
    const delay = (id: string) => retrying.find((e) => e.id === id)?.delayMs;
    expect(delay('1')).toBe(400); // not the 10 ms backoff
    expect(delay('2')).toBe(700); // a minute asked, the cap given
    expect(summary.durationMs).toBeGreaterThanOrEqual(700);
  });
});

