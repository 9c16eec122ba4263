// Redis connections for distributed runs: URL parsing, the start-up check, and the connection status the
// dashboard shows. ioredis comes through BullMQ (its dependency), so we use BullMQ's RedisConnection to
// make our own clients rather than importing ioredis directly.
import { RedisConnection, type RedisClient, type RedisOptions } from 'bullmq';
import { messages } from '../errors.js';

/** What the dashboard shows as "Redis: …". */
export type RedisStatus = 'connected' | 'connecting' | 'reconnecting' | 'closed';

/** Reconnect forever, quickly at first, then every 2 s: a run outlives a Redis restart or a network blip. */
const retryStrategy = (times: number): number => Math.min(100 * times, 2_000);

/** ioredis options for `url`; `maxRetriesPerRequest: null` makes commands wait for a reconnect instead of failing. */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw messages.usage(`Expected --redis to be a URL like redis://host:6379, got "${url}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw messages.usage(`Expected --redis to be a redis:// or rediss:// URL, got "${redactUrl(url)}"`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw messages.usage(`Expected the database in --redis to be a number (redis://host:6379/0), got "${u.pathname.slice(1)}"`);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    retryStrategy,
    connectTimeout: 5_000,
    // Lets the OS notice a dead peer on an idle connection (a worker waiting for jobs).
    keepAlive: 10_000,
    skipVersionCheck: true,
  };
}

/** The URL without its password, for messages, stats and state files. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** A client of our own (limiter scripts, run registration, heartbeats). Closing it is the caller's job. */
export async function openClient(options: RedisOptions): Promise<{ client: RedisClient; close(force?: boolean): Promise<void> }> {
  const conn = new RedisConnection(options, { shared: false, blocking: false, skipVersionCheck: true });
  conn.on('error', () => undefined); // reconnects are ioredis's job; the status shows them
  const client = await conn.client;
  // `force` disconnects at once: QUIT would wait behind a blocking read.
  return { client, close: (force = false) => conn.close(force).catch(() => undefined) };
}

/**
 * Connects once, without retrying, and checks the server: an unreachable URL or an evicting Redis must
 * stop the command at once (exit 2) rather than retry forever or lose jobs later.
 */
export async function checkRedis(url: string, options: RedisOptions, inspect?: (client: RedisClient) => Promise<void>): Promise<void> {
  const shown = redactUrl(url);
  const conn = new RedisConnection({ ...options, retryStrategy: () => null, connectTimeout: 3_000, maxRetriesPerRequest: 1, enableOfflineQueue: true }, { shared: false, blocking: false, skipVersionCheck: true });
  let lastError: Error | undefined;
  conn.on('error', (e: Error) => { lastError ??= e; });
  try {
    let client: RedisClient;
    try {
      client = await conn.client;
    } catch (e) {
      throw messages.redisUnavailable(shown, describe(lastError ?? (e as Error)));
    }
    let info: string;
    try {
      info = await client.info('memory');
    } catch (e) {
      throw messages.redisUnavailable(shown, describe(e as Error));
    }
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (policy !== undefined && policy !== 'noeviction') {
      throw messages.redisConfig(shown, `evicts keys under memory pressure (maxmemory-policy ${policy}); a queue must never lose jobs, so pipeline-tui needs "noeviction"`,
        `Set it with: redis-cli -u ${shown} CONFIG SET maxmemory-policy noeviction (and in redis.conf to keep it), or use another Redis.`);
    }
    await inspect?.(client);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

function describe(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  const msg = e.message.replace(/^connect /, '');
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

/** The status of one client, in the dashboard's words. */
export function statusOf(client: RedisClient | undefined): RedisStatus {
  switch (client?.status) {
    case 'ready': return 'connected';
    case 'connecting': case 'connect': case 'wait': return 'connecting';
    case 'reconnecting': case 'close': return 'reconnecting';
    default: return 'closed';
  }
}
