// Scheduling: priority order, resizing the pool under load, pause/resume. Real worker threads via the API.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, loadPipeline } from '../dist/index.js';
import type { EngineEvent } from '../dist/index.js';
import { cleanupProjects, duplicates, expectedIds, makeProject, readJsonl, sleep, waitFor, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

interface Result { id: number; seq: number; thread: number; t: number }
interface OutLine { id: string; result: Result }

async function setup(source: string, n: number, make?: (i: number) => Record<string, unknown>) {
  const dir = makeProject();
  const file = writePipeline(dir, 'pipe.ts', source);
  const input = writeJsonl(dir, 'in.jsonl', n, make);
  const pipeline = await loadPipeline(file, { cwd: dir });
  return { dir, input, pipeline, outFile: path.join(dir, 'out', `${pipeline.name}.jsonl`) };
}

/** A pipeline whose result says which thread ran it, in which order (per thread) and when it finished. */
const recorder = (name: string, opts: string, sleepMs: number) => `
import { definePipeline } from 'pipeline-tui';
import { threadId } from 'node:worker_threads';
let seq = 0;
export default definePipeline({
  name: '${name}',
  id: (r: any) => String(r.id),
  ${opts}
  async process(r: any) {
    const mine = ++seq;
    ${sleepMs > 0 ? `await new Promise((res) => setTimeout(res, ${sleepMs}));` : ''}
    return { id: r.id, seq: mine, thread: threadId, t: Date.now() };
  },
});
`;

function sortedIds(lines: OutLine[]): string[] {
  return lines.map((l) => l.id).sort((a, b) => Number(a) - Number(b));
}

describe('scheduling', () => {
  it('runs higher priorities first and keeps input order within a priority', async () => {
    const n = 60;
    const levels = [0, 3, -5, 10, 3, 0, -10, 7];
    const prio = (i: number) => levels[i % levels.length]!;
    const { dir, input, pipeline, outFile } = await setup(recorder('prio', 'workers: 1, priority: (r: any) => r.p,', 0), n, (i) => ({ p: prio(i) }));
    const engine = createEngine(pipeline, { cwd: dir, workers: 1 });
    const running = engine.run([input]);
    engine.pause(); // before anything is dispatched: everything queues up
    await waitFor(() => engine.stats().counts.pending === n, 20_000, 'all records queued');
    await sleep(100);
    const paused = engine.stats();
    expect(paused.state).toBe('paused');
    expect(paused.counts.done).toBe(0);
    const expectedByPriority: Record<string, number> = {};
    for (let i = 1; i <= n; i++) expectedByPriority[String(prio(i))] = (expectedByPriority[String(prio(i))] ?? 0) + 1;
    expect(paused.byPriority).toEqual(expectedByPriority);

    engine.resume();
    const summary = await running;
    expect(summary.exitCode).toBe(0);
    const out = readJsonl<OutLine>(outFile);
    expect(sortedIds(out)).toEqual(expectedIds(n));
    // One worker thread: its own counter is the execution order.
    expect(new Set(out.map((l) => l.result.thread)).size).toBe(1);
    const ran = [...out].sort((a, b) => a.result.seq - b.result.seq).map((l) => l.result.id);
    const want = Array.from({ length: n }, (_, k) => k + 1).sort((a, b) => prio(b) - prio(a) || a - b);
    expect(ran).toEqual(want);
  });

  it('out-of-range and fractional priorities are clamped to -10..10 and rounded', async () => {
    const n = 6;
    // 1: 50 -> 10, 2: 9.6 -> 10, 3: -99 -> -10, 4: 0.4 -> 0, 5: -9.6 -> -10, 6: NaN -> 0
    const ps = [50, 9.6, -99, 0.4, -9.6, 'x'];
    const { dir, input, pipeline, outFile } = await setup(recorder('clamp', 'workers: 1, priority: (r: any) => Number(r.p),', 0), n, (i) => ({ p: ps[i - 1] }));
    const engine = createEngine(pipeline, { cwd: dir, workers: 1 });
    const running = engine.run([input]);
    engine.pause();
    await waitFor(() => engine.stats().counts.pending === n, 20_000, 'all records queued');
    expect(engine.stats().byPriority).toEqual({ '10': 2, '0': 2, '-10': 2 });
    engine.resume();
    await running;
    const ran = readJsonl<OutLine>(outFile).sort((a, b) => a.result.seq - b.result.seq).map((l) => l.result.id);
    expect(ran).toEqual([1, 2, 4, 6, 3, 5]);
  });

  it('resizes up and down while run() is pending; every item is done exactly once', async () => {
    // Enough that, however slowly the new threads start, 40 more are left for them and plenty for after the shrink.
    const n = 300;
    const { dir, input, pipeline, outFile } = await setup(recorder('resize', 'workers: 1,', 20), n);
    const engine = createEngine(pipeline, { cwd: dir });
    const events: EngineEvent[] = [];
    let done = 0;
    let up = 0;
    engine.on('event', (e) => { events.push(e); if (e.type === 'item') done++; if (e.type === 'worker' && e.status === 'up') up++; });
    const running = engine.run([input]);
    await waitFor(() => done >= 5, 20_000, '5 items done');
    expect(engine.stats().workers.size).toBe(1);
    expect(up).toBe(1);

    engine.resize(4);
    expect(engine.stats().workers.target).toBe(4);
    expect(engine.stats().workers.size).toBe(4); // growing is immediate (the new threads are starting)
    await waitFor(() => up >= 4, 20_000, 'three new workers up');
    const grownAt = done;
    await waitFor(() => done >= grownAt + 40, 20_000, '40 more items');
    // All four threads took work.
    const threadsSoFar = new Set(readJsonl<OutLine>(outFile).map((l) => l.result.thread));
    expect(threadsSoFar.size).toBeGreaterThanOrEqual(4);
    expect(engine.stats().workers.busy).toBeGreaterThan(1);

    engine.resize(1);
    const shrunkAt = Date.now();
    expect(engine.stats().workers.target).toBe(1);
    await waitFor(() => engine.stats().workers.size === 1, 5_000, 'pool of 1');
    expect(done).toBeLessThan(n - 10); // the shrink happened under load

    const summary = await running;
    expect(summary.exitCode).toBe(0);
    const out = readJsonl<OutLine>(outFile);
    expect(duplicates(out.map((l) => l.id))).toEqual([]);
    expect(sortedIds(out)).toEqual(expectedIds(n));
    expect(summary.totals.done).toBe(n);
    expect(summary.totals.attempts).toBe(n);
    expect(summary.workers.initial).toBe(1);
    expect(summary.workers.max).toBe(4);
    expect(summary.workers.final).toBe(1);
    // Well after the shrink (retiring workers finish what they hold, ~20 ms), only one thread works.
    const late = out.filter((l) => l.result.t > shrunkAt + 300);
    expect(late.length).toBeGreaterThan(10);
    expect(new Set(late.map((l) => l.result.thread)).size).toBe(1);
    const resized = events.filter((e): e is Extract<EngineEvent, { type: 'resized' }> => e.type === 'resized');
    expect(resized.map((e) => [e.from, e.to])).toEqual([[1, 4], [4, 1]]);
  });

  it('a small in-memory window still gets every record through exactly once (with failures, retries and repeated ids)', async () => {
    const n = 400;
    const { dir, input, pipeline, outFile } = await setup(`
import { definePipeline, PermanentError } from 'pipeline-tui';
export default definePipeline({
  name: 'windowed',
  id: (r: any) => String(r.key),
  workers: 2,
  retry: { attempts: 2, backoffMs: 20 },
  async process(r: any, ctx) {
    if (r.key % 50 === 0) throw new PermanentError('no');
    if (r.key % 7 === 0 && ctx.attempt === 1) throw new Error('flaky');
    return { key: r.key, attempt: ctx.attempt };
  },
});
`, n, (i) => ({ key: i > 390 ? i - 390 : i })); // ids 391..400 repeat 1..10
    const engine = createEngine(pipeline, { cwd: dir, window: 16 });
    let maxInMemory = 0;
    engine.on('event', () => {
      const s = engine.stats().counts;
      maxInMemory = Math.max(maxInMemory, s.pending + s.running + s.retrying);
    });
    const summary = await engine.run([input]);
    const out = readJsonl<{ id: string; result: { key: number; attempt: number } }>(outFile);
    const ids = out.map((l) => l.id);
    expect(duplicates(ids)).toEqual([]);
    const want = Array.from({ length: 390 }, (_, k) => k + 1).filter((k) => k % 50 !== 0).map(String);
    expect(ids.sort((a, b) => Number(a) - Number(b))).toEqual(want);
    expect(summary.totals.failed).toBe(7);
    expect(summary.totals.skipped).toBe(10);
    expect(summary.totals.done).toBe(383);
    expect(out.filter((l) => l.result.attempt === 2).length).toBe(want.filter((k) => Number(k) % 7 === 0).length);
    expect(maxInMemory).toBeLessThanOrEqual(16);
  });

  it('resize rejects a non-positive or fractional size', async () => {
    const { dir, pipeline } = await setup(recorder('resize-bad', 'workers: 1,', 0), 1);
    const engine = createEngine(pipeline, { cwd: dir });
    expect(() => engine.resize(0)).toThrow(/positive integer/);
    expect(() => engine.resize(1.5)).toThrow(/positive integer/);
    expect(() => engine.resize(-2)).toThrow(/positive integer/);
  });

  it('pause stops dispatch (done stops growing once in-flight items finish); resume completes the run', async () => {
    const n = 100;
    const { dir, input, pipeline, outFile } = await setup(recorder('pausing', 'workers: 2,', 15), n);
    const engine = createEngine(pipeline, { cwd: dir });
    const events: EngineEvent[] = [];
    let done = 0;
    engine.on('event', (e) => { events.push(e); if (e.type === 'item') done++; });
    const running = engine.run([input]);
    await waitFor(() => done >= 10, 20_000, '10 items done');

    engine.pause();
    expect(engine.stats().state).toBe('paused');
    await waitFor(() => engine.stats().counts.running === 0, 10_000, 'in-flight items to finish');
    await sleep(50);
    const atPause = done;
    expect(atPause).toBeLessThan(n - 20);
    await sleep(500);
    expect(done).toBe(atPause);
    const s = engine.stats();
    expect(s.counts.done).toBe(atPause);
    expect(s.counts.pending).toBeGreaterThan(0);
    expect(s.workers.busy).toBe(0);
    expect(readJsonl(outFile)).toHaveLength(atPause);

    engine.resume();
    expect(engine.stats().state).toBe('running');
    const summary = await running;
    expect(summary.exitCode).toBe(0);
    expect(summary.status).toBe('completed');
    const out = readJsonl<OutLine>(outFile);
    expect(duplicates(out.map((l) => l.id))).toEqual([]);
    expect(sortedIds(out)).toEqual(expectedIds(n));
    const kinds = events.filter((e) => e.type === 'paused' || e.type === 'resumed').map((e) => e.type);
    expect(kinds).toEqual(['paused', 'resumed']);
  });
});
