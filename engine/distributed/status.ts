import path from 'node:path';
import { redactUrl, openClient, redisOptions } from './connection.js';
import { readRunFile, runFileName } from './coordinator.js';
import { RunKeys } from './keys.js';
import { readMachines, type MachineReport } from './registry.js';

/** What `status` shows of a distributed run: the machines serving it right now. */
export interface DistributedStatus {
  run: string | null;
  redis: string;
  machines: Pick<MachineReport, 'id' | 'host' | 'pid' | 'role' | 'workers' | 'busy' | 'done' | 'failed'>[];
  /** Why the machines could not be listed (Redis unreachable, a password needed). */
  error?: string;
}

/**
 * The distributed side of `status P`: Redis is `--redis`, or the URL the coordinator recorded in the state
 * (when it holds no password). Undefined when the pipeline never ran distributed and no URL was given.
 */
export async function distributedStatus(stateDir: string, pipeline: string, redisUrl?: string): Promise<DistributedStatus | undefined> {
  const file = readRunFile(path.join(stateDir, runFileName));
  const url = redisUrl ?? file?.redis;
  if (url === undefined) return undefined;
  const shown = redactUrl(url);
  if (redisUrl === undefined && shown.includes('***')) return { run: file?.run ?? null, redis: shown, machines: [], error: 'pass --redis URL (the recorded URL has no password)' };
  let conn: Awaited<ReturnType<typeof openClient>> | undefined;
  try {
    conn = await withTimeout(openClient({ ...redisOptions(url), retryStrategy: () => null, maxRetriesPerRequest: 1, connectTimeout: 2_000 }), 3_000);
    const keys = new RunKeys(pipeline);
    const run = file?.run ?? ((await conn.client.hget(keys.run, 'id')) || null);
    const machines = (await readMachines(conn.client, keys)).filter((m) => run !== null && m.run === run);
    return { run, redis: shown, machines: machines.map(({ id, host, pid, role, workers, busy, done, failed }) => ({ id, host, pid, role, workers, busy, done, failed })) };
  } catch (e) {
    return { run: file?.run ?? null, redis: shown, machines: [], error: `Redis unreachable: ${(e as Error).message}` };
  } finally {
    await conn?.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}
