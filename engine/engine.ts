import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CheckpointStore } from '../state/checkpoint.js';
import { IdSet } from '../state/id-set.js';
import { journalLine, readJournal, type DeadLetter } from '../state/journal.js';
import { backoffDelay } from './backoff.js';
import { categoryOf, ErrorCode, PipelineTuiError, describeThrown } from './errors.js';
import { defaultId } from './ids.js';
import { expandRecords } from './expand.js';
import { locateInPipeline } from './stack.js';
import { estimateTotal, expandInputs, readInputs, readOptionsOf, type InputRecord, type RecordSource } from './inputs.js';
import { openOutput, type OutputWriter } from './outputs/index.js';
import { BucketPriorityQueue, clampPriority, type ItemQueue } from './priority-queue.js';
import { RunStats } from './stats.js';
import { WorkerPool } from './worker-pool.js';
import { trace } from './trace.js';
import type { StagePool, StagePoolFactory } from './stage-pool.js';
import type { DistributedRun } from './distributed/coordinator.js';
import { engineMetrics, serveMetrics, type MetricsServer } from './metrics.js';
import type { ProviderHub } from './providers/hub.js';
import type { SimulatorOptions } from './providers/simulator.js';
import type { AttemptError, EngineEvent, EngineStats, ItemSource, LoadedPipeline, RunSummary } from './types.js';
import type { WireError, WireItem, WireResult } from './wire.js';

export interface EngineOptions {
  /** Pool size per stage; `'auto'` or `{min,max}` autoscales. @default the pipeline's `workers`, else 4 */
  workers?: number | 'auto' | { min: number; max: number };
  /** Root of all state. @default '.pipeline-tui' */
  stateDir?: string;
  /** Output path. @default the pipeline's `output`, else `out/<name>.jsonl` */
  out?: string;
  /** Ignore the checkpoint; the old state and output are kept as backups. @default false */
  fresh?: boolean;
  /** Stop reading input after this many records. @default Infinity */
  limit?: number;
  /** Records held in memory at once (queued, running or waiting to retry). @default 10000 */
  window?: number;
  /** Base for relative inputs and outputs. @default process.cwd() */
  cwd?: string;
  /** Only re-run the dead-lettered items. @default false */
  retryFailed?: boolean;
  /**
   * Records to process instead of reading inputs (watch mode's never-ending source). The run ends when
   * the source ends; after stop() the caller ends it. @default the inputs, each read once
   */
  source?: RecordSource;
  /** Answer every provider with the loopback simulator. @default false */
  simulate?: boolean;
  /** Providers with no API key in the environment are answered by the simulator (and the run is labelled so). @default true */
  simulateMissing?: boolean;
  /** Simulator behaviour (latency, error and 429 rates). @default the simulator's defaults */
  simulator?: SimulatorOptions;
  /** Environment for provider keys and base URLs. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Distribute the run through BullMQ on this Redis (`--redis`); `pipeline-tui worker` processes help. @default none: local */
  redis?: string;
  /** Serve Prometheus metrics on this port (0: any free one). @default none */
  metricsPort?: number;
}

interface Item {
  id: string;
  n: number;
  source: ItemSource;
  priority: number;
  stage: number;
  /** Attempts used in the current stage. */
  attempt: number;
  record?: unknown;
  rj?: string;
  errors: AttemptError[];
}

type Pending = { kind: 'done'; item: Item; core: string; ms: number } | { kind: 'failed'; item: Item; dead: DeadLetter } | { kind: 'stage'; item: Item; json: string };

/** Runs one pipeline over its inputs: streaming, supervised, checkpointed, observable. */
export class Engine extends EventEmitter<{ event: [EngineEvent] }> {
  readonly pipeline: LoadedPipeline;
  private readonly opts: Required<Omit<EngineOptions, 'workers' | 'source' | 'redis' | 'metricsPort'>> & { workers: EngineOptions['workers']; source: RecordSource | undefined };
  private readonly queues: ItemQueue<Item>[];
  private readonly pools: StagePool<Item>[] = [];
  private distributed: DistributedRun | undefined;
  private metrics: MetricsServer | undefined;
  private readonly stats_ = new RunStats();
  /** Ids read in this run (a repeated one is skipped); over the checkpoint's id index, so they cost no second copy. */
  private seen: IdSet | undefined;
  private readonly failedRecords = new Map<string, Item>();
  private store: CheckpointStore | undefined;
  private hub: ProviderHub | undefined;
  /** Streamed (jsonl, `order: 'completion'`) or rebuilt whole from the journal (the other formats). */
  private output: OutputWriter | undefined;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private kickScheduled = false;
  private retryTimers = new Set<NodeJS.Timeout>();
  private inMemory = 0;
  private windowWaiter: (() => void) | undefined;
  private finished: (() => void) | undefined;
  private readingDone = false;
  private state: EngineStats['state'] = 'idle';
  private stopping: 'graceful' | 'force' | undefined;
  private startedAt = 0;
  private fatal: Error | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private autoscale: { min: number; max: number } | undefined;
  private lowUtilTicks = 0;
  private initialWorkers = 0;
  /** `--redis` and `--metrics-port`: apart from `opts`, whose other fields all have defaults. */
  private readonly redisUrl: string | undefined;
  private readonly metricsPort: number | undefined;

  constructor(pipeline: LoadedPipeline, options: EngineOptions = {}) {
    super();
    this.pipeline = pipeline;
    const cwd = options.cwd ?? process.cwd();
    this.opts = {
      workers: options.workers,
      stateDir: path.resolve(cwd, options.stateDir ?? '.pipeline-tui'),
      out: path.resolve(cwd, options.out ?? pipeline.output),
      fresh: options.fresh ?? false,
      limit: options.limit ?? Infinity,
      window: options.window ?? 10_000,
      cwd,
      retryFailed: options.retryFailed ?? false,
      source: options.source,
      simulate: options.simulate ?? false,
      simulateMissing: options.simulateMissing ?? true,
      simulator: options.simulator ?? {},
      env: options.env ?? process.env,
    };
    this.redisUrl = options.redis;
    this.metricsPort = options.metricsPort;
    if (!(this.opts.limit > 0)) throw new TypeError(`Expected limit to be a positive number, got ${this.opts.limit} (${typeof this.opts.limit})`);
    this.queues = pipeline.stages.map(() => new BucketPriorityQueue<Item>());
  }

  private emitEvent(e: EngineEvent): void { this.emit('event', e); }
  private get listening(): boolean { return this.listenerCount('event') > 0; }

  private poolSize(stage: number): number {
    const w = this.opts.workers ?? this.pipeline.stages[stage]!.workers ?? this.pipeline.workers;
    if (w === 'auto') { this.autoscale = { min: 1, max: 8 }; return 1; }
    if (typeof w === 'object') { this.autoscale = w; return w.min; }
    if (!Number.isInteger(w) || w < 0) throw new PipelineTuiError(ErrorCode.Usage, `Expected --workers to be a positive integer or "auto", got ${String(w)}`);
    // A distributed coordinator may leave all the work to other machines (`--workers 0`).
    return Math.max(this.redisUrl ? 0 : 1, w);
  }

  /** Processes the inputs (default: the pipeline's `input`) and resolves with the run summary. */
  async run(inputs?: string[]): Promise<RunSummary> {
    if (this.state !== 'idle') throw new Error('Expected a fresh engine: run() may be called once');
    this.startedAt = Date.now();
    this.state = 'running';
    const patterns = inputs && inputs.length > 0 ? inputs : this.pipeline.input;
    const files = this.opts.retryFailed || this.opts.source ? [] : patterns.length > 0 ? await expandInputs(patterns, this.opts.cwd, readOptionsOf(this.pipeline.definition)) : [];
    if (!this.opts.retryFailed && !this.opts.source && files.length === 0) throw new PipelineTuiError(ErrorCode.Usage, `Pipeline "${this.pipeline.name}" declares no input and none was given`, { hint: `Pass files, folders or globs: pipeline-tui run ${this.pipeline.name} data/*.jsonl` });
    // Loaded only for --redis: BullMQ and ioredis cost most of a second of start-up.
    if (this.redisUrl) await (await import('./distributed/coordinator.js')).DistributedRun.check(this.redisUrl, this.pipeline.name);
    const store = await CheckpointStore.open(this.opts.stateDir, this.pipeline.name, this.pipeline.file, { fresh: this.opts.fresh });
    this.store = store;
    this.seen = new IdSet(store.ids);
    const runRecord = { startedAt: new Date(this.startedAt).toISOString(), status: 'running' as const };
    try {
      const source = this.opts.source;
      this.output = await openOutput(this.opts.out, store, this.pipeline, { fresh: this.opts.fresh, cwd: this.opts.cwd, locate: source?.locate ? (f) => source.locate!(f) : undefined });
      await store.compact({ output: this.outputState(), run: runRecord });
      const c = this.stats_.counts;
      c.done = store.done.size;
      c.failed = store.failed.size;
      c.total = this.opts.retryFailed ? store.done.size + store.failed.size : Math.max(await estimateTotal(files), 0);
      // Sized once for the ids to come (16 bytes each: a default id; untouched room costs no memory):
      // grown by doublings instead, each old table would stay allocated until a full GC, 18 MB at 1M ids.
      if (c.total > store.ids.count) store.ids.expect(c.total - store.ids.count, (c.total - store.ids.count) * 16);
      if (this.metricsPort !== undefined) this.metrics = await serveMetrics(this.metricsPort, () => engineMetrics(this.stats()));
      if (this.redisUrl) {
        const { DistributedRun } = await import('./distributed/coordinator.js');
        this.distributed = await DistributedRun.connect({ url: this.redisUrl, pipeline: this.pipeline, simulate: this.opts.simulate, log: (m) => this.log(null, null, m) });
        await this.distributed.start(store);
      }
      const providers = this.pipeline.definition.providers ?? {};
      if (Object.keys(providers).length > 0) {
        // Loaded only when the pipeline has providers: the AI SDKs are heavy to import.
        const { ProviderHub } = await import('./providers/hub.js');
        this.hub = await ProviderHub.create(providers, { env: this.opts.env, simulate: this.opts.simulate, simulateMissing: this.opts.simulateMissing, simulator: this.opts.simulator, warn: (m) => this.log(null, null, m), ...(this.distributed ? { limiterFactory: this.distributed.limiterFactory } : {}) });
      }
      this.initialWorkers = this.poolSize(0);
      for (const stage of this.pipeline.stages) this.pools.push(this.createPool(stage.index, this.poolSize(stage.index)));
      trace('pools starting');
      await Promise.all(this.pools.map((p) => p.start()));
      trace('pools started');
      this.emitEvent({ type: 'start', pipeline: this.pipeline.name, file: this.pipeline.file, workers: this.pools[0]!.size, resumed: { done: store.done.size, failed: store.failed.size }, time: new Date().toISOString() });
      this.ticker = setInterval(() => this.tick(), 1000);
      const done = new Promise<void>((resolve) => { this.finished = resolve; });
      this.opts.source?.attach?.(this);
      this.pump(files).catch((e: unknown) => this.fail(e as Error));
      await done;
      if (this.fatal) throw this.fatal;
      return await this.finish();
    } catch (e) {
      await this.teardown();
      throw e;
    }
  }

  private outputState(): { path: string; bytes: number } | null {
    return this.output?.streaming ? { path: this.output.file, bytes: this.output.bytes } : null;
  }

  private createPool(stage: number, size: number): StagePool<Item> {
    const queue = this.queues[stage]!;
    // Distributed: the stage's items go through a BullMQ queue (worked here too unless size is 0).
    const make: StagePoolFactory<Item> = this.distributed?.poolFactory<Item>({
      priority: (it) => it.priority,
      attempted: (it, n) => { if (n > it.attempt) { this.stats_.attempts += n - it.attempt; it.attempt = n; } },
    }) ?? ((o, src, h) => new WorkerPool<Item>(o, src, h));
    return make(
      { file: this.pipeline.file, stage, size, timeouts: this.pipeline.stages.map((s) => s.timeoutMs) },
      {
        take: (max) => {
          if (this.state === 'paused' || this.stopping) return [];
          const out: Item[] = [];
          for (let i = 0; i < max; i++) { const it = queue.dequeue(); if (!it) break; out.push(it); }
          return out;
        },
        get waiting() { return queue.size; },
      },
      {
        toWire: (item, s) => {
          item.attempt++;
          this.stats_.attempts++;
          const w: WireItem = { s, id: item.id, attempt: item.attempt, source: item.source };
          if (item.rj !== undefined) w.rj = item.rj; else w.record = item.record;
          return w;
        },
        results: (items, results) => this.onResults(stage, items, results),
        lost: (culprit, innocent, error) => {
          for (const it of innocent) { it.attempt--; this.stats_.attempts--; queue.enqueue(it, it.priority); }
          if (culprit) this.onFailure(stage, culprit, error);
          this.pools[stage]?.kick();
        },
        workerEvent: (status, worker, reason) => this.emitEvent({ type: 'worker', status, worker, stage, ...(reason ? { reason } : {}) }),
        log: (worker, id, message) => this.log(id, worker, message),
        fatal: (err) => this.fail(err),
        ...(this.hub ? { llm: (provider, request, signal, deadline) => this.hub!.call(provider, request, signal, deadline) } : {}),
      },
    );
  }

  private log(id: string | null, worker: number | null, message: string): void {
    const time = new Date().toISOString();
    if (this.store) appendFileSync(this.store.paths.log, `${JSON.stringify({ time, id, worker, message })}\n`);
    this.emitEvent({ type: 'log', id, worker, message, time });
  }

  private async pump(files: string[]): Promise<void> {
    const store = this.store!;
    const seen = this.seen!;
    const source: AsyncIterable<InputRecord[]> = this.opts.retryFailed ? this.deadLetterRecords() : expandRecords(this.opts.source ?? readInputs(files, this.opts.cwd, readOptionsOf(this.pipeline.definition)), this.pipeline.definition.expand);
    let n = 0;
    reading: for await (const batch of source) for (const rec of batch) {
      if (this.stopping || this.fatal || n >= this.opts.limit) break reading;
      const seq = n++;
      let id: string;
      if (rec.error !== undefined) {
        id = `${rec.source.file}:${rec.source.line}`;
      } else {
        try {
          id = this.pipeline.definition.id ? String(this.pipeline.definition.id(rec.record)) : defaultId(rec.record);
        } catch (e) {
          this.deadLetterNow({ id: `${rec.source.file}:${'line' in rec.source ? rec.source.line : 'row' in rec.source ? rec.source.row : 0}`, n: seq, source: rec.source, priority: 0, stage: 0, attempt: 1, errors: [] }, ErrorCode.Permanent, `id() threw: ${describeThrown(e).message}`);
          continue;
        }
      }
      // A repeated id within one input is counted once; ids finished in an earlier run are already in the counts.
      // One lookup in the id index serves both sets over it.
      const at = store.ids.add(id);
      if (!seen.addIndex(at)) { this.stats_.counts.skipped++; continue; }
      if (!this.opts.retryFailed && (store.done.hasIndex(at) || store.failed.has(id))) continue;
      if (store.failed.size > 0 && 'line' in rec.source) this.clearParseFailure(`${rec.source.file}:${rec.source.line}`);
      const item: Item = { id, n: seq, source: rec.source, priority: 0, stage: 0, attempt: 0, errors: [] };
      if (rec.error !== undefined) { this.deadLetterNow(item, ErrorCode.ParseError, rec.error); continue; }
      if (this.opts.retryFailed) { store.failed.delete(id); this.stats_.counts.failed--; }
      const resumed = store.stages.get(id);
      if (resumed) { item.stage = resumed.stage + 1; item.rj = resumed.json; } else item.record = rec.record;
      try {
        item.priority = this.pipeline.definition.priority ? clampPriority(Number(this.pipeline.definition.priority(rec.record as never))) : 0;
      } catch (e) {
        this.deadLetterNow(item, ErrorCode.Permanent, `priority() threw: ${describeThrown(e).message}`);
        continue;
      }
      this.inMemory++;
      this.queues[item.stage]!.enqueue(item, item.priority);
      this.scheduleKick();
      if (this.inMemory >= this.opts.window) await new Promise<void>((r) => { this.windowWaiter = r; });
    }
    this.readingDone = true;
    const c = this.stats_.counts;
    if (!this.opts.retryFailed && !this.stopping) { c.total = n; c.totalKnown = true; }
    this.checkFinished();
  }

  /** A line that failed to parse in an earlier run and parses now: its old dead letter goes. */
  private clearParseFailure(key: string): void {
    const store = this.store!;
    if (store.failed.get(key)?.errors.at(-1)?.code !== ErrorCode.ParseError) return;
    store.append(journalLine.cleared(key));
    store.failed.delete(key);
    this.stats_.counts.failed--;
  }

  private async *deadLetterRecords(): AsyncGenerator<InputRecord[]> {
    // Parse errors have no record: those are fixed in the input and picked up by a normal run.
    yield [...this.store!.failed.values()].filter((d) => d.record !== undefined).map((d) => ({ record: d.record, source: d.source }));
  }

  /** Coalesces dispatch: records arrive a chunk at a time, and a kick per record would send batches of one. */
  private scheduleKick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      for (const p of this.pools) p.kick();
    });
  }

  private onResults(stage: number, items: Item[], results: WireResult[]): void {
    const last = stage === this.pipeline.stages.length - 1;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const item = items[i]!;
      if (r.ok) {
        this.stats_.processing.record(r.ms);
        if (last) this.pending.push({ kind: 'done', item, core: r.core, ms: r.ms });
        else {
          this.pending.push({ kind: 'stage', item, json: r.json });
          item.stage = stage + 1; item.attempt = 0; item.rj = r.json; item.record = undefined;
          this.queues[stage + 1]!.enqueue(item, item.priority);
          this.pools[stage + 1]!.kick();
        }
      } else {
        this.onFailure(stage, item, r.error);
      }
    }
    this.scheduleFlush();
  }

  private toAttemptError(stage: number, item: Item, e: WireError): AttemptError {
    const err: AttemptError = { code: e.code, message: e.message, category: categoryOf(e.code), attempt: item.attempt, stage, at: new Date().toISOString() };
    if (e.status !== undefined && err.category === 'transient') err.category = 'provider';
    if (e.file) { err.file = e.file; err.line = e.line!; }
    return err;
  }

  private onFailure(stage: number, item: Item, e: WireError): void {
    const err = this.toAttemptError(stage, item, e);
    item.errors.push(err);
    this.stats_.recordError(item.id, err);
    const retry = this.pipeline.stages[stage]!.retry;
    if (e.permanent || item.attempt >= retry.attempts) {
      this.pending.push({ kind: 'failed', item, dead: this.deadLetter(item) });
      this.scheduleFlush();
      return;
    }
    // A provider that said when it takes calls again (Retry-After) is not asked sooner, within the cap.
    const delayMs = Math.max(backoffDelay(item.attempt, retry), Math.min(e.retryAfterMs ?? 0, retry.maxBackoffMs));
    this.stats_.retries++;
    this.stats_.counts.retrying++;
    if (this.listening) this.emitEvent({ type: 'retrying', id: item.id, stage, attempt: item.attempt, delayMs, error: err });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.stats_.counts.retrying--;
      this.queues[stage]!.enqueue(item, item.priority);
      this.pools[stage]!.kick();
    }, delayMs);
    this.retryTimers.add(timer);
  }

  private deadLetter(item: Item): DeadLetter {
    const d: DeadLetter = { id: item.id, source: item.source, attempts: item.attempt, stage: item.stage, errors: item.errors, at: new Date().toISOString() };
    const record = item.rj !== undefined ? JSON.parse(item.rj) : item.record;
    if (record !== undefined) d.record = record;
    return d;
  }

  private deadLetterNow(item: Item, code: string, message: string): void {
    item.attempt = 1;
    const err: AttemptError = { code, message, category: categoryOf(code), attempt: 1, stage: 0, at: new Date().toISOString(), file: item.source.file };
    if ('line' in item.source) err.line = item.source.line;
    item.errors.push(err);
    this.stats_.recordError(item.id, err);
    this.inMemory++;
    this.pending.push({ kind: 'failed', item, dead: this.deadLetter(item) });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Group commit: one journal write and one output write for everything finished since the last flush. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    // Even with nothing to write, a result that became a retry may have been the last one a stop waited for.
    if (batch.length === 0) { this.checkFinished(); return; }
    this.pending = [];
    const store = this.store!;
    let journal = '';
    let out = '';
    for (const p of batch) {
      if (p.kind === 'done') { journal += journalLine.done(p.item.n, p.core); if (this.output?.streaming) out += `{${p.core}\n`; }
      else if (p.kind === 'failed') journal += journalLine.failed(p.dead);
      else journal += journalLine.stage(p.item.id, p.item.stage - 1, p.json);
    }
    const outBytes = out.length === 0 ? 0 : Buffer.byteLength(out);
    if (outBytes > 0) journal += journalLine.output(this.output!.bytes + outBytes);
    store.append(journal);
    if (outBytes > 0) this.output!.append(out);
    const c = this.stats_.counts;
    const listening = this.listening;
    for (const p of batch) {
      const { item } = p;
      if (p.kind === 'stage') { store.stages.set(item.id, { stage: item.stage - 1, json: p.json }); continue; }
      this.inMemory--;
      if (p.kind === 'done') {
        store.done.add(item.id);
        store.stages.delete(item.id);
        c.done++; this.stats_.doneThisRun++;
        this.failedRecords.delete(item.id);
        if (listening) this.emitEvent({ type: 'item', id: item.id, status: 'done', stage: item.stage, attempts: item.attempt, ms: p.ms, source: item.source });
      } else {
        store.failed.set(item.id, p.dead);
        store.stages.delete(item.id);
        c.failed++; this.stats_.failedThisRun++;
        this.failedRecords.set(item.id, item);
        if (listening) this.emitEvent({ type: 'item', id: item.id, status: 'failed', stage: item.stage, attempts: item.attempt, error: item.errors.at(-1)!, source: item.source });
      }
    }
    if (this.windowWaiter && this.inMemory < this.opts.window * 0.9) { const w = this.windowWaiter; this.windowWaiter = undefined; w(); }
    this.checkFinished();
  }

  private checkFinished(): void {
    if (!this.finished) return;
    const inFlight = this.pools.reduce((n, p) => n + p.inFlight, 0);
    const idle = inFlight === 0 && this.pending.length === 0;
    if (this.stopping === 'graceful' && idle) { this.finished(); return; }
    if (this.readingDone && idle && this.inMemory === 0) this.finished();
  }

  private fail(err: Error): void {
    this.fatal ??= err;
    this.finished?.();
  }

  private tick(): void {
    const now = Date.now();
    this.stats_.sample(now);
    if (this.autoscale && this.state === 'running') this.autoscaleTick();
    const s = this.stats();
    this.emitEvent({ type: 'progress', counts: s.counts, rate: s.rate, etaMs: s.etaMs, workers: s.workers.size });
  }

  private autoscaleTick(): void {
    const { min, max } = this.autoscale!;
    this.pools.forEach((pool, i) => {
      const size = pool.targetSize;
      const util = pool.size === 0 ? 1 : pool.busy / pool.size;
      const depth = this.queues[i]!.size;
      if (depth > size * 2 && util > 0.75 && size < max) { this.resizeStage(i, size + 1); this.lowUtilTicks = 0; }
      else if (util < 0.25 && depth === 0 && size > min) { if (++this.lowUtilTicks >= 3) { this.resizeStage(i, size - 1); this.lowUtilTicks = 0; } }
      else this.lowUtilTicks = 0;
    });
  }

  private resizeStage(stage: number, n: number): void {
    const pool = this.pools[stage]!;
    const from = pool.targetSize;
    pool.resize(n);
    this.emitEvent({ type: 'resized', stage, from, to: n });
  }

  /** Stops dispatching; running items finish (or hit their timeout). */
  pause(): void {
    if (this.state !== 'running') return;
    this.state = 'paused';
    this.emitEvent({ type: 'paused' });
    for (const p of this.pools) p.setDispatch?.('paused');
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.emitEvent({ type: 'resumed' });
    for (const p of this.pools) { p.setDispatch?.('running'); p.kick(); }
  }

  /** Sets the pool size (of every stage pool); growing is immediate, shrinking waits for running items. */
  resize(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`Expected workers to be a positive integer, got ${n} (${typeof n})`);
    this.autoscale = undefined; // a person steering overrides the autoscaler
    this.pools.forEach((_, i) => this.resizeStage(i, n));
  }

  /** Puts the items that failed in this run back in the queue with fresh attempts. */
  retryFailed(): number {
    let n = 0;
    for (const item of this.failedRecords.values()) {
      if (item.record === undefined && item.rj === undefined) continue;
      this.failedRecords.delete(item.id);
      this.store!.failed.delete(item.id);
      this.stats_.counts.failed--;
      item.attempt = 0; item.errors = [];
      this.inMemory++;
      this.queues[item.stage]!.enqueue(item, item.priority);
      this.pools[item.stage]!.kick();
      n++;
    }
    return n;
  }

  /** Whether item `id` has its final outcome (done, or dead-lettered) in the checkpoint. */
  isSettled(id: string): boolean {
    return this.store !== undefined && (this.store.done.has(id) || this.store.failed.has(id));
  }

  /** Graceful by default: no new dispatch, running items finish, then checkpoint. `force` terminates workers at once. */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    if (this.state === 'done' || this.state === 'idle') return;
    this.stopping = options.force ? 'force' : 'graceful';
    this.state = 'draining';
    this.emitEvent({ type: 'paused' });
    this.windowWaiter?.();
    if (options.force) {
      for (const p of this.pools) await p.stop();
      this.flush();
      this.finished?.();
    } else {
      for (const p of this.pools) p.setDispatch?.('stopping');
      this.checkFinished();
    }
  }

  stats(): EngineStats {
    const now = Date.now();
    const c = this.stats_.counts;
    // Items handed to a distributed stage but not started yet (waiting in Redis) are pending, not running.
    const handedOn = this.pools.reduce((n, p) => n + (p.queued ?? 0), 0);
    c.pending = this.queues.reduce((n, q) => n + q.size, 0) + handedOn;
    c.running = this.pools.reduce((n, p) => n + p.inFlight, 0) - handedOn;
    const byPriority: Record<string, number> = {};
    for (const q of this.queues) for (const [p, n] of q.sizes()) byPriority[p] = (byPriority[p] ?? 0) + n;
    const sum = (f: (p: StagePool<Item>) => number) => this.pools.reduce((n, p) => n + f(p), 0);
    return {
      pipeline: this.pipeline.name,
      state: this.state,
      startedAt: this.startedAt,
      elapsedMs: this.startedAt ? now - this.startedAt : 0,
      counts: { ...c },
      rate: this.stats_.rate(now),
      etaMs: this.stats_.eta(now),
      byPriority,
      workers: {
        size: sum((p) => p.size), target: sum((p) => p.targetSize), busy: sum((p) => p.busy),
        crashes: sum((p) => p.crashes), timeouts: sum((p) => p.timeouts), replacements: sum((p) => p.replacements),
        perStage: this.pools.map((p, i) => ({ name: this.pipeline.stages[i]!.name, size: p.size, busy: p.busy, queued: this.queues[i]!.size + (p.queued ?? 0) })),
      },
      errors: { byCategory: { ...this.stats_.byCategory }, byCode: { ...this.stats_.byCode }, recent: [...this.stats_.recent] },
      processingMs: this.stats_.processing.stats(),
      providers: this.hub?.usage() ?? {},
      simulated: this.simulated,
      ...this.distributed?.stats(),
    };
  }

  /** Whether any provider call is answered by the simulator; the UI and the summary must say so. */
  get simulated(): boolean { return this.opts.simulate || (this.hub?.simulated ?? false); }

  private async teardown(): Promise<void> {
    clearInterval(this.ticker);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const p of this.pools) await p.stop();
    this.flush();
    await this.hub?.stop();
    await this.distributed?.close('failed');
    await this.metrics?.close();
    this.output?.close();
    this.store?.close();
  }

  private async finish(): Promise<RunSummary> {
    const store = this.store!;
    const stopped = this.stopping !== undefined;
    clearInterval(this.ticker);
    for (const t of this.retryTimers) clearTimeout(t);
    for (const p of this.pools) await p.stop();
    this.flush();
    const sim = await this.hub?.simulatorStats();
    await this.hub?.stop();
    // A completed distributed run empties its queues; a stopped one stays in Redis for the resume.
    await this.distributed?.close(stopped ? 'stopped' : 'completed');
    await this.metrics?.close();
    let reduced: unknown;
    let reduceFailed = false;
    if (!stopped && this.pipeline.definition.reduce) {
      try {
        reduced = await this.runReduce();
      } catch (e) {
        // Every item is safe in the checkpoint; only the reduce step failed. Say where, exit 1.
        const d = describeThrown(e);
        const where = locateInPipeline(d.stack, this.pipeline.file);
        const denied = e as { code?: string; permission?: string; resource?: string };
        const detail = denied.code === 'ERR_ACCESS_DENIED' ? ` (${denied.permission ?? 'access'} denied${denied.resource ? ` for ${denied.resource}` : ''}; widen the pipeline's permissions or pass an --allow-* flag)` : '';
        reduced = { error: `reduce() failed: ${d.message}${detail}${where ? ` (${where.file}:${where.line})` : ''}` };
        reduceFailed = true;
        this.log(null, null, (reduced as { error: string }).error);
      }
    }
    // A streamed output is complete already; the others are written whole from the journal.
    await this.output?.rewrite();
    const c = this.stats_.counts;
    const exitCode = stopped ? 130 : c.failed > 0 || reduceFailed ? 1 : 0;
    const endedAt = new Date();
    const durationMs = endedAt.getTime() - this.startedAt;
    const summary: RunSummary = {
      pipeline: this.pipeline.name,
      file: this.pipeline.file,
      simulated: this.simulated,
      status: stopped ? 'stopped' : 'completed',
      exitCode,
      startedAt: new Date(this.startedAt).toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs,
      totals: { total: c.totalKnown ? c.total : Math.max(c.total, c.done + c.failed + c.skipped), done: c.done, failed: c.failed, skipped: c.skipped, doneThisRun: this.stats_.doneThisRun, failedThisRun: this.stats_.failedThisRun, attempts: this.stats_.attempts, retries: this.stats_.retries },
      processingMs: this.stats_.processing.stats(),
      throughput: { itemsPerSecond: durationMs > 0 ? Math.round(((this.stats_.doneThisRun + this.stats_.failedThisRun) * 1e5) / durationMs) / 100 : 0 },
      errors: { byCategory: { ...this.stats_.byCategory }, byCode: { ...this.stats_.byCode } },
      providers: this.hub?.usage() ?? {},
      ...(sim ? { simulator: { requests: sim.requests, violations: sim.violations, maxPerSecond: sim.maxPerSecond, rateLimited: sim.rateLimited, providers: { ...sim.byProvider } } } : {}),
      workers: { initial: this.initialWorkers, final: this.pools[0]?.targetSize ?? 0, max: Math.max(...this.pools.map((p) => p.maxSize)), crashes: this.stats().workers.crashes, timeouts: this.stats().workers.timeouts, replacements: this.stats().workers.replacements },
      output: this.opts.out,
      stateDir: store.paths.dir,
      ...(reduced === undefined ? {} : { reduce: reduced }),
    };
    await store.compact({ output: this.outputState(), run: { startedAt: summary.startedAt, endedAt: summary.endedAt, status: summary.status, total: summary.totals.total, done: c.done, failed: c.failed, exitCode } });
    this.emitEvent({ type: 'checkpointed', done: store.done.size, failed: store.failed.size, journalBytes: store.journalSize });
    mkdirSync(path.dirname(this.opts.out), { recursive: true });
    writeFileSync(`${this.opts.out}.summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
    this.output?.close();
    store.close();
    this.state = 'done';
    this.emitEvent({ type: 'end', summary });
    return summary;
  }

  private async runReduce(): Promise<unknown> {
    const store = this.store!;
    const file = store.paths.journal;
    async function* results() {
      for await (const e of readJournal(file)) if (e.k === 'd' && store.done.has(e.id)) yield { id: e.id, result: e.result };
    }
    return await this.pipeline.definition.reduce!(results(), { pipeline: this.pipeline.name, output: this.opts.out, log: (m) => this.log(null, null, m) });
  }
}

/** Creates an engine for a loaded pipeline. Nothing starts until `run()`. */
export function createEngine(pipeline: LoadedPipeline, options?: EngineOptions): Engine {
  return new Engine(pipeline, options);
}
