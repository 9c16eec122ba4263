// Distributed runs on BullMQ: scaling across worker processes, and what the engine costs per job on top
// of a bare BullMQ worker, both against one redis-server started here (loopback, no persistence).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { createEngine } from '../engine/engine.js';
import { loadPipeline } from '../engine/load.js';
import { tempDir, writeJsonl, writePipeline } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

export interface DistributedBenchOptions {
  /** Smaller sizes. @default false */
  quick?: boolean;
  /** The redis-server binary. @default $REDIS_SERVER or /usr/bin/redis-server */
  redisServer?: string;
  /** Progress notes (stderr in `npm run bench`). */
  step?: (s: string) => void;
}

export interface ScalingFigure {
  workerProcesses: number;
  /** Items per second between 10% and 90% done: steady state, without start-up and the tail. */
  itemsPerSecond: number;
  seconds: number;
}

export interface DistributedBenchResult {
  /** The median of paired rounds (1 process, then 2). */
  cpu: { items: number; itemMs: number; rounds: number; one: ScalingFigure; two: ScalingFigure; speedup: number };
  overhead: {
    jobs: number;
    /** BullMQ alone: addBulk, then a Worker with a no-op processor (concurrency 4), jobs removed on completion. */
    bare: { jobsPerSecond: number; usPerJob: number };
    /** The engine: input file, BullMQ job, local worker threads (2, BullMQ concurrency 4), results, journal, output, job removal. */
    engine: { jobsPerSecond: number; usPerJob: number };
    /** engine.usPerJob - bare.usPerJob */
    overheadUsPerJob: number;
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

async function startRedis(bin: string): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Queue('probe', { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null, retryStrategy: (n: number) => (n > 50 ? null : 100) } });
  probe.on('error', () => undefined);
  await probe.waitUntilReady();
  await probe.close();
  return { url, stop: () => child.kill('SIGKILL') };
}

function startWorkers(n: number, dir: string, name: string, url: string): Promise<ChildProcess[]> {
  return Promise.all(Array.from({ length: n }, () => new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'worker', name, '--redis', url, '--workers', '1', '-A'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('waiting for a run')) resolve(child); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => reject(new Error(`a worker process exited with ${code} before serving: ${out}`)));
  })));
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); })));
}

/** 10 ms of CPU per item, `processes` worker processes of one thread each; the coordinator (this process) works none. */
async function cpuScaling(url: string, items: number, processes: number): Promise<ScalingFigure> {
  const t = tempDir('dist-cpu');
  const workers: ChildProcess[] = [];
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), items);
    const file = writePipeline(t.dir, 'dcpu', `{ name: 'dcpu', id: (r: { id: number }) => String(r.id), process: (r: { id: number }) => {
      const end = performance.now() + 10;
      let x = r.id;
      while (performance.now() < end) x = (x * 1103515245 + 12345) % 2147483648;
      return { x };
    } }`);
    workers.push(...await startWorkers(processes, t.dir, file, url));
    const engine = createEngine(await loadPipeline(file, { cwd: t.dir }), { cwd: t.dir, workers: 0, out: 'out.jsonl', redis: url });
    const marks: number[] = [];
    let done = 0;
    engine.on('event', (e) => { if (e.type === 'item') { done++; if (done === Math.round(items * 0.1) || done === Math.round(items * 0.9)) marks.push(performance.now()); } });
    const summary = await engine.run(['in.jsonl']);
    if (summary.totals.doneThisRun !== items) throw new Error(`distributed bench: expected ${items} done, got ${summary.totals.doneThisRun}`);
    const span = (marks[1]! - marks[0]!) / 1000;
    return { workerProcesses: processes, itemsPerSecond: Math.round((items * 0.8) / span), seconds: Math.round(summary.durationMs) / 1000 };
  } finally {
    await stopWorkers(workers);
    t.cleanup();
  }
}

/** The floor: BullMQ by itself moving `n` trivial jobs through one worker. */
async function bareBullmq(url: string, n: number): Promise<number> {
  const u = new URL(url);
  const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
  const queue = new Queue('bare-bench', { connection, prefix: 'bench' });
  await queue.obliterate({ force: true });
  const jobs = Array.from({ length: n }, (_, i) => ({ name: 'j', data: { id: i, x: i }, opts: { jobId: `b-${i}`, removeOnComplete: true } }));
  for (let i = 0; i < n; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  const t0 = performance.now();
  const worker = new Worker('bare-bench', async (job) => ({ y: (job.data as { x: number }).x * 2 }), { connection, prefix: 'bench', concurrency: 4 });
  worker.on('completed', () => { if (++done === n) finish(); });
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return n / seconds;
}

/** The whole engine, distributed, on `n` trivial items worked by this process's own threads. */
async function engineJobs(url: string, n: number): Promise<number> {
  const t = tempDir('dist-overhead');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), n);
    const file = writePipeline(t.dir, 'dtrivial', `{ name: 'dtrivial', id: (r: { id: number }) => String(r.id), process: (r: { x: number }) => ({ y: r.x * 2 }) }`);
    const engine = createEngine(await loadPipeline(file, { cwd: t.dir }), { cwd: t.dir, workers: 2, out: 'out.jsonl', redis: url });
    // Timed from the moment the pool is up, like the bare worker (which needs no threads).
    let t0 = 0;
    engine.on('event', (e) => { if (e.type === 'start') t0 = performance.now(); });
    const summary = await engine.run(['in.jsonl']);
    if (summary.totals.doneThisRun !== n) throw new Error(`distributed bench: expected ${n} done, got ${summary.totals.doneThisRun}`);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    t.cleanup();
  }
}

/** Runs both measurements against a redis-server of its own and returns the figures. */
export async function distributedBench(options: DistributedBenchOptions = {}): Promise<DistributedBenchResult> {
  const step = options.step ?? (() => undefined);
  const redis = await startRedis(options.redisServer ?? process.env.REDIS_SERVER ?? '/usr/bin/redis-server');
  try {
    const items = options.quick ? 200 : 400;
    const rounds = options.quick ? 1 : 3;
    await cpuScaling(redis.url, 60, 1); // warm the transpile cache and Redis
    // Paired rounds, 1 then 2 processes each, and the median pair: load from elsewhere on the machine drifts.
    const pairs: { one: ScalingFigure; two: ScalingFigure }[] = [];
    for (let r = 1; r <= rounds; r++) {
      step(`distributed: ${items} items of 10 ms CPU, 1 then 2 worker processes (round ${r} of ${rounds})`);
      const one = await cpuScaling(redis.url, items, 1);
      pairs.push({ one, two: await cpuScaling(redis.url, items, 2) });
    }
    pairs.sort((a, b) => a.two.itemsPerSecond / a.one.itemsPerSecond - b.two.itemsPerSecond / b.one.itemsPerSecond);
    const { one, two } = pairs[Math.floor(pairs.length / 2)]!;
    const jobs = options.quick ? 2_000 : 10_000;
    step(`distributed: ${jobs} trivial jobs, bare BullMQ worker vs the engine`);
    const bare = await bareBullmq(redis.url, jobs);
    const ours = await engineJobs(redis.url, jobs);
    const us = (perSecond: number) => Math.round((1e6 / perSecond) * 10) / 10;
    return {
      cpu: { items, itemMs: 10, rounds, one, two, speedup: Math.round((two.itemsPerSecond / one.itemsPerSecond) * 100) / 100 },
      overhead: {
        jobs,
        bare: { jobsPerSecond: Math.round(bare), usPerJob: us(bare) },
        engine: { jobsPerSecond: Math.round(ours), usPerJob: us(ours) },
        overheadUsPerJob: Math.round((us(ours) - us(bare)) * 10) / 10,
      },
    };
  } finally {
    redis.stop();
  }
}
