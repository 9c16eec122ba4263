import { describe, expect, it } from 'vitest';
import { LocalRateLimiter, SlidingWindowGate, type Clock } from '../dist/engine/providers/limiter.js';
import { parseRetryAfter, retryAfterFromHeaders, retryDelayFromBody } from '../dist/engine/providers/adapters.js';
import { maxInWindow } from './timing/limits-measure.js';

/** Deterministic PRNG so a failing case replays. */
function rng(seed: number): () => number {
  return () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
}

/**
 * A clock that only moves when someone sleeps: many "seconds" of scheduling run in milliseconds.
 * `jitter` makes it fire like Node's timers do: a sleep of 1 ms or more wakes anywhere from 1 ms early
 * (the loop's cached millisecond clock) to 2 ms late; a shorter one (realClock's setImmediate) wakes on time.
 */
class FakeClock implements Clock {
  t = 1_000_000;
  private sleepers: { at: number; resolve: () => void }[] = [];
  constructor(private readonly jitter?: () => number) {}
  now(): number { return this.t; }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) { resolve(); return; }
      const off = this.jitter && ms >= 1 ? -1 + 3 * this.jitter() : 0;
      const sleeper = { at: this.t + Math.max(0, ms + off), resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener('abort', () => { this.sleepers = this.sleepers.filter((s) => s !== sleeper); resolve(); }, { once: true });
    });
  }
  /** Advances to the earliest sleeper and wakes it; false when nobody sleeps. */
  async step(): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    if (this.sleepers.length === 0) return false;
    this.sleepers.sort((a, b) => a.at - b.at);
    const next = this.sleepers.shift()!;
    this.t = Math.max(this.t, next.at);
    next.resolve();
    return true;
  }
  /** Runs the clock until `done` settles. */
  async runUntil(done: Promise<unknown>): Promise<void> {
    let settled = false;
    void done.finally(() => { settled = true; }).catch(() => undefined);
    while (!settled) if (!(await this.step())) await new Promise((r) => setImmediate(r));
  }
}

/**
 * Callers arrive at their times and queue on the gate; each start is recorded when it is granted, or
 * `sendDelay()` later when given (the request leaving after the grant, stamped with markSent).
 */
async function drive(clock: FakeClock, gate: SlidingWindowGate, arrivals: { at: number; tokens: number }[], sendDelay?: () => number): Promise<number[]> {
  const starts: number[] = [];
  const taken: Promise<void>[] = [];
  const all = (async () => {
    for (const a of arrivals) {
      while (clock.t < a.at) {
        // Let the gate's own sleepers run first; jump to the arrival when none is due before it.
        await new Promise((r) => setImmediate(r));
        if (clock.t < a.at) clock.t = a.at;
      }
      taken.push(gate.take(a.tokens).then(async (spend) => {
        if (sendDelay) await clock.sleep(sendDelay());
        gate.markSent(spend.start);
        starts.push(spend.start.at);
      }));
    }
    await Promise.all(taken);
  })();
  await clock.runUntil(all);
  return starts;
}

const saturated = (clock: FakeClock, n: number) => Array.from({ length: n }, () => ({ at: clock.t, tokens: 1 }));
const ratePerSecond = (starts: number[]) => (starts.length - 1) / ((starts.at(-1)! - starts[0]!) / 1000);

describe('SlidingWindowGate (fake clock)', () => {
  it('never starts more than floor(rpm/60) in any sliding second, for random workloads and late timers', async () => {
    const random = rng(7);
    for (let round = 0; round < 25; round++) {
      const rpm = 60 * (1 + Math.floor(random() * 40)) + Math.floor(random() * 59);
      const clock = new FakeClock(round % 2 === 0 ? random : undefined);
      const gate = new SlidingWindowGate({ rpm, marginMs: 0 }, clock);
      const arrivals: { at: number; tokens: number }[] = [];
      let t = clock.t;
      for (let i = 0; i < 300; i++) {
        t += random() < 0.3 ? 0 : random() * 80; // bursts and gaps
        arrivals.push({ at: t, tokens: 1 });
      }
      const starts = await drive(clock, gate, arrivals);
      expect(starts).toHaveLength(300);
      expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(Math.floor(rpm / 60));
    }
  });

  it('keeps every sliding minute to rpm below 60 RPM (a second would allow 60 a minute), and uses 99% of it', async () => {
    for (const rpm of [2, 15, 59]) {
      const clock = new FakeClock(rng(rpm));
      const gate = new SlidingWindowGate({ rpm }, clock);
      const starts = await drive(clock, gate, saturated(clock, 3 * rpm));
      expect(maxInWindow(starts, 60_000)).toBeLessThanOrEqual(rpm);
      expect(ratePerSecond(starts) * 60 / rpm).toBeGreaterThanOrEqual(0.99);
    }
  });

  it('holds the limit on send times when requests leave later than their grant', async () => {
    const random = rng(11);
    const clock = new FakeClock(random);
    const gate = new SlidingWindowGate({ rpm: 1200, marginMs: 0 }, clock);
    // Sends lag their grants by 0-30 ms, unevenly: the order of send times differs from the grants'.
    const starts = await drive(clock, gate, saturated(clock, 300), () => random() * 30);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(20);
  });

  it('uses at least 99.5% of the limit when saturated, with default settings and timers that fire late', async () => {
    for (const rpm of [1200, 3500, 6000]) {
      const clock = new FakeClock(rng(rpm));
      const gate = new SlidingWindowGate({ rpm }, clock);
      const starts = await drive(clock, gate, saturated(clock, 600));
      const perSecond = Math.floor(rpm / 60);
      expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(perSecond);
      // A gate that spaced each start from the previous (late) one lost the lateness at every slot: ~97%.
      expect(ratePerSecond(starts) / perSecond).toBeGreaterThanOrEqual(0.995);
    }
  });

  it('leaves no idle gap while work is waiting: starts follow the pacing grid', async () => {
    const clock = new FakeClock(rng(3));
    const gate = new SlidingWindowGate({ rpm: 1200 }, clock);
    const starts = await drive(clock, gate, saturated(clock, 400));
    const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
    // Each gap is the spacing, give or take one timer's lateness (up to 2 ms here, plus a sub-ms re-check).
    expect(Math.max(...gaps)).toBeLessThanOrEqual(gate.spacingMs + 3);
    // And a late start does not push the ones after it: start k stays within a few ms of its slot.
    const drift = starts.map((s, k) => s - (starts[1]! + (k - 1) * gate.spacingMs));
    expect(Math.max(...drift.slice(1))).toBeLessThan(5);
  });

  it('spaces starts evenly after a Retry-After pause instead of releasing every waiter at once', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 1200 }, clock);
    const pauseEnd = clock.t + 1500;
    gate.pauseUntil(pauseEnd);
    const starts = await drive(clock, gate, saturated(clock, 10));
    expect(starts[0]).toBeGreaterThanOrEqual(pauseEnd);
    const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
    for (const gap of gaps) expect(gap).toBeCloseTo(gate.spacingMs, 6);
  });

  it('grants in arrival order', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 600 }, clock);
    const order: number[] = [];
    const all = Promise.all(Array.from({ length: 12 }, (_, i) => gate.take(1).then(() => { order.push(i); })));
    await clock.runUntil(all);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('drops an aborted waiter with its abort reason, and the ones behind it still go', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 60 }, clock);
    await gate.take(1);
    const ac = new AbortController();
    const aborted = gate.take(1, ac.signal);
    const behind = gate.take(1);
    ac.abort(new Error('item timed out'));
    await expect(aborted).rejects.toThrow('item timed out');
    await clock.runUntil(behind);
    expect(gate.recentStarts()).toBe(2);
  });

  it('gives up on a waiter as soon as its start cannot come before its deadline; the others keep their turn', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 2 }, clock); // one start per 30 s
    const t0 = clock.t;
    await gate.take(1);
    const late = gate.take(1, undefined, t0 + 40_000); // its start at ~30 s comes before its deadline
    const hopeless = gate.take(1, undefined, t0 + 10_000); // queued behind it: not before ~60 s
    const settled = { hopeless: false };
    hopeless.catch(() => undefined).finally(() => { settled.hopeless = true; });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // Known at once, without the clock moving: not at its deadline.
    expect(settled.hopeless).toBe(true);
    expect(clock.t).toBe(t0);
    await expect(hopeless).rejects.toMatchObject({ name: 'LimitWaitError', paused: false });
    await clock.runUntil(late);
    expect(clock.t - t0).toBeGreaterThanOrEqual(30_000);
    expect(clock.t - t0).toBeLessThan(31_000);
  });

  it('a Retry-After pause rejects the waiters it outlasts at once (queued or new), and only those', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 600 }, clock);
    const t0 = clock.t;
    const short = gate.take(1, undefined, t0 + 5_000);
    const patient = gate.take(1, undefined, t0 + 60_000);
    const noDeadline = gate.take(1);
    await short; // the first start goes at once
    const queued = gate.take(1, undefined, t0 + 5_000);
    gate.pauseUntil(t0 + 30_000);
    await expect(queued).rejects.toMatchObject({ name: 'LimitWaitError', paused: true, earliest: t0 + 30_000 });
    await expect(gate.take(1, undefined, t0 + 29_000)).rejects.toMatchObject({ name: 'LimitWaitError', paused: true });
    expect(clock.t).toBe(t0);
    await clock.runUntil(Promise.all([patient, noDeadline]));
    expect(clock.t).toBeGreaterThanOrEqual(t0 + 30_000);
  });

  it('limits tokens over a sliding minute and counts corrected usage, not the estimate', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ tpm: 1000 }, clock);
    const t0 = clock.t;
    const a = await gate.take(600);
    // The real usage was much smaller than estimated: the room comes back at once.
    gate.settle(a, 100);
    expect(gate.delayFor(600)).toBe(0);
    await gate.take(600);
    // Now 700 are spent in this minute: a third 600 must wait for the first spend to leave the window.
    expect(gate.delayFor(600)).toBe(t0 + 60_000 - clock.now());
  });

  it('lets a waiting head go as soon as a correction frees enough tokens', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ tpm: 1000 }, clock);
    const a = await gate.take(900);
    let granted = false;
    const waiting = gate.take(500).then(() => { granted = true; });
    await new Promise((r) => setImmediate(r));
    expect(granted).toBe(false);
    gate.settle(a, 200);
    await clock.runUntil(waiting);
    // Granted on the correction, not a minute later when the first spend left the window.
    expect(clock.now() - a.start.at).toBeLessThan(1000);
  });

  it('rejects a request larger than the whole tpm budget instead of waiting forever', async () => {
    const gate = new SlidingWindowGate({ tpm: 500 }, new FakeClock());
    await expect(gate.take(501)).rejects.toMatchObject({ name: 'PermanentError' });
  });

  it('rejects waiters when its limiter stops', async () => {
    const limiter = new LocalRateLimiter({ rpm: 60 }, new FakeClock());
    await limiter.acquire(1);
    const waiting = limiter.acquire(1);
    await limiter.stop();
    await expect(waiting).rejects.toThrow('The rate limiter was stopped');
    await expect(limiter.acquire(1)).rejects.toThrow('The rate limiter was stopped');
  });

  it('validates its settings', () => {
    expect(() => new SlidingWindowGate({ rpm: 0 })).toThrow(/Expected rpm to be a number >= 1, got 0/);
    expect(() => new SlidingWindowGate({ rpm: 0.5 })).toThrow(/Expected rpm to be a number >= 1, got 0.5/);
    expect(() => new SlidingWindowGate({ tpm: -1 })).toThrow(/Expected tpm to be a positive number, got -1/);
    expect(() => new SlidingWindowGate({ rpm: 60, marginMs: -5 })).toThrow(/Expected marginMs to be a number >= 0, got -5/);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('prefers retry-after-ms (Azure OpenAI sends both) and matches header names in any case', () => {
    expect(retryAfterFromHeaders({ 'retry-after': '1', 'retry-after-ms': '17' })).toBe(17);
    expect(retryAfterFromHeaders({ 'Retry-After-Ms': '0', 'Retry-After': '3' })).toBe(0);
    expect(retryAfterFromHeaders({ 'retry-after': '2', 'retry-after-ms': 'soon' })).toBe(2000);
    expect(retryAfterFromHeaders({ 'Retry-After': '2' })).toBe(2000);
    expect(retryAfterFromHeaders({ 'retry-after-ms': '' })).toBeUndefined();
    expect(retryAfterFromHeaders({})).toBeUndefined();
  });

  it("reads Gemini's RetryInfo from a 429's body (it sends no Retry-After)", () => {
    const body = (delay: unknown) => JSON.stringify({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay }] } });
    expect(retryDelayFromBody(body('37s'))).toBe(37_000);
    expect(retryDelayFromBody(body('1.5s'))).toBe(1_500);
    expect(retryDelayFromBody(`[${body('2s')}]`)).toBe(2_000);
    expect(retryDelayFromBody(body('soon'))).toBeUndefined();
    expect(retryDelayFromBody(body(37))).toBeUndefined();
    expect(retryDelayFromBody('{"error":{"message":"RetryInfo, but not JSON details"}}')).toBeUndefined();
    expect(retryDelayFromBody('RetryInfo <html>')).toBeUndefined();
    expect(retryDelayFromBody(undefined)).toBeUndefined();
  });
});
