import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SimulatorOptions {
  /** Median latency of a completion. @default 150 */
  latencyMs?: number;
  /** Spread: each latency is median * exp(jitter * N(0,1)), a log-normal tail like real APIs. 0 = fixed. @default 0.25 */
  latencyJitter?: number;
  /** Share of requests answered 500. @default 0 */
  errorRate?: number;
  /** Share of requests answered 429 with Retry-After, regardless of rate. @default 0 */
  rateLimitRate?: number;
  /**
   * Retry-After of the 429s that `rateLimitRate` sends, in seconds (also sent as `retry-after-ms`). A 429
   * for going over `rpm` says instead when its window has room again, to the ms. @default 1
   */
  retryAfterSeconds?: number;
  /**
   * Server-side limit: more than rpm/60 arrivals in any sliding second is a violation, answered 429
   * (below 60 RPM, more than rpm in any sliding minute). @default none
   */
  rpm?: number;
  /**
   * Providers answered under their own path, `/<name>/v1` (`urlFor(name)`), each counted against its
   * own server-side limit as a real provider would count it (`rpm` as above; without one, the `rpm`
   * above). `--simulate` declares every simulated provider here, so each is counted on its own.
   * @default none
   */
  providers?: Record<string, { rpm?: number }>;
  /** Deterministic randomness for tests. @default 1 */
  seed?: number;
}

export interface SimulatorStats {
  requests: number;
  completions: number;
  errors: number;
  rateLimited: number;
  /** Arrivals over the server-side limit (a well-behaved client causes none). */
  violations: number;
  /** Most arrivals seen in any sliding 1-second window, of one provider (each counts its own). */
  maxPerSecond: number;
  tokens: { input: number; output: number };
  /** Arrival times (ms, performance.timeOrigin-based) of the last 10,000 requests, for window checks. */
  arrivals: number[];
  /** The same counts for each provider answered under its own path. */
  byProvider: Record<string, ProviderCounts>;
}

export interface ProviderCounts {
  requests: number;
  violations: number;
  maxPerSecond: number;
}

/** One provider's server-side count: its arrivals in the last second and in its limit's window. */
class ArrivalCounter {
  readonly counts: ProviderCounts = { requests: 0, violations: 0, maxPerSecond: 0 };
  private readonly lastSecond: number[] = [];
  private readonly inWindow: number[] = [];
  private readonly limit: { count: number; windowMs: number } | undefined;

  constructor(rpm: number | undefined) {
    this.limit = rpm === undefined ? undefined : rpm >= 60 ? { count: rpm / 60, windowMs: 1000 } : { count: rpm, windowMs: 60_000 };
  }

  /**
   * Records an arrival. Over the limit, returns how many ms until one more arrival would be within it;
   * else undefined. Refused arrivals count too (as OpenAI says of its own limits: resending at once does
   * not work).
   */
  arrive(now: number): number | undefined {
    this.counts.requests++;
    this.lastSecond.push(now);
    while (this.lastSecond[0]! <= now - 1000) this.lastSecond.shift();
    this.counts.maxPerSecond = Math.max(this.counts.maxPerSecond, this.lastSecond.length);
    if (!this.limit) return undefined;
    const { count, windowMs } = this.limit;
    const w = this.inWindow;
    w.push(now);
    while (w[0]! <= now - windowMs) w.shift();
    if (w.length <= count) return undefined;
    this.counts.violations++;
    // A new arrival fits once at most floor(count) - 1 of these are left in the window: when the one at
    // this index, and all before it, have left.
    return Math.max(1, Math.ceil(w[w.length - Math.floor(count)]! + windowMs - now));
  }
}

/** A provider's own path on a simulator at `url` (which ends in /v1). */
export function simulatorURLFor(url: string, provider: string): string {
  return `${url.replace(/\/v1$/, '')}/${encodeURIComponent(provider)}/v1`;
}

/** Both forms, as Azure OpenAI sends them: whole seconds (rounded up) for any client, ms for those that read it. */
function retryAfter(ms: number): Record<string, string> {
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) };
}

/** ~4 characters a token: the usual rule of thumb, good enough for limits and for tests. */
export const estimateTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/**
 * Cold code stamps and sends its first requests late (JIT, lazy modules, new sockets), which reads
 * as bursts at the server. A few uncounted requests through the whole path, several at once so
 * connections open, warm both ends: the server calls it on itself, a client on its side.
 */
export async function warmUpSimulator(url: string, parallel = 6, rounds = 3): Promise<void> {
  const body = JSON.stringify({ model: 'warmup', messages: [{ role: 'user', content: 'warm up' }] });
  for (let round = 0; round < rounds; round++) {
    await Promise.all(Array.from({ length: parallel }, () => fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-simulator-warmup': '1' }, body }).then((r) => r.arrayBuffer()).catch(() => undefined)));
  }
}

/**
 * A loopback HTTP server speaking the OpenAI chat-completions wire format, so the real SDK adapter is
 * what runs against it. Answers are derived from the prompt (deterministic, labelled as simulated).
 */
export class ProviderSimulator {
  private server: Server | undefined;
  private readonly opts: Required<Omit<SimulatorOptions, 'rpm' | 'providers'>> & { rpm: number | undefined };
  /** Requests under /v1, against `rpm`. */
  private readonly shared: ArrivalCounter;
  private readonly providers = new Map<string, ArrivalCounter>();
  private rng: number;
  readonly stats: SimulatorStats = { requests: 0, completions: 0, errors: 0, rateLimited: 0, violations: 0, maxPerSecond: 0, tokens: { input: 0, output: 0 }, arrivals: [], byProvider: Object.create(null) as Record<string, ProviderCounts> };

  constructor(options: SimulatorOptions = {}) {
    this.opts = {
      latencyMs: options.latencyMs ?? 150,
      latencyJitter: options.latencyJitter ?? 0.25,
      errorRate: options.errorRate ?? 0,
      rateLimitRate: options.rateLimitRate ?? 0,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      seed: options.seed ?? 1,
      rpm: options.rpm,
    };
    this.rng = this.opts.seed;
    this.shared = new ArrivalCounter(options.rpm);
    for (const [name, p] of Object.entries(options.providers ?? {})) {
      const counter = new ArrivalCounter(p.rpm ?? options.rpm);
      this.providers.set(name, counter);
      this.stats.byProvider[name] = counter.counts;
    }
  }

  private random(): number {
    // mulberry32: a seeded generator so a failing test replays the same answers
    let t = (this.rng += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private latency(): number {
    const { latencyMs, latencyJitter } = this.opts;
    if (latencyJitter === 0) return latencyMs;
    const n = Math.sqrt(-2 * Math.log(this.random() || 1e-9)) * Math.cos(2 * Math.PI * this.random());
    return latencyMs * Math.exp(latencyJitter * n);
  }

  /** Records an arrival at the counter of its path; returns what ArrivalCounter.arrive does. */
  private arrive(now: number, counter: ArrivalCounter): number | undefined {
    this.stats.arrivals.push(now);
    if (this.stats.arrivals.length > 10_000) this.stats.arrivals.shift();
    const over = counter.arrive(now);
    this.stats.maxPerSecond = Math.max(this.stats.maxPerSecond, counter.counts.maxPerSecond);
    if (over !== undefined) this.stats.violations++;
    return over;
  }

  /** The counter of a chat-completions path: a declared provider's own, or the shared one. */
  private counterFor(pathname: string): ArrivalCounter | undefined {
    if (!pathname.endsWith('/chat/completions')) return undefined;
    const named = /^\/([^/]+)\/v1\/chat\/completions$/.exec(pathname);
    if (!named) return this.shared;
    let name: string;
    try { name = decodeURIComponent(named[1]!); } catch { return undefined; }
    let counter = this.providers.get(name);
    if (!counter) {
      // Not declared: counted on its own all the same, against the shared `rpm`.
      counter = new ArrivalCounter(this.opts.rpm);
      this.providers.set(name, counter);
      this.stats.byProvider[name] = counter.counts;
    }
    return counter;
  }

  /** A provider's own path, counted on its own: against its limit in `providers`, else `rpm`. */
  urlFor(provider: string): string { return simulatorURLFor(this.url, provider); }

  get url(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('Expected the simulator to be listening; call start() first');
    return `http://127.0.0.1:${a.port}/v1`;
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.server.unref();
    await warmUpSimulator(this.url);
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const now = performance.timeOrigin + performance.now();
    if (req.method === 'GET' && req.url === '/stats') return this.json(res, 200, this.stats);
    const counter = req.method === 'POST' ? this.counterFor((req.url ?? '').split('?')[0]!) : undefined;
    if (!counter) return this.json(res, 404, { error: { message: `No route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    const warmup = req.headers['x-simulator-warmup'] === '1';
    if (!warmup) this.stats.requests++;
    const overForMs = warmup ? undefined : this.arrive(now, counter);
    let body: { model?: string; messages?: { role: string; content: unknown }[]; max_tokens?: number; max_completion_tokens?: number };
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.json(res, 400, { error: { message: 'Invalid JSON body', type: 'invalid_request_error' } });
    }
    if (overForMs !== undefined) {
      this.stats.rateLimited++;
      return this.json(res, 429, { error: { message: 'Rate limit exceeded (simulated server-side limit)', type: 'rate_limit_error' } }, retryAfter(overForMs));
    }
    const roll = this.random();
    if (roll < this.opts.rateLimitRate) {
      this.stats.rateLimited++;
      return this.json(res, 429, { error: { message: 'Rate limit reached (simulated)', type: 'rate_limit_error' } }, retryAfter(this.opts.retryAfterSeconds * 1000));
    }
    if (roll < this.opts.rateLimitRate + this.opts.errorRate) {
      this.stats.errors++;
      return this.json(res, 500, { error: { message: 'Internal server error (simulated)', type: 'server_error' } });
    }
    const prompt = (body.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
    const lastUser = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
    const source = typeof lastUser?.content === 'string' ? lastUser.content : prompt;
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? 64;
    const words = source.replace(/\s+/g, ' ').trim().split(' ');
    const text = `[simulated] ${words.slice(0, Math.max(4, Math.min(words.length, maxTokens * 0.75))).join(' ')}`;
    const inputTokens = estimateTokens(prompt);
    const outputTokens = Math.min(maxTokens, estimateTokens(text));
    await new Promise((r) => setTimeout(r, warmup ? 0 : this.latency()));
    if (warmup) return this.json(res, 200, { warmup: true });
    this.stats.completions++;
    this.stats.tokens.input += inputTokens;
    this.stats.tokens.output += outputTokens;
    this.json(res, 200, {
      id: `chatcmpl-sim-${this.stats.requests}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? 'simulated',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
    });
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
}
