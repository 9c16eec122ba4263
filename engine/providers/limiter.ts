import Bottleneck from 'bottleneck';
import { PermanentError } from '../errors.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
};

export interface LimiterOptions {
  /** Requests per minute; enforced as at most floor(rpm/60) starts in any sliding second. */
  rpm?: number;
  /** Tokens per minute over a sliding minute; estimates are corrected with the real usage. */
  tpm?: number;
  /**
   * Extra width of the sliding second, for the spread between when we send and when the provider
   * counts the arrival (a 5 ms margin costs 0.5% of the limit). @default 5
   */
  marginMs?: number;
}

/** One limited call. */
export interface Permit {
  /** The request is leaving now: later starts are spaced from this moment, not from the grant. */
  sent(): void;
  /** The response arrived: count its real tokens instead of the estimate. */
  settle(actualTokens: number | undefined): void;
}

/** The small interface engines and tests rely on; local and Redis-backed limiters implement it. */
export interface RateLimiter {
  acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Permit>;
  /** Stops new starts until `untilMs` (a provider's Retry-After); calls already sent are unaffected. */
  pauseUntil(untilMs: number): void;
  /** Starts in the last 60 s (for "current rate vs limit"). */
  recentStarts(): number;
  stop(): Promise<void>;
}

/**
 * The part that makes the guarantee: a log of recent starts (and token spends) consulted before every
 * start. A fixed-window reservoir allows twice the rate across a window edge; a sliding log cannot.
 * Pure apart from the clock, so it is property-tested with a fake one.
 */
export class SlidingWindowGate {
  private readonly starts: { at: number }[] = [];
  private readonly spends: { at: number; tokens: number }[] = [];
  private pausedUntil = 0;
  private lastStart = -Infinity;
  readonly perSecond: number;

  constructor(private readonly opts: LimiterOptions, private readonly clock: Clock = realClock) {
    this.perSecond = opts.rpm === undefined ? Infinity : Math.max(1, Math.floor(opts.rpm / 60));
    if (opts.rpm !== undefined && !(opts.rpm > 0)) throw new RangeError(`Expected rpm to be a positive number, got ${opts.rpm} (${typeof opts.rpm})`);
    if (opts.tpm !== undefined && !(opts.tpm > 0)) throw new RangeError(`Expected tpm to be a positive number, got ${opts.tpm} (${typeof opts.tpm})`);
  }

  private get windowMs(): number { return 1000 + (this.opts.marginMs ?? 5); }

  pauseUntil(untilMs: number): void { this.pausedUntil = Math.max(this.pausedUntil, untilMs); }

  /** How long to wait before a start with `tokens` may happen now; 0 means now. */
  delayFor(tokens: number): number {
    const now = this.clock.now();
    while (this.starts.length > 0 && this.starts[0]!.at <= now - 60_000) this.starts.shift();
    while (this.spends.length > 0 && this.spends[0]!.at <= now - 60_000) this.spends.shift();
    let wait = Math.max(0, this.pausedUntil - now);
    if (this.perSecond !== Infinity && this.starts.length > 0) {
      // Even spacing, not only a count per window: a burst of perSecond at once is legal by count,
      // but its arrivals jitter at the provider, and after a Retry-After pause every waiter would
      // go at once. Spaced starts arrive spaced.
      wait = Math.max(wait, this.lastStart + this.windowMs / this.perSecond - now);
      if (this.starts.length >= this.perSecond) {
        // And the start perSecond places back must have left the (widened) window.
        const pivot = this.kthLatest(this.perSecond);
        wait = Math.max(wait, pivot + this.windowMs - now);
      }
    }
    if (this.opts.tpm !== undefined) {
      let used = 0;
      for (const s of this.spends) used += s.tokens;
      if (used + tokens > this.opts.tpm) {
        let freed = 0;
        for (const s of this.spends) {
          freed += s.tokens;
          if (used - freed + tokens <= this.opts.tpm) { wait = Math.max(wait, s.at + 60_000 - now); break; }
        }
      }
    }
    return wait;
  }

  /** Waits for room, records the start, and returns the records to correct (send time, real tokens). */
  async take(tokens: number, signal?: AbortSignal): Promise<{ tokens: number; start: { at: number } }> {
    if (this.opts.tpm !== undefined && tokens > this.opts.tpm) {
      // A request larger than the whole minute's budget would wait forever: say so instead.
      throw new PermanentError(`The request needs about ${tokens} tokens, more than this provider's whole tpm limit (${this.opts.tpm}); shorten the prompt or raise tpm`);
    }
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.delayFor(tokens);
      if (wait <= 0) break;
      await this.clock.sleep(wait);
    }
    const at = this.clock.now();
    this.lastStart = at;
    const start = { at };
    this.starts.push(start);
    const spend = { at, tokens, start };
    this.spends.push(spend);
    return spend;
  }

  /** Moves a start to when the request really left; only ever later, so the guarantee only tightens. */
  markSent(start: { at: number }): void {
    start.at = Math.max(start.at, this.clock.now());
    this.lastStart = Math.max(this.lastStart, start.at);
  }

  /** Moving starts later can break their order, so the k-th latest is found, not indexed. */
  private kthLatest(k: number): number {
    let sorted = true;
    for (let i = Math.max(1, this.starts.length - k - 8); i < this.starts.length && sorted; i++) sorted = this.starts[i - 1]!.at <= this.starts[i]!.at;
    if (sorted) return this.starts[this.starts.length - k]!.at;
    const times = this.starts.map((s) => s.at).sort((a, b) => a - b);
    return times[times.length - k]!;
  }

  recentStarts(): number {
    const now = this.clock.now();
    let n = 0;
    for (let i = this.starts.length - 1; i >= 0 && this.starts[i]!.at > now - 60_000; i--) n++;
    return n;
  }
}

/**
 * Local limiter. Bottleneck orders the callers and spaces them by minTime (smooth, no bursts; no
 * reservoir, whose refresh is what allows 2x at window edges). The sliding-window gate then decides
 * the moment of each start: its check-and-record is synchronous and is the last thing before the
 * request is handed to fetch, so a start is never recorded earlier than it happens.
 */
export class LocalRateLimiter implements RateLimiter {
  private readonly gate: SlidingWindowGate;
  private readonly bottleneck: Bottleneck;

  constructor(opts: LimiterOptions, clock: Clock = realClock) {
    this.gate = new SlidingWindowGate(opts, clock);
    this.bottleneck = new Bottleneck({ maxConcurrent: null, minTime: opts.rpm ? Math.floor(60_000 / opts.rpm) : 0 });
  }

  async acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Permit> {
    await this.bottleneck.schedule(() => Promise.resolve());
    const spend = await this.gate.take(estimatedTokens, signal);
    return {
      sent: () => this.gate.markSent(spend.start),
      settle: (actual) => { if (actual !== undefined && actual >= 0) spend.tokens = actual; },
    };
  }

  pauseUntil(untilMs: number): void { this.gate.pauseUntil(untilMs); }
  recentStarts(): number { return this.gate.recentStarts(); }

  async stop(): Promise<void> {
    await this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => undefined);
  }
}
