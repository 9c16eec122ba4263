// Supervision of the worker pool: crashes, thrown errors, hung workers, unserialisable results.
// Real worker threads; the engine is imported from the built output because workers load dist/.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, loadPipeline } from '../dist/index.js';
import type { EngineEvent, RunSummary } from '../dist/index.js';
import { cleanupProjects, jsonLines, makeProject, readJsonl, spawnCli, waitCli, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

interface OutLine { id: string; result: { id: number; attempt: number; [k: string]: unknown }; source: { file: string; line: number } }
interface DeadLetterDoc { id: string; attempts: number; errors: { code: string; message: string; category: string; attempt: number; file?: string; line?: number }[] }

/** Runs `source` (a pipeline module) over `n` records with the API and returns what a caller can observe. */
async function runPipeline(source: string, n: number, opts: { workers?: number } = {}) {
  const dir = makeProject();
  const file = writePipeline(dir, 'pipe.ts', source);
  const input = writeJsonl(dir, 'in.jsonl', n);
  const pipeline = await loadPipeline(file, { cwd: dir });
  const engine = createEngine(pipeline, { cwd: dir, ...(opts.workers === undefined ? {} : { workers: opts.workers }) });
  const events: EngineEvent[] = [];
  engine.on('event', (e) => events.push(e));
  const summary: RunSummary = await engine.run([input]);
  const stats = engine.stats();
  const out = readJsonl<OutLine>(path.join(dir, 'out', `${pipeline.name}.jsonl`));
  const doc = JSON.parse(readFileSync(path.join(dir, '.pipeline-tui', pipeline.name, 'state.json'), 'utf8')) as { failed: Record<string, DeadLetterDoc>; done: string[] };
  const items = events.filter((e): e is Extract<EngineEvent, { type: 'item' }> => e.type === 'item');
  const failed = new Map(items.filter((e) => e.status === 'failed').map((e) => [e.id, e]));
  return { dir, file, summary, stats, out, doc, events, items, failed };
}

function sortedIds(lines: { id: string }[]): string[] {
  return lines.map((l) => l.id).sort((a, b) => Number(a) - Number(b));
}

function idsExcept(n: number, ...except: number[]): string[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((i) => !except.includes(i)).map(String);
}

describe('worker pool supervision', () => {
  it('a process.exit() in process() fails that item with WORKER_CRASHED, replaces the worker, and everything else finishes', async () => {
    const n = 40;
    const r = await runPipeline(`
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'crashy',
  id: (r: any) => String(r.id),
  workers: 2,
  timeoutMs: 10_000,
  retry: { attempts: 3, backoffMs: 5, maxBackoffMs: 10 },
  async process(r: any, ctx) {
    if (r.id === 7) process.exit(1);                   // every attempt
    if (r.id === 13 && ctx.attempt < 3) process.exit(3); // the first two attempts only
    await new Promise((res) => setTimeout(res, 2));
    return { id: r.id, attempt: ctx.attempt };
  },
});
`, n);
    // Item 7: dead-lettered after its 3 attempts, each a crash.
    const f7 = r.failed.get('7');
    expect(f7?.status).toBe('failed');
    expect(f7 && f7.status === 'failed' ? f7.error.code : undefined).toBe('WORKER_CRASHED');
    expect(f7 && f7.status === 'failed' ? f7.error.category : undefined).toBe('crash');
    expect(f7?.attempts).toBe(3);
    const dead = r.doc.failed['7'];
    expect(dead?.errors.map((e) => e.code)).toEqual(['WORKER_CRASHED', 'WORKER_CRASHED', 'WORKER_CRASHED']);
    expect(dead?.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);

    // Every other item is in the output exactly once; a crash uses up an attempt and ctx.attempt goes up.
    expect(sortedIds(r.out)).toEqual(idsExcept(n, 7));
    const byId = new Map(r.out.map((l) => [l.id, l.result]));
    expect(byId.get('13')?.attempt).toBe(3);
    // Items that shared a worker with a crashing item were handed back without losing an attempt.
    for (const [id, res] of byId) if (id !== '13') expect(res.attempt, `item ${id}`).toBe(1);

    expect(r.summary.exitCode).toBe(1);
    expect(r.summary.totals.done).toBe(n - 1);
    expect(r.summary.totals.failed).toBe(1);
    // 3 crashes for item 7 + 2 for item 13, each followed by a replacement.
    expect(r.summary.workers.crashes).toBe(5);
    expect(r.summary.workers.replacements).toBe(5);
    expect(r.summary.workers.timeouts).toBe(0);
    expect(r.stats.workers.crashes).toBe(5);
    expect(r.summary.errors.byCode['WORKER_CRASHED']).toBe(5);
    expect(r.events.filter((e) => e.type === 'worker' && e.status === 'crashed')).toHaveLength(5);
    // The dashboard's recent errors say which item each attempt belonged to.
    expect(r.stats.errors.recent.map((e) => `${e.id}#${e.attempt}`).sort()).toEqual(['13#1', '13#2', '7#1', '7#2', '7#3']);
  });

  it('crashes amid large batches of fast items lose nothing, duplicate nothing, and charge only the culprit an attempt', async () => {
    const n = 3_000;
    const r = await runPipeline(`
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'crash-batches',
  id: (r: any) => String(r.id),
  workers: 2,
  retry: { attempts: 3, backoffMs: 5 },
  process(r: any, ctx) {
    if ((r.id === 700 || r.id === 1600 || r.id === 2500) && ctx.attempt === 1) process.exit(1);
    return { id: r.id, attempt: ctx.attempt };
  },
});
`, n);
    expect(r.summary.exitCode).toBe(0);
    expect(r.out).toHaveLength(n);
    expect(sortedIds(r.out)).toEqual(idsExcept(n));
    const retried = r.out.filter((l) => l.result.attempt !== 1).map((l) => l.id).sort();
    expect(retried).toEqual(['1600', '2500', '700']);
    expect(r.out.filter((l) => l.result.attempt === 2)).toHaveLength(3);
    expect(r.summary.workers.crashes).toBe(3);
    expect(r.summary.totals.attempts).toBe(n + 3);
    expect(r.summary.totals.done).toBe(n);
    expect(r.items.filter((e) => e.status === 'done')).toHaveLength(n);
  });

  it('a thrown error is transient: retried up to retry.attempts, then dead-lettered with every attempt\'s error', async () => {
    const n = 12;
    const source = `
import { definePipeline, PermanentError } from 'pipeline-tui';
export default definePipeline({
  name: 'throwy',
  id: (r: any) => String(r.id),
  workers: 2,
  retry: { attempts: 3, backoffMs: 5, maxBackoffMs: 20 },
  async process(r: any, ctx) {
    if (r.id === 4) throw new Error('boom at attempt ' + ctx.attempt);
    if (r.id === 6 && ctx.attempt < 3) throw new Error('flaky ' + ctx.attempt);
    if (r.id === 8) throw new PermanentError('bad record');
    return { id: r.id, attempt: ctx.attempt };
  },
});
`;
    const throwLine = source.split('\n').findIndex((l) => l.includes('boom at attempt')) + 1;
    const r = await runPipeline(source, n);

    const dead = r.doc.failed['4'];
    expect(dead?.attempts).toBe(3);
    expect(dead?.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(dead?.errors.map((e) => e.code)).toEqual(['TRANSIENT', 'TRANSIENT', 'TRANSIENT']);
    expect(dead?.errors.map((e) => e.message.replace(/ \(.*\)$/, ''))).toEqual(['boom at attempt 1', 'boom at attempt 2', 'boom at attempt 3']);
    // The error points at the pipeline's own TypeScript line.
    expect(dead?.errors[0]?.line).toBe(throwLine);
    expect(path.basename(dead?.errors[0]?.file ?? '')).toBe('pipe.ts');
    expect(dead?.errors[0]?.message).toContain(`pipe.ts:${throwLine}`);

    // Permanent: one attempt, no retry.
    const perm = r.doc.failed['8'];
    expect(perm?.attempts).toBe(1);
    expect(perm?.errors).toHaveLength(1);
    expect(perm?.errors[0]?.code).toBe('PERMANENT');
    expect(perm?.errors[0]?.category).toBe('permanent');

    // Flaky item succeeded on its third try, and saw it.
    const byId = new Map(r.out.map((l) => [l.id, l.result]));
    expect(byId.get('6')?.attempt).toBe(3);
    expect(sortedIds(r.out)).toEqual(idsExcept(n, 4, 8));
    expect(Object.keys(r.doc.failed).sort()).toEqual(['4', '8']);

    const retrying = r.events.filter((e): e is Extract<EngineEvent, { type: 'retrying' }> => e.type === 'retrying');
    expect(retrying.filter((e) => e.id === '4').map((e) => e.attempt)).toEqual([1, 2]);
    expect(retrying.filter((e) => e.id === '6').map((e) => e.attempt)).toEqual([1, 2]);
    expect(retrying.some((e) => e.id === '8')).toBe(false);
    expect(r.summary.totals.retries).toBe(4);
    expect(r.summary.totals.attempts).toBe(n - 3 + 3 + 3 + 1);
    expect(r.summary.workers.crashes).toBe(0);
    expect(r.summary.workers.replacements).toBe(0);
    expect(r.summary.exitCode).toBe(1);
  });

  it('a synchronous infinite loop hits timeoutMs: TIMEOUT, the worker is replaced, the other items finish', async () => {
    const n = 20;
    const started = Date.now();
    const r = await runPipeline(`
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'loopy',
  id: (r: any) => String(r.id),
  workers: 2,
  timeoutMs: 300,
  retry: { attempts: 2, backoffMs: 5, maxBackoffMs: 10 },
  async process(r: any, ctx) {
    if (r.id === 5) { while (true) {} }
    if (r.id === 9 && ctx.attempt === 1) { while (true) {} }
    return { id: r.id, attempt: ctx.attempt };
  },
});
`, n);
    const elapsed = Date.now() - started;
    const f5 = r.failed.get('5');
    expect(f5 && f5.status === 'failed' ? f5.error.code : undefined).toBe('TIMEOUT');
    expect(f5 && f5.status === 'failed' ? f5.error.category : undefined).toBe('timeout');
    expect(r.doc.failed['5']?.errors.map((e) => e.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
    const byId = new Map(r.out.map((l) => [l.id, l.result]));
    expect(byId.get('9')?.attempt).toBe(2);
    expect(sortedIds(r.out)).toEqual(idsExcept(n, 5));
    // Two hung attempts of item 5 and one of item 9, each a replaced worker.
    expect(r.summary.workers.timeouts).toBe(3);
    expect(r.summary.workers.replacements).toBe(3);
    expect(r.summary.workers.crashes).toBe(0);
    expect(r.stats.workers.timeouts).toBe(3);
    expect(r.events.filter((e) => e.type === 'worker' && e.status === 'timeout')).toHaveLength(3);
    // Each hung attempt was cut off near 300 ms, not after some much longer default.
    expect(elapsed).toBeLessThan(15_000);
  });

  it('an async process() that never settles times out inside the worker, which is kept', async () => {
    const r = await runPipeline(`
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'stuck',
  id: (r: any) => String(r.id),
  workers: 1,
  timeoutMs: 200,
  retry: { attempts: 2, backoffMs: 5, maxBackoffMs: 10 },
  async process(r: any, ctx) {
    if (r.id === 2) await new Promise(() => {});
    if (r.id === 3) { await new Promise((res) => setTimeout(res, 5_000)); }
    return { id: r.id, attempt: ctx.attempt, aborted: ctx.signal.aborted };
  },
});
`, 4);
    expect(r.doc.failed['2']?.errors.map((e) => e.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
    expect(r.doc.failed['3']?.errors.map((e) => e.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
    expect(sortedIds(r.out)).toEqual(['1', '4']);
    expect(r.summary.workers.replacements).toBe(0);
    expect(r.summary.workers.crashes).toBe(0);
    expect(r.summary.errors.byCode['TIMEOUT']).toBe(4);
  });

  it('a result that is not JSON-serialisable fails permanently with NOT_SERIALIZABLE after one attempt', async () => {
    const r = await runPipeline(`
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'unserialisable',
  id: (r: any) => String(r.id),
  workers: 2,
  retry: { attempts: 3, backoffMs: 5 },
  async process(r: any, ctx) {
    if (r.id === 1) return () => 1;
    if (r.id === 2) return { big: 10n };
    if (r.id === 3) { const a: any = { name: 'a' }; a.self = a; return a; }
    if (r.id === 4) return { nested: { fn() { return 1; } } };
    if (r.id === 5) return { sym: Symbol('s') };
    return { id: r.id, attempt: ctx.attempt };
  },
});
`, 7);
    for (const id of ['1', '2', '3', '4', '5']) {
      const dead = r.doc.failed[id];
      expect(dead?.attempts, `item ${id}`).toBe(1);
      expect(dead?.errors.map((e) => e.code), `item ${id}`).toEqual(['NOT_SERIALIZABLE']);
      expect(dead?.errors[0]?.category, `item ${id}`).toBe('permanent');
      expect(r.failed.get(id)?.attempts, `item ${id}`).toBe(1);
    }
    expect(sortedIds(r.out)).toEqual(['6', '7']);
    expect(r.out.every((l) => l.result.attempt === 1)).toBe(true);
    expect(r.summary.totals.retries).toBe(0);
    expect(r.summary.totals.attempts).toBe(7);
  });

  it('the CLI exits promptly after a run in which a worker was replaced near the end', async () => {
    const dir = makeProject();
    writePipeline(dir, 'pipe.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'late-crash',
  id: (r: any) => String(r.id),
  workers: 2,
  retry: { attempts: 1 },
  async process(r: any) {
    // One worker dies; the other finishes the run while the replacement is still starting.
    if (r.id === 2) process.exit(1);
    await new Promise((res) => setTimeout(res, 50));
    return { id: r.id };
  },
});
`);
    writeJsonl(dir, 'in.jsonl', 2);
    const child = spawnCli(['run', './pipe.ts', 'in.jsonl', '--json'], { cwd: dir });
    let endAt = 0;
    child.stdout?.on('data', (d: Buffer) => { if (!endAt && d.toString().includes('"type":"end"')) endAt = Date.now(); });
    // Generous: a CLI that lingers after its work is done would hold up every script that calls it.
    const res = await waitCli(child, 10_000);
    const end = jsonLines(res.stdout).find((e) => e.type === 'end') as { summary: RunSummary } | undefined;
    expect(end?.summary.workers.crashes).toBe(1);
    expect(endAt).toBeGreaterThan(0);
    expect(res.signal, 'the CLI was still running 10 s after it started and had to be killed').toBeNull();
    expect(res.code).toBe(1);
    expect(Date.now() - endAt, 'ms between the end event and the process exit').toBeLessThan(5_000);
  }, 30_000);
});
