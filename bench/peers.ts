// Peers run in this same process tree, on the same machine, in the same run as ours.
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { spawn, Thread, Worker } from '../engine/threads.js';

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
  const pick = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]!;
  return { p50: pick(50), p99: pick(99) };
}
