import type { RedisClient, RedisOptions } from 'bullmq';
import { openClient } from './connection.js';
import type { JobResult } from './job.js';

/** What the event stream tells a dispatcher about its jobs. */
export interface ResultHandlers {
  completed(jobId: string, value: JobResult): void;
  /** BullMQ failed the job itself (it stalled too often); our items' own failures are completed jobs. */
  failed(jobId: string, reason: string): void;
  active(jobId: string): void;
  /** Moved back to the queue by the stalled-job check. */
  requeued(jobId: string): void;
  error(message: string): void;
}

/** A read, then this long for more to accumulate: a read per event would cost more than the events. */
const batchMs = 100;

/**
 * Reads a queue's event stream, where BullMQ writes each completion with its return value in the same
 * script that completes the job, from a given entry on (so a restarted coordinator misses nothing that is
 * still in the stream). Not BullMQ's QueueEvents: that reads again after every event, a round trip per
 * event and about five events per job; this takes what accumulated over `batchMs` in one read.
 */
export class ResultReader {
  private stopped = false;
  private readonly loop: Promise<void>;

  private constructor(private readonly conn: { client: RedisClient; close(force?: boolean): Promise<void> }, private readonly key: string, from: string, private readonly on: ResultHandlers) {
    this.loop = this.run(from);
  }

  /** On a connection of its own: the reads block. */
  static async open(connection: RedisOptions, key: string, from: string, on: ResultHandlers): Promise<ResultReader> {
    return new ResultReader(await openClient(connection), key, from, on);
  }

  private async run(from: string): Promise<void> {
    let last = from;
    while (!this.stopped) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await this.conn.client.xread('COUNT', 10_000, 'BLOCK', 2_000, 'STREAMS', this.key, last)) as typeof reply;
      } catch (e) {
        if (this.stopped) return;
        this.on.error((e as Error).message);
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          last = id;
          this.dispatch(fields);
        }
      }
      if (reply && !this.stopped) await new Promise((r) => setTimeout(r, batchMs));
    }
  }

  private dispatch(fields: string[]): void {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    const id = f.jobId;
    if (id === undefined) return;
    switch (f.event) {
      case 'completed': {
        let value: JobResult;
        try { value = JSON.parse(f.returnvalue ?? 'null') as JobResult; } catch { value = null as unknown as JobResult; }
        this.on.completed(id, value);
        break;
      }
      case 'failed': this.on.failed(id, f.failedReason ?? 'failed'); break;
      case 'active': this.on.active(id); break;
      case 'waiting': if (f.prev === 'active') this.on.requeued(id); break;
      default: break;
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.conn.close(true);
    await this.loop;
  }
}
