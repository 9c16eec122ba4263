/**
 * How much longer than 1000 ms the limiter lets floor(rpm/60) starts take: the room between our send
 * stamps and the provider's count. Request k stamped on time but arriving d ms late, and request
 * k + floor(rpm/60) arriving on time, are d ms closer at the provider than here; more than the cushion
 * closer, and the provider counts one too many in a second.
 *
 * 99.5% of the limit leaves 5 ms a second for all of it. The base is 4 ms (the hard window's marginMs
 * of 2 plus the pacing slack of 2): enough on a quiet host, where stamp-to-arrival varies by about a
 * millisecond. It cannot cover tens of ms of network jitter, and need not for providers that count per
 * minute. Two signals widen it for a while, each up to MAX_MS (5% of the limit), because a 429 costs a
 * whole Retry-After pause of the provider, far more than a few % of pacing:
 * - our own wake-ups running late: CPU contention, which also delays sends and, on the same host, the
 *   server (the loopback simulator). Widened to the lateness; halves every 5 s once timers are on time.
 * - a 429 although our log kept to the limit: the provider sees our sends closer than we do. Doubled at
 *   most once a second; halves every minute.
 */
export class Cushion {
  static readonly MAX_MS = 50;
  private static readonly LATE_HALF_LIFE_MS = 5_000;
  // Public for the Redis limiter's Lua, which applies the same refusal rule to a cushion kept in Redis.
  static readonly REFUSED_HALF_LIFE_MS = 60_000;
  /** Refusals closer together than this are one burst: one doubling. */
  static readonly REFUSED_BURST_MS = 1000;
  private late = { ms: 0, at: 0 };
  private refused = { ms: 0, at: 0 };

  constructor(readonly baseMs: number) {}

  /** The cushion now, in ms: at least the base, at most MAX_MS (or the base, if that is larger). */
  ms(now: number): number {
    return Math.max(this.baseMs, Math.min(Cushion.MAX_MS, Math.max(decayed(this.late, now, Cushion.LATE_HALF_LIFE_MS), decayed(this.refused, now, Cushion.REFUSED_HALF_LIFE_MS))));
  }

  /** A wake-up meant for a deadline ran `ms` late. */
  noteLateness(ms: number, now: number): void {
    if (ms > decayed(this.late, now, Cushion.LATE_HALF_LIFE_MS)) this.late = { ms, at: now };
  }

  /** The provider refused a start (429). One burst of refusals is one doubling: they share a cause. */
  noteRefused(now: number): void {
    if (now - this.refused.at < Cushion.REFUSED_BURST_MS) return;
    this.refused = { ms: Math.min(Cushion.MAX_MS, 2 * this.ms(now)), at: now };
  }
}

function decayed(peak: { ms: number; at: number }, now: number, halfLifeMs: number): number {
  return peak.ms * 2 ** (-Math.max(0, now - peak.at) / halfLifeMs);
}
