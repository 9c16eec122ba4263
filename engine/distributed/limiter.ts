import type { RedisClient } from 'bullmq';
import { PermanentError } from '../errors.js';
import { Cushion } from '../providers/cushion.js';
import { LimitWaitError, PACING_SLACK_MS, realClock, rpmWindow, takeExpired, validateLimiterOptions, type LimiterOptions, type Permit, type RateLimiter } from '../providers/limiter.js';
import type { LimiterKeys } from './keys.js';

// The sliding-window log of providers/limiter.ts (SlidingWindowGate), kept in Redis and decided by one
// Lua script, so every process of every machine draws from the same log, on the Redis server's clock.
// The script is atomic: check and record cannot interleave between two machines.
// KEYS: starts, spends, state. Times are ms on the server clock (TIME), returned as strings (Lua numbers
// would be truncated to integers in the reply).
const prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`;

/**
 * Drops spends older than a minute (and their tokens from `used`), and starts older than 61 s: at 1 RPM
 * the window (rpmWindow's, widened by the cushion) is a little over a minute.
 */
const trim = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 61000)
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
if #old > 0 then
  local freed = 0
  for _, m in ipairs(old) do freed = freed + tonumber(string.match(m, '|(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  redis.call('HINCRBY', KEYS[3], 'used', -freed)
end
`;

// How much wider than 1000 ms floor(rpm/60) starts are spread: cushion.ts's rule, with its refusal part
// kept in the state hash (`refused` ms at `refusedAt`, decayed on read) rather than in a local Cushion.
// A 429 reaches only the process whose request was refused, but the provider counts every process's
// sends and the window and grid it widens are shared: widened in one process alone, the others would
// keep starting on the narrow grid into the same crowded second. In Redis every process widens at once,
// on one clock, and a burst of 429s seen by several processes is still one doubling.
// The base (ARGV marginMs + the pacing slack) stays: it is for the spread between machines' sends.
// Late wake-ups (Cushion.noteLateness) do not widen it here: the grid absorbs them up to half a slot,
// and a loaded host is one process's view, not something the others should pay for.
// Sets `width`, `windowMs` (the hard rule's window) and `spacing` (the grid's step) from ARGV[1..2] and
// `limitWindow` (the limit's window before the cushion, rpmWindow's windowMs), which each script reads.
const widths = `
local perWindow = tonumber(ARGV[1])
local base = tonumber(ARGV[2]) + ${PACING_SLACK_MS}
local refused = redis.call('HMGET', KEYS[3], 'refused', 'refusedAt')
local width = base
if refused[1] then
  local decayed = tonumber(refused[1]) * 2 ^ (-math.max(0, now - tonumber(refused[2])) / ${Cushion.REFUSED_HALF_LIFE_MS})
  width = math.max(base, math.min(${Cushion.MAX_MS}, decayed))
end
local windowMs = limitWindow + width - ${PACING_SLACK_MS}
local spacing = 0
if perWindow > 0 then spacing = (limitWindow + width) / perWindow end
`;

// The two rules of SlidingWindowGate. Hard: at most perWindow starts in any window of windowMs, on send
// stamps. Soft: starts on a grid of absolute slots `spacing` apart, its next slot in the hash (`slot`);
// see SlidingWindowGate.record for why the grid advances from the slot and not from the (late) start.
// ARGV: perWindow (starts per limit window; 0: none), marginMs, tpm (0: none), tokens, permit id, ms the
// caller has waited so far, the limit window in ms
const acquireScript = `${prelude}${trim}
local limitWindow = tonumber(ARGV[7])
${widths}
local tpm = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local wait = 0
local pause = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
if pause > now then wait = pause - now end
local nextSlot = tonumber(redis.call('HGET', KEYS[3], 'slot') or '0')
if perWindow > 0 then
  wait = math.max(wait, nextSlot - now)
  local pivot = redis.call('ZREVRANGE', KEYS[1], perWindow - 1, perWindow - 1, 'WITHSCORES')
  if pivot[2] then wait = math.max(wait, tonumber(pivot[2]) + windowMs - now) end
end
if tpm > 0 then
  local used = tonumber(redis.call('HGET', KEYS[3], 'used') or '0')
  if used + tokens > tpm then
    local freed = 0
    local spends = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = 1, #spends, 2 do
      freed = freed + tonumber(string.match(spends[i], '|(%d+)$'))
      if used - freed + tokens <= tpm then wait = math.max(wait, tonumber(spends[i + 1]) + 60000 - now) break end
    end
  end
end
local count = redis.call('ZCARD', KEYS[1])
if wait > 0 then return {'0', tostring(wait), count, tostring(math.max(0, pause - now))} end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[5] .. '|' .. tokens)
if perWindow > 0 then
  -- The slot this start took had timers and round trips been exact: the grid's, or later after an idle
  -- spell (the caller queued after it) or a pause. Up to half a slot of lateness leaves the grid where it
  -- was; more moves it, its next slot at most half a slot early.
  local slot = math.max(nextSlot, now - tonumber(ARGV[6]), pause)
  redis.call('HSET', KEYS[3], 'slot', tostring(math.max(slot + spacing, now + spacing / 2)))
end
redis.call('HINCRBY', KEYS[3], 'used', tokens)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], 120000) end
return {'1', tostring(now), count + 1}
`;

// The request is leaving now: move its start later (never earlier), so the hard rule counts the send.
// ARGV: permit id, tokens
const sentScript = `${prelude}
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) >= now then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1] .. '|' .. ARGV[2])
return 1
`;

// The real token count replaces the estimate. ARGV: permit id, estimated tokens, actual tokens
const settleScript = `
local old = ARGV[1] .. '|' .. ARGV[2]
local at = redis.call('ZSCORE', KEYS[2], old)
if not at then return 0 end
redis.call('ZREM', KEYS[2], old)
redis.call('ZADD', KEYS[2], at, ARGV[1] .. '|' .. ARGV[3])
redis.call('HINCRBY', KEYS[3], 'used', tonumber(ARGV[3]) - tonumber(ARGV[2]))
return 1
`;

// A Retry-After pauses the provider for everyone. Only a 429 pauses a provider, so it is also the signal
// that the provider saw our sends closer than our log did: the cushion doubles, once per burst of 429s
// (Cushion.noteRefused). ARGV: perWindow, marginMs, ms from now, the limit window in ms
const pauseScript = `${prelude}
local limitWindow = tonumber(ARGV[4])
${widths}
local ms = tonumber(ARGV[3])
local untilMs = now + ms
local cur = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
if untilMs > cur then redis.call('HSET', KEYS[3], 'pause', tostring(untilMs)) end
if not refused[2] or now - tonumber(refused[2]) >= ${Cushion.REFUSED_BURST_MS} then
  redis.call('HSET', KEYS[3], 'refused', tostring(math.min(${Cushion.MAX_MS}, 2 * width)), 'refusedAt', tostring(now))
end
redis.call('PEXPIRE', KEYS[3], math.max(120000, math.ceil(ms) + 60000))
return 1
`;

const countScript = `${prelude}
return redis.call('ZCOUNT', KEYS[1], now - 60000, '+inf')
`;

const commands = { ptLimitAcquire: acquireScript, ptLimitSent: sentScript, ptLimitSettle: settleScript, ptLimitPause: pauseScript, ptLimitCount: countScript } as const;
type ScriptName = keyof typeof commands;
type Scripted = Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;
const defined = new WeakSet<object>();

function scripts(client: RedisClient): Scripted {
  if (!defined.has(client)) {
    for (const [name, lua] of Object.entries(commands)) client.defineCommand(name, { numberOfKeys: 3, lua });
    defined.add(client);
  }
  return client as unknown as Scripted;
}

interface Waiter {
  tokens: number;
  /** Local clock; sent as "waited so far", so the grid's idle-spell rule needs no shared clock. */
  queuedAt: number;
  signal: AbortSignal | undefined;
  /** Local clock, as the queuedAt. */
  deadline: number | undefined;
  resolve(p: Permit): void;
  reject(e: unknown): void;
  onAbort?: () => void;
}

let nextPermit = 0;
const permitPrefix = `${process.pid.toString(36)}.${Math.random().toString(36).slice(2, 8)}`;

/**
 * The global limiter of a distributed run: the same rule as LocalRateLimiter (at most floor(rpm/60) starts
 * in any sliding second, on a grid of evenly spaced slots; tpm over a sliding minute; Retry-After pauses
 * everyone and widens the spacing for a while), decided in Redis. Callers of one process queue here and
 * only the head asks Redis, so waiting costs one script call per start and process rather than one per caller.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly perWindow: number;
  private readonly limitWindowMs: number;
  private readonly marginMs: number;
  private readonly waiters: Waiter[] = [];
  private running = false;
  private stopped = false;
  private recent = 0;
  private readonly refresh: NodeJS.Timeout;

  constructor(private readonly client: RedisClient, private readonly keys: LimiterKeys, private readonly opts: LimiterOptions) {
    validateLimiterOptions(opts);
    const w = opts.rpm === undefined ? { perWindow: 0, windowMs: 1000 } : rpmWindow(opts.rpm);
    this.perWindow = w.perWindow;
    this.limitWindowMs = w.windowMs;
    // Wider than the local limiter's 2 ms: sends from several machines reach the provider with more spread.
    this.marginMs = opts.marginMs ?? 20;
    scripts(client);
    this.refresh = setInterval(() => {
      void this.call('ptLimitCount').then((n) => { this.recent = Number(n); }, () => undefined);
    }, 2_000);
    this.refresh.unref();
  }

  private call(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const k = this.keys;
    return scripts(this.client)[name](k.starts, k.spends, k.state, ...args);
  }

  acquire(estimatedTokens: number, signal?: AbortSignal, deadline?: number): Promise<Permit> {
    const tokens = Math.max(0, Math.ceil(estimatedTokens));
    if (this.opts.tpm !== undefined && tokens > this.opts.tpm) {
      return Promise.reject(new PermanentError(`The request needs about ${tokens} tokens, more than this provider's whole tpm limit (${this.opts.tpm}); shorten the prompt or raise tpm`));
    }
    if (this.stopped) return Promise.reject(new Error('The rate limiter was stopped'));
    return new Promise<Permit>((resolve, reject) => {
      const w: Waiter = { tokens, queuedAt: realClock.now(), signal, deadline, resolve, reject };
      if (signal) {
        if (signal.aborted) { reject(signal.reason); return; }
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.waiters.length > 0) {
        const head = this.waiters[0]!;
        const id = `${permitPrefix}.${(nextPermit++).toString(36)}`;
        let reply: [string, string, number, string?];
        let asked: number;
        try {
          asked = realClock.now();
          const waited = Math.max(0, asked - head.queuedAt);
          reply = (await this.call('ptLimitAcquire', this.perWindow, this.marginMs, this.opts.tpm ?? 0, head.tokens, id, waited, this.limitWindowMs)) as [string, string, number, string?];
        } catch (e) {
          if (this.waiters[0] === head) this.waiters.shift();
          this.settleWaiter(head, undefined, e);
          continue;
        }
        this.recent = Number(reply[2]);
        if (reply[0] === '1') {
          // An aborted head still got a start recorded: harmless, it only makes the limit stricter.
          if (this.waiters[0] === head) this.waiters.shift();
          this.settleWaiter(head, this.permit(id, head.tokens));
          continue;
        }
        // The wait counts from when the script ran, not from when its reply was read: a reply read late (a
        // busy loop) must not make the start later still. Counted from the ask, it can end up to a round trip
        // early, and then the script says how much is left. Waits of more than a second are re-checked:
        // another process may have paused the provider meanwhile.
        const earliest = asked + Number(reply[1]);
        // Nobody queued behind the head starts before it; those whose deadline comes first go now. A pause
        // set by another process is known here only, through the script.
        if (this.expire(earliest, asked + Number(reply[3] ?? 0))) continue;
        await realClock.sleep(Math.min(earliest - realClock.now(), 1_000));
      }
    } finally {
      this.running = false;
    }
  }

  /** Rejects the waiters that cannot start before their deadline (see takeExpired); true if any. `pausedUntil`: the pause's end. */
  private expire(earliest: number, pausedUntil: number): boolean {
    const expired = takeExpired(this.waiters, earliest);
    for (const w of expired) this.settleWaiter(w, undefined, new LimitWaitError(earliest, pausedUntil >= w.deadline!));
    return expired.length > 0;
  }

  private settleWaiter(w: Waiter, permit: Permit | undefined, error?: unknown): void {
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    if (w.signal?.aborted) return; // already rejected by its abort listener
    if (permit) w.resolve(permit); else w.reject(error);
  }

  private permit(id: string, tokens: number): Permit {
    return {
      sent: () => { void this.call('ptLimitSent', id, tokens).catch(() => undefined); },
      settle: (actual) => {
        if (this.opts.tpm === undefined || actual === undefined || actual < 0 || Math.round(actual) === tokens) return;
        void this.call('ptLimitSettle', id, tokens, Math.round(actual)).catch(() => undefined);
      },
    };
  }

  /** Also widens the pacing for a while (see pauseScript): every process sees it. */
  pauseUntil(untilMs: number): void {
    this.expire(untilMs, untilMs);
    const ms = Math.max(0, untilMs - realClock.now());
    void this.call('ptLimitPause', this.perWindow, this.marginMs, ms, this.limitWindowMs).catch(() => undefined);
  }

  recentStarts(): number { return this.recent; }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.refresh);
    for (const w of this.waiters.splice(0)) this.settleWaiter(w, undefined, new Error('The rate limiter was stopped'));
  }
}
