import { describe, expect, it } from 'vitest';
import { Cushion } from '../dist/engine/providers/cushion.js';
import { LocalRateLimiter, SlidingWindowGate, type Clock } from '../dist/engine/providers/limiter.js';

describe('Cushion', () => {
  it('is the base while nothing runs late and nothing is refused', () => {
    const c = new Cushion(4);
    c.noteLateness(1.5, 1000);
    expect(c.ms(1000)).toBe(4);
  });

  it('widens to a lateness above the base, and halves every 5 s after it', () => {
    const c = new Cushion(4);
    c.noteLateness(20, 1000);
    expect(c.ms(1000)).toBe(20);
    expect(c.ms(6000)).toBeCloseTo(10, 6);
    expect(c.ms(16_000)).toBe(4);
    // A smaller lateness does not lower the decaying peak; a larger one replaces it.
    c.noteLateness(8, 6000);
    expect(c.ms(6000)).toBeCloseTo(10, 6);
    c.noteLateness(30, 7000);
    expect(c.ms(7000)).toBe(30);
  });

  it('doubles on a 429, once per burst, up to 50 ms, and halves every minute after', () => {
    const c = new Cushion(4);
    c.noteRefused(10_000);
    c.noteRefused(10_200); // the same burst
    expect(c.ms(10_200)).toBeCloseTo(8, 1);
    c.noteRefused(11_500);
    expect(c.ms(11_500)).toBeCloseTo(16, 0);
    for (let t = 13_000; t < 20_000; t += 1500) c.noteRefused(t);
    expect(c.ms(19_000)).toBe(50); // the last doubling, at 19 s
    expect(c.ms(19_000 + 60_000)).toBeCloseTo(25, 6);
  });

  it('never caps a base above the maximum', () => {
    expect(new Cushion(80).ms(0)).toBe(80);
  });
});

/** A clock whose every wake-up is `late` ms late (a loaded host), and that only moves when someone sleeps. */
class LateClock implements Clock {
  t = 1_000_000;
  private sleepers: { at: number; resolve: () => void }[] = [];
  constructor(private readonly late: number) {}
  now(): number { return this.t; }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.sleepers.push({ at: this.t + ms + (ms >= 1 ? this.late : 0), resolve }); });
  }
  async run(done: Promise<unknown>): Promise<void> {
    let settled = false;
    void done.finally(() => { settled = true; });
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers.shift();
      if (next) { this.t = Math.max(this.t, next.at); next.resolve(); }
    }
  }
}

describe('the gate with a cushion', () => {
  it('paces wider while its wake-ups run late, and never below 1000 + marginMs per floor(rpm/60)', async () => {
    const clock = new LateClock(30);
    const gate = new SlidingWindowGate({ rpm: 1200 }, clock);
    expect(gate.spacingMs).toBeCloseTo(1004 / 20, 6);
    const starts: number[] = [];
    await clock.run(Promise.all(Array.from({ length: 60 }, () => gate.take(1).then((s) => { starts.push(s.start.at); }))));
    expect(gate.spacingMs).toBeCloseTo(1030 / 20, 1);
    for (let i = 20; i < starts.length; i++) expect(starts[i]! - starts[i - 20]!).toBeGreaterThanOrEqual(1002);
  });

  it('keeps starts further apart after a 429 reaches its limiter', async () => {
    const clock = new LateClock(0);
    const limiter = new LocalRateLimiter({ rpm: 1200 }, clock);
    const pauseEnd = clock.now() + 1000;
    limiter.pauseUntil(pauseEnd);
    const starts: number[] = [];
    await clock.run(Promise.all(Array.from({ length: 5 }, () => limiter.acquire(1).then(() => { starts.push(clock.now()); }))));
    expect(starts[0]).toBeGreaterThanOrEqual(pauseEnd);
    // 1008 ms per 20 starts instead of 1004: the cushion doubled.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeCloseTo(1008 / 20, 1);
    await limiter.stop();
  });
});
