// The Redis limiter's pacing against a real redis-server: starts on an even grid of slots, the hard rule
// on the granted times, and a 429 (pauseUntil) widening the spacing for every process. Times are the
// starts' records in Redis (server clock, at the grant: these tests never call sent()).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from 'bullmq';
import { openClient, redisOptions } from '../../dist/engine/distributed/connection.js';
import { RedisRateLimiter } from '../../dist/engine/distributed/limiter.js';
import type { LimiterKeys } from '../../dist/engine/distributed/keys.js';
import { startRedis, type TestRedis } from '../redis-server.js';
import { maxInWindow } from './limits-measure.js';

let redis: TestRedis;
const clients: { client: RedisClient; close(force?: boolean): Promise<void> }[] = [];
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => {
  for (const c of clients) await c.close(true);
  await redis?.stop();
});

async function client(): Promise<RedisClient> {
  const c = await openClient(redisOptions(redis.url));
  clients.push(c);
  return c.client;
}

let unique = 0;
function limiterKeys(): LimiterKeys {
  const base = `grid-test:${process.pid}:${unique++}`;
  return { starts: `${base}:starts`, spends: `${base}:spends`, state: `${base}:state` };
}

/** Granted start times (Redis clock), oldest first. */
async function starts(c: RedisClient, keys: LimiterKeys): Promise<number[]> {
  const reply = await c.zrange(keys.starts, 0, -1, 'WITHSCORES');
  return reply.filter((_, i) => i % 2 === 1).map(Number).sort((a, b) => a - b);
}

/** The most starts in any window of 1000 ms. */
const maxPerSecond = (t: number[]) => maxInWindow(t, 1000);

const gaps = (t: number[]) => t.slice(1).map((x, i) => x - t[i]!);

/**
 * How far starts drifted off a grid of `step` between the first and the last few: the least-late of the
 * last starts against the least-late of the first. One late start cancels out (the grid keeps its slots);
 * lateness carried from slot to slot adds up, and so does a step other than `step`.
 */
function drift(t: number[], step: number, k = 4): number {
  const off = t.map((x, i) => x - i * step);
  return Math.min(...off.slice(-k)) - Math.min(...off.slice(0, k));
}

// rpm 600: 10 a second; the default 20 ms margin plus the 2 ms pacing slack make the grid's step 102.2 ms.
const rpm = 600;
const spacing = (1000 + 20 + 2) / 10;

/** `n` concurrent acquires on a fresh limiter (`onGrant` runs as each is granted); the granted times, checked for the hard rule. */
async function grantAll(n: number, onGrant: (granted: number) => void = () => undefined): Promise<number[]> {
  const c = await client();
  const keys = limiterKeys();
  const limiter = new RedisRateLimiter(c, keys, { rpm });
  let granted = 0;
  await Promise.all(Array.from({ length: n }, () => limiter.acquire(1).then(() => onGrant(++granted))));
  await limiter.stop();
  const t = await starts(c, keys);
  expect(t).toHaveLength(n);
  expect(maxPerSecond(t)).toBeLessThanOrEqual(rpm / 60);
  return t;
}

describe('RedisRateLimiter pacing', () => {
  it('grants concurrent acquires on an even grid: no lateness carried from slot to slot, never over rpm/60 a second', async () => {
    const n = 40;
    const t = await grantAll(n);
    // Lateness (timer, round trip) of each start is not passed on. Spacing measured from each late start
    // (the old rule) loses a few ms at every slot: 100 ms and more over 39 slots.
    expect(drift(t, spacing)).toBeGreaterThan(-3);
    expect(drift(t, spacing)).toBeLessThan(10);
    // Evenly spaced. A start late by less than half a slot keeps the grid, so the next may come that much
    // sooner, never more (a host stall can make one that late); most starts are within a few ms of their slot.
    expect(Math.min(...gaps(t))).toBeGreaterThanOrEqual(spacing / 2 - 0.01);
    const offGrid = t.map((x, i) => x - t[0]! - i * spacing);
    expect(offGrid.filter((d) => d > -3 && d < 6).length).toBeGreaterThanOrEqual(0.75 * n);
  });

  it('below 60 RPM, starts are 60000/rpm ms apart (one a second would be 60 a minute)', async () => {
    const c = await client();
    const keys = limiterKeys();
    const limiter = new RedisRateLimiter(c, keys, { rpm: 40 }); // one per 1.5 s, widened by the 22 ms cushion
    await Promise.all(Array.from({ length: 3 }, () => limiter.acquire(1)));
    await limiter.stop();
    const t = await starts(c, keys);
    expect(t).toHaveLength(3);
    for (const gap of gaps(t)) expect(gap).toBeGreaterThanOrEqual(1500 + 20);
  });

  it('a stalled host makes single starts late, not the grid: the lateness is not carried on', async () => {
    // Right after these grants the loop is blocked for 130 ms: the next start's reply is read 130 ms late,
    // its slot 102 ms after the grant already passed. A late start also holds back (by the hard rule) the
    // starts rpm/60, 2 * rpm/60... places after it, each 2.2 ms less late: no stall comes right after one
    // of those, which would make a start later than half a slot and move the grid, as it should.
    const stallAfter = new Set([3, 16, 29]);
    const t = await grantAll(40, (granted) => {
      if (stallAfter.has(granted)) for (const end = performance.now() + 130; performance.now() < end;);
    });
    // Each stall makes one start about 28 ms late, less than half a slot: the grid keeps its slots. Waiting
    // from when the reply was read (130 ms late) would move the grid by 80 ms a stall; pacing from each
    // start, by 130 ms.
    expect(drift(t, spacing)).toBeGreaterThan(-3);
    expect(drift(t, spacing)).toBeLessThan(10);
  });

  it('after a 429 (pauseUntil) from one process, every process starts further apart, from the end of the pause', async () => {
    const [a, b] = [await client(), await client()];
    const keys = limiterKeys();
    const refused = new RedisRateLimiter(a, keys, { rpm });
    const other = new RedisRateLimiter(b, keys, { rpm });
    const n = 21;
    await Promise.all(Array.from({ length: n }, () => other.acquire(1)));
    const before = await starts(b, keys);
    const pauseEnd = performance.timeOrigin + performance.now() + 300;
    refused.pauseUntil(pauseEnd);
    await new Promise((r) => setTimeout(r, 20)); // the pause reaches Redis before the next acquire
    await Promise.all(Array.from({ length: n }, () => other.acquire(1)));
    await Promise.all([refused.stop(), other.stop()]);
    const after = (await starts(b, keys)).slice(n);
    expect(after).toHaveLength(n);
    expect(after[0]!).toBeGreaterThanOrEqual(pauseEnd - 5);
    // One refusal doubles the 22 ms cushion: 10 starts take 1044 ms, a step of 104.4 ms instead of 102.2
    // (44 ms over 20 steps).
    expect(drift(before, spacing)).toBeGreaterThan(-3);
    expect(drift(before, spacing)).toBeLessThan(10);
    expect(drift(after, (1000 + 44) / 10)).toBeGreaterThan(-3);
    expect(drift(after, (1000 + 44) / 10)).toBeLessThan(10);
    expect(maxPerSecond([...before, ...after])).toBeLessThanOrEqual(rpm / 60);
  });

  it('a burst of refusals is one doubling, and the widening decays with a minute\'s half-life', async () => {
    const c = await client();
    const keys = limiterKeys();
    const limiters = [new RedisRateLimiter(c, keys, { rpm }), new RedisRateLimiter(c, keys, { rpm })];
    for (const l of limiters) l.pauseUntil(0); // two processes see the same burst of 429s
    await c.ping();
    expect(Number(await c.hget(keys.state, 'refused'))).toBeCloseTo(44, 6);
    // Two minutes later the widening (44 ms, halved twice) is under the base again: back to 102.2 ms steps.
    const at = Number(await c.hget(keys.state, 'refusedAt'));
    await c.hset(keys.state, 'refusedAt', String(at - 120_000));
    const n = 16;
    await Promise.all(Array.from({ length: n }, () => limiters[0]!.acquire(1)));
    for (const l of limiters) await l.stop();
    const t = await starts(c, keys);
    expect(drift(t, spacing)).toBeGreaterThan(-3);
    expect(drift(t, spacing)).toBeLessThan(10);
  });

  it('a pause set by another process rejects the callers it outlasts (LimitWaitError), not the rest', async () => {
    const [a, b] = [await client(), await client()];
    const keys = limiterKeys();
    const pausing = new RedisRateLimiter(a, keys, { rpm });
    const here = new RedisRateLimiter(b, keys, { rpm });
    const now = () => performance.timeOrigin + performance.now();
    await here.acquire(1);
    pausing.pauseUntil(now() + 30_000);
    await new Promise((r) => setTimeout(r, 20)); // the pause reaches Redis
    const t0 = now();
    const patient = here.acquire(1, undefined, t0 + 60_000);
    const noDeadline = here.acquire(1);
    const outlasted = [here.acquire(1, undefined, t0 + 3_000), here.acquire(1, undefined, t0 + 5_000)];
    for (const p of outlasted) await expect(p).rejects.toMatchObject({ name: 'LimitWaitError', paused: true });
    // Known from the first answer of Redis, not at the deadline: this process never saw the 429.
    expect(now() - t0).toBeLessThan(1_500);
    let waiting = true;
    void Promise.allSettled([patient, noDeadline]).then(() => { waiting = false; });
    await new Promise((r) => setTimeout(r, 200));
    expect(waiting).toBe(true);
    await Promise.all([pausing.stop(), here.stop()]);
    for (const p of [patient, noDeadline]) await expect(p).rejects.toThrow('The rate limiter was stopped');
  });
});
