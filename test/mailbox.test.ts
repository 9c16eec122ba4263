// The worker mailbox (engine/mailbox.ts): a shared-memory batch slot beside postMessage, and what the
// pool does with it: wake a parked worker, hold a busy worker's next batch, take it back at the tail.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, loadPipeline } from '../dist/index.js';
import { createMailbox, encodeBatch, PoolMailbox, WorkerMailbox } from '../dist/engine/mailbox.js';
import { WorkerPool } from '../dist/engine/worker-pool.js';
import type { WireItem } from '../dist/engine/wire.js';
import { cleanupProjects, makeProject, readJsonl, repoRoot, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

const noMessage = (): void => { throw new Error('no wake message expected: the worker was not asleep'); };
const item = (s: number, fields: Partial<WireItem> = {}): WireItem => ({ s, id: `id-${s}`, attempt: 1, source: { file: 'in.jsonl', line: s + 1 }, ...fields });

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('mailbox', () => {
  it('carries JSON records, JSON text (rj) and absent records exactly through the slot', () => {
    const sab = createMailbox(4096);
    const pool = new PoolMailbox(sab, noMessage);
    const worker = new WorkerMailbox(sab);
    const batch = [
      item(0, { record: { a: 1, b: [1, 'x', null, { c: true }], 'é': 'ünïcode \u{1F600}', n: -1.5e300 } }),
      item(1, { rj: '{"from":"an earlier stage"}' }),
      item(2),
      item(3, { record: Object.assign(Object.create(null) as object, { k: 'null prototype' }) }),
    ];
    const json = encodeBatch(batch);
    expect(json).toBeTypeOf('string');
    expect(pool.put(json!)).toBe(true);
    const got = worker.take()!;
    expect(got.map((w) => w.s)).toEqual([0, 1, 2, 3]);
    expect(got[0]).toEqual(batch[0]);
    expect(got[1]!.rj).toBe('{"from":"an earlier stage"}');
    expect(got[1]!.record).toBeUndefined();
    expect(got[2]!.record).toBeUndefined();
    expect(got[2]!.source).toEqual({ file: 'in.jsonl', line: 3 });
    expect(got[3]!.record).toEqual({ k: 'null prototype' });
  });

  it('refuses (leaves to structured clone) every value JSON would change', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    class Point { x = 1; }
    const inexact: unknown[] = [
      new Date(0), new Map([[1, 2]]), new Set([1]), new Uint8Array(2), new Point(), /re/,
      { u: undefined }, [1, undefined], [1, , 3], NaN, Infinity, -0, 10n, cyclic, { deep: { f: () => 1 } }, Symbol('s'),
    ];
    for (const record of inexact) expect(encodeBatch([item(0, { record })]), String(record)).toBeUndefined();
    // One inexact record sends the whole batch by message.
    expect(encodeBatch([item(0, { record: { ok: 1 } }), item(1, { record: { when: new Date(0) } })])).toBeUndefined();
    expect(encodeBatch([item(0, { source: { file: 'x', line: NaN } })])).toBeUndefined();
  });

  it('holds one batch at a time: taken batches cannot be reclaimed, reclaimed ones cannot be taken', () => {
    const sab = createMailbox(64);
    const pool = new PoolMailbox(sab, noMessage);
    const worker = new WorkerMailbox(sab);
    expect(pool.unstarted).toBe(0);
    expect(pool.put(encodeBatch([item(0, { record: 1 })])!)).toBe(true);
    expect(pool.unstarted).toBe(1);
    expect(pool.put(encodeBatch([item(1, { record: 2 })])!)).toBe(false); // full
    expect(worker.take()!.map((w) => w.record)).toEqual([1]);
    expect(pool.unstarted).toBe(0);
    expect(pool.reclaim()).toBe(false);
    expect(worker.take()).toBeUndefined();

    expect(pool.put(encodeBatch([item(2, { record: 3 })])!)).toBe(true);
    expect(pool.reclaim()).toBe(true);
    expect(worker.take()).toBeUndefined();
    expect(pool.empty).toBe(true);

    // Too large for the slot (64 bytes, multi-byte characters counted as bytes): refused, not truncated.
    expect(pool.put(encodeBatch([item(3, { record: 'x'.repeat(80) })])!)).toBe(false);
    expect(pool.put(encodeBatch([item(4, { record: 'é'.repeat(20) })])!)).toBe(false);
    expect(pool.put(encodeBatch([item(5, { record: 'é'.repeat(4) })])!)).toBe(true);
    expect(worker.take()![0]!.record).toBe('éééé');
  });

  it('counts a posted batch as unstarted until the worker receives it', () => {
    const sab = createMailbox(64);
    const pool = new PoolMailbox(sab, noMessage);
    const worker = new WorkerMailbox(sab);
    pool.posting();
    expect(pool.unstarted).toBe(1);
    expect(worker.messageComing).toBe(true);
    expect(worker.park(60_000)).toBe(true); // returns at once: a message is on its way
    worker.received();
    expect(worker.messageComing).toBe(false);
    expect(pool.unstarted).toBe(0);
    expect(worker.park(1)).toBe(false); // nothing: the bounded wait times out
  });

  it('a worker that has gone to sleep on its event loop is woken by a message, not left with a full slot', () => {
    const sab = createMailbox(256);
    let messages = 0;
    const pool = new PoolMailbox(sab, () => { messages++; });
    const worker = new WorkerMailbox(sab);
    expect(pool.put(encodeBatch([item(0, { record: 1 })])!)).toBe(true);
    expect(messages).toBe(0); // awake: it looks at the slot before it parks or sleeps
    expect(worker.sleep()).toBe(false); // work came first: it does not sleep
    expect(worker.take()).toHaveLength(1);
    expect(worker.sleep()).toBe(true);
    expect(pool.put(encodeBatch([item(1, { record: 2 })])!)).toBe(true);
    expect(messages).toBe(1);
    worker.awake();
    expect(worker.take()![0]!.record).toBe(2);
    // A batch posted as a message wakes it by itself.
    expect(worker.sleep()).toBe(true);
    pool.posting();
    pool.wake(false);
    expect(messages).toBe(1);
  });

  it('wakes a worker parked in Atomics.wait when a batch is put, long before its wait would time out', async () => {
    const sab = createMailbox(1024);
    const url = pathToFileURL(path.join(repoRoot, 'dist', 'engine', 'mailbox.js')).href;
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then(({ WorkerMailbox }) => {
        const box = new WorkerMailbox(workerData);
        parentPort.postMessage('parking');
        const woken = box.park(50_000);
        parentPort.postMessage({ woken, items: box.take() });
      });
    `, { eval: true, workerData: sab });
    try {
      const messages: unknown[] = [];
      w.on('message', (m) => messages.push(m));
      await waitFor(() => messages.length === 1, 10_000, 'the worker to park');
      await new Promise((r) => setTimeout(r, 50));
      expect(new PoolMailbox(sab, noMessage).put(encodeBatch([item(7, { record: { hello: 'worker' } })])!)).toBe(true);
      await waitFor(() => messages.length === 2, 20_000, 'the worker to wake');
      expect(messages[1]).toEqual({ woken: true, items: [item(7, { record: { hello: 'worker' } })] });
    } finally {
      await w.terminate();
    }
  });
});

describe('worker pool with mailboxes', () => {
  it('records JSON cannot carry exactly reach process() as a structured clone gives them', async () => {
    const dir = makeProject();
    const file = writePipeline(dir, 'exact.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'exact',
  workers: 2,
  // Dates, NaN and undefined only exist in records made in code (here by expand); readers make JSON.
  // The first half are plain only, so whole batches of them go through the mailbox.
  expand: (r: any) => [
    { id: r.id, kind: 'plain', nested: { list: [1, 'two', null] } },
    ...(r.id <= 150 ? [] : [{ id: r.id, kind: 'odd', when: new Date(r.id * 1000), nan: NaN, gone: undefined, big: 2n ** 70n, map: new Map([['k', r.id]]) }]),
  ],
  id: (r: any) => r.kind + '-' + r.id,
  process(r: any) {
    if (r.kind === 'plain') return { ok: r.nested.list[1] === 'two' && Object.keys(r).join() === 'id,kind,nested' };
    return { ok: r.when instanceof Date && r.when.getTime() === r.id * 1000 && Number.isNaN(r.nan) && 'gone' in r && r.big === 2n ** 70n && r.map.get('k') === r.id };
  },
});
`);
    const input = writeJsonl(dir, 'in.jsonl', 300);
    const engine = createEngine(await loadPipeline(file, { cwd: dir }), { cwd: dir });
    const summary = await engine.run([input]);
    expect(summary.totals.done).toBe(450);
    const out = readJsonl<{ id: string; result: { ok: boolean } }>(path.join(dir, 'out', 'exact.jsonl'));
    expect(out.filter((l) => !l.result.ok).map((l) => l.id)).toEqual([]);
    expect(out).toHaveLength(450);
  });

  interface Job { id: string; ms: number; tick?: true; busyAfter?: number }
  interface Ran { thread: number; started: number; ended: number }

  /** A pool driven directly, as the engine drives it: a queue, results by id, items handed back. */
  async function sleepyPool(size: number) {
    const dir = makeProject();
    const file = writePipeline(dir, 'sleepy.ts', `
import { definePipeline } from 'pipeline-tui';
import { threadId } from 'node:worker_threads';
export default definePipeline({
  name: 'sleepy',
  async process(r: { ms: number; tick?: boolean; busyAfter?: number }) {
    const started = Date.now();
    // A timer of the worker's own that outlives the item: it must fire while the worker is idle.
    if (r.tick) setTimeout(() => console.log('tick after the item'), 200);
    // Keeps the worker busy after the item, outside any item, so a batch given meanwhile waits unstarted.
    if (r.busyAfter) setTimeout(() => { const end = Date.now() + r.busyAfter!; while (Date.now() < end); }, 0);
    await new Promise((res) => setTimeout(res, r.ms));
    return { thread: threadId, started, ended: Date.now() };
  },
});
`);
    const queue: Job[] = [];
    const ran = new Map<string, Ran>();
    const handedBack: string[] = [];
    const logs: string[] = [];
    const pool: WorkerPool<Job> = new WorkerPool<Job>({ file, stage: 0, size, timeouts: [30_000] }, {
      take: (max) => queue.splice(0, max),
      get waiting() { return queue.length; },
    }, {
      toWire: (j, s) => ({ s, id: j.id, attempt: 1, source: { file: 'jobs', line: 1 }, record: { ms: j.ms, ...(j.tick ? { tick: true } : {}), ...(j.busyAfter ? { busyAfter: j.busyAfter } : {}) } }),
      results: (items, results) => results.forEach((r, i) => {
        if (!r.ok) throw new Error(`${items[i]!.id} failed: ${r.error.message}`);
        ran.set(items[i]!.id, JSON.parse(r.json) as Ran);
      }),
      lost: (culprit, innocent) => {
        if (culprit) throw new Error(`${culprit.id} was running when its worker was lost`);
        handedBack.push(...innocent.map((j) => j.id));
        queue.unshift(...innocent);
        pool.kick();
      },
      workerEvent: () => undefined,
      log: (_worker, _id, message) => { logs.push(message); },
      fatal: (e) => { throw e; },
    });
    await pool.start();
    const run = async (jobs: Job[]) => {
      queue.push(...jobs);
      pool.kick();
      await waitFor(() => jobs.every((j) => ran.has(j.id)), 30_000, `${jobs.length} jobs`);
    };
    return { pool, ran, handedBack, logs, run };
  }

  it('at the tail, a batch waiting behind a long item in one worker is taken back and run by the idle worker', async () => {
    const { pool, ran, handedBack, run } = await sleepyPool(2);
    try {
      // Both workers finish a batch first: from then on each may hold a next batch in its mailbox.
      await run(Array.from({ length: 6 }, (_, i) => ({ id: `warm-${i}`, ms: 20 })));
      const shorts = Array.from({ length: 4 }, (_, i) => ({ id: `short-${i}`, ms: 20 }));
      await run([{ id: 'long', ms: 1500 }, ...shorts]);
      const long = ran.get('long')!;
      // Some short item was given to the long item's worker to wait behind it, and taken back.
      expect(handedBack.filter((id) => id.startsWith('short-')).length).toBeGreaterThanOrEqual(1);
      for (const s of shorts) {
        const r = ran.get(s.id)!;
        expect(r.thread, `${s.id} ran on the long item's worker`).not.toBe(long.thread);
        expect(r.ended, `${s.id} waited for the long item`).toBeLessThanOrEqual(long.ended);
      }
    } finally {
      await pool.stop();
    }
  });

  it('a worker\'s only batch, given while it is busy outside any item, stays with it (not taken back and forth)', async () => {
    const { pool, ran, handedBack, run } = await sleepyPool(2);
    try {
      await run([{ id: 'a', ms: 0 }, { id: 'b', ms: 0 }, { id: 'c', ms: 0 }]);
      await new Promise((r) => setTimeout(r, 50));
      // Both idle: the first worker gets 'busy', then (busy for 400 ms) 'next' in its mailbox, while the other idles.
      await run([{ id: 'busy', ms: 0, busyAfter: 400 }]);
      await run([{ id: 'next', ms: 0 }]);
      expect(ran.get('next')!.thread).toBe(ran.get('busy')!.thread);
      expect(handedBack).toEqual([]);
    } finally {
      await pool.stop();
    }
  });

  it('a worker idle long enough to stop parking (asleep on its event loop) still gets the next batches', async () => {
    const { pool, ran, run } = await sleepyPool(2);
    try {
      await run([{ id: 'a', ms: 0 }, { id: 'b', ms: 0 }, { id: 'c', ms: 0 }]);
      await new Promise((r) => setTimeout(r, 1_500)); // past sleepAfterMs
      await run(Array.from({ length: 6 }, (_, i) => ({ id: `later-${i}`, ms: 5 })));
      expect(new Set(['a', 'b', 'c'].map((id) => ran.get(id)!.thread)).size).toBe(2);
    } finally {
      await pool.stop();
    }
  });

  it('an idle (parked) worker still runs its own timers', async () => {
    const { pool, logs, run } = await sleepyPool(1);
    try {
      await run([{ id: 'first', ms: 0 }, { id: 'ticking', ms: 0, tick: true }]);
      await waitFor(() => logs.includes('tick after the item'), 10_000, 'the timer set by the item');
    } finally {
      await pool.stop();
    }
  });
});
