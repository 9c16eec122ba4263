import { describe, expect, it } from 'vitest';
import { SlidingWindowGate, type Clock } from '../dist/engine/providers/limiter.js';
import { parseRetryAfter } from '../dist/engine/providers/adapters.js';

/** A clock that only moves when someone sleeps: many "seconds" of scheduling run in microseconds. */
class FakeClock implements Clock {
  t = 1_000_000;
  private sleepers: { at: number; resolve: () => void }[] = [];
  now(): number { return this.t; }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.sleepers.push({ at: this.t + Math.max(0, ms), resolve }); });
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
}

function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

/** Deterministic PRNG so a failing case replays. */
function rng(seed: number): () => number {
  return () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
}

async function drive(clock: FakeClock, gate: SlidingWindowGate, arrivals: { at: number; tokens: number }[]): Promise<number[]> {
  const starts: number[] = [];
  // Callers arrive at their times and queue on the gate in arrival order (the limiter serialises take()).
  let chain: Promise<void> = Promise.resolve();
  for (const a of arrivals) {
    chain = chain.then(async () => {
      if (clock.t < a.at) clock.t = a.at;
      await gate.take(a.tokens);
      starts.push(clock.now());
    });
  }
  let done = false;
  void chain.then(() => { done = true; });
  while (!done) if (!(await clock.step())) await new Promise((r) => setImmediate(r));
  return starts;
}

describe('SlidingWindowGate (fake clock)', () => {
  it('never starts more than floor(rpm/60) in any sliding second, for random workloads', async () => {
    const random = rng(7);
    for (let round = 0; round < 25; round++) {
      const rpm = 60 * (1 + Math.floor(random() * 40)) + Math.floor(random() * 59);
      const clock = new FakeClock();
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

  it('uses at least 99.5% of the limit when saturated', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 1200, marginMs: 2 }, clock);
    const starts = await drive(clock, gate, Array.from({ length: 400 }, () => ({ at: clock.t, tokens: 1 })));
    const rate = (starts.length - 1) / ((starts.at(-1)! - starts[0]!) / 1000);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(20);
    expect(rate / 20).toBeGreaterThanOrEqual(0.995);
  });

  it('holds a Retry-After pause, then resumes', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ rpm: 6000 }, clock);
    const pauseEnd = clock.t + 1500;
    gate.pauseUntil(pauseEnd);
    const starts = await drive(clock, gate, [{ at: clock.t, tokens: 1 }, { at: clock.t, tokens: 1 }]);
    expect(starts[0]).toBeGreaterThanOrEqual(pauseEnd);
  });

  it('limits tokens over a sliding minute and counts corrected usage, not the estimate', async () => {
    const clock = new FakeClock();
    const gate = new SlidingWindowGate({ tpm: 1000 }, clock);
    const t0 = clock.t;
    const a = await gate.take(600);
    // The real usage was much smaller than estimated: the room comes back at once.
    a.tokens = 100;
    expect(gate.delayFor(600)).toBe(0);
    await gate.take(600);
    // Now 700 are spent in this minute: a third 600 must wait for the first spend to leave the window.
    expect(gate.delayFor(600)).toBe(t0 + 60_000 - clock.now());
  });

  it('rejects a request larger than the whole tpm budget instead of waiting forever', async () => {
    const gate = new SlidingWindowGate({ tpm: 500 }, new FakeClock());
    await expect(gate.take(501)).rejects.toMatchObject({ name: 'PermanentError' });
  });

  it('validates its settings', () => {
    expect(() => new SlidingWindowGate({ rpm: 0 })).toThrow(/Expected rpm to be a positive number, got 0/);
    expect(() => new SlidingWindowGate({ tpm: -1 })).toThrow(/Expected tpm to be a positive number, got -1/);
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
});
