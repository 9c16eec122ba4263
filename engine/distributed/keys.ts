// Every Redis name a distributed run uses is made here; BullMQ makes the keys inside its queues itself.
import { randomBytes } from 'node:crypto';

/** Prefix of BullMQ's keys and ours: `pipeline-tui:<queue>:…` and `pipeline-tui:<pipeline>:…`. */
export const keyPrefix = 'pipeline-tui';

/** The keys of one provider's global limiter (see limiter.ts). */
export interface LimiterKeys {
  /** Sorted set of starts in the last minute: member = permit id, score = start time (Redis clock, ms). */
  starts: string;
  /** Sorted set of token spends in the last minute: member = `<permit id>|<tokens>`, score = start time. */
  spends: string;
  /** Hash: `slot` (the pacing grid's next slot), `pause` (Retry-After until), `used` tokens in the window, `refused`/`refusedAt` (the cushion a 429 widened, and when). */
  state: string;
}

/**
 * Names for pipeline P. Queues are per pipeline and stage (a '.' never occurs in a pipeline name, so two
 * pipelines never share one); jobs are per run (`jobId`), so a resumed run finds its own jobs again.
 */
export class RunKeys {
  constructor(readonly pipeline: string, readonly prefix: string = keyPrefix) {}

  private key(...parts: string[]): string { return [this.prefix, this.pipeline, ...parts].join(':'); }

  /** BullMQ queue of stage `stage`. */
  queue(stage: number): string { return `${this.pipeline}.stage${stage}`; }
  /** Hash describing the active run (id, coordinator, settings); workers wait for it to appear. */
  get run(): string { return this.key('run'); }
  /** The live coordinator's machine id; expires unless refreshed, so a dead coordinator lets another take over. */
  get coordinator(): string { return this.key('coordinator'); }
  /** Set of machine ids that announced themselves; each has its own expiring key (`machine`). */
  get machines(): string { return this.key('machines'); }
  machine(id: string): string { return this.key('machine', id); }
  limiter(provider: string): LimiterKeys {
    return { starts: this.key('limit', provider, 'starts'), spends: this.key('limit', provider, 'spends'), state: this.key('limit', provider, 'state') };
  }
}

export function newRunId(): string {
  return `r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/**
 * `<run>/<item id>`: deterministic, so adding an item's job again is a no-op while it exists. BullMQ
 * reserves ':' in custom job ids (its repeatable jobs) and rejects ids that parse as integers, so the
 * separator is '/' and a ':' (and '%', to stay reversible) in an item id is percent-escaped.
 */
export function jobId(run: string, itemId: string): string {
  return `${run}/${itemId.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
}

/** The item id of one of `run`'s job ids; undefined for another run's job. */
export function itemIdOf(run: string, id: string): string | undefined {
  if (!id.startsWith(`${run}/`)) return undefined;
  return id.slice(run.length + 1).replace(/%3A/g, ':').replace(/%25/g, '%');
}

/** Our priorities run -10..10, higher first; BullMQ's 1..2^21, lower first (0 would mean "none", ahead of all). */
export function bullPriority(priority: number): number {
  return 11 - Math.max(-10, Math.min(10, Math.trunc(priority)));
}

/** Machine ids: `<host>:<pid>`, what the dashboard and `status` show. */
export function machineId(host: string, pid: number): string { return `${host}:${pid}`; }
