import { afterEach, describe, expect, it } from 'vitest';
import { ProviderHub } from '../../dist/engine/providers/hub.js';
import { SimulatorThread } from '../../dist/engine/providers/simulator-thread.js';
import { warmUpSimulator } from '../../dist/engine/providers/simulator.js';
import { maxInWindow, recordRequestWrites, SERVER_STAMP_NOISE_MS } from './limits-measure.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });
const signal = () => new AbortController().signal;

describe('provider limits measured at the server', () => {
  it('never exceeds rpm/60 in any sliding second, measured at the server, with many concurrent callers', async () => {
    const sim = await SimulatorThread.start({ latencyMs: 30, latencyJitter: 0, rpm: 1200 });
    cleanup.push(() => sim.stop());
    await warmUpSimulator(sim.url);
    const h = await ProviderHub.create({ openai: { rpm: 1200 } }, { env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: sim.url }, simulateMissing: false });
    cleanup.push(() => h.stop());
    const writes = recordRequestWrites();
    cleanup.push(async () => writes.stop());
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 70 }, (_, i) => h.call('openai', { prompt: `hello ${i}`, maxTokens: 8 }, signal())));
    const seconds = (performance.now() - t0) / 1000;
    expect(results.every((r) => r.text.startsWith('[simulated]'))).toBe(true);
    const stats = await sim.stats();
    // Where we write, exactly: never more than 20 in any second.
    expect(writes.times.length).toBe(70 + stats.rateLimited);
    expect(maxInWindow(writes.times, 1000)).toBeLessThanOrEqual(20);
    // At the server, allowing for its stamping noise (a refused arrival counts there too).
    expect(maxInWindow(stats.arrivals, 1000 - SERVER_STAMP_NOISE_MS)).toBeLessThanOrEqual(20);
    // 70 calls at 20/s need at least 3 seconds of windows: the limiter did hold them back.
    expect(seconds).toBeGreaterThan(2.9);
    expect(h.usage().openai!.requests).toBe(70 + stats.rateLimited); // HTTP calls: a refused one was made again
    // Every 429 the server sent was seen, and retried.
    expect(h.usage().openai!.rateLimited).toBe(stats.rateLimited);
  });

});

describe('provider limits across a worker pool', () => {
  it('holds one global limit for every worker thread, measured at the simulator', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { createEngine, loadPipeline } = await import('../../dist/index.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pt-limits-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'in.jsonl'), Array.from({ length: 45 }, (_, i) => JSON.stringify({ id: i, text: `item ${i}` })).join('\n') + '\n');
    writeFileSync(path.join(dir, 'llm.ts'), `import { definePipeline } from 'pipeline-tui';
export default definePipeline<{ id: number; text: string }>({
  name: 'llm-limits', workers: 4, id: (r) => String(r.id),
  providers: { openai: { rpm: 600 } },
  async process(r, ctx) { const res = await ctx.llm('openai', { prompt: r.text, maxTokens: 8 }); return { text: res.text }; },
});
`);
    const sim = await SimulatorThread.start({ latencyMs: 80, latencyJitter: 0.2, rpm: 600 });
    cleanup.push(() => sim.stop());
    await warmUpSimulator(sim.url);
    const engine = createEngine(await loadPipeline(path.join(dir, 'llm.ts')), { cwd: dir, simulateMissing: false, env: { ...process.env, OPENAI_API_KEY: 'k', OPENAI_BASE_URL: sim.url } });
    const writes = recordRequestWrites();
    cleanup.push(async () => writes.stop());
    const summary = await engine.run(['in.jsonl']);
    expect(summary.totals.done).toBe(45);
    const stats = await sim.stats();
    // The four workers' calls, where the main thread writes them: never more than 10 in any second.
    expect(writes.times.length).toBe(45 + stats.rateLimited);
    expect(maxInWindow(writes.times, 1000)).toBeLessThanOrEqual(10);
    // At the server, allowing for its stamping noise. Four limits of 10/s, one per worker, would show 40.
    expect(maxInWindow(stats.arrivals, 1000 - SERVER_STAMP_NOISE_MS)).toBeLessThanOrEqual(10);
    expect(summary.providers.openai?.requests).toBe(45 + stats.rateLimited); // HTTP calls: a refused one was made again
    expect(summary.providers.openai?.rateLimited).toBe(stats.rateLimited);
    // 45 calls at 10/s cannot finish in much under 4.4 s: the limit was applied, not just counted.
    expect(summary.durationMs).toBeGreaterThan(4_000);
  });
});
