import { Histogram } from '../histogram.js';
import { backoffDelay } from '../backoff.js';
import type { ProviderLimits, ProviderUsage } from '../types.js';
import { callProvider, classify, hasCredentials, resolveEndpoint, envVarsFor, type LlmRequest, type LlmResponse, type ProviderEndpoint } from './adapters.js';
import { LimitWaitError, LocalRateLimiter, type LimiterOptions, type Permit, type RateLimiter } from './limiter.js';
import { estimateTokens, warmUpSimulator, type SimulatorOptions } from './simulator.js';
import { SimulatorThread } from './simulator-thread.js';


/** Errors ctx.llm throws; `status` lets the item's retry policy tell permanent from transient. */
export class ProviderError extends Error {
  /** @param retryAfterMs for a rate limit: how long until the provider takes calls again, when known */
  constructor(readonly code: string, message: string, readonly status: number | undefined, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface ProviderHubOptions {
  env?: NodeJS.ProcessEnv;
  /** Answer every provider with the simulator (--simulate). @default false */
  simulate?: boolean;
  /** Providers without credentials use the simulator instead of failing every item. @default true */
  simulateMissing?: boolean;
  simulator?: SimulatorOptions;
  /** Tries per provider for 429s, 5xx and network errors before falling back or failing. @default 4 */
  maxTries?: number;
  limiterFactory?: (name: string, opts: LimiterOptions) => RateLimiter;
  warn?: (message: string) => void;
}

interface ProviderState {
  name: string;
  config: ProviderLimits;
  endpoint: ProviderEndpoint;
  limiter: RateLimiter;
  latency: Histogram;
  usage: Omit<ProviderUsage, 'latencyP50' | 'latencyP95' | 'currentRpm'>;
}

/**
 * Every ctx.llm call of every worker passes through here, in the main thread: one limiter per
 * provider, so limits hold across the whole pool. Retries 429/5xx under the limits, pauses a
 * provider for its Retry-After, falls back along `fallback`, and keeps the usage counts.
 */
export class ProviderHub {
  private readonly states = new Map<string, ProviderState>();
  private simulator: SimulatorThread | undefined;
  private readonly opts: Required<Omit<ProviderHubOptions, 'limiterFactory' | 'simulator' | 'warn'>> & Pick<ProviderHubOptions, 'limiterFactory' | 'simulator' | 'warn'>;

  private constructor(private readonly providers: Record<string, ProviderLimits>, options: ProviderHubOptions) {
    this.opts = { env: options.env ?? process.env, simulate: options.simulate ?? false, simulateMissing: options.simulateMissing ?? true, maxTries: options.maxTries ?? 4, limiterFactory: options.limiterFactory, simulator: options.simulator, warn: options.warn };
  }

  static async create(providers: Record<string, ProviderLimits>, options: ProviderHubOptions = {}): Promise<ProviderHub> {
    const hub = new ProviderHub(providers, options);
    // Node loads its fetch implementation on first use (tens of ms); paid here, it would otherwise
    // delay the first request after its limiter permit and blur the spacing the limiter made.
    await fetch('data:,').then((r) => r.arrayBuffer()).catch(() => undefined);
    const simulated = new Set<string>();
    const endpoints = new Map<string, ProviderEndpoint>();
    for (const [name, config] of Object.entries(providers)) {
      if (config.fallback !== undefined && !(config.fallback in providers)) {
        throw new RangeError(`Expected providers.${name}.fallback to name a declared provider (${Object.keys(providers).join(', ')}), got "${config.fallback}"`);
      }
      const endpoint = resolveEndpoint(name, config, hub.opts.env);
      endpoints.set(name, endpoint);
      if (hub.opts.simulate || (!hasCredentials(endpoint) && hub.opts.simulateMissing)) {
        if (!hub.opts.simulate) hub.opts.warn?.(`No ${envVarsFor(name).keyVars.join(' or ')} set: provider "${name}" is answered by the local simulator (SIMULATED)`);
        simulated.add(name);
      }
    }
    // One simulator answers every simulated provider, each on its own path and counted on its own, as each
    // real provider counts only its own calls. Against the simulator options' rpm, not the declared one: on
    // a machine busy with the pipeline itself (2 cores, 8 workers), the server stamps arrivals tens of ms
    // late and would refuse calls that left exactly within the limit (measured on the tweets sample: 3 of
    // 603). Each provider's maxPerSecond in the summary shows how its calls were paced.
    const sim = simulated.size > 0 ? await hub.startSimulator(simulated) : undefined;
    for (const [name, config] of Object.entries(providers)) {
      const endpoint = sim && simulated.has(name) ? resolveEndpoint(name, config, hub.opts.env, sim.urlFor(name)) : endpoints.get(name)!;
      const limits: LimiterOptions = { ...(config.rpm ? { rpm: config.rpm } : {}), ...(config.tpm ? { tpm: config.tpm } : {}) };
      hub.states.set(name, {
        name, config, endpoint,
        limiter: hub.opts.limiterFactory?.(name, limits) ?? new LocalRateLimiter(limits),
        latency: new Histogram(),
        usage: { simulated: endpoint.simulated, model: endpoint.defaultModel, requests: 0, inputTokens: 0, outputTokens: 0, rateLimited: 0, retries: 0, fallbacks: 0, errors: {}, limitRpm: config.rpm ?? null, limitTpm: config.tpm ?? null },
      });
    }
    return hub;
  }

  /** Each of `names` on its own path; options given for one (`simulator.providers`) win. */
  private async startSimulator(names: Set<string>): Promise<SimulatorThread> {
    const given = this.opts.simulator ?? {};
    const providers: Record<string, { rpm?: number }> = Object.fromEntries([...names].map((n) => [n, {}]));
    this.simulator = await SimulatorThread.start({ ...given, providers: { ...providers, ...given.providers } });
    await warmUpSimulator(this.simulator.url);
    return this.simulator;
  }

  /** True when any provider is answered by the simulator: the run must say so. */
  get simulated(): boolean { return [...this.states.values()].some((s) => s.endpoint.simulated); }

  /**
   * `deadline` (epoch ms): when the calling item times out. A start its limiter cannot give before then
   * (a 429's wait longer than the item has left: a daily quota, a long Retry-After, here or, in a
   * distributed run, in another process; or an rpm/tpm window that long) is not waited for: the fallback
   * is tried at once, or the call fails as rate limited and the item is retried later, instead of
   * sitting out its timeout.
   */
  async call(provider: string, req: LlmRequest, signal: AbortSignal, deadline?: number): Promise<LlmResponse> {
    if (!this.states.has(provider)) {
      throw new ProviderError('PROVIDER_UNKNOWN', `Provider "${provider}" is not declared in the pipeline's providers (${[...this.states.keys()].join(', ') || 'none'})`, 400);
    }
    if (req.prompt === undefined && req.messages === undefined) throw new ProviderError('PROVIDER_REQUEST', 'ctx.llm needs { prompt } or { messages }', 400);
    const seen = new Set<string>();
    let name: string | undefined = provider;
    let last: unknown;
    while (name !== undefined && !seen.has(name)) {
      seen.add(name);
      const state: ProviderState = this.states.get(name)!;
      try {
        return await this.callOne(state, req, signal, deadline);
      } catch (e) {
        last = e;
        if (signal.aborted || (e as ProviderError).code === 'TIMEOUT') throw e;
        name = state.config.fallback;
        if (name !== undefined && !seen.has(name)) state.usage.fallbacks++;
      }
    }
    throw last;
  }

  private async callOne(s: ProviderState, req: LlmRequest, signal: AbortSignal, deadline: number | undefined): Promise<LlmResponse> {
    const text = req.prompt ?? (req.messages ?? []).map((m) => m.content).join('\n');
    const estimate = estimateTokens(text) + (req.maxTokens ?? 256);
    let lastError: ProviderError | undefined;
    for (let attempt = 1; attempt <= this.opts.maxTries; attempt++) {
      let permit: Permit | undefined;
      let acquireError: unknown;
      const beforeSend = async () => {
        try {
          permit = await s.limiter.acquire(estimate, signal, deadline);
        } catch (e) {
          acquireError = e;
          throw e;
        }
        s.usage.requests++;
      };
      let sentAt = 0;
      try {
        // Stamped when the permit is granted and again when the request reaches the socket: a stamp
        // only ever moves later, so the limiter's record is never earlier than the provider's count.
        const onWire = () => { permit!.sent(); sentAt = performance.now(); };
        const res = await callProvider(s.name, s.endpoint, req, signal, { beforeSend: async () => { await beforeSend(); onWire(); }, onWire });
        s.latency.record(performance.now() - sentAt);
        s.usage.inputTokens += res.usage.inputTokens;
        s.usage.outputTokens += res.usage.outputTokens;
        permit!.settle(res.usage.inputTokens + res.usage.outputTokens);
        return res;
      } catch (e) {
        permit?.settle(undefined);
        if (acquireError !== undefined) {
          if (signal.aborted) throw new ProviderError('TIMEOUT', `Aborted while waiting for ${s.name}'s rate limit`, undefined);
          if (acquireError instanceof LimitWaitError) throw tooLongWait(s.name, acquireError, deadline!, lastError);
          throw new ProviderError('PROVIDER_REQUEST', (acquireError as Error).message, 400);
        }
        const c = classify(e, signal);
        if (c.kind === 'abort') throw new ProviderError('TIMEOUT', `${s.name} call aborted: ${c.message}`, undefined);
        const category = c.kind === 'rate-limit' ? 'rate_limit' : c.kind;
        s.usage.errors[category] = (s.usage.errors[category] ?? 0) + 1;
        if (c.kind === 'client') throw new ProviderError('PROVIDER_REJECTED', `${s.name} rejected the request (HTTP ${c.status}): ${c.message}`, c.status);
        const wait = c.retryAfterMs ?? backoffDelay(attempt, { attempts: this.opts.maxTries, backoffMs: 500, maxBackoffMs: 20_000 });
        if (c.kind === 'rate-limit') {
          s.usage.rateLimited++;
          // The whole provider waits, not just this call: every other call would get the same 429.
          s.limiter.pauseUntil(performance.timeOrigin + performance.now() + wait);
        }
        lastError = new ProviderError(c.kind === 'rate-limit' ? 'PROVIDER_RATE_LIMITED' : 'PROVIDER_ERROR', `${s.name}: ${c.message}${c.status ? ` (HTTP ${c.status})` : ''}`, c.status, c.kind === 'rate-limit' ? wait : undefined);
        if (attempt === this.opts.maxTries) break;
        s.usage.retries++;
        if (c.kind !== 'rate-limit') await sleep(wait, signal);
      }
    }
    throw lastError!;
  }

  usage(): Record<string, ProviderUsage> {
    const out: Record<string, ProviderUsage> = {};
    for (const s of this.states.values()) {
      out[s.name] = { ...s.usage, errors: { ...s.usage.errors }, latencyP50: Math.round(s.latency.percentile(50)), latencyP95: Math.round(s.latency.percentile(95)), currentRpm: s.limiter.recentStarts() };
    }
    return out;
  }

  /** The simulator's own counts (violations, max per second), when one answers any provider. */
  async simulatorStats() { return this.simulator?.stats(); }

  async stop(): Promise<void> {
    await Promise.all([...this.states.values()].map((s) => s.limiter.stop()));
    await this.simulator?.stop();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** A start the limiter could not give before the item's deadline, as the error the item sees. */
function tooLongWait(name: string, e: LimitWaitError, deadline: number, lastError: ProviderError | undefined): ProviderError {
  const now = performance.timeOrigin + performance.now();
  const left = `longer than this attempt has left (${Math.max(0, Math.round(deadline - now))} ms)`;
  const wait = Math.ceil((e.earliest - now) / 1000);
  const why = e.paused ? `${name} is rate limited for another ${wait} s` : `${name}'s rpm/tpm limits have no room for another ${wait} s`;
  return new ProviderError('PROVIDER_RATE_LIMITED', `${why}, ${left}${lastError ? `; its last answer: ${lastError.message}` : ''}`, 429, Math.max(0, e.earliest - now));
}
