// Distributed runs on BullMQ + a real redis-server: a coordinator (`run --redis`) and `worker` processes.
// Every test ends with each input id exactly once in the output, whatever was killed on the way.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../dist/index.js';
import { cleanupProjects, countLines, duplicates, expectedIds, makeProject, readJsonl, runCli, sleep, spawnCli, waitCli, waitFor, writeFile, writeJsonl, writePipeline, type CliResult } from './helpers.js';
import { freePort, startRedis, type TestRedis } from './redis-server.js';

let redis: TestRedis;
beforeAll(async () => { redis = await startRedis(); });
const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop();
  cleanupProjects();
});

/** A project whose pipeline sleeps `sleepMs` per item and reports which process ran it, when, and as which attempt. */
function project(name: string, n: number, sleepMs: number, { extra = '', before = '', priority = 'r.id % 3' } = {}) {
  const dir = makeProject('pt-dist-');
  writePipeline(dir, `pipelines/${name}.ts`, `
import { existsSync } from 'node:fs';
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: '${name}',
  input: 'in.jsonl',
  id: (r: any) => String(r.id),
  workers: 2,
  priority: (r: any) => ${priority},
  ${extra}
  async process(r: any, ctx) {
    ${before}
    await new Promise((res) => setTimeout(res, ${sleepMs}));
    return { id: r.id, pid: process.pid, at: Date.now(), attempt: ctx.attempt };
  },
});
`);
  writeJsonl(dir, 'in.jsonl', n);
  return { dir, outFile: path.join(dir, 'out', `${name}.jsonl`) };
}

interface Worker { child: ChildProcess; result: Promise<CliResult>; output(): string }

/** A `worker` process; `output()` is what it printed so far. */
function startWorker(dir: string, name: string, args: string[] = ['-A'], env: NodeJS.ProcessEnv = {}): Worker {
  const child = spawnCli(['worker', name, '--redis', redis.url, ...args], { cwd: dir, env });
  children.add(child);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => { text += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { text += d.toString(); });
  return { child, result: waitCli(child, 80_000), output: () => text };
}

async function waitingFor(w: Worker): Promise<void> {
  await waitFor(() => w.output().includes('waiting for a run'), 45_000, `worker ${w.child.pid} to wait for a run`);
}

type Line = { id: string; result: { id: number; pid: number; at: number; attempt: number } };

function expectExactlyOnce(outFile: string, n: number): Line[] {
  const out = readJsonl<Line>(outFile);
  const ids = out.map((l) => l.id);
  expect(duplicates(ids)).toEqual([]);
  expect([...ids].sort((a, b) => Number(a) - Number(b))).toEqual(expectedIds(n));
  for (const l of out) expect(l.result.id).toBe(Number(l.id));
  return out;
}

const summaryOf = (stdout: string) => (stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; summary?: RunSummary }).find((e) => e.type === 'end'))?.summary;

/** Job keys of `name`'s queues still in Redis (the queue's own bookkeeping keys excluded). */
async function jobKeys(name: string): Promise<string[]> {
  const reply = await redis.command('KEYS', `pipeline-tui:${name}.stage*`);
  // meta, stalled-check, events, id, marker: BullMQ's own, re-created by any worker still polling.
  const own = /:(meta|stalled-check|events|id|marker)$/;
  return reply.split('\r\n').filter((l) => l.startsWith('pipeline-tui:') && !own.test(l));
}

describe('distributed runs', () => {
  it('a coordinator and two worker processes finish every item exactly once; workers wait for a run and go back to waiting', { timeout: 150_000 }, async () => {
    const n = 300;
    const { dir, outFile } = project('dist-two', n, 8);
    // Started before any run exists: they must wait for one.
    // Sandboxed like `run` (the other tests pass -A to save the second start-up).
    const w1 = startWorker(dir, 'dist-two', []);
    const w2 = startWorker(dir, 'dist-two', ['--workers', '1']);
    await Promise.all([waitingFor(w1), waitingFor(w2)]);
    const res = await runCli(['run', 'dist-two', '--redis', redis.url, '--workers', '1', '--json'], { cwd: dir, timeoutMs: 60_000 });
    expect(res.stderr).not.toMatch(/unexpected error/);
    expect(res.code).toBe(0);
    const summary = summaryOf(res.stdout)!;
    expect(summary.totals.done).toBe(n);
    const out = expectExactlyOnce(outFile, n);
    // Three processes did the work: the coordinator's own thread and both workers.
    const pids = new Set(out.map((l) => l.result.pid));
    expect(pids.size).toBeGreaterThanOrEqual(3);
    // The run is over everywhere: its jobs are gone from Redis and the workers wait for the next one.
    expect(await jobKeys('dist-two')).toEqual([]);
    await waitFor(() => (w1.output().match(/waiting for a run/g) ?? []).length >= 2 && (w2.output().match(/waiting for a run/g) ?? []).length >= 2, 15_000, 'workers back to waiting');
    expect(w1.output()).toMatch(/serving run r\w+/);
    // Workers exit only when told to.
    w1.child.kill('SIGTERM');
    w2.child.kill('SIGINT');
    expect((await w1.result).code).toBe(130);
    expect((await w2.result).code).toBe(130);
  });

  it('kill -9 of a worker mid-run: its jobs come back within seconds and every item is still there exactly once', { timeout: 45_000 }, async () => {
    const n = 240;
    const name = 'dist-kill';
    // Items after the first 60 wait for a gate (a file), so the run cannot end before the kill, and the
    // victim surely holds jobs when it dies. The survivor holds its first jobs until the victim has finished
    // one: on a loaded machine it could otherwise take every ungated item before the victim starts.
    const wait = (file: string) => `while (!existsSync(${file})) await new Promise((res) => setTimeout(res, 20));`;
    const { dir, outFile } = project(name, n, 15, { before: `if (process.env.PT_HOLD_FOR) ${wait('process.env.PT_HOLD_FOR')} if (r.id > 60) ${wait("'GATE'")}`, priority: 'r.id <= 60 ? 1 : 0' });
    const victim = startWorker(dir, name);
    const survivor = startWorker(dir, name, ['-A'], { PT_HOLD_FOR: 'VICTIM_WORKED' });
    await Promise.all([waitingFor(victim), waitingFor(survivor)]);
    const metricsPort = await freePort();
    const coordinator = spawnCli(['run', name, '--redis', redis.url, '--workers', '0', '--json', '--metrics-port', String(metricsPort), '-A'], { cwd: dir });
    children.add(coordinator);
    const result = waitCli(coordinator, 80_000);
    await waitFor(() => victim.output().includes('serving run') && survivor.output().includes('serving run'), 30_000, 'both workers serving');
    // The process that runs the items names itself host:pid (with the sandbox, the launcher's child).
    const victimPid = Number(/serving run \S+ \(coordinator \S+\) as \S+:(\d+)/.exec(victim.output())?.[1]);
    await waitFor(() => readJsonl<Line>(outFile).some((l) => l.result.pid === victimPid), 20_000, 'the victim to finish an item');
    writeFile(dir, 'VICTIM_WORKED', '');
    await waitFor(() => countLines(outFile) >= 30, 30_000, '30 output lines');
    // The dashboard's sources while running: remote machines in the metrics and in status.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^pipeline_tui_items\{pipeline="dist-kill",state="done"\} \d+$/m);
    expect(metrics).toMatch(/^pipeline_tui_machine_items_per_second\{.*role="worker"\} [\d.]+$/m);
    expect(metrics).toMatch(/^pipeline_tui_redis_connected\{.*\} 1$/m);
    const st = await runCli(['status', name, '--json', '--redis', redis.url], { cwd: dir });
    const report = JSON.parse(st.stdout) as { distributed?: { machines: { pid: number; role: string; busy: number; workers: number }[] } };
    const remote = report.distributed?.machines.filter((m) => m.role === 'worker') ?? [];
    expect(remote).toHaveLength(2);
    expect(remote.every((m) => m.workers === 2 && m.busy >= 0)).toBe(true);

    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    writeFile(dir, 'GATE', '');
    const res = await result;
    expect(res.stderr).not.toMatch(/unexpected error/);
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    const out = expectExactlyOnce(outFile, n);
    // The victim did part of the work before it died; the survivor finished the rest, its stalled jobs included.
    expect(out.some((l) => l.result.pid === victimPid)).toBe(true);
    expect(out.filter((l) => l.result.at > killedAt + 1_000).every((l) => l.result.pid !== victimPid)).toBe(true);
    // The jobs the victim held ran again elsewhere, as their second attempt, within seconds (lock 5 s +
    // stalled check 2.5 s), not BullMQ's default of up to a minute.
    const recovered = out.filter((l) => l.result.attempt === 2 && l.result.pid !== victimPid);
    expect(recovered.length).toBeGreaterThan(0);
    expect(Math.min(...recovered.map((l) => l.result.at)) - killedAt).toBeLessThan(15_000);
    survivor.child.kill('SIGTERM');
    expect((await survivor.result).code).toBe(130);
  });

  it('a coordinator killed mid-run resumes: results finished while it was down are collected, not run again', async () => {
    const n = 300;
    const name = 'dist-restart';
    const { dir, outFile } = project(name, n, 12, { extra: 'retry: { attempts: 2, backoffMs: 10 },' });
    const worker = startWorker(dir, name, ['--workers', '2', '-A']);
    await waitingFor(worker);
    const first = spawnCli(['run', name, '--redis', redis.url, '--workers', '0', '--json', '-A'], { cwd: dir });
    children.add(first);
    const firstResult = waitCli(first, 60_000);
    await waitFor(() => countLines(outFile) >= 30, 30_000, '30 output lines');
    first.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await firstResult).signal).toBe('SIGKILL');
    // The worker goes on with the jobs already in Redis while no coordinator listens.
    await sleep(1_200);
    const restartedAt = Date.now();
    const res = await runCli(['run', name, '--redis', redis.url, '--workers', '0', '--json', '-A'], { cwd: dir, timeoutMs: 60_000 });
    expect(res.stderr).not.toMatch(/unexpected error/);
    expect(res.code).toBe(0);
    const out = expectExactlyOnce(outFile, n);
    // Finished between the kill and the restart, and in the output only once: collected from Redis.
    expect(out.filter((l) => l.result.at > killedAt + 200 && l.result.at < restartedAt).length).toBeGreaterThan(10);
    expect(res.stderr + res.stdout).toMatch(/result\(s\) found in Redis from before this start/);
    expect(await jobKeys(name)).toEqual([]);
    worker.child.kill('SIGTERM');
    await worker.result;
  });

  it('SIGINT stops a distributed run cleanly (exit 130); the re-run finishes it exactly once', async () => {
    const n = 200;
    const name = 'dist-stop';
    const { dir, outFile } = project(name, n, 15);
    const coordinator = spawnCli(['run', name, '--redis', redis.url, '--workers', '2', '--json', '-A'], { cwd: dir });
    children.add(coordinator);
    const result = waitCli(coordinator, 60_000);
    await waitFor(() => countLines(outFile) >= 30, 30_000, '30 output lines');
    coordinator.kill('SIGINT');
    const stopped = await result;
    expect(stopped.code).toBe(130);
    expect(summaryOf(stopped.stdout)?.status).toBe('stopped');
    const linesAtStop = countLines(outFile);
    expect(linesAtStop).toBeLessThan(n);
    const res = await runCli(['run', name, '--redis', redis.url, '--workers', '2', '--json', '-A'], { cwd: dir, timeoutMs: 60_000 });
    expect(res.code).toBe(0);
    expect(summaryOf(res.stdout)?.totals.doneThisRun).toBe(n - linesAtStop);
    expectExactlyOnce(outFile, n);
  });

  it('survives losing Redis mid-run (connections cut, then a restart that loses every key): reconnects, nothing is lost', async () => {
    const n = 300;
    const name = 'dist-cut';
    const { dir, outFile } = project(name, n, 10, { extra: 'retry: { attempts: 3, backoffMs: 10 },' });
    const worker = startWorker(dir, name, ['--workers', '1', '-A']);
    await waitingFor(worker);
    const coordinator = spawnCli(['run', name, '--redis', redis.url, '--workers', '1', '--json', '-A'], { cwd: dir });
    children.add(coordinator);
    const result = waitCli(coordinator, 60_000);
    await waitFor(() => countLines(outFile) >= 50, 30_000, '50 output lines');
    expect(await redis.command('CLIENT', 'KILL', 'TYPE', 'normal')).toMatch(/^:\d+/);
    await waitFor(() => countLines(outFile) >= 120, 30_000, '120 output lines');
    // Down long enough for the dashboard's once-a-second look to see it, and back without any of its data.
    expect(countLines(outFile)).toBeLessThan(n - 50);
    await redis.restart(1_500);
    const res = await result;
    expect(res.stderr).not.toMatch(/unexpected error/);
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    expectExactlyOnce(outFile, n);
    // The coordinator said so (the dashboard shows engine.stats().redis.status; the log says when it changes).
    expect(res.stderr).toMatch(/Redis: reconnecting/);
    expect(res.stderr).toMatch(/Redis: connected again/);
    worker.child.kill('SIGTERM');
    await worker.result;
  });

  it('an unreachable Redis is exit 2 naming the URL, for run and worker; an evicting Redis is refused', async () => {
    const { dir, outFile } = project('dist-bad', 5, 1);
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const run = await runCli(['run', 'dist-bad', '--redis', closed, '-A'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`Cannot reach Redis at ${closed}`);
    expect(countLines(outFile)).toBe(0);
    const worker = await runCli(['worker', 'dist-bad', '--redis', closed, '-A'], { cwd: dir });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain(`Cannot reach Redis at ${closed}`);
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const evicting = await runCli(['run', 'dist-bad', '--redis', redis.url, '-A'], { cwd: dir });
      expect(evicting.code).toBe(2);
      expect(evicting.stderr).toMatch(/maxmemory-policy allkeys-lru.*noeviction/);
    } finally {
      await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('exports Prometheus metrics for a local run too', async () => {
    const { dir } = project('local-metrics', 150, 20);
    const port = await freePort();
    const child = spawnCli(['run', 'local-metrics', '--json', '--metrics-port', String(port), '-A'], { cwd: dir });
    children.add(child);
    const result = waitCli(child, 60_000);
    let text = '';
    for (let i = 0; i < 100 && !text.includes('pipeline_tui_items'); i++) {
      text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      if (!text) await sleep(100);
    }
    expect(text).toMatch(/^# TYPE pipeline_tui_items gauge$/m);
    expect(text).toMatch(/^pipeline_tui_workers\{pipeline="local-metrics",stage="local-metrics"\} 2$/m);
    expect(text).not.toMatch(/redis/);
    expect((await result).code).toBe(0);
    expect(readFileSync(path.join(dir, 'out', 'local-metrics.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(150);
  });
});

describe('distributed building blocks', () => {
  it('job ids are deterministic and reversible, priorities map onto BullMQ order, URLs are checked and redacted', async () => {
    const { jobId, itemIdOf, bullPriority } = await import('../dist/engine/distributed/keys.js');
    const { redisOptions, redactUrl } = await import('../dist/engine/distributed/connection.js');
    for (const id of ['1', 'a:b', 'in.jsonl:12', '50%:%3A', 'x/y']) {
      const j = jobId('r1', id);
      expect(j).not.toContain(':');
      expect(j).toBe(jobId('r1', id));
      expect(itemIdOf('r1', j)).toBe(id);
      expect(itemIdOf('r2', j)).toBeUndefined();
    }
    // Ours: higher runs first, -10..10. BullMQ: lower runs first, and 0 would mean "no priority" (ahead of all).
    expect(bullPriority(10)).toBe(1);
    expect(bullPriority(0)).toBe(11);
    expect(bullPriority(-10)).toBe(21);
    expect(bullPriority(99)).toBe(1);
    expect(redisOptions('redis://u:p%40ss@example.com:6380/2')).toMatchObject({ host: 'example.com', port: 6380, username: 'u', password: 'p@ss', db: 2, maxRetriesPerRequest: null });
    expect(redisOptions('rediss://h')).toMatchObject({ host: 'h', port: 6379, tls: {} });
    expect(() => redisOptions('http://localhost')).toThrow(/redis:\/\//);
    expect(() => redisOptions('not a url')).toThrow(/Expected --redis/);
    expect(redactUrl('redis://u:secret@h:1/0')).toBe('redis://u:***@h:1/0');
  });
});
