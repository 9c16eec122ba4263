// Peers run in this same process tree, on the same machine, in the same run as ours.
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { spawn, Thread, Worker } from '../engine/threads.js';
import { percentile } from './util.js';

const piscinaWorker = fileURLToPath(new URL('./workers/trivial-piscina.js', import.meta.url));

function records(n: number): { id: number; x: number }[] {
  return Array.from({ length: n }, (_, i) => ({ id: i, x: i }));
}

/** Piscina 5 with every task submitted at once (its own queue absorbs them). */
export async function piscinaAllAtOnce(n: number, threads: number): Promise<number> {
  const pool = new Piscina({ filename: piscinaWorker, minThreads: threads, maxThreads: threads, maxQueue: Infinity });
  await Promise.all(Array.from({ length: threads }, () => pool.run({ id: -1, x: 0 })));
  const items = records(n);
  const t0 = performance.now();
  await Promise.all(items.map((r) => pool.run(r)));
  const s = (performance.now() - t0) / 1000;
  await pool.destroy();
  return n / s;
}

/** Piscina 5 with a bounded window of `inFlight` tasks, how a careful caller feeds it. */
export async function piscinaWindow(n: number, threads: number, inFlight: number): Promise<number> {
  const pool = new Piscina({ filename: piscinaWorker, minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: 1 });
  await Promise.all(Array.from({ length: threads }, () => pool.run({ id: -1, x: 0 })));
  const items = records(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < items.length) await pool.run(items[next++]!);
  }));
  const s = (performance.now() - t0) / 1000;
  await pool.destroy();
  return n / s;
}

/** Raw threads.js `spawn`: one call per item, `inFlight` calls outstanding, spread over the workers. */
export async function threadsSpawn(n: number, threads: number, inFlight: number): Promise<number> {
  // threads.js adds a listener to its Worker per outstanding call: `inFlight / threads` of them is expected here.
  const previousMax = EventEmitter.defaultMaxListeners;
  EventEmitter.defaultMaxListeners = Math.max(previousMax, inFlight + 10);
  const workers = await Promise.all(Array.from({ length: threads }, () => spawn<{ run(r: unknown): Promise<unknown> }>(new Worker('./workers/trivial-threads.js'))));
  const items = records(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async (_, lane) => {
    const w = workers[lane % threads]!;
    while (next < items.length) await w.run(items[next++]!);
  }));
  const s = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => Thread.terminate(w)));
  EventEmitter.defaultMaxListeners = previousMax;
  return n / s;
}

/** The floor for any message-based pool: a bare worker_threads postMessage to an idle worker, in microseconds. */
export async function rawPostMessageLatency(samples: number): Promise<{ p50: number; p99: number }> {
  const { Worker: NodeWorker } = await import('node:worker_threads');
  const w = new NodeWorker(`require('node:worker_threads').parentPort.on('message', () => require('node:worker_threads').parentPort.postMessage(performance.timeOrigin + performance.now()));`, { eval: true });
  const lat: number[] = [];
  for (let i = 0; i < samples + 50; i++) {
    await new Promise((r) => setTimeout(r, 2));
    const reply = new Promise<number>((r) => w.once('message', r));
    const t0 = performance.timeOrigin + performance.now();
    w.postMessage(0);
    const at = await reply;
    if (i >= 50) lat.push((at - t0) * 1000);
  }
  await w.terminate();
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/**
 * The floor for any shared-memory wake: an idle worker blocked in Atomics.wait, woken by Atomics.notify, one
 * way, in microseconds. `payload`: the batch also crosses, as JSON in the shared buffer (what a real dispatch
 * must carry at least); without it only the wake is measured.
 */
export async function atomicsWakeLatency(samples: number, payload: boolean): Promise<{ p50: number; p99: number }> {
  const { Worker: NodeWorker } = await import('node:worker_threads');
  const sab = new SharedArrayBuffer(16 + 4096);
  const w = new NodeWorker(`
    const { workerData, parentPort } = require('node:worker_threads');
    const ctl = new Int32Array(workerData, 0, 2); const bytes = Buffer.from(workerData, 16);
    function loop() {
      for (;;) {
        const r = Atomics.wait(ctl, 0, 0, 50);
        const n = Atomics.load(ctl, 1);
        if (Atomics.load(ctl, 0) !== 0) {
          const batch = n > 0 ? JSON.parse(bytes.toString('utf8', 0, n)) : null;
          const at = performance.timeOrigin + performance.now();
          Atomics.store(ctl, 0, 0);
          parentPort.postMessage({ at, ok: n === 0 || batch.length === 1 });
        }
        if (r === 'timed-out') { setImmediate(loop); return; }
      }
    }
    loop();`, { eval: true, workerData: sab });
  const ctl = new Int32Array(sab, 0, 2);
  const bytes = Buffer.from(sab, 16);
  const lat: number[] = [];
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < samples + 50; i++) {
    await new Promise((r) => setTimeout(r, 2));
    const reply = new Promise<{ at: number; ok: boolean }>((r) => w.once('message', r));
    const t0 = performance.timeOrigin + performance.now();
    Atomics.store(ctl, 1, payload ? bytes.write(JSON.stringify([[i, String(i), 1, { file: 'bench' }, {}]]), 0, 'utf8') : 0);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    const { at, ok } = await reply;
    if (!ok) throw new Error('atomics floor: the batch did not arrive');
    if (i >= 50) lat.push((at - t0) * 1000);
  }
  await w.terminate();
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}
