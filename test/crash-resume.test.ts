// Durability: kill -9 the CLI at several moments, resume, and the output ends with every id exactly once.
// SIGINT: a graceful stop (exit 130) with a clean checkpoint; the re-run does only what is left.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../dist/index.js';
import { cleanupProjects, countLines, duplicates, expectedIds, makeProject, readJsonl, runCli, sleep, spawnCli, waitCli, waitFor, writeJsonl, writePipeline, type CliResult } from './helpers.js';

afterAll(cleanupProjects);

function project(name: string, n: number, sleepMs: number, workers: number) {
  const dir = makeProject();
  writePipeline(dir, `pipelines/${name}.ts`, `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: '${name}',
  input: 'in.jsonl',
  id: (r: any) => String(r.id),
  workers: ${workers},
  async process(r: any, ctx) {
    await new Promise((res) => setTimeout(res, ${sleepMs}));
    return { id: r.id, attempt: ctx.attempt, pad: 'x'.repeat(r.id % 50) };
  },
});
`);
  writeJsonl(dir, 'in.jsonl', n);
  return { dir, outFile: path.join(dir, 'out', `${name}.jsonl`) };
}

/** JSON events of a (possibly killed) run's stdout; a torn last line is dropped. */
function events(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split('\n');
  lines.pop(); // '' after the last newline, or a line cut by the kill
  return lines.filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}
const doneIds = (stdout: string) => events(stdout).filter((e) => e.type === 'item' && e.status === 'done').map((e) => String(e.id));
const summaryOf = (stdout: string) => (events(stdout).find((e) => e.type === 'end') as { summary: RunSummary } | undefined)?.summary;

/** Starts the CLI and kills it with `signal` once the output has at least `lines` lines (or at once when 0 after `delayMs`). */
async function runAndKill(dir: string, outFile: string, name: string, when: { lines?: number; delayMs?: number }, signal: NodeJS.Signals): Promise<{ res: CliResult; linesAtKill: number }> {
  const child: ChildProcess = spawnCli(['run', name, '--json'], { cwd: dir });
  const result = waitCli(child, 40_000);
  let exited = false;
  void result.then(() => { exited = true; });
  if (when.lines !== undefined) await waitFor(() => exited || countLines(outFile) >= when.lines!, 30_000, `${when.lines} output lines`, 2);
  if (when.delayMs !== undefined) await sleep(when.delayMs);
  expect(exited, 'the run finished before it could be killed').toBe(false);
  const linesAtKill = countLines(outFile);
  child.kill(signal);
  return { res: await result, linesAtKill };
}

function expectExactlyOnce(outFile: string, n: number): void {
  const out = readJsonl<{ id: string; result: { id: number } }>(outFile);
  const ids = out.map((l) => l.id);
  expect(duplicates(ids)).toEqual([]);
  expect(ids.length).toBe(n);
  expect([...ids].sort((a, b) => Number(a) - Number(b))).toEqual(expectedIds(n));
  for (const l of out) expect(l.result.id).toBe(Number(l.id));
}

describe('crash and resume', () => {
  it('kill -9 at three different moments, then resume: every id exactly once, nothing done twice', async () => {
    // Long enough that a quiet machine cannot finish before the last kill point (6000 x 5 ms / 4 workers).
    const n = 6_000;
    const { dir, outFile } = project('killme', n, 5, 4);
    const ranIn: string[][] = [];

    // 1: early, 2: in the middle, 3: right after start-up of a resumed run (before or while it reconciles).
    const kills = [{ lines: 300 }, { lines: 1_500 }, { delayMs: 400 }, { lines: 2_400 }];
    let linesAtLastKill = 0;
    for (const when of kills) {
      const { res, linesAtKill } = await runAndKill(dir, outFile, 'killme', when, 'SIGKILL');
      expect(res.signal).toBe('SIGKILL');
      expect(linesAtKill).toBeGreaterThanOrEqual(linesAtLastKill);
      linesAtLastKill = linesAtKill;
      ranIn.push(doneIds(res.stdout));
    }
    expect(linesAtLastKill).toBeLessThan(n);
    // The checkpoint of the killed run already knows at least what reached the output.
    const st = await runCli(['status', 'killme', '--json'], { cwd: dir });
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as { counts: { done: number; failed: number } };
    expect(status.counts.done).toBeGreaterThanOrEqual(linesAtLastKill);
    expect(status.counts.failed).toBe(0);

    const final = await runCli(['run', 'killme', '--json'], { cwd: dir, timeoutMs: 40_000 });
    expect(final.stderr).toBe('');
    expect(final.code).toBe(0);
    ranIn.push(doneIds(final.stdout));
    expectExactlyOnce(outFile, n);

    const summary = summaryOf(final.stdout);
    expect(summary?.totals.done).toBe(n);
    // Everything completed before the last kill (at least what reached the output) was not redone.
    expect(summary?.totals.doneThisRun).toBeLessThanOrEqual(n - linesAtLastKill);
    // No item was reported done by two runs.
    expect(duplicates(ranIn.flat())).toEqual([]);

    // Once more: nothing left to do, output unchanged.
    const again = await runCli(['run', 'killme', '--json'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(summaryOf(again.stdout)?.totals.doneThisRun).toBe(0);
    expectExactlyOnce(outFile, n);
  }, 90_000);

  it('SIGINT stops gracefully with exit 130 and a clean checkpoint; the re-run finishes the rest exactly once', async () => {
    const n = 3_000;
    const { dir, outFile } = project('interrupt', n, 3, 4);
    const { res } = await runAndKill(dir, outFile, 'interrupt', { lines: 600 }, 'SIGINT');
    expect(res.code).toBe(130);
    expect(res.signal).toBeNull();
    const stopped = summaryOf(res.stdout);
    expect(stopped?.status).toBe('stopped');
    expect(stopped?.exitCode).toBe(130);
    const doneAtStop = stopped?.totals.done ?? -1;
    expect(doneAtStop).toBeGreaterThanOrEqual(600);
    expect(doneAtStop).toBeLessThan(n);
    // Checkpoint: the output and the state agree with the summary.
    expect(countLines(outFile)).toBe(doneAtStop);
    expect(duplicates(readJsonl<{ id: string }>(outFile).map((l) => l.id))).toEqual([]);
    const st = await runCli(['status', 'interrupt', '--json'], { cwd: dir });
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as { counts: { done: number; failed: number; pending: number }; lastRun: { status: string; exitCode?: number } };
    expect(status.counts.done).toBe(doneAtStop);
    expect(status.counts.failed).toBe(0);
    expect(status.counts.pending).toBe(n - doneAtStop);
    expect(status.lastRun.status).toBe('stopped');
    expect(status.lastRun.exitCode).toBe(130);

    const rest = await runCli(['run', 'interrupt', '--json'], { cwd: dir, timeoutMs: 40_000 });
    expect(rest.code).toBe(0);
    const summary = summaryOf(rest.stdout);
    expect(summary?.totals.doneThisRun).toBe(n - doneAtStop);
    expect(summary?.totals.done).toBe(n);
    expect(duplicates([...doneIds(res.stdout), ...doneIds(rest.stdout)])).toEqual([]);
    expectExactlyOnce(outFile, n);
  }, 60_000);

  it('a second SIGINT stops at once (in-flight items are abandoned) and they run again on resume, exactly once', async () => {
    const n = 4;
    const dir = makeProject();
    writePipeline(dir, 'pipelines/double-int.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'double-int',
  input: 'in.jsonl',
  id: (r: any) => String(r.id),
  workers: 4,
  async process(r: any, ctx) {
    ctx.log('started ' + r.id);
    await new Promise((res) => setTimeout(res, 3_000));
    return { id: r.id, attempt: ctx.attempt };
  },
});
`);
    writeJsonl(dir, 'in.jsonl', n);
    const outFile = path.join(dir, 'out', 'double-int.jsonl');
    const child = spawnCli(['run', 'double-int', '--json'], { cwd: dir });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const result = waitCli(child, 30_000);
    await waitFor(() => stderr.includes('started'), 20_000, 'an item to start', 5);
    await sleep(200);
    child.kill('SIGINT'); // graceful: would wait ~3 s for the running items
    await sleep(200);
    const second = Date.now();
    child.kill('SIGINT'); // at once
    const res = await result;
    expect(res.code).toBe(130);
    expect(Date.now() - second, 'ms from the second SIGINT to exit').toBeLessThan(1_500);
    const stopped = summaryOf(res.stdout);
    expect(stopped?.status).toBe('stopped');
    expect(stopped?.totals.done).toBe(0);
    expect(countLines(outFile)).toBe(0);

    const rest = await runCli(['run', 'double-int', '--json'], { cwd: dir });
    expect(rest.code).toBe(0);
    expect(summaryOf(rest.stdout)?.totals.doneThisRun).toBe(n);
    expectExactlyOnce(outFile, n);
  }, 40_000);

  it('the jsonl output grows as items finish, not when a batch of them does', async () => {
    const dir = makeProject();
    writePipeline(dir, 'pipelines/streamed.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'streamed',
  input: 'in.jsonl',
  id: (r: any) => String(r.id),
  workers: 1,
  async process(r: any) {
    await new Promise((res) => setTimeout(res, 700));
    return { id: r.id };
  },
});
`);
    writeJsonl(dir, 'in.jsonl', 4);
    const outFile = path.join(dir, 'out', 'streamed.jsonl');
    const child = spawnCli(['run', 'streamed', '--json'], { cwd: dir });
    const result = waitCli(child, 30_000);
    let exited = false;
    void result.then(() => { exited = true; });
    // Items finish ~0.7 s apart on the one worker: the first line must be there well before the last item ends.
    await waitFor(() => exited || countLines(outFile) >= 1, 20_000, 'the first output line', 5);
    const linesWhenFirstSeen = countLines(outFile);
    const res = await result;
    expect(res.code).toBe(0);
    expect(linesWhenFirstSeen, 'output lines when the first one appeared (all 4 at once = written per batch)').toBeLessThan(3);
    expectExactlyOnce(outFile, 4);
  }, 40_000);
});
