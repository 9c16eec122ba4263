import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ProviderHub } from '../dist/engine/providers/hub.js';
import { SimulatorThread } from '../dist/engine/providers/simulator-thread.js';
import { warmUpSimulator, type SimulatorOptions } from '../dist/engine/providers/simulator.js';
import { LocalRateLimiter, type RateLimiter } from '../dist/engine/providers/limiter.js';
import { onRequestWritten } from '../dist/engine/providers/wire-stamp.js';
import { createEngine, loadPipeline } from '../dist/index.js';
import { cleanupProjects, makeProject, writeJsonl, writePipeline } from './helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });
afterAll(cleanupProjects);

async function simulator(opts: SimulatorOptions): Promise<SimulatorThread> {
  const sim = await SimulatorThread.start(opts);
  await warmUpSimulator(sim.url); // this process's HTTP client, as the hub does for its own simulator
  cleanup.push(() => sim.stop());
  return sim;
}

interface Answer { status: number; headers?: Record<string, string>; body: unknown }

/** A server that answers each request (numbered from 1) as `answer` says, and counts them. `origin` has no path. */
async function scriptedServer(answer: (call: number) => Answer): Promise<{ origin: string; calls: () => number }> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const a = answer(++calls);
    req.resume();
    req.on('end', () => {
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

/** A server that answers every chat completion with the given status (and counts the calls). */
async function fixedStatusServer(status: number): Promise<{ url: string; calls: () => number }> {
  const s = await scriptedServer(() => ({ status, body: { error: { message: `fixed ${status}`, type: 'invalid_request_error' } } }));
  return { url: `${s.origin}/v1`, calls: s.calls };
}

const chatCompletion = (content: string) => ({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });

async function hub(providers: Parameters<typeof ProviderHub.create>[0], env: NodeJS.ProcessEnv, opts: Parameters<typeof ProviderHub.create>[1] = {}): Promise<ProviderHub> {
  const h = await ProviderHub.create(providers, { env, simulateMissing: false, ...opts });
  cleanup.push(() => h.stop());
  return h;
}

const signal = () => new AbortController().signal;

describe('ProviderHub over real HTTP', () => {
  it('honours Retry-After: a 429 pauses the provider, then the call succeeds', async () => {
    // The server allows 1 per second and says "retry after 1 s"; the client has no limit of its own.
    const sim = await simulator({ latencyMs: 5, latencyJitter: 0, rpm: 60, retryAfterSeconds: 1 });
    const h = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: sim.url });
    const t0 = performance.now();
    const [a, b] = await Promise.all([h.call('openai', { prompt: 'one' }, signal()), h.call('openai', { prompt: 'two' }, signal())]);
    const elapsed = performance.now() - t0;
    expect(a.text).toContain('one');
    expect(b.text).toContain('two');
    expect((await sim.stats()).rateLimited).toBeGreaterThanOrEqual(1);
    expect(h.usage().openai!.rateLimited).toBeGreaterThanOrEqual(1);
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('pauses for retry-after-ms when a 429 gives it, not for the whole seconds of retry-after', async () => {
    const server = await scriptedServer((call) => call === 1
      ? { status: 429, headers: { 'retry-after': '2', 'retry-after-ms': '150' }, body: { error: { message: 'slow down', type: 'rate_limit_error' } } }
      : { status: 200, body: chatCompletion('fine') });
    const h = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `${server.origin}/v1` });
    const t0 = performance.now();
    expect((await h.call('openai', { prompt: 'x' }, signal())).text).toBe('fine');
    const elapsed = performance.now() - t0;
    expect(server.calls()).toBe(2);
    expect(h.usage().openai!.rateLimited).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(1_500); // retry-after's 2 s was not what it waited for
  });

  it('treats OpenAI\'s insufficient_quota 429 as final: no retries, straight to the fallback', async () => {
    const server = await scriptedServer(() => ({ status: 429, body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } }));
    const url = `${server.origin}/v1`;
    const alone = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: url });
    await expect(alone.call('openai', { prompt: 'x' }, signal())).rejects.toMatchObject({ code: 'PROVIDER_REJECTED', status: 429, message: expect.stringMatching(/exceeded your current quota/) });
    expect(server.calls()).toBe(1);
    expect(alone.usage().openai!.rateLimited).toBe(0);
    const withFallback = await hub({ openai: { fallback: 'anthropic' }, anthropic: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: url }, { simulateMissing: true, simulator: { latencyMs: 5, latencyJitter: 0 } });
    expect((await withFallback.call('openai', { prompt: 'x' }, signal())).provider).toBe('anthropic');
    expect(server.calls()).toBe(2);
  });

  it("waits out a Gemini 429's RetryInfo delay (in its body), then the call succeeds", async () => {
    const server = await scriptedServer((call) => call === 1
      ? { status: 429, body: { error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.2s' }] } } }
      : { status: 200, body: { candidates: [{ content: { role: 'model', parts: [{ text: 'fine' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 } } });
    const h = await hub({ google: {} }, { GOOGLE_API_KEY: 'k', GOOGLE_BASE_URL: `${server.origin}/v1beta` });
    const t0 = performance.now();
    expect((await h.call('google', { prompt: 'x' }, signal())).text).toBe('fine');
    expect(server.calls()).toBe(2);
    expect(h.usage().google!.rateLimited).toBe(1);
    // The first retry's backoff would be at most 500 ms: this waited the 1.2 s the body asked for.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_150);
  });

  it('does not wait out a 429 longer than the item has left: the fallback at once, or a rate-limited failure', async () => {
    const server = await scriptedServer(() => ({ status: 429, headers: { 'retry-after': '30' }, body: { error: { message: 'slow down', type: 'rate_limit_error' } } }));
    const url = `${server.origin}/v1`;
    const deadline = () => performance.timeOrigin + performance.now() + 3_000;
    const h = await hub({ openai: { fallback: 'anthropic' }, anthropic: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: url }, { simulateMissing: true, simulator: { latencyMs: 5, latencyJitter: 0 } });
    const t0 = performance.now();
    expect((await h.call('openai', { prompt: 'x' }, signal(), deadline())).provider).toBe('anthropic');
    // And the next call does not ask openai at all while it is paused past its deadline.
    expect((await h.call('openai', { prompt: 'y' }, signal(), deadline())).provider).toBe('anthropic');
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(server.calls()).toBe(1);
    expect(h.usage().openai).toMatchObject({ rateLimited: 1, fallbacks: 2 });

    const alone = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: url });
    await expect(alone.call('openai', { prompt: 'x' }, signal(), deadline())).rejects.toMatchObject({ code: 'PROVIDER_RATE_LIMITED', status: 429, message: expect.stringMatching(/openai is rate limited for another 30 s, longer than this attempt has left/) });
    expect(server.calls()).toBe(2);
  });

  it('a worker\'s ctx.llm carries its item\'s deadline: a long 429 sends the item to the fallback, not into its timeout', async () => {
    const server = await scriptedServer(() => ({ status: 429, headers: { 'retry-after': '30' }, body: { error: { message: 'slow down', type: 'rate_limit_error' } } }));
    const dir = makeProject('pt-deadline-');
    writeJsonl(dir, 'in.jsonl', 2, (i) => ({ text: `item ${i}` }));
    const file = writePipeline(dir, 'llm.ts', `import { definePipeline } from 'pipeline-tui';
export default definePipeline<{ id: number; text: string }>({
  name: 'deadline', workers: 1, timeoutMs: 10_000, id: (r) => String(r.id),
  providers: { openai: { fallback: 'anthropic' }, anthropic: {} },
  async process(r, ctx) { const res = await ctx.llm('openai', { prompt: r.text }); return { provider: res.provider }; },
});
`);
    const engine = createEngine(await loadPipeline(file), { cwd: dir, env: { ...process.env, OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `${server.origin}/v1`, ANTHROPIC_API_KEY: '' }, simulator: { latencyMs: 5, latencyJitter: 0 } });
    const summary = await engine.run(['in.jsonl']);
    expect(summary.totals.done).toBe(2);
    expect(summary.providers.openai).toMatchObject({ rateLimited: 1, fallbacks: 2 });
    expect(server.calls()).toBe(1);
    expect(summary.durationMs).toBeLessThan(10_000); // neither item sat out its timeout, nor the 30 s
  });

  it('an item rate limited past its deadline comes back when the provider takes calls again, not before', async () => {
    const server = await scriptedServer((call) => call === 1
      ? { status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'slow down', type: 'rate_limit_error' } } }
      : { status: 200, body: chatCompletion('fine') });
    const dir = makeProject('pt-retry-after-');
    writeJsonl(dir, 'in.jsonl', 1, (i) => ({ text: `item ${i}` }));
    const file = writePipeline(dir, 'llm.ts', `import { definePipeline } from 'pipeline-tui';
export default definePipeline<{ id: number; text: string }>({
  name: 'comeback', workers: 1, timeoutMs: 1_000, retry: { attempts: 3, backoffMs: 50 }, id: (r) => String(r.id),
  providers: { openai: {} },
  async process(r, ctx) { const res = await ctx.llm('openai', { prompt: r.text }); return { text: res.text }; },
});
`);
    const engine = createEngine(await loadPipeline(file), { cwd: dir, env: { ...process.env, OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `${server.origin}/v1` } });
    const retrying: { delayMs: number; code: string }[] = [];
    engine.on('event', (e) => { if (e.type === 'retrying') retrying.push({ delayMs: e.delayMs, code: e.error.code }); });
    const summary = await engine.run(['in.jsonl']);
    expect(summary.totals.done).toBe(1);
    // One retry, scheduled for the end of the 2 s pause (less the little the first try took), not at the
    // 50 ms backoff: that try would have found the provider still paused and spent the item's last tries.
    expect(retrying).toHaveLength(1);
    expect(retrying[0]!.code).toBe('PROVIDER_RATE_LIMITED');
    expect(retrying[0]!.delayMs).toBeGreaterThan(1_500);
    expect(server.calls()).toBe(2);
    expect(summary.totals.attempts).toBe(2);
  });

  it('simulates each provider on its own path, counted at the server on its own', async () => {
    // No limits on our side, so the server's own count is what is seen: 3 at once to each provider, whose
    // simulated limit is 2 a second each. Counted together, 4 of the 6 would have been refused.
    const h = await hub({ openai: { rpm: 600 }, anthropic: { rpm: 600 } }, {}, { simulate: true, simulator: { latencyMs: 5, latencyJitter: 0, rpm: 120 }, limiterFactory: () => new LocalRateLimiter({}) });
    const texts = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) => h.call('openai', { prompt: `o${i}` }, signal())),
      ...Array.from({ length: 3 }, (_, i) => h.call('anthropic', { prompt: `a${i}` }, signal())),
    ]);
    expect(texts.map((t) => t.text)).toEqual(['o0', 'o1', 'o2', 'a0', 'a1', 'a2'].map((p) => `[simulated] ${p}`));
    const stats = (await h.simulatorStats())!;
    expect(stats.byProvider.openai).toMatchObject({ requests: 4, violations: 1 });
    expect(stats.byProvider.anthropic).toMatchObject({ requests: 4, violations: 1 });
    expect(h.usage().openai!.rateLimited + h.usage().anthropic!.rateLimited).toBe(2);
  });

  it('falls back to the next provider when one rejects the request permanently', async () => {
    const bad = await fixedStatusServer(400);
    // openai points at a server that answers 400; anthropic has no key, so the hub answers it with the simulator.
    const h = await hub({ openai: { fallback: 'anthropic' }, anthropic: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: bad.url }, { simulateMissing: true, simulator: { latencyMs: 5, latencyJitter: 0 } });
    const res = await h.call('openai', { prompt: 'fallback please' }, signal());
    expect(res.provider).toBe('anthropic');
    expect(res.text).toContain('fallback please');
    expect(bad.calls()).toBe(1); // a 400 is not retried
    expect(h.usage().openai!.fallbacks).toBe(1);
    expect(h.usage().openai!.errors.client).toBe(1);
    expect(h.usage().anthropic!.simulated).toBe(true);
    expect(h.simulated).toBe(true);
  });

  it('classifies: 4xx is permanent (PROVIDER_REJECTED), 5xx is retried then transient (PROVIDER_ERROR)', async () => {
    const bad = await fixedStatusServer(403);
    const h = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: bad.url });
    await expect(h.call('openai', { prompt: 'x' }, signal())).rejects.toMatchObject({ code: 'PROVIDER_REJECTED', status: 403 });
    expect(bad.calls()).toBe(1);

    const down = await fixedStatusServer(503);
    const h2 = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: down.url }, { maxTries: 3 });
    await expect(h2.call('openai', { prompt: 'x' }, signal())).rejects.toMatchObject({ code: 'PROVIDER_ERROR', status: 503 });
    expect(down.calls()).toBe(3);
    expect(h2.usage().openai!.retries).toBe(2);
  });

  it('aborts the HTTP call when the item times out', async () => {
    const sim = await simulator({ latencyMs: 5_000, latencyJitter: 0 });
    const h = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: sim.url });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('Timed out after 200 ms')), 200);
    const t0 = performance.now();
    await expect(h.call('openai', { prompt: 'slow' }, controller.signal)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect((await sim.stats()).completions).toBe(0);
  });

  it('refuses an undeclared provider and a fallback to nowhere', async () => {
    const h = await hub({ openai: {} }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    await expect(h.call('mistral', { prompt: 'x' }, signal())).rejects.toMatchObject({ code: 'PROVIDER_UNKNOWN' });
    await expect(ProviderHub.create({ openai: { fallback: 'nope' } }, { env: {} })).rejects.toThrow(/Expected providers.openai.fallback to name a declared provider/);
  });
});

describe('simulator server-side limit', () => {
  const post = (url: string) => fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });

  it('answers an arrival over the limit with 429 and the ms until the sliding second has room', async () => {
    const sim = await simulator({ latencyMs: 1, latencyJitter: 0, rpm: 120 }); // 2 in any second
    expect((await post(sim.url)).status).toBe(200);
    const b0 = performance.now();
    expect((await post(sim.url)).status).toBe(200);
    const b1 = performance.now();
    await new Promise((r) => setTimeout(r, 700)); // 300 ms to spare before the first leaves the window
    const c0 = performance.now();
    const refused = await post(sim.url);
    const c1 = performance.now();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    // The refused arrival counts too, so one more fits once the second leaves: ~1000 ms after it arrived,
    // ~300 ms from now; not a whole second, which is all retry-after can say.
    const ms = Number(refused.headers.get('retry-after-ms'));
    expect(ms).toBeGreaterThanOrEqual(Math.floor(b0 + 1000 - c1));
    expect(ms).toBeLessThanOrEqual(Math.ceil(b1 + 1000 - c0) + 1);
    const stats = await sim.stats();
    expect(stats.violations).toBe(1);
    expect(stats.maxPerSecond).toBe(3);
  });

  it('counts each provider on its own path against its own limit', async () => {
    const sim = await simulator({ latencyMs: 1, latencyJitter: 0, rpm: 60, providers: { openai: { rpm: 180 }, google: {} } });
    const call = (provider: string) => fetch(`${sim.urlFor(provider)}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) }).then((r) => r.status);
    const openai = [await call('openai'), await call('openai'), await call('openai'), await call('openai')];
    const google = [await call('google'), await call('google')]; // no rpm of its own: the shared 60
    const other = [await call('mistral'), await call('mistral')]; // undeclared: on its own, at the shared 60
    expect(openai).toEqual([200, 200, 200, 429]);
    expect(google).toEqual([200, 429]);
    expect(other).toEqual([200, 429]);
    const stats = await sim.stats();
    expect(stats.byProvider).toEqual({
      openai: { requests: 4, violations: 1, maxPerSecond: 4 },
      google: { requests: 2, violations: 1, maxPerSecond: 2 },
      mistral: { requests: 2, violations: 1, maxPerSecond: 2 },
    });
    expect(stats.violations).toBe(3);
    expect(stats.maxPerSecond).toBe(4);
  });

  it('counts a limit under 60 RPM over a sliding minute, not a second', async () => {
    const sim = await simulator({ latencyMs: 1, latencyJitter: 0, rpm: 6 });
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(sim.url)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
    const last = await post(sim.url);
    expect(Number(last.headers.get('retry-after-ms'))).toBeGreaterThan(55_000);
    expect(last.headers.get('retry-after')).toBe(String(Math.ceil(Number(last.headers.get('retry-after-ms')) / 1000)));
  });
});

describe('send stamps', () => {
  it('reports when a fetch request has been written to the socket (never before), for the wrapped call only', async () => {
    // When fetch's socket is written to, the request line first: the stamp must not come before the last such write.
    const { Socket } = await import('node:net');
    const write = Socket.prototype.write;
    const writes: { at: number; data: string }[] = [];
    Socket.prototype.write = function (this: InstanceType<typeof Socket>, ...args: Parameters<typeof write>) {
      writes.push({ at: performance.now(), data: String(args[0]).slice(0, 20) });
      return write.apply(this, args);
    } as typeof write;
    cleanup.push(async () => { Socket.prototype.write = write; });
    const arrivals: number[] = [];
    const server: Server = createServer((req, res) => { arrivals.push(performance.now()); req.resume(); req.on('end', () => res.end('{}')); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const wired: number[] = [];
    const called = performance.now();
    await onRequestWritten(() => wired.push(performance.now()), () => fetch(url, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer()));
    // Concurrent fetches outside the wrapper, and one inside, are told apart.
    await Promise.all([
      fetch(url, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer()),
      onRequestWritten(() => wired.push(performance.now()), () => fetch(url, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer())),
      fetch(url, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer()),
    ]);
    expect(arrivals).toHaveLength(4);
    expect(wired).toHaveLength(2);
    expect(wired[0]!).toBeGreaterThanOrEqual(called);
    // The first request's head and body were both written before its stamp.
    const firstHead = writes.findIndex((w) => w.data.startsWith('POST / HTTP/1.1'));
    expect(firstHead).toBeGreaterThanOrEqual(0);
    expect(writes[firstHead]!.at).toBeLessThanOrEqual(wired[0]!);
    expect(writes[firstHead + 1]!.at).toBeLessThanOrEqual(wired[0]!);
  });

  it('the hub stamps each start again when its request is written, so the record is never earlier than the send', async () => {
    const sim = await simulator({ latencyMs: 5, latencyJitter: 0 });
    const stamps: number[] = [];
    const factory = (_name: string, opts: ConstructorParameters<typeof LocalRateLimiter>[0]): RateLimiter => {
      const inner = new LocalRateLimiter(opts);
      return {
        acquire: async (tokens, sig) => { const p = await inner.acquire(tokens, sig); return { sent: () => { stamps.push(performance.now()); p.sent(); }, settle: (n) => p.settle(n) }; },
        pauseUntil: (ms) => inner.pauseUntil(ms),
        recentStarts: () => inner.recentStarts(),
        stop: () => inner.stop(),
      };
    };
    const h = await hub({ openai: { rpm: 600 } }, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: sim.url }, { limiterFactory: factory });
    await h.call('openai', { prompt: 'stamp me' }, signal());
    // Once at the grant, once when the request was written.
    expect(stamps).toHaveLength(2);
    expect(stamps[1]!).toBeGreaterThanOrEqual(stamps[0]!);
  });
});
