import { Queue, type RedisOptions } from 'bullmq';
import { ErrorCode } from '../errors.js';
import type { StagePool } from '../stage-pool.js';
import type { PoolHooks, PoolSource } from '../worker-pool.js';
import type { WireError, WireResult } from '../wire.js';
import type { JobData, JobResult } from './job.js';
import { bullPriority, itemIdOf, jobId, keyPrefix } from './keys.js';
import type { StageRunner } from './stage-runner.js';
import { ResultReader } from './results.js';

/** What the engine's items must tell the dispatcher, without it knowing the engine's item type. */
export interface ItemAccess<T> {
  priority(item: T): number;
  /** A worker restarted the job after a stall: the attempt it ran as is higher than the one dispatched. */
  attempted(item: T, attempt: number): void;
}

/** The coordinator's side of the run that every stage's dispatcher shares (coordinator.ts). */
export interface DispatchContext {
  readonly run: string;
  readonly connection: RedisOptions;
  /** Whether the pipeline has a priority function (else every job goes to BullMQ's plain FIFO list). */
  readonly prioritized: boolean;
  /** Per stage: jobs found complete that no dispatched item was waiting for (yet), e.g. from before a restart. */
  early(stage: number): Set<string>;
  /** Per stage: where the result events of this process start (taken before the start-up scan). */
  lastEventId(stage: number): string;
  /** Threads of the other machines for this stage. */
  remote(stage: number): { workers: number; busy: number; crashes: number; timeouts: number };
  counted(by: string, ok: boolean): void;
  log(message: string): void;
}

/**
 * The engine's items for one stage, sent through a BullMQ queue to every machine serving the run (this
 * one too, unless `--workers 0`, through `local`). Results come back as BullMQ return values: live from
 * the queue's event stream (results.ts), and by reading the completed set for whatever an event did not
 * bring (a restart, a trimmed stream). A job is removed only after its result went through the engine's group
 * commit, so until then Redis still has it; one `inflight` entry per dispatched item means each result
 * reaches the engine once.
 */
export class QueueDispatcher<T> implements StagePool<T> {
  private readonly queue: Queue<JobData, JobResult>;
  private results: ResultReader | undefined;
  private readonly inflight = new Map<string, T>();
  private readonly started = new Set<string>();
  /** Job removals under way; adding a job with the same id before one finishes would be a silent no-op. */
  private readonly removing = new Map<string, Promise<void>>();
  private toRemove: { id: string; resolve(): void }[] = [];
  private dispatch: 'running' | 'paused' | 'stopping' = 'running';
  private stopped = false;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private maxSeen = 0;

  constructor(
    private readonly ctx: DispatchContext,
    readonly stage: number,
    private readonly name: string,
    private readonly source: PoolSource<T>,
    private readonly hooks: PoolHooks<T>,
    private readonly access: ItemAccess<T>,
    private readonly local: StageRunner | undefined,
    queueName: string,
  ) {
    // Auto-pipelining: the adds and removals of one tick leave in one socket write (a write costs more than the command).
    this.queue = new Queue<JobData, JobResult>(queueName, { connection: { ...ctx.connection, enableAutoPipelining: true }, prefix: keyPrefix });
    this.queue.on('error', (e) => ctx.log(`Redis queue (stage ${stage}): ${e.message}`));
  }

  async start(): Promise<void> {
    await this.queue.waitUntilReady();
    this.results = await ResultReader.open(this.ctx.connection, this.queue.keys.events!, this.ctx.lastEventId(this.stage), {
      completed: (id, value) => this.onCompleted(id, value),
      failed: (id, reason) => this.onFailed(id, reason),
      active: (id) => { if (this.inflight.has(id)) this.started.add(id); },
      requeued: (id) => {
        // Back in the queue after a stall: not started; during a graceful stop it is handed back.
        if (!this.inflight.has(id)) return;
        this.started.delete(id);
        if (this.dispatch === 'stopping') this.handBack([id]);
      },
      error: (message) => this.ctx.log(`Reading results from Redis (stage ${this.stage}): ${message}`),
    });
    await this.local?.start();
    this.sweeper = setInterval(() => void this.sweep(), 2_000);
    this.sweeper.unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped || this.dispatch !== 'running') return;
    const adds: { name: string; data: JobData; opts: { jobId: string; priority?: number } }[] = [];
    const fromEarly: string[] = [];
    const early = this.ctx.early(this.stage);
    for (;;) {
      const items = this.source.take(512);
      if (items.length === 0) break;
      for (const it of items) {
        const w = this.hooks.toWire(it, 0);
        const id = jobId(this.ctx.run, w.id);
        this.inflight.set(id, it);
        if (early.delete(id)) { fromEarly.push(id); continue; }
        const data: JobData = { id: w.id, stage: this.stage, attempt: w.attempt, source: w.source };
        if (w.rj !== undefined) data.rj = w.rj; else data.record = w.record;
        // Without a priority function every item is 0: BullMQ's plain FIFO list is cheaper than its priority set.
        const job = { name: this.name, data, opts: this.ctx.prioritized ? { jobId: id, priority: bullPriority(this.access.priority(it)) } : { jobId: id } };
        const removal = this.removing.get(id);
        if (removal) void removal.then(() => this.add([job]));
        else adds.push(job);
      }
    }
    if (adds.length > 0) this.add(adds);
    if (fromEarly.length > 0) void this.collect(fromEarly);
  }

  /** Adding an existing id is a no-op in BullMQ: after a coordinator restart, jobs still in Redis are adopted, not doubled. */
  private add(jobs: { name: string; data: JobData; opts: { jobId: string; priority?: number } }[]): void {
    if (this.stopped) return;
    this.queue.addBulk(jobs).catch((e: Error) => {
      // Commands wait out a lost connection; what fails here is Redis refusing (out of memory, say): try again.
      this.ctx.log(`Could not add ${jobs.length} job(s) to Redis (${e.message}); retrying in 1 s`);
      setTimeout(() => this.add(jobs.filter((j) => this.inflight.has(j.opts.jobId))), 1_000).unref();
    });
  }

  /** Results of jobs already complete in Redis (read from their return values rather than from an event). */
  private async collect(ids: string[]): Promise<void> {
    const jobs = await Promise.all(ids.map((id) => this.queue.getJob(id).catch(() => undefined)));
    jobs.forEach((job, i) => {
      const id = ids[i]!;
      const it = this.inflight.get(id);
      if (!it || this.removing.has(id)) return;
      if (job && job.finishedOn && job.failedReason === undefined && job.returnvalue !== null && job.returnvalue !== undefined) this.onCompleted(id, job.returnvalue);
      else if (job && job.finishedOn && job.failedReason !== undefined) this.onFailed(id, job.failedReason);
      else if (!job) {
        // Gone from Redis (removed by hand, or a Redis restart without persistence): send it again.
        this.inflight.delete(id);
        this.hooks.lost(undefined, [it], this.wireError('The job disappeared from Redis; it is queued again'), 0);
      }
    });
  }

  private onCompleted(id: string, result: JobResult): void {
    const it = this.inflight.get(id);
    if (!it) {
      // Finished before this coordinator dispatched its item (a restart): kept until the item comes round.
      if (!this.removing.has(id) && itemIdOf(this.ctx.run, id) !== undefined) this.ctx.early(this.stage).add(id);
      return;
    }
    if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
      this.onFailed(id, `unexpected return value ${JSON.stringify(result)?.slice(0, 200)}`);
      return;
    }
    this.inflight.delete(id);
    this.started.delete(id);
    this.ctx.counted(result.by, result.ok);
    this.access.attempted(it, result.attempt);
    const wire: WireResult = result.ok ? { s: 0, ok: true, core: result.core, json: result.json, ms: result.ms } : { s: 0, ok: false, error: result.error, ms: result.ms };
    this.hooks.results([it], [wire], 0);
    this.removeAfterFlush(id);
  }

  /** A job BullMQ failed itself: it stalled more often than allowed (its machines kept dying). */
  private onFailed(id: string, reason: string): void {
    const it = this.inflight.get(id);
    if (it) {
      this.inflight.delete(id);
      this.started.delete(id);
      this.hooks.lost(it, [], this.wireError(`The job failed in Redis: ${reason}`), 0);
    }
    if (!this.removing.has(id) && itemIdOf(this.ctx.run, id) !== undefined) this.removeAfterFlush(id);
  }

  private wireError(message: string): WireError {
    return { name: 'Error', message, code: ErrorCode.WorkerCrashed, permanent: false };
  }

  /**
   * Invariant: the engine schedules its group commit (a setImmediate) while `hooks.results` runs, so an
   * immediate scheduled after that returns runs after the commit: a result is in the journal before its job
   * leaves Redis. Registered at once, so a retry re-adding the id (after a timer) waits for the removal.
   */
  private removeAfterFlush(id: string): void {
    let resolve!: () => void;
    this.removing.set(id, new Promise<void>((r) => { resolve = r; }));
    this.toRemove.push({ id, resolve });
    if (this.toRemove.length === 1) setImmediate(() => this.removeBatch());
  }

  private removeBatch(): void {
    const batch = this.toRemove;
    this.toRemove = [];
    for (const { id, resolve } of batch) {
      void this.queue.remove(id)
        .catch((e: Error) => { this.ctx.log(`Could not remove job ${id} from Redis: ${e.message}`); })
        .finally(() => { this.removing.delete(id); this.ctx.early(this.stage).delete(id); resolve(); });
    }
  }

  /**
   * The backstop for results no event brought (a trimmed event stream, events missed while Redis was away):
   * whatever is complete in Redis and still awaited here is read from the job itself.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped || this.inflight.size === 0) return;
    this.sweeping = true;
    try {
      const [completed, failed] = await Promise.all([this.queue.getRanges(['completed'], 0, -1, true), this.queue.getRanges(['failed'], 0, -1, true)]);
      const awaited = [...completed, ...failed].filter((id) => this.inflight.has(id) && !this.removing.has(id));
      if (awaited.length > 0) await this.collect(awaited);
      // Are all awaited jobs still in Redis at all? (A Redis restarted without persistence lost them.)
      if (this.inflight.size > 0) {
        const counts = await this.queue.getJobCounts();
        const inRedis = Object.values(counts).reduce((a, b) => a + b, 0);
        if (inRedis < this.inflight.size) {
          const present = new Set(await this.queue.getRanges(['active', 'wait', 'waiting', 'paused', 'prioritized', 'delayed', 'completed', 'failed', 'waiting-children'], 0, -1, true));
          const missing = [...this.inflight.keys()].filter((id) => !present.has(id) && !this.removing.has(id));
          if (missing.length > 0) { this.ctx.log(`${missing.length} job(s) of stage ${this.stage} are missing from Redis; queueing them again`); await this.collect(missing); }
        }
      }
    } catch (e) {
      this.ctx.log(`Checking Redis for results failed: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
  }

  setDispatch(state: 'running' | 'paused' | 'stopping'): void {
    if (this.stopped || this.dispatch === state) return;
    const was = this.dispatch;
    this.dispatch = state;
    const log = (e: Error) => this.ctx.log(`Redis: ${e.message}`);
    if (state === 'paused') void this.queue.pause().catch(log);
    else if (state === 'running') { void this.queue.resume().catch(log); this.kick(); }
    else void (was === 'paused' ? Promise.resolve() : this.queue.pause()).then(() => this.stopWaiting(), log);
  }

  /**
   * A graceful stop: once the queue is paused no machine starts another job, so what is not active (or
   * already finished) now never will be in this run. Those items go back to the engine unstarted; their
   * jobs stay in Redis and a resumed run adopts them.
   */
  private async stopWaiting(): Promise<void> {
    const keep = new Set(await this.queue.getRanges(['active', 'completed', 'failed'], 0, -1, true).catch(() => [...this.inflight.keys()]));
    this.handBack([...this.inflight.keys()].filter((id) => !keep.has(id)));
  }

  private handBack(ids: string[]): void {
    const items: T[] = [];
    for (const id of ids) {
      const it = this.inflight.get(id);
      if (!it) continue;
      this.inflight.delete(id);
      this.started.delete(id);
      items.push(it);
    }
    if (items.length > 0) this.hooks.lost(undefined, items, this.wireError('not started before the stop'), 0);
    // An empty batch of results: the engine re-checks whether everything it waits for has come back.
    this.hooks.results([], [], 0);
  }

  private get remote() { return this.ctx.remote(this.stage); }
  get size(): number { const n = (this.local?.size ?? 0) + this.remote.workers; this.maxSeen = Math.max(this.maxSeen, n); return n; }
  get targetSize(): number { return (this.local?.targetSize ?? 0) + this.remote.workers; }
  get busy(): number { return (this.local?.busy ?? 0) + this.remote.busy; }
  get inFlight(): number { return this.inflight.size; }
  get queued(): number { return Math.max(0, this.inflight.size - this.started.size); }
  get crashes(): number { return (this.local?.crashes ?? 0) + this.remote.crashes; }
  get timeouts(): number { return (this.local?.timeouts ?? 0) + this.remote.timeouts; }
  get replacements(): number { return this.local?.replacements ?? 0; }
  get maxSize(): number { return Math.max(this.maxSeen, this.size); }

  /** `n` counts every machine's threads, as `size` does: this machine's share is what the others leave (at least 1). */
  resize(n: number): void { this.local?.resize(Math.max(1, n - this.remote.workers)); }

  /**
   * Stops this process's part. Jobs still awaited (a forced stop) stay in Redis with the queue paused, so
   * no machine starts more of them; a resumed run adopts them and collects what finished meanwhile.
   */
  async stop(): Promise<T[]> {
    if (this.stopped) return [];
    this.stopped = true;
    clearInterval(this.sweeper);
    const unfinished = this.inflight.size > 0;
    if (unfinished || this.dispatch === 'stopping') await this.queue.pause().catch(() => undefined);
    await this.local?.stop(unfinished);
    await this.results?.close();
    await Promise.allSettled([...this.removing.values()]);
    await this.queue.close().catch(() => undefined);
    const held = [...this.inflight.values()];
    this.inflight.clear();
    return held;
  }
}
