import { PermanentError } from '../errors.js';
import { Cushion } from './cushion.js';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (a sleep is never an error). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms, signal) => new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) { resolve(); return; }
    // Timers run on the event loop's millisecond clock, cached for each turn of the loop, so one can
    // fire up to ~1 ms before a performance.now() deadline. The remainder is waited out a loop turn
    // at a time: another setTimeout would round it up to a whole millisecond late, every slot.
    if (ms < 1) { setImmediate(resolve); return; }
    const onAbort = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

export interface LimiterOptions {
  /**
   * Requests per minute, at least 1. From 60 up, enforced as at most floor(rpm/60) starts in any sliding
   * second; below 60, as one start per 60000/rpm ms (see rpmWindow).
   */
  rpm?: number;
  /** Tokens per minute over a sliding minute; estimates are corrected with the real usage. */
  tpm?: number;
  /**
   * Extra width of the sliding second that is checked (on send stamps) before every start, for the
   * spread between when we send and when the provider counts the arrival. Starts are paced 2 ms wider
   * still: floor(rpm/60) starts take 1000 + marginMs + 2 ms, 99.6% of the limit at the default. Both
   * widen for a while on a loaded host or after a 429 (see cushion.ts). @default 2
   */
  marginMs?: number;
}

/** Checks what the local and the Redis limiter share; throws RangeError naming the field. */
export function validateLimiterOptions(opts: LimiterOptions): void {
  if (opts.rpm !== undefined && !(opts.rpm >= 1)) throw new RangeError(`Expected rpm to be a number >= 1, got ${opts.rpm} (${typeof opts.rpm})`);
  if (opts.tpm !== undefined && !(opts.tpm > 0)) throw new RangeError(`Expected tpm to be a positive number, got ${opts.tpm} (${typeof opts.tpm})`);
  if (opts.marginMs !== undefined && !(opts.marginMs >= 0)) throw new RangeError(`Expected marginMs to be a number >= 0, got ${opts.marginMs} (${typeof opts.marginMs})`);
}

/**
 * The sliding window an rpm is enforced in: at most `perWindow` starts in any `windowMs`. Providers count
 * a per-minute limit in short windows (1,200 RPM as ~20 a second), so from 60 RPM up it is floor(rpm/60)
 * a second. Below 60 a second holds less than one start, and one a second would be 60 a minute, over the
 * limit (free tiers have 2-15 RPM): one start per 60000/rpm ms instead, which keeps every sliding minute
 * to rpm starts.
 */
export function rpmWindow(rpm: number): { perWindow: number; windowMs: number } {
  return rpm >= 60 ? { perWindow: Math.floor(rpm / 60), windowMs: 1000 } : { perWindow: 1, windowMs: 60_000 / rpm };
}

/** One limited call. */
export interface Permit {
  /** The request is leaving now: the start is recorded at this moment, not at the grant. */
  sent(): void;
  /** The response arrived: count its real tokens instead of the estimate. */
  settle(actualTokens: number | undefined): void;
}

/**
 * Why `acquire` gave up on a caller with a deadline: its start could not come before it. A caller that
 * knows when it times out (an item's ctx.llm) learns this as soon as the limiter does, and can go to a
 * fallback or come back later instead of waiting out its timeout in the queue.
 */
export class LimitWaitError extends Error {
  override readonly name = 'LimitWaitError';
  /**
   * @param earliest when a start could come at the soonest (epoch ms, the limiter's clock)
   * @param paused whether a Retry-After pause alone outlasts the deadline (else: the rpm/tpm window, or the queue)
   */
  constructor(readonly earliest: number, readonly paused: boolean) {
    super(paused ? 'The provider is paused (Retry-After) past the deadline' : 'The rate limit has no room before the deadline');
  }
}

/**
 * Takes out of a FIFO queue of waiters those whose deadline is not after `earliest`, the soonest its head
 * can start: none of them could start sooner. The local and the Redis limiter reject them with LimitWaitError.
 */
export function takeExpired<W extends { deadline: number | undefined }>(queue: W[], earliest: number): W[] {
  const expired: W[] = [];
  for (let i = 0; i < queue.length; i++) {
    const w = queue[i]!;
    if (w.deadline === undefined || w.deadline > earliest) continue;
    queue.splice(i--, 1);
    expired.push(w);
  }
  return expired;
}

/** The small interface engines and tests rely on; local and Redis-backed limiters implement it. */
export interface RateLimiter {
  /**
   * A start under the limits. `deadline` (epoch ms, as Clock.now): when the caller stops waiting anyway;
   * once the limiter knows the start cannot come before it, it rejects with LimitWaitError.
   */
  acquire(estimatedTokens: number, signal?: AbortSignal, deadline?: number): Promise<Permit>;
  /** Stops new starts until `untilMs` (a provider's Retry-After); calls already sent are unaffected. */
  pauseUntil(untilMs: number): void;
  /** Starts in the last 60 s (for "current rate vs limit"). */
  recentStarts(): number;
  stop(): Promise<void>;
}

/** A granted start: its record in the sliding log (moved to the send time) and its token spend. */
export interface Spend { readonly tokens: number; readonly start: { at: number } }
type LoggedSpend = { tokens: number; start: { at: number } };

interface Waiter {
  tokens: number;
  queuedAt: number;
  signal: AbortSignal | undefined;
  deadline: number | undefined;
  resolve(spend: Spend): void;
  reject(e: unknown): void;
  onAbort?: () => void;
}

/**
 * Pacing is this much wider than the checked window. A start that fires a little late (timer
 * granularity, a busy loop) then does not make the window check bind on the start floor(rpm/60)
 * places after it, and a chain the check did hold back catches up by this much each second instead
 * of passing its lateness on for ever.
 */
export const PACING_SLACK_MS = 2;

/**
 * The part that makes the guarantee: a log of recent starts (and token spends) consulted before every
 * start. A fixed-window reservoir allows twice the rate across a window edge; a sliding log cannot.
 * Callers wait in one FIFO queue; only its head is checked and only one timer runs, however many wait.
 * Pure apart from the clock, so it is property-tested with a fake one.
 *
 * Two rules decide a start. The hard one: at most perWindow starts (floor(rpm/60), see rpmWindow) in any
 * window of windowMs (a second, widened), on the recorded (send) times. The soft one spaces starts evenly
 * on a grid of absolute slots, spacingMs apart: a burst of perWindow at once is legal by count, but its
 * arrivals jitter at the provider, and after a Retry-After pause every waiter would go at once. The grid advances from the previous slot, not from
 * the previous start: spacing measured from each (late-firing) start loses the timer's lateness at every
 * slot, about 2% of the limit at 20/s. How much wider than 1000 ms both are: see cushion.ts.
 */
export class SlidingWindowGate {
  private readonly starts: { at: number }[] = [];
  private readonly spends: LoggedSpend[] = [];
  /** Sum of `spends[].tokens`, kept as they come and go: the head is re-checked often while it waits. */
  private used = 0;
  private readonly waiting: Waiter[] = [];
  private pumping = false;
  private interrupt: AbortController | undefined;
  private closed = false;
  private pausedUntil = 0;
  /** While the pump sleeps on the head: when the head may start, the soonest any waiter can. */
  private headDue: number | undefined;
  /** The grid's next slot; -Infinity until the first start. */
  private nextSlot = -Infinity;
  private readonly cushion: Cushion;
  /** Starts allowed in one window of the limit's length (Infinity without an rpm). */
  readonly perWindow: number;
  /** The limit's window before the cushion: 1000 ms from 60 RPM up. */
  private readonly limitWindowMs: number;
  /** How long a start stays in the log: a minute (tpm, recentStarts), or the window if that is longer. */
  private readonly horizonMs: number;

  constructor(private readonly opts: LimiterOptions, private readonly clock: Clock = realClock) {
    validateLimiterOptions(opts);
    const w = opts.rpm === undefined ? { perWindow: Infinity, windowMs: 1000 } : rpmWindow(opts.rpm);
    this.perWindow = w.perWindow;
    this.limitWindowMs = w.windowMs;
    this.horizonMs = Math.max(60_000, w.windowMs + Cushion.MAX_MS);
    this.cushion = new Cushion((opts.marginMs ?? 2) + PACING_SLACK_MS);
  }

  /** The sliding window the hard rule checks, on send stamps: never under the limit's window + marginMs. */
  get windowMs(): number { return this.limitWindowMs + this.cushion.ms(this.clock.now()) - PACING_SLACK_MS; }

  /** The pacing grid's step. */
  get spacingMs(): number { return (this.limitWindowMs + this.cushion.ms(this.clock.now())) / this.perWindow; }

  pauseUntil(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
    this.expire(this.pausedUntil);
  }

  /** The provider answered 429 although this log kept to the limit: keep starts further apart for a while. */
  refused(): void { this.cushion.noteRefused(this.clock.now()); }

  /** How long to wait before a start with `tokens` may happen now; 0 means now. */
  delayFor(tokens: number): number {
    const now = this.clock.now();
    while (this.starts.length > 0 && this.starts[0]!.at <= now - this.horizonMs) this.starts.shift();
    while (this.spends.length > 0 && this.spends[0]!.start.at <= now - 60_000) this.used -= this.spends.shift()!.tokens;
    let wait = Math.max(0, this.pausedUntil - now, this.nextSlot - now);
    if (this.starts.length >= this.perWindow) {
      // The start perWindow places back must have left the (widened) window.
      wait = Math.max(wait, this.kthLatest(this.perWindow) + this.windowMs - now);
    }
    if (this.opts.tpm !== undefined && this.used + tokens > this.opts.tpm) {
      let freed = 0;
      for (const s of this.spends) {
        freed += s.tokens;
        if (this.used - freed + tokens <= this.opts.tpm) { wait = Math.max(wait, s.start.at + 60_000 - now); break; }
      }
    }
    return wait;
  }

  /** Waits its turn and for room, records the start, and returns the records to correct (send time, real tokens). */
  take(tokens: number, signal?: AbortSignal, deadline?: number): Promise<Spend> {
    if (this.opts.tpm !== undefined && tokens > this.opts.tpm) {
      // A request larger than the whole minute's budget would wait forever: say so instead.
      return Promise.reject(new PermanentError(`The request needs about ${tokens} tokens, more than this provider's whole tpm limit (${this.opts.tpm}); shorten the prompt or raise tpm`));
    }
    if (this.closed) return Promise.reject(new Error('The rate limiter was stopped'));
    return new Promise<Spend>((resolve, reject) => {
      if (signal?.aborted) { reject(signal.reason); return; }
      if (deadline !== undefined) {
        const earliest = Math.max(this.pausedUntil, this.headDue ?? -Infinity);
        if (earliest >= deadline) { reject(new LimitWaitError(earliest, this.pausedUntil >= deadline)); return; }
      }
      const w: Waiter = { tokens, queuedAt: this.clock.now(), signal, deadline, resolve, reject };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason);
          // The head may have been the one whose wait the pump sleeps on.
          if (i === 0) this.wake();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiting.push(w);
      void this.pump();
    });
  }

  /** Corrects a spend to the real usage; less than estimated may let the head go sooner. */
  settle(spend: Spend, actualTokens: number): void {
    // A spend that has left the log (a response slower than a minute) no longer counts anyway.
    const logged = this.spends.find((s) => s === spend);
    if (!logged || logged.tokens === actualTokens) return;
    const less = actualTokens < logged.tokens;
    this.used += actualTokens - logged.tokens;
    logged.tokens = actualTokens;
    if (less && this.opts.tpm !== undefined) this.wake();
  }

  /** Moves a start to when the request really left; only ever later, so the guarantee only tightens. */
  markSent(start: { at: number }): void {
    start.at = Math.max(start.at, this.clock.now());
  }

  /** Rejects every waiter; later takes are rejected at once. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) this.release(w, undefined, new Error('The rate limiter was stopped'));
    this.wake();
  }

  private wake(): void { this.interrupt?.abort(); }

  /** Rejects the waiters that cannot start before their deadline (see takeExpired); true if any. */
  private expire(earliest: number): boolean {
    const headBefore = this.waiting[0];
    const expired = takeExpired(this.waiting, earliest);
    for (const w of expired) this.release(w, undefined, new LimitWaitError(earliest, this.pausedUntil >= w.deadline!));
    // The pump may be asleep on the head's wait.
    if (this.waiting[0] !== headBefore) this.wake();
    return expired.length > 0;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let due: number | undefined;
      while (this.waiting.length > 0) {
        const head = this.waiting[0]!;
        const wait = this.delayFor(head.tokens);
        if (wait > 0) {
          due = this.clock.now() + wait;
          if (this.expire(due)) {
            due = undefined;
            continue;
          }
          const interrupt = (this.interrupt = new AbortController());
          this.headDue = due;
          await this.clock.sleep(wait, interrupt.signal);
          this.headDue = undefined;
          this.interrupt = undefined;
          if (interrupt.signal.aborted) due = undefined;
          continue;
        }
        this.waiting.shift();
        const spend = this.record(head);
        if (due !== undefined) this.cushion.noteLateness(spend.start.at - due, spend.start.at);
        due = undefined;
        this.release(head, spend);
      }
    } finally {
      this.pumping = false;
    }
  }

  private record(w: Waiter): LoggedSpend {
    const { tokens } = w;
    const at = this.clock.now();
    // The slot this start took had timers been exact: the grid's, or later if nobody was waiting for it
    // (an idle spell) or a pause held it. Up to half a slot of lateness after that leaves the grid where
    // it was; more (the window or tpm held it back) moves the grid, its next slot at most half a slot early.
    const slot = Math.max(this.nextSlot, w.queuedAt, this.pausedUntil);
    const spacing = this.spacingMs;
    this.nextSlot = Math.max(slot + spacing, at + spacing / 2);
    const start = { at };
    this.starts.push(start);
    const spend = { tokens, start };
    this.spends.push(spend);
    this.used += tokens;
    return spend;
  }

  private release(w: Waiter, spend: Spend | undefined, error?: unknown): void {
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    if (spend) w.resolve(spend); else w.reject(error);
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
 * Local limiter: one gate per provider in the main thread, shared by every worker. The gate's
 * check-and-record is synchronous and the permit is taken as the last thing before the request is
 * handed to fetch, so a start is never recorded earlier than it happens.
 */
export class LocalRateLimiter implements RateLimiter {
  private readonly gate: SlidingWindowGate;

  constructor(opts: LimiterOptions, clock: Clock = realClock) {
    this.gate = new SlidingWindowGate(opts, clock);
  }

  async acquire(estimatedTokens: number, signal?: AbortSignal, deadline?: number): Promise<Permit> {
    const spend = await this.gate.take(estimatedTokens, signal, deadline);
    return {
      sent: () => this.gate.markSent(spend.start),
      settle: (actual) => { if (actual !== undefined && actual >= 0) this.gate.settle(spend, actual); },
    };
  }

  /** Only a provider's 429 pauses a provider, so this is also the signal that its count saw us too fast. */
  pauseUntil(untilMs: number): void {
    this.gate.pauseUntil(untilMs);
    this.gate.refused();
  }

  recentStarts(): number { return this.gate.recentStarts(); }

  async stop(): Promise<void> { this.gate.close(); }
}
