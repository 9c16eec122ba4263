import { EventEmitter } from 'node:events';
import { availableParallelism, hostname } from 'node:os';
import type { RedisClient } from 'bullmq';
import { ProviderHub } from '../providers/hub.js';
import type { SimulatorOptions } from '../providers/simulator.js';
import type { LoadedPipeline, MachineStats } from '../types.js';
import { checkRedis, openClient, redactUrl, redisOptions, statusOf, type RedisStatus } from './connection.js';
import { fileDigest } from './coordinator.js';
import { machineId, RunKeys } from './keys.js';
import { RedisRateLimiter } from './limiter.js';
import { MachineHeartbeat, type MachineReport } from './registry.js';
import { StageRunner, type RecoveryOptions } from './stage-runner.js';

export interface WorkerServiceOptions extends RecoveryOptions {
  /** The `--redis` URL. */
  url: string;
  pipeline: LoadedPipeline;
  /** Threads per stage. @default the stage's (or the pipeline's) `workers`; `auto`: one per core */
  workers?: number | 'auto' | { min: number; max: number };
  /** Answer providers with the local simulator even if the coordinator does not. @default follow the coordinator */
  simulate?: boolean;
  simulator?: SimulatorOptions;
  env?: NodeJS.ProcessEnv;
  /** How often to look for a run to serve, and whether the one served has ended. @default 500 */
  pollMs?: number;
}

/** What the `worker` command prints (plain lines or `--json`). */
export type WorkerEvent =
  | { type: 'waiting'; pipeline: string; redis: string }
  | { type: 'serving'; run: string; coordinator: string; machine: string; workers: number }
  | { type: 'progress'; run: string; done: number; failed: number; rate: number; busy: number; workers: number; redis: RedisStatus }
  | { type: 'ended'; run: string; done: number; failed: number; reason: 'completed' | 'stopped' }
  | { type: 'redis'; status: RedisStatus }
  | { type: 'log'; id: string | null; worker: number; message: string }
  | { type: 'warning'; message: string };

/**
 * `pipeline-tui worker P --redis URL`: waits for a run of P, serves it with a local supervised pool per
 * stage (StageRunner), goes back to waiting when it ends, and stops only when told to (SIGINT/SIGTERM).
 */
export class WorkerService extends EventEmitter<{ event: [WorkerEvent] }> {
  readonly machine = machineId(hostname(), process.pid);
  readonly url: string;
  private readonly keys: RunKeys;
  private runners: StageRunner[] = [];
  private run: string | null = null;
  private stopping: 'graceful' | 'force' | undefined;
  private wake: (() => void) | undefined;
  private fatal: Error | undefined;
  private status: RedisStatus = 'connected';
  private readonly samples: { t: number; n: number }[] = [];
  private readonly startedAt = Date.now();

  private constructor(private readonly client: RedisClient, private readonly closeClient: () => Promise<void>, private readonly opts: WorkerServiceOptions) {
    super();
    this.url = redactUrl(opts.url);
    this.keys = new RunKeys(opts.pipeline.name);
  }

  /** Exit 2 material: an unreachable or evicting Redis is reported at once, not retried forever. */
  static async create(opts: WorkerServiceOptions): Promise<WorkerService> {
    const connection = redisOptions(opts.url);
    await checkRedis(opts.url, connection);
    const { client, close } = await openClient(connection);
    return new WorkerService(client, close, opts);
  }

  private emitEvent(e: WorkerEvent): void { this.emit('event', e); }

  private sizeFor(stage: number): number {
    const w = this.opts.workers ?? this.opts.pipeline.stages[stage]!.workers ?? this.opts.pipeline.workers;
    if (w === 'auto') return availableParallelism();
    if (typeof w === 'object') return w.max;
    return Math.max(1, w);
  }

  /** Serves runs until stop(); rejects when the pipeline's workers cannot start. */
  async serve(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 500;
    let waiting = false;
    let told = '';
    try {
      while (!this.stopping) {
        this.watchStatus();
        if (this.status !== 'connected') { await this.idle(pollMs); continue; }
        const meta = await this.client.hgetall(this.keys.run).catch(() => ({} as Record<string, string>));
        const stages = this.opts.pipeline.stages.length;
        if (!meta.id || Number(meta.stages) !== stages) {
          if (meta.id && told !== meta.id) {
            told = meta.id;
            this.emitEvent({ type: 'warning', message: `Run ${meta.id} has ${meta.stages} stage(s), this pipeline file ${stages}: not serving it (is it the same file as the coordinator's?)` });
          }
          if (!waiting && !meta.id) this.emitEvent({ type: 'waiting', pipeline: this.opts.pipeline.name, redis: this.url });
          waiting = true;
          await this.idle(pollMs);
          continue;
        }
        waiting = false;
        await this.serveRun(meta, pollMs);
      }
    } finally {
      await this.closeClient();
    }
    if (this.fatal) throw this.fatal;
  }

  private async serveRun(meta: Record<string, string>, pollMs: number): Promise<void> {
    const { pipeline } = this.opts;
    const run = meta.id!;
    if (meta.digest && meta.digest !== fileDigest(pipeline.file)) {
      this.emitEvent({ type: 'warning', message: `This pipeline file differs from the coordinator's (${meta.file ?? '?'}); its results may differ` });
    }
    const providers = pipeline.definition.providers ?? {};
    const hub = Object.keys(providers).length > 0
      ? await ProviderHub.create(providers, {
        env: this.opts.env ?? process.env,
        simulate: this.opts.simulate === true || meta.simulate === '1',
        simulator: this.opts.simulator ?? {},
        warn: (m) => this.emitEvent({ type: 'warning', message: m }),
        limiterFactory: (name, limits) => new RedisRateLimiter(this.client, this.keys.limiter(name), limits),
      })
      : undefined;
    this.run = run;
    this.samples.length = 0;
    const { lockDurationMs, stalledIntervalMs, maxStalledCount } = this.opts;
    const recovery = { ...(lockDurationMs === undefined ? {} : { lockDurationMs }), ...(stalledIntervalMs === undefined ? {} : { stalledIntervalMs }), ...(maxStalledCount === undefined ? {} : { maxStalledCount }) };
    this.runners = pipeline.stages.map((s) => new StageRunner({
      queue: this.keys.queue(s.index), connection: redisOptions(this.opts.url), file: pipeline.file, stage: s.index,
      timeouts: pipeline.stages.map((x) => x.timeoutMs), size: this.sizeFor(s.index), machine: this.machine, ...recovery,
      hooks: {
        workerEvent: (status, worker, reason) => { if (status === 'crashed' || status === 'timeout') this.emitEvent({ type: 'warning', message: `worker ${worker} ${status}: ${reason ?? ''}; replaced` }); },
        log: (worker, id, message) => this.emitEvent({ type: 'log', id, worker, message }),
        fatal: (err) => { this.fatal ??= err; this.stop({ force: true }); },
        ...(hub ? { llm: (provider, request, signal, deadline) => hub.call(provider, request, signal, deadline) } : {}),
      },
    }));
    const heartbeat = new MachineHeartbeat(this.client, this.keys, () => this.report());
    let reason: 'completed' | 'stopped' = 'stopped';
    try {
      await Promise.all(this.runners.map((r) => r.start()));
      heartbeat.start();
      this.emitEvent({ type: 'serving', run, coordinator: meta.coordinator ?? '?', machine: this.machine, workers: this.runners.reduce((n, r) => n + r.size, 0) });
      let lastLine = '';
      let missingSince = 0;
      while (!this.stopping) {
        await this.idle(pollMs);
        this.watchStatus();
        const stats = this.machineStats();
        const line = `${stats.done}/${stats.failed}/${stats.busy}/${this.status}`;
        if (line !== lastLine) {
          lastLine = line;
          this.emitEvent({ type: 'progress', run, done: stats.done, failed: stats.failed, rate: stats.rate, busy: stats.busy, workers: stats.workers, redis: this.status });
        }
        if (this.status !== 'connected') continue;
        const current = await this.client.hget(this.keys.run, 'id').catch(() => run);
        // Another run: this one is over. No run at all: over too, unless the coordinator re-announces it
        // soon (it does every 2 s; a Redis restarted without its data has lost the announcement).
        if (current === run) missingSince = 0;
        else if (current !== null || (missingSince ||= Date.now()) < Date.now() - 5_000) { reason = 'completed'; break; }
      }
    } finally {
      // Graceful: jobs taken finish first. Forced: their locks lapse and other machines take them over.
      await Promise.all(this.runners.map((r) => r.stop(this.stopping === 'force')));
      await hub?.stop();
      await heartbeat.stop();
      const s = this.machineStats();
      this.emitEvent({ type: 'ended', run, done: s.done, failed: s.failed, reason });
      this.runners = [];
      this.run = null;
    }
  }

  private watchStatus(): void {
    const status = statusOf(this.client);
    if (status !== this.status) {
      this.status = status;
      this.emitEvent({ type: 'redis', status });
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = undefined; resolve(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = undefined; resolve(); };
    });
  }

  /** Graceful by default: jobs already taken finish (up to their timeout); `force`: at once. */
  stop(options: { force?: boolean } = {}): void {
    this.stopping = options.force ? 'force' : (this.stopping ?? 'graceful');
    if (options.force) for (const r of this.runners) void r.stop(true);
    this.wake?.();
  }

  private report(): MachineReport {
    const sum = (f: (r: StageRunner) => number) => this.runners.reduce((n, r) => n + f(r), 0);
    return {
      id: this.machine, host: hostname(), pid: process.pid, role: 'worker', run: this.run,
      workers: sum((r) => r.size), busy: sum((r) => r.busy), done: sum((r) => r.done), failed: sum((r) => r.failed),
      crashes: sum((r) => r.crashes), timeouts: sum((r) => r.timeouts),
      stages: this.runners.map((r) => ({ workers: r.size, busy: r.busy })), startedAt: this.startedAt,
    };
  }

  /** This machine, as the coordinator's stats show it (with its own rate over the last ~10 s). */
  machineStats(): MachineStats {
    const r = this.report();
    const now = Date.now();
    this.samples.push({ t: now, n: r.done + r.failed });
    while (this.samples.length > 2 && now - this.samples[0]!.t > 10_000) this.samples.shift();
    const first = this.samples[0]!;
    const rate = now - first.t < 500 ? 0 : Math.round(((r.done + r.failed - first.n) * 10_000) / (now - first.t)) / 10;
    return { id: r.id, host: r.host, pid: r.pid, role: 'worker', up: true, workers: r.workers, busy: r.busy, done: r.done, failed: r.failed, rate };
  }

  get redisStatus(): RedisStatus { return statusOf(this.client); }
  get currentRun(): string | null { return this.run; }
}
