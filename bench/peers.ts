// Peers run in this same process tree, on the same machine, in the same run as ours.
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
  return n / s;
}
