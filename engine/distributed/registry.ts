import type { RedisClient } from 'bullmq';
import type { RunKeys } from './keys.js';

/** What each machine serving a pipeline announces about itself, about once a second. */
export interface MachineReport {
  id: string;
  host: string;
  pid: number;
  role: 'coordinator' | 'worker';
  /** The run it serves, null while it waits for one. */
  run: string | null;
  workers: number;
  busy: number;
  /** Items it finished (done or failed attempts) since it started serving the run. */
  done: number;
  failed: number;
  crashes: number;
  timeouts: number;
  /** Per stage of the pipeline: threads and how many are busy. */
  stages: { workers: number; busy: number }[];
  startedAt: number;
}

/** A report expires this long after the last heartbeat: then the machine shows as gone. */
export const reportTtlMs = 5_000;

/** Announces this machine until stopped. Heartbeats that fail (Redis away) are simply tried again. */
export class MachineHeartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly client: RedisClient, private readonly keys: RunKeys, private readonly report: () => MachineReport, private readonly everyMs = 1_000) {}

  start(): void {
    if (this.timer) return;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.everyMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const r = this.report();
    await this.client.multi()
      .set(this.keys.machine(r.id), JSON.stringify(r), 'PX', reportTtlMs)
      .sadd(this.keys.machines, r.id)
      .exec()
      .catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const id = this.report().id;
    await this.client.multi().del(this.keys.machine(id)).srem(this.keys.machines, id).exec().catch(() => undefined);
  }
}

/** Every machine that announced itself recently; ids whose report expired are dropped from the set. */
export async function readMachines(client: RedisClient, keys: RunKeys): Promise<MachineReport[]> {
  const ids = await client.smembers(keys.machines);
  if (ids.length === 0) return [];
  const values = await client.mget(ids.map((id) => keys.machine(id)));
  const out: MachineReport[] = [];
  const gone: string[] = [];
  values.forEach((v, i) => {
    if (v === null) { gone.push(ids[i]!); return; }
    try { out.push(JSON.parse(v) as MachineReport); } catch { gone.push(ids[i]!); }
  });
  if (gone.length > 0) await client.srem(keys.machines, ...gone).catch(() => undefined);
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
