import { Worker as BullWorker, type Job, type RedisOptions } from 'bullmq';
import { WorkerPool, type PoolHooks } from '../worker-pool.js';
import type { WireItem } from '../wire.js';
import type { JobData, JobResult } from './job.js';
import { keyPrefix } from './keys.js';

/** How quickly a dead machine's jobs come back; see `stageRunnerDefaults`. */
export interface RecoveryOptions {
  /** A job's lock lasts this long unless its machine renews it (every half of it). @default 5000 */
  lockDurationMs?: number;
  /** How often each machine looks for jobs whose lock expired, and puts them back in the queue. @default 2500 */
  stalledIntervalMs?: number;
  /** Stalls a job may survive before it fails (and the coordinator's retry policy takes over). @default 2 */
  maxStalledCount?: number;
}

/**
 * BullMQ's defaults (30 s locks, checks every 30 s) recover a killed machine's jobs after up to a minute.
 * Locks are renewed by the machine's main thread, which stays free (items run in worker threads), so a
 * short lock is safe: a killed machine's jobs come back within lock + check interval, about 7.5 s.
 */
export const stageRunnerDefaults: Required<RecoveryOptions> = { lockDurationMs: 5_000, stalledIntervalMs: 2_500, maxStalledCount: 2 };

interface Pending {
  job: Job<JobData, JobResult>;
  attempt: number;
  resolve(r: JobResult): void;
}

export interface StageRunnerOptions extends RecoveryOptions {
  queue: string;
  connection: RedisOptions;
  file: string;
  stage: number;
  timeouts: number[];
  size: number;
  /** `<host>:<pid>`: recorded in every result, for per-machine throughput. */
  machine: string;
  hooks: Pick<PoolHooks<unknown>, 'workerEvent' | 'log' | 'fatal' | 'llm'>;
}

/**
 * One machine serving one stage: a BullMQ worker takes jobs from the stage's queue and hands them to the
 * same supervised WorkerPool a local run uses; each result goes back as the job's return value, written by
 * BullMQ atomically with the job's completion.
 */
export class StageRunner {
  private readonly pending: Pending[] = [];
  private head = 0;
  private pool: WorkerPool<Pending> | undefined;
  private worker: BullWorker<JobData, JobResult> | undefined;
  private kickScheduled = false;
  /** Recent processing time per item (ms), for how many jobs to hold per thread. */
  private itemMs = 50;
  done = 0;
  failed = 0;

  constructor(private readonly opts: StageRunnerOptions) {}

  private get waiting(): number { return this.pending.length - this.head; }

  private take(max: number): Pending[] {
    const out = this.pending.slice(this.head, this.head + max);
    this.head += out.length;
    if (this.head > 256 && this.head * 2 > this.pending.length) { this.pending.splice(0, this.head); this.head = 0; }
    return out;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const self = this;
    this.pool = new WorkerPool<Pending>({ file: o.file, stage: o.stage, timeouts: o.timeouts, size: o.size }, {
      take: (max) => this.take(max),
      get waiting() { return self.waiting; },
    }, {
      toWire: (p, s) => {
        const d = p.job.data;
        const w: WireItem = { s, id: d.id, attempt: p.attempt, source: d.source };
        if (d.rj !== undefined) w.rj = d.rj; else w.record = d.record;
        return w;
      },
      results: (items, results) => {
        for (let i = 0; i < results.length; i++) {
          const r = results[i]!;
          const p = items[i]!;
          this.itemMs = this.itemMs * 0.95 + r.ms * 0.05;
          const last = o.stage === o.timeouts.length - 1;
          if (r.ok) { this.done++; p.resolve({ ok: true, core: last ? r.core : '', json: last ? '' : r.json, ms: r.ms, attempt: p.attempt, by: o.machine }); }
          else { this.failed++; p.resolve({ ok: false, error: r.error, ms: r.ms, attempt: p.attempt, by: o.machine }); }
        }
      },
      lost: (culprit, innocent, error) => {
        // The culprit's attempt is used up, as in a local run; the others never ran and go round again.
        if (culprit) { this.failed++; culprit.resolve({ ok: false, error, ms: 0, attempt: culprit.attempt, by: o.machine }); }
        if (innocent.length > 0) { this.pending.splice(this.head, 0, ...innocent); }
        this.pool?.kick();
      },
      workerEvent: (status, worker, reason) => o.hooks.workerEvent(status, worker, reason),
      log: (worker, id, message) => o.hooks.log(worker, id, message),
      fatal: (err) => o.hooks.fatal(err),
      ...(o.hooks.llm ? { llm: o.hooks.llm } : {}),
    });
    await this.pool.start();
    const d = stageRunnerDefaults;
    this.worker = new BullWorker<JobData, JobResult>(o.queue, (job) => this.accept(job), {
      connection: o.connection,
      prefix: keyPrefix,
      name: o.machine,
      concurrency: this.concurrencyFor(o.size),
      lockDuration: o.lockDurationMs ?? d.lockDurationMs,
      stalledInterval: o.stalledIntervalMs ?? d.stalledIntervalMs,
      maxStalledCount: o.maxStalledCount ?? d.maxStalledCount,
      // No removeOnComplete: completed jobs stay until the coordinator has checkpointed their results.
      drainDelay: 1,
    });
    this.worker.on('error', (e) => o.hooks.log(0, null, `Redis worker (stage ${o.stage}): ${e.message}`));
  }

  /**
   * Jobs held per thread. Two keep a thread busy across the round trip that fetches the next job; short
   * items need more, so that several arrive together and travel to a thread as one batch (a message per
   * item would cost more than the item). More also means more to recover from a killed machine.
   */
  private concurrencyFor(size: number): number {
    const perThread = this.itemMs < 1 ? 16 : this.itemMs < 5 ? 8 : this.itemMs < 20 ? 4 : 2;
    return Math.max(1, size * perThread);
  }

  /** Jobs arriving in one turn of the event loop go to the threads together. */
  private scheduleKick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      this.pool?.kick();
      const c = this.concurrencyFor(this.targetSize);
      if (this.worker && this.worker.concurrency !== c) this.worker.concurrency = c;
    });
  }

  private accept(job: Job<JobData, JobResult>): Promise<JobResult> {
    // attemptsStarted counts this start too; more than one means BullMQ restarted the job after a stall,
    // which (like a local worker crash) uses up an attempt.
    const attempt = job.data.attempt + Math.max(0, (job.attemptsStarted ?? 1) - 1);
    return new Promise<JobResult>((resolve) => {
      this.pending.push({ job, attempt, resolve });
      this.scheduleKick();
    });
  }

  get size(): number { return this.pool?.size ?? 0; }
  get targetSize(): number { return this.pool?.targetSize ?? this.opts.size; }
  get busy(): number { return this.pool?.busy ?? 0; }
  get crashes(): number { return this.pool?.crashes ?? 0; }
  get timeouts(): number { return this.pool?.timeouts ?? 0; }
  get replacements(): number { return this.pool?.replacements ?? 0; }
  get maxSize(): number { return this.pool?.maxSize ?? 0; }

  resize(n: number): void {
    this.pool?.resize(n);
    if (this.worker) this.worker.concurrency = this.concurrencyFor(n);
  }

  /** Graceful: jobs already taken finish first. `force`: at once; their locks expire and other machines take them over. */
  async stop(force = false): Promise<void> {
    await this.worker?.close(force).catch(() => undefined);
    // After a forced close, jobs still held here are left unanswered: BullMQ could not record an answer now.
    await this.pool?.stop();
  }
}
