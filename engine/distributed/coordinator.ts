import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Queue, type RedisClient, type RedisOptions } from 'bullmq';
import type { CheckpointStore } from '../../state/checkpoint.js';
import { messages } from '../errors.js';
import type { LimiterOptions, RateLimiter } from '../providers/limiter.js';
import type { StagePoolFactory } from '../stage-pool.js';
import type { LoadedPipeline, MachineStats } from '../types.js';
import { checkRedis, openClient, redactUrl, redisOptions, statusOf, type RedisStatus } from './connection.js';
import { QueueDispatcher, type DispatchContext, type ItemAccess } from './dispatcher.js';
import { itemIdOf, keyPrefix, machineId, newRunId, RunKeys } from './keys.js';
import { RedisRateLimiter } from './limiter.js';
import { MachineBook } from './machines.js';
import { MachineHeartbeat, readMachines, type MachineReport } from './registry.js';
import { StageRunner, type RecoveryOptions } from './stage-runner.js';

export interface DistributedRunOptions extends RecoveryOptions {
  /** The `--redis` URL. */
  url: string;
  pipeline: LoadedPipeline;
  /** Workers follow the coordinator: with `--simulate` here, every machine answers providers with its simulator. */
  simulate: boolean;
  log(message: string): void;
}

/** `<state>/<pipeline>/distributed.json`: the run id a restarted coordinator resumes with. Gone once the run completes. */
export interface RunFile {
  run: string;
  /** Without its password. */
  redis: string;
  startedAt: string;
}

export const runFileName = 'distributed.json';

/** The claim on a pipeline's queues expires this long after a coordinator stops refreshing it. */
const leaseMs = 10_000;

export function readRunFile(file: string): RunFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const f = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
    return typeof f.run === 'string' ? f : undefined;
  } catch {
    return undefined;
  }
}

/** Our own claim, or one of a coordinator on this host that is no longer running (killed): taken over at once. */
function claimable(holder: string, me: string): boolean {
  if (holder === me) return true;
  const at = holder.lastIndexOf(':');
  const pid = Number(holder.slice(at + 1));
  return holder.slice(0, at) === hostname() && Number.isInteger(pid) && !pidAlive(pid);
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * The coordinator's side of a distributed run: claims the pipeline's queues on Redis, names the run
 * (the same id after a restart, so jobs already in Redis are adopted), provides the engine with a
 * BullMQ-backed pool per stage and Redis-backed provider limiters, and tracks the machines serving it.
 */
export class DistributedRun implements DispatchContext {
  readonly url: string;
  readonly keys: RunKeys;
  readonly machine = machineId(hostname(), process.pid);
  readonly prioritized: boolean;
  run = '';
  private readonly earlySets: Set<string>[];
  private readonly eventIds: string[];
  private readonly runners: (StageRunner | undefined)[] = [];
  private readonly machines: MachineBook;
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeat: MachineHeartbeat | undefined;
  private lastStatus: RedisStatus = 'connected';
  private runFile = '';
  private polling = false;
  private idleSince = 0;
  private toldIdle = 0;
  private readonly startedAt = Date.now();
  private readonly digest: string;

  private constructor(private readonly client: RedisClient, private readonly closeClient: () => Promise<void>, private readonly opts: DistributedRunOptions, readonly connection: RedisOptions) {
    this.url = redactUrl(opts.url);
    this.keys = new RunKeys(opts.pipeline.name);
    this.earlySets = opts.pipeline.stages.map(() => new Set<string>());
    this.eventIds = opts.pipeline.stages.map(() => '$');
    this.digest = fileDigest(opts.pipeline.file);
    this.machines = new MachineBook(this.machine);
    this.prioritized = typeof opts.pipeline.definition.priority === 'function';
  }

  /**
   * Fails (exit 2) at once when Redis is unreachable, evicts keys, or another live coordinator runs this
   * pipeline there: call it before changing anything.
   */
  static async check(url: string, pipeline: string): Promise<void> {
    await checkRedis(url, redisOptions(url), async (client) => {
      const k = new RunKeys(pipeline).coordinator;
      const holder = await client.get(k);
      if (holder !== null && !claimable(holder, machineId(hostname(), process.pid))) throw messages.coordinatorBusy(pipeline, redactUrl(url), holder, await client.pttl(k));
    });
  }

  /** A client that reconnects forever from now on (see `check` for the start-up verdict). */
  static async connect(opts: DistributedRunOptions): Promise<DistributedRun> {
    const connection = redisOptions(opts.url);
    const { client, close } = await openClient(connection);
    return new DistributedRun(client, close, opts, connection);
  }

  early(stage: number): Set<string> { return this.earlySets[stage]!; }
  lastEventId(stage: number): string { return this.eventIds[stage]!; }
  log(message: string): void { this.opts.log(message); }

  /** Claims the queues, names or resumes the run, and sorts out what Redis still holds for it. */
  async start(store: CheckpointStore): Promise<void> {
    const { pipeline } = this.opts;
    this.runFile = path.join(store.paths.dir, runFileName);
    const previous = readRunFile(this.runFile);
    await this.claim();
    const meta = await this.client.hgetall(this.keys.run);
    const queues = pipeline.stages.map((s) => new Queue(this.keys.queue(s.index), { connection: this.connection, prefix: keyPrefix }));
    for (const q of queues) q.on('error', () => undefined);
    try {
      if (previous && meta.id === previous.run) {
        this.run = previous.run;
        // A stopped run left its queues paused so that no machine went on without a coordinator.
        await Promise.all(queues.map((q) => q.resume()));
        this.log(`Resuming distributed run ${this.run} on ${this.url}`);
      } else {
        if (meta.id) this.log(`Redis held run ${meta.id} of "${pipeline.name}" (coordinator ${meta.coordinator ?? '?'}, gone); its jobs were removed`);
        this.run = previous?.run ?? newRunId();
        await Promise.all(queues.map((q) => q.obliterate({ force: true })));
        await this.client.hset(this.keys.run, { ...this.meta(), startedAt: new Date().toISOString() });
      }
      await this.client.hset(this.keys.run, { coordinator: this.machine });
      const file: RunFile = { run: this.run, redis: this.url, startedAt: previous?.startedAt ?? new Date().toISOString() };
      writeFileSync(this.runFile, `${JSON.stringify(file, null, 2)}\n`);
      await Promise.all(queues.map((q, stage) => this.scan(q, stage, store)));
    } finally {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    }
    // The claim is renewed, and the run re-announced: a Redis restarted without its data gets both back,
    // so workers find the run again (the dispatchers queue the lost jobs again, see their sweep).
    this.timers.push(setInterval(() => {
      void this.client.multi().set(this.keys.coordinator, this.machine, 'PX', leaseMs).hset(this.keys.run, this.meta()).exec().catch(() => undefined);
    }, 2_000));
    this.timers.push(setInterval(() => void this.poll(), 1_000));
    for (const t of this.timers) t.unref();
    this.heartbeat = new MachineHeartbeat(this.client, this.keys, () => this.localReport());
    this.heartbeat.start();
  }

  /** The run as workers see it (the `run` hash). */
  private meta(): Record<string, string> {
    const { pipeline } = this.opts;
    return {
      id: this.run,
      coordinator: this.machine,
      simulate: this.opts.simulate ? '1' : '0',
      stages: String(pipeline.stages.length),
      file: path.basename(pipeline.file),
      digest: this.digest,
    };
  }

  private async claim(): Promise<void> {
    const k = this.keys.coordinator;
    if ((await this.client.set(k, this.machine, 'PX', leaseMs, 'NX')) === 'OK') return;
    const holder = await this.client.get(k);
    if (holder !== null && !claimable(holder, this.machine)) throw messages.coordinatorBusy(this.opts.pipeline.name, this.url, holder, await this.client.pttl(k));
    await this.client.set(k, this.machine, 'PX', leaseMs);
  }

  /**
   * Before any event is read: where this process's events start, and the jobs already finished. Those
   * whose item the checkpoint has settled (or moved past this stage) go; the others wait for their item.
   * BullMQ-failed jobs go too: their items are dispatched again like any other pending item.
   */
  private async scan(q: Queue, stage: number, store: CheckpointStore): Promise<void> {
    const last = await this.client.xrevrange(q.keys.events!, '+', '-', 'COUNT', 1);
    this.eventIds[stage] = last[0]?.[0] ?? '0-0';
    const [completed, failed] = await Promise.all([q.getRanges(['completed'], 0, -1, true), q.getRanges(['failed'], 0, -1, true)]);
    const stale: string[] = [...failed];
    for (const id of completed) {
      const item = itemIdOf(this.run, id);
      if (item === undefined || store.done.has(item) || store.failed.has(item) || (store.stages.get(item)?.stage ?? -1) >= stage) stale.push(id);
      else this.earlySets[stage]!.add(id);
    }
    await Promise.all(stale.map((id) => q.remove(id).catch(() => 0)));
    if (completed.length + failed.length > 0) this.log(`Stage ${stage}: ${this.earlySets[stage]!.size} result(s) found in Redis from before this start, ${stale.length} stale job(s) removed`);
  }

  /** Provider limits shared by every process of every machine serving this pipeline. */
  readonly limiterFactory = (provider: string, opts: LimiterOptions): RateLimiter => new RedisRateLimiter(this.client, this.keys.limiter(provider), opts);

  /** The engine's stage pools: a BullMQ queue each, worked locally by `options.size` threads (0: none). */
  poolFactory<T>(access: ItemAccess<T>): StagePoolFactory<T> {
    return (options, source, hooks) => {
      const stage = options.stage;
      const local = options.size > 0
        ? new StageRunner({ queue: this.keys.queue(stage), connection: this.connection, file: options.file, stage, timeouts: options.timeouts, size: options.size, machine: this.machine, hooks, ...this.recovery })
        : undefined;
      this.runners[stage] = local;
      return new QueueDispatcher<T>(this, stage, this.opts.pipeline.stages[stage]!.name, source, hooks, access, local, this.keys.queue(stage));
    };
  }

  private get recovery(): RecoveryOptions {
    const { lockDurationMs, stalledIntervalMs, maxStalledCount } = this.opts;
    return { ...(lockDurationMs === undefined ? {} : { lockDurationMs }), ...(stalledIntervalMs === undefined ? {} : { stalledIntervalMs }), ...(maxStalledCount === undefined ? {} : { maxStalledCount }) };
  }

  counted(by: string, ok: boolean): void { this.machines.counted(by, ok); }
  remote(stage: number): { workers: number; busy: number; crashes: number; timeouts: number } { return this.machines.remote(stage); }

  private localReport(): MachineReport {
    const runners = this.runners;
    const sum = (f: (r: StageRunner) => number) => runners.reduce((n, r) => n + (r ? f(r) : 0), 0);
    return {
      id: this.machine, host: hostname(), pid: process.pid, role: 'coordinator', run: this.run,
      workers: sum((r) => r.size), busy: sum((r) => r.busy), done: sum((r) => r.done), failed: sum((r) => r.failed),
      crashes: sum((r) => r.crashes), timeouts: sum((r) => r.timeouts),
      stages: this.opts.pipeline.stages.map((s) => ({ workers: runners[s.index]?.size ?? 0, busy: runners[s.index]?.busy ?? 0 })),
      startedAt: this.startedAt,
    };
  }

  /** Once a second: who serves the run, per-machine rates, and the connection's status (logged when it changes). */
  private async poll(): Promise<void> {
    const status = statusOf(this.client);
    if (status !== this.lastStatus) {
      this.log(status === 'connected' ? `Redis: connected again (${this.url})` : `Redis: ${status} (${this.url}); jobs and results wait in Redis`);
      this.lastStatus = status;
    }
    this.machines.sample(Date.now());
    if (this.polling || status !== 'connected') return;
    this.polling = true;
    try {
      const reports = (await readMachines(this.client, this.keys)).filter((r) => r.run === this.run);
      this.machines.announced(reports);
      // With --workers 0 and no worker attached nothing moves: say what to start, every 30 s while so.
      const serving = reports.some((r) => r.workers > 0) || this.localReport().workers > 0;
      if (serving) this.idleSince = 0;
      else if (this.idleSince === 0) this.idleSince = Date.now();
      else if (Date.now() - this.idleSince > 5_000 && Date.now() - this.toldIdle > 30_000) {
        this.toldIdle = Date.now();
        this.log(`No machine is serving run ${this.run} yet: start \`pipeline-tui worker ${this.opts.pipeline.name} --redis ${this.url}\` on any machine`);
      }
    } catch {
      // the status says why; the next poll tries again
    } finally {
      this.polling = false;
    }
  }

  /** What engine.stats() adds for a distributed run. */
  stats(): { redis: { url: string; status: RedisStatus }; machines: MachineStats[] } {
    return { redis: { url: this.url, status: statusOf(this.client) }, machines: this.machines.stats(this.localReport()) };
  }

  /**
   * `completed`: the queues are emptied, the run is over for every machine (they go back to waiting) and
   * its file goes. Otherwise the run stays for a resume: jobs, results and the paused queues stay in Redis.
   */
  async close(outcome: 'completed' | 'stopped' | 'failed'): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.heartbeat?.stop();
    try {
      if (outcome === 'completed' && this.run) {
        const queues = this.opts.pipeline.stages.map((s) => new Queue(this.keys.queue(s.index), { connection: this.connection, prefix: keyPrefix }));
        for (const q of queues) q.on('error', () => undefined);
        await Promise.all(queues.map((q) => q.obliterate({ force: true }).catch((e: Error) => this.log(`Could not empty queue ${q.name}: ${e.message}`))));
        await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
        await this.client.del(this.keys.run);
        rmSync(this.runFile, { force: true });
      }
      if ((await this.client.get(this.keys.coordinator)) === this.machine) await this.client.del(this.keys.coordinator);
    } finally {
      await this.closeClient();
    }
  }
}

export function fileDigest(file: string): string {
  try { return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16); } catch { return ''; }
}
