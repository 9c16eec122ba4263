import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { spawn, Thread, Worker } from './threads.js';
import { ErrorCode, messages } from './errors.js';
import { BatchSizer } from './batching.js';
import { createMailbox } from './mailbox.js';
import { PoolWorker } from './pool-worker.js';
import { workerEnv } from './sandbox.js';
import { takePrestarted } from './worker-prestart.js';
import type { LlmRequest, LlmResponse } from './providers/adapters.js';
import type { LlmReply, WireError, WireItem, WireResult, WorkerInit, WorkerSideMessage } from './wire.js';

/** Where the pool gets work from; the engine owns ordering, the pool only asks. */
export interface PoolSource<T> {
  take(max: number): T[];
  readonly waiting: number;
}

export interface PoolHooks<T> {
  toWire(item: T, s: number): WireItem;
  results(items: T[], results: WireResult[], worker: number): void;
  /** A worker died or hung. `culprit` was running (its attempt is used up); `innocent` never ran or finished unreported. */
  lost(culprit: T | undefined, innocent: T[], error: WireError, worker: number): void;
  workerEvent(status: 'up' | 'down' | 'crashed' | 'timeout', worker: number, reason?: string): void;
  log(worker: number, id: string | null, message: string): void;
  fatal(error: Error): void;
  /** A worker's ctx.llm call; absent when the pipeline has no providers. */
  llm?(provider: string, request: LlmRequest, signal: AbortSignal, deadline: number | undefined): Promise<LlmResponse>;
}

export interface PoolOptions {
  file: string;
  stage: number;
  timeouts: number[];
  size: number;
}

// Slots index the shared progress arrays; a generous fixed count avoids reallocating shared memory.
const maxSlots = 1024;
const entry = './worker-entry.js';
let nextWorkerId = 1;

/**
 * A supervised pool of worker threads for one stage. Every worker is watched: an exit, an uncaught
 * error or an item past its timeout replaces the worker and hands its items back to the engine.
 */
export class WorkerPool<T> {
  readonly stage: number;
  private readonly workers = new Set<PoolWorker<T>>();
  private readonly progressSeq = new SharedArrayBuffer(4 * maxSlots);
  private readonly progressTime = new SharedArrayBuffer(8 * maxSlots);
  private readonly seqView = new Int32Array(this.progressSeq).fill(-1);
  private readonly timeView = new Float64Array(this.progressTime);
  private readonly freeSlots = Array.from({ length: maxSlots }, (_, i) => maxSlots - 1 - i);
  private readonly sizer = new BatchSizer();
  private readonly watchdog: NodeJS.Timeout;
  private target: number;
  private stopped = false;
  private startFailures = 0;
  crashes = 0;
  timeouts = 0;
  replacements = 0;
  maxSize = 0;

  constructor(private readonly options: PoolOptions, private readonly source: PoolSource<T>, private readonly hooks: PoolHooks<T>) {
    this.stage = options.stage;
    this.target = options.size;
    const timeoutMs = options.timeouts[options.stage]!;
    this.watchdog = setInterval(() => this.checkTimeouts(), Math.max(20, Math.min(250, timeoutMs / 4)));
    this.watchdog.unref();
  }

  /** Starts the initial workers; resolves when all are ready, rejects if none can start. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(Array.from({ length: this.target }, () => this.spawnWorker()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed && this.liveCount === 0) throw messages.workerStart((failed as PromiseRejectedResult).reason?.message ?? String(failed));
  }

  get size(): number { return this.liveCount; }
  get targetSize(): number { return this.target; }
  get busy(): number { let n = 0; for (const w of this.workers) if (!w.dead && w.outstanding.size > 0) n++; return n; }
  get inFlight(): number { let n = 0; for (const w of this.workers) n += w.outstanding.size; return n; }
  /** Of `inFlight`, the items of each worker's next batch, given but not started. */
  get queued(): number { let n = 0; for (const w of this.workers) n += w.queued; return n; }
  private get liveCount(): number { let n = 0; for (const w of this.workers) if (!w.dead && !w.retiring) n++; return n; }

  /** Grows at once; shrinks by retiring workers as they finish what they hold, never killing work. */
  resize(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`Expected a positive integer worker count, got ${n} (${typeof n})`);
    this.target = n;
    let live = this.liveCount;
    if (live < n) {
      for (let i = live; i < n; i++) this.spawnWorker().catch(() => undefined);
      return;
    }
    // Idle workers go first so shrinking takes effect at once under light load.
    const candidates = [...this.workers].filter((w) => !w.dead && !w.retiring).sort((a, b) => a.outstanding.size - b.outstanding.size);
    for (const w of candidates) {
      if (live <= n) break;
      w.retiring = true;
      live--;
      this.reclaim(w);
      if (w.outstanding.size === 0) this.retire(w);
    }
  }

  /** Paused or stopping: nothing new starts, so batches still waiting in a mailbox go back to the source. */
  setDispatch(state: 'running' | 'paused' | 'stopping'): void {
    if (state !== 'running') for (const w of this.workers) this.reclaim(w);
  }

  /** Offers work to every worker with room for another batch. */
  kick(): void {
    if (this.stopped) return;
    if (this.source.waiting > 0) this.dispatch();
    this.rebalance();
  }

  private accepting(w: PoolWorker<T>): boolean { return w.thread !== undefined && !w.dead && !w.retiring; }

  private dispatch(): void {
    // Split what is waiting fairly, so the last items do not all land in one worker while others idle.
    const fair = Math.max(1, Math.ceil(this.source.waiting / Math.max(1, this.workers.size)));
    const reclaimableOnly = this.sizer.reclaimableOnly;
    // Every idle worker gets a batch before a busy one gets its next.
    for (let held = 0; held < this.sizer.maxOutstanding; held++) {
      for (const w of this.workers) {
        if (w.batches !== held || !this.accepting(w)) continue;
        if (held > 0 && !w.mayQueue(reclaimableOnly)) continue;
        const items = this.source.take(Math.min(this.sizer.size, fair));
        if (items.length === 0) return;
        w.send(items, this.hooks.toWire, this.stage);
      }
    }
  }

  /** At the tail of the work, a batch waiting behind a running one in a worker's mailbox goes to a worker that has none. */
  private rebalance(): void {
    if (this.source.waiting > 0) return;
    let idle = false;
    for (const w of this.workers) if (w.batches === 0 && this.accepting(w)) { idle = true; break; }
    if (!idle) return;
    // Only from behind a running batch: a worker's only batch is about to start where it is, and taking
    // it back could hand it straight back to the same (now idle) worker, round and round.
    for (const w of this.workers) if (w.batches > 1 && this.reclaim(w)) return; // the source has the items again and kicked
  }

  /** Takes back the batch waiting in `w`'s mailbox, if not started yet, and returns its items to the source. */
  private reclaim(w: PoolWorker<T>): boolean {
    const items = w.reclaim();
    if (!items) return false;
    // Never ran: handed back like a crashed worker's innocent items (the source gives back their attempt).
    this.hooks.lost(undefined, items, { name: 'Reclaimed', message: 'taken back before it started', code: ErrorCode.Transient, permanent: false }, w.id);
    return true;
  }

  private onResults(w: PoolWorker<T>, results: WireResult[]): void {
    if (w.dead) return; // already handed back to the engine when the worker was replaced
    const items = w.settle(results);
    let ms = 0;
    for (let i = 0; i < results.length; i++) ms += results[i]!.ms;
    this.sizer.observe(results.length, ms);
    this.hooks.results(items, results, w.id);
    if (w.retiring && w.outstanding.size === 0) this.retire(w);
    this.kick();
  }

  private async spawnWorker(): Promise<void> {
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new RangeError(`Expected at most ${maxSlots} workers`);
    Atomics.store(this.seqView, slot, -1);
    const mailbox = createMailbox();
    const init: WorkerInit = { file: this.options.file, stage: this.stage, slot, progressSeq: this.progressSeq, progressTime: this.progressTime, timeouts: this.options.timeouts, mailbox };
    // In a sandbox, pipeline code sees only the environment variables it was allowed.
    const env = workerEnv();
    const prestarted = takePrestarted(this.options.file, init);
    const native = (prestarted?.worker ?? new Worker(entry, { workerData: init, stdout: true, stderr: true, ...(env ? { env } : {}) } as never)) as InstanceType<typeof Worker>;
    const w = new PoolWorker<T>(nextWorkerId++, slot, native, mailbox);
    this.workers.add(w);
    const n = native as unknown as NodeJS.EventEmitter & { stdout: Readable; stderr: Readable };
    for (const stream of [n.stdout, n.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.hooks.log(w.id, null, line));
    }
    n.on('message', (m: WorkerSideMessage) => {
      if (m?.__pt === 'results') this.onResults(w, m.results);
      else if (m?.__pt === 'log') this.hooks.log(w.id, m.id, m.message);
      else if (m?.__pt === 'crash') w.crash = m.error;
      else if (m?.__pt === 'llm') this.onLlm(w, m.call, m.provider, m.request);
      else if (m?.__pt === 'llm-abort') w.calls.get(m.call)?.abort(new Error('the item was aborted (timeout or stop)'));
    });
    n.on('error', (err: Error) => { w.crash ??= { name: err.name, message: err.message, code: ErrorCode.WorkerCrashed, permanent: false }; });
    n.on('exit', (code: number) => {
      if (!w.dead) this.onWorkerGone(w, w.crash ?? { name: 'Error', message: `Worker exited unexpectedly with code ${code}`, code: ErrorCode.WorkerCrashed, permanent: false }, 'crashed');
    });
    prestarted?.replay();
    try {
      // Note: threads.js clears this init timer only when the init message arrives, so a worker
      // stopped while starting leaves it pending; the CLI exits explicitly for that reason.
      w.thread = (await spawn(native as never, { timeout: 60_000 })) as unknown as PoolWorker<T>['thread'];
      const stages = await w.thread!.stages();
      if (stages !== this.options.timeouts.length) throw new Error(`the worker sees ${stages} stage(s), the main thread ${this.options.timeouts.length}: was the pipeline file changed while starting?`);
    } catch (err) {
      this.startFailures++;
      this.kill(w);
      if (this.startFailures >= 3 && this.liveCount === 0 && !this.stopped) this.hooks.fatal(messages.workerStart((err as Error).message));
      throw err;
    }
    if (w.dead) return;
    this.startFailures = 0;
    this.maxSize = Math.max(this.maxSize, this.liveCount);
    this.hooks.workerEvent('up', w.id);
    if (w.retiring) this.retire(w);
    else this.kick();
  }

  private onLlm(w: PoolWorker<T>, call: number, provider: string, request: LlmRequest): void {
    const reply = (m: LlmReply) => { if (!w.dead) w.native.postMessage(m); };
    if (!this.hooks.llm) {
      reply({ __pt: 'llm-done', call, ok: false, error: { name: 'ProviderError', code: 'PROVIDER_UNKNOWN', message: `ctx.llm("${provider}"): this pipeline declares no providers`, status: 400 } });
      return;
    }
    const controller = new AbortController();
    w.calls.set(call, controller);
    // The calling item's own deadline (its worker runs one item at a time): when its attempt times out.
    const started = Atomics.load(this.seqView, w.slot) < 0 ? undefined : this.timeView[w.slot];
    const deadline = started === undefined ? undefined : started + this.options.timeouts[this.stage]!;
    this.hooks.llm(provider, request, controller.signal, deadline).then(
      (value) => reply({ __pt: 'llm-done', call, ok: true, value }),
      (e: Error & { code?: string; status?: number; retryAfterMs?: number }) => reply({ __pt: 'llm-done', call, ok: false, error: { name: e.name, code: e.code ?? 'PROVIDER_ERROR', message: e.message, ...(e.status === undefined ? {} : { status: e.status }), ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }) } }),
    ).finally(() => w.calls.delete(call));
  }

  private kill(w: PoolWorker<T>): void {
    if (w.dead) return;
    for (const c of w.calls.values()) c.abort(new Error('the worker stopped'));
    w.dead = true;
    this.workers.delete(w);
    this.freeSlots.push(w.slot);
    void (w.thread ? Thread.terminate(w.thread as never) : w.native.terminate()).catch(() => undefined);
  }

  private retire(w: PoolWorker<T>): void {
    this.kill(w);
    this.hooks.workerEvent('down', w.id, 'retired');
  }

  private onWorkerGone(w: PoolWorker<T>, error: WireError, status: 'crashed' | 'timeout'): void {
    if (w.dead) return;
    const running = Atomics.load(this.seqView, w.slot);
    const culprit = running >= 0 ? w.outstanding.get(running) : undefined;
    if (running >= 0) w.outstanding.delete(running);
    const innocent = [...w.outstanding.values()];
    w.outstanding.clear();
    this.kill(w);
    if (status === 'timeout') this.timeouts++; else this.crashes++;
    this.hooks.workerEvent(status, w.id, error.message);
    this.hooks.lost(culprit, innocent, error, w.id);
    if (!this.stopped && !w.retiring && this.liveCount < this.target) {
      this.replacements++;
      this.spawnWorker().catch(() => undefined);
    }
    this.kick();
  }

  private checkTimeouts(): void {
    const now = Date.now();
    const timeoutMs = this.options.timeouts[this.stage]!;
    // The worker aborts the item itself at timeoutMs; we step in only when its event loop is stuck.
    const grace = Math.min(1_000, Math.max(100, timeoutMs / 4));
    for (const w of this.workers) {
      if (w.dead || Atomics.load(this.seqView, w.slot) < 0) continue;
      const started = this.timeView[w.slot]!;
      if (now - started > timeoutMs + grace) {
        this.onWorkerGone(w, { name: 'TimeoutError', message: `Timed out after ${timeoutMs} ms; the worker did not stop and was replaced`, code: ErrorCode.Timeout, permanent: false }, 'timeout');
      }
    }
  }

  /** Terminates every worker. Items still held are returned so the caller can checkpoint them as pending. */
  async stop(): Promise<T[]> {
    this.stopped = true;
    clearInterval(this.watchdog);
    const held: T[] = [];
    const all = [...this.workers];
    for (const w of all) { held.push(...w.outstanding.values()); w.outstanding.clear(); }
    await Promise.all(all.map(async (w) => {
      w.dead = true;
      this.workers.delete(w);
      try { await (w.thread ? Thread.terminate(w.thread as never) : w.native.terminate()); } catch { /* already gone */ }
    }));
    return held;
  }
}
