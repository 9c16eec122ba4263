import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../engine/engine.js';
import { loadPipeline } from '../engine/load.js';
import { WorkerPool } from '../engine/worker-pool.js';
import { CheckpointStore } from '../state/checkpoint.js';
import { journalLine } from '../state/journal.js';
import { now, percentile, runCliMeasured, tempDir, writeJsonl, writePipeline } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

/** Full engine, checkpoint and output on, reading a jsonl file: items per second. */
export async function engineThroughput(n: number, workers: number): Promise<number> {
  const t = tempDir('engine');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), n);
    const file = writePipeline(t.dir, 'trivial', `{ name: 'trivial', id: (r: { id: number }) => String(r.id), process: (r: { x: number }) => ({ y: r.x * 2 }) }`);
    const engine = createEngine(await loadPipeline(file, { cwd: t.dir }), { cwd: t.dir, workers, out: 'out.jsonl' });
    const summary = await engine.run(['in.jsonl']);
    if (summary.totals.doneThisRun !== n) throw new Error(`engine bench: expected ${n} done, got ${summary.totals.doneThisRun}`);
    return n / (summary.durationMs / 1000);
  } finally {
    t.cleanup();
  }
}

/** Wall time of `n` CPU-bound items (a fixed amount of hashing each) on `workers` threads. */
export async function cpuBound(n: number, workers: number): Promise<number> {
  const t = tempDir('cpu');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), n);
    const file = writePipeline(t.dir, 'cpu', `{ name: 'cpu', id: (r: { id: number }) => String(r.id), process: async (r: { id: number }) => {
      const { createHash } = await import('node:crypto');
      let h = String(r.id);
      for (let i = 0; i < 6000; i++) h = createHash('sha256').update(h).digest('hex');
      return { h };
    } }`);
    const engine = createEngine(await loadPipeline(file, { cwd: t.dir }), { cwd: t.dir, workers, out: 'out.jsonl' });
    // Timed from the moment every worker is up: thread start-up is a fixed cost, not pool scaling.
    let t0 = 0;
    engine.on('event', (e) => { if (e.type === 'start') t0 = performance.now(); });
    await engine.run(['in.jsonl']);
    return performance.now() - t0;
  } finally {
    t.cleanup();
  }
}

/** Time from handing one item to an idle pool to the worker starting it, in microseconds. */
export async function dispatchLatency(samples: number): Promise<{ p50: number; p99: number }> {
  const t = tempDir('latency');
  try {
    const file = writePipeline(t.dir, 'stamp', `{ name: 'stamp', process: () => ({ t: performance.timeOrigin + performance.now() }) }`);
    const queue: { id: string; sentAt: number }[] = [];
    let resolveOne: ((startedAt: number) => void) | undefined;
    const pool = new WorkerPool<{ id: string; sentAt: number }>({ file, stage: 0, size: 1, timeouts: [10_000] }, {
      take: (max) => queue.splice(0, max),
      get waiting() { return queue.length; },
    }, {
      toWire: (item, s) => ({ s, id: item.id, attempt: 1, source: { file: 'bench' }, record: {} }),
      results: (_items, results) => { const r = results[0]!; if (r.ok) resolveOne?.((JSON.parse(r.json) as { t: number }).t); },
      lost: () => { throw new Error('latency bench: worker lost'); },
      workerEvent: () => undefined,
      log: () => undefined,
      fatal: (e) => { throw e; },
    });
    await pool.start();
    const lat: number[] = [];
    for (let i = 0; i < samples + 50; i++) {
      await new Promise((r) => setTimeout(r, 2)); // let the worker go idle
      const started = new Promise<number>((r) => { resolveOne = r; });
      const sentAt = now();
      queue.push({ id: String(i), sentAt });
      pool.kick();
      const at = await started;
      if (i >= 50) lat.push((at - sentAt) * 1000); // the first 50 warm up the JIT on both sides
    }
    await pool.stop();
    lat.sort((a, b) => a - b);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  } finally {
    t.cleanup();
  }
}

/**
 * Checkpoint cost per item over a 1M-item run, at the start and at the end, then the time to
 * reopen (resume from) that state, compacted and as left by a crash (whole journal to replay).
 */
export async function checkpointCost(total: number, window: number): Promise<{ firstUs: number; lastUs: number; resumeCompactedMs: number; resumeCrashMs: number }> {
  const t = tempDir('ckpt');
  try {
    const store = await CheckpointStore.open(t.dir, 'ckpt', 'bench');
    const group = 256;
    let firstMs = 0;
    let lastMs = 0;
    let bytes = 0;
    for (let i = 0; i < total; i += group) {
      const t0 = performance.now();
      let text = '';
      const ids: string[] = [];
      for (let j = i; j < Math.min(total, i + group); j++) {
        const id = `item-${j}`;
        ids.push(id);
        text += journalLine.done(j, `"id":"${id}","result":{"label":"positive","score":0.93,"n":${j}},"source":{"file":"in.jsonl","line":${j + 1}}}`);
      }
      bytes += text.length;
      text += journalLine.output(bytes);
      store.append(text);
      for (const id of ids) store.done.add(id);
      const dt = performance.now() - t0;
      if (i < window) firstMs += dt;
      if (i >= total - window) lastMs += dt;
    }
    store.close();
    const t1 = performance.now();
    const crashed = await CheckpointStore.open(t.dir, 'ckpt', 'bench');
    const resumeCrashMs = performance.now() - t1;
    if (crashed.done.size !== total) throw new Error(`checkpoint bench: replay found ${crashed.done.size} of ${total}`);
    await crashed.compact();
    crashed.close();
    const t2 = performance.now();
    const reopened = await CheckpointStore.open(t.dir, 'ckpt', 'bench');
    const resumeCompactedMs = performance.now() - t2;
    if (reopened.done.size !== total) throw new Error(`checkpoint bench: reopen found ${reopened.done.size} of ${total}`);
    reopened.close();
    return { firstUs: (firstMs * 1000) / window, lastUs: (lastMs * 1000) / window, resumeCompactedMs, resumeCrashMs };
  } finally {
    t.cleanup();
  }
}

/**
 * The CLI on a 1M-line jsonl input, as a user runs it: peak RSS of its whole process tree (as
 * `inputMemory` measures it) over the first run and a re-run that resumes with nothing left, items/s,
 * and the time of that re-run.
 */
export async function millionLines(n: number): Promise<{ rssMb: number; launcherMb: number; itemsPerSec: number; resumeRunMs: number }> {
  const t = tempDir('million');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), n, (i) => ({ id: i, text: `record number ${i}`, x: i }));
    writePipeline(t.dir, 'million', `{ name: 'million', id: (r: { id: number }) => String(r.id), process: (r: { x: number }) => ({ y: r.x * 2 }) }`);
    const runOnce = () => runCliMeasured(cli, ['run', 'million.ts', 'in.jsonl', '--workers', '2', '--plain'], t.dir);
    const first = await runOnce();
    if (first.code !== 0) throw new Error(`million-line run exited ${first.code}`);
    const again = await runOnce();
    if (again.code !== 0) throw new Error(`million-line re-run exited ${again.code}`);
    const peak = first.rssMb >= again.rssMb ? first : again;
    return { rssMb: peak.rssMb, launcherMb: peak.launcherMb, itemsPerSec: n / (first.ms / 1000), resumeRunMs: again.ms };
  } finally {
    t.cleanup();
  }
}
