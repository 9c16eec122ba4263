// Worker threads started before the pool that will use them exists. A worker spends most of its start
// loading modules and the pipeline, and the main thread knows the pipeline file long before it has
// loaded the engine and made the pool: started here (from bin/ in a sandboxed child, from `run` with
// -A), the workers load their modules while the main thread loads its own and the pipeline, then the
// pipeline (pipelineLoaded). The pool adopts them (takePrestarted) and sends each the rest of its init;
// the ones it does not need are stopped.
import { fileURLToPath } from 'node:url';
import { Worker as NativeWorker, type WorkerOptions } from 'node:worker_threads';
import { activeSandbox, workerEnv } from './sandbox.js';
import { trace } from './trace.js';
import type { PrestartData, PrestartMessage, WorkerInit } from './wire.js';

/** The same file the pool starts (threads.js resolves its './worker-entry.js' next to worker-pool.js). */
const entry = fileURLToPath(new URL('./worker-entry.js', import.meta.url));

/** More than this is not started ahead: the pool starts the rest, and a run that stops early wastes less. */
const maxPrestarted = 16;

/** What threads.js's Worker adds to Node's, so threads.js's spawn() can take one of ours. */
class PrestartedWorker extends NativeWorker {
  private readonly mapped = new WeakMap<(e: { data: unknown }) => void, (m: unknown) => void>();
  addEventListener(event: string, raw: (e: { data: unknown }) => void): void {
    const listener = (message: unknown) => raw({ data: message });
    this.mapped.set(raw, listener);
    this.on(event, listener);
  }
  removeEventListener(event: string, raw: (e: { data: unknown }) => void): void {
    this.off(event, this.mapped.get(raw) ?? (raw as never));
  }
}

interface Waiting {
  worker: PrestartedWorker;
  file: string;
  dead: boolean;
  /** Messages (log lines, a crash report) posted before the pool listens; replayed to it. */
  early: unknown[];
  listeners: { message: (m: unknown) => void; gone: () => void };
}

const waiting: Waiting[] = [];
let releaseScheduled = false;
/** Files the main thread has loaded: workers started for them after that load them at once. */
const loaded = new Set<string>();

/** Starts `count` workers for `file` (at most maxPrestarted), with the environment the pool would give them. */
export function prestartWorkers(file: string, count: number): void {
  const env = workerEnv();
  for (let i = 0; i < Math.min(count, maxPrestarted); i++) {
    const workerData: PrestartData = { file, prestarted: true };
    const options: WorkerOptions = { workerData, stdout: true, stderr: true, ...(env ? { env } : {}) };
    const worker = new PrestartedWorker(entry, options);
    const w: Waiting = { worker, file, dead: false, early: [], listeners: { message: (m) => w.early.push(m), gone: () => { w.dead = true; } } };
    worker.on('message', w.listeners.message);
    // An error or exit before adoption: the pool starts a fresh worker instead, which reports the cause.
    worker.on('error', w.listeners.gone);
    worker.on('exit', w.listeners.gone);
    // Until adopted, a worker must not keep a process alive that ends early (a missing input, say).
    worker.unref();
    if (loaded.has(file)) worker.postMessage({ __pt: 'load' } satisfies PrestartMessage);
    waiting.push(w);
  }
  if (count > 0) trace(`prestarted ${Math.min(count, maxPrestarted)} worker(s)`);
}

/** The prestart the sandbox launcher planned for this process (SandboxSpec.prestart), if any. */
export function prestartFromSandbox(): void {
  const plan = activeSandbox()?.prestart;
  if (plan) prestartWorkers(plan.file, plan.workers);
}

/**
 * The main thread has loaded `file` (so its transpile cache is written): the workers waiting for it load
 * it too. Before that they only load their own modules.
 */
export function pipelineLoaded(file: string): void {
  loaded.add(file);
  for (const w of waiting) if (w.file === file && !w.dead) w.worker.postMessage({ __pt: 'load' } satisfies PrestartMessage);
}

/**
 * A prestarted worker for `file`, now sent `init`: the caller attaches its listeners at once, then calls
 * `replay()` for what the worker said before. Workers left over are stopped on the next turn, once every
 * pool of the run has taken what it needs (pools start theirs in one synchronous pass).
 */
export function takePrestarted(file: string, init: WorkerInit): { worker: NativeWorker; replay(): void } | undefined {
  for (let w = waiting.shift(); w !== undefined; w = waiting.shift()) {
    if (w.dead || w.file !== file) { void w.worker.terminate(); continue; }
    const { worker, listeners } = w;
    worker.off('message', listeners.message).off('error', listeners.gone).off('exit', listeners.gone);
    worker.ref();
    worker.postMessage({ __pt: 'init', init } satisfies PrestartMessage);
    if (!releaseScheduled) {
      releaseScheduled = true;
      setImmediate(() => { for (const left of waiting.splice(0)) void left.worker.terminate(); });
    }
    return { worker, replay: () => { for (const m of w.early) worker.emit('message', m); } };
  }
  return undefined;
}
