// A provider limit is global across machines: a coordinator and a worker process share one rpm, measured
// where it matters, at the (loopback) provider, which records every arrival.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorThread } from '../../dist/engine/providers/simulator-thread.js';
import { warmUpSimulator } from '../../dist/engine/providers/simulator.js';
import { cleanupProjects, duplicates, makeProject, readJsonl, runCli, spawnCli, waitCli, waitFor, writeJsonl, writePipeline } from '../helpers.js';
import { startRedis, type TestRedis } from '../redis-server.js';
import { maxInWindow, SERVER_STAMP_NOISE_MS } from './limits-measure.js';

let redis: TestRedis;
let sim: SimulatorThread;
beforeAll(async () => {
  redis = await startRedis();
  sim = await SimulatorThread.start({ latencyMs: 60, latencyJitter: 0.2, rpm: 600 });
  await warmUpSimulator(sim.url);
});
afterAll(async () => {
  await sim?.stop();
  await redis?.stop();
  cleanupProjects();
});

describe('provider limits across machines', () => {
  it('two processes never exceed rpm/60 in any sliding second at the provider, and both make calls', async () => {
    const n = 70;
    const rpm = 600;
    const dir = makeProject('pt-dist-limit-');
    writePipeline(dir, 'pipelines/dist-llm.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'dist-llm', input: 'in.jsonl', id: (r: any) => String(r.id), workers: 3,
  providers: { openai: { rpm: ${rpm} } },
  async process(r: any, ctx) {
    const res = await ctx.llm('openai', { prompt: 'item ' + r.id, maxTokens: 8 });
    return { pid: process.pid, text: res.text };
  },
});
`);
    writeJsonl(dir, 'in.jsonl', n);
    const env = { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: sim.url };
    const worker = spawnCli(['worker', 'dist-llm', '--redis', redis.url, '--workers', '3', '-A'], { cwd: dir, env });
    let workerOut = '';
    worker.stdout?.on('data', (d: Buffer) => { workerOut += d.toString(); });
    const workerDone = waitCli(worker, 80_000);
    await waitFor(() => workerOut.includes('waiting for a run'), 20_000, 'the worker to wait for a run');
    const before = await sim.stats();
    const res = await runCli(['run', 'dist-llm', '--redis', redis.url, '--workers', '3', '--json', '-A'], { cwd: dir, env, timeoutMs: 60_000 });
    worker.kill('SIGTERM');
    await workerDone;
    expect(res.code, res.stderr.slice(-1500)).toBe(0);
    const out = readJsonl<{ id: string; result: { pid: number } }>(path.join(dir, 'out', 'dist-llm.jsonl'));
    expect(duplicates(out.map((l) => l.id))).toEqual([]);
    expect(out).toHaveLength(n);
    // Both processes called the provider: the limit was shared, not merely one process doing all the work.
    const byPid = new Map<number, number>();
    for (const l of out) byPid.set(l.result.pid, (byPid.get(l.result.pid) ?? 0) + 1);
    expect(byPid.size).toBe(2);
    for (const count of byPid.values()) expect(count).toBeGreaterThan(n / 10);
    const stats = await sim.stats();
    // One request an item, and one more for each the server refused (as its noise may make it do).
    expect(stats.requests - before.requests).toBe(n + stats.rateLimited - before.rateLimited);
    // The processes' writes cannot be watched from here, so the check is at the server, allowing for its
    // stamping noise: two limits of 10/s, one per process, would show 20.
    const arrivals = stats.arrivals.slice(-(stats.requests - before.requests));
    expect(maxInWindow(arrivals, 1000 - SERVER_STAMP_NOISE_MS)).toBeLessThanOrEqual(rpm / 60);
    // 70 calls at 10/s need about 6 s: the limit was applied, not just counted.
    const summary = res.stdout.split('\n').filter((l) => l.includes('"type":"end"')).map((l) => JSON.parse(l) as { summary: { durationMs: number } })[0]!.summary;
    expect(summary.durationMs).toBeGreaterThan(5_500);
  });
});
