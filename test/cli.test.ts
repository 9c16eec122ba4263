// The CLI as users and scripts see it: exit codes, --json, status --json, resume, --fresh, corrupt state.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../dist/index.js';
import { cleanupProjects, duplicates, expectedIds, jsonLines, makeProject, readJsonl, runCli, writeFile, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

/** A project with pipelines/<name>.ts (fails the ids in `fail` permanently) and in.jsonl of n records. */
function project(name: string, n: number, opts: { fail?: number[]; sleepMs?: number; workers?: number; noisy?: boolean } = {}) {
  const dir = makeProject();
  const source = `
import { definePipeline, PermanentError } from 'pipeline-tui';
export default definePipeline({
  name: '${name}',
  description: 'test pipeline',
  input: 'in.jsonl',
  id: (r: any) => String(r.id),
  workers: ${opts.workers ?? 2},
  retry: { attempts: 2, backoffMs: 5 },
  async process(r: any, ctx) {
    if (${JSON.stringify(opts.fail ?? [])}.includes(r.id)) throw new PermanentError('rejected ' + r.id);
    ${opts.sleepMs ? `await new Promise((res) => setTimeout(res, ${opts.sleepMs}));` : ''}
    ${opts.noisy ? `console.log('stdout noise ' + r.id); console.error('stderr noise ' + r.id); ctx.log('logged ' + r.id);` : ''}
    return { double: r.id * 2, attempt: ctx.attempt };
  },
});
`;
  const pipelineFile = writePipeline(dir, `pipelines/${name}.ts`, source);
  writeJsonl(dir, 'in.jsonl', n);
  const outFile = path.join(dir, 'out', `${name}.jsonl`);
  const stateDir = path.join(dir, '.pipeline-tui', name);
  return { dir, source, pipelineFile, outFile, stateDir };
}

interface OutLine { id: string; result: { double: number; attempt: number }; source: { file: string; line: number } }
interface StatusJson {
  pipeline: string;
  state: string;
  counts: { done: number; failed: number; pending: number };
  failed: { id: string; source: { file: string; line?: number }; attempts: number; error: { code: string; message: string; category: string; file?: string; line?: number } }[];
  lastRun: Record<string, unknown> | null;
}

const endSummary = (stdout: string): RunSummary => {
  const end = jsonLines(stdout).find((e) => e.type === 'end') as { summary: RunSummary } | undefined;
  if (!end) throw new Error(`no end event in stdout:\n${stdout}`);
  return end.summary;
};

describe('CLI exit codes', () => {
  it('0 when every item succeeds; the output holds every id once with its result and source', async () => {
    const p = project('all-ok', 25);
    const res = await runCli(['run', 'all-ok'], { cwd: p.dir });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = readJsonl<OutLine>(p.outFile);
    expect(out.map((l) => l.id).sort((a, b) => Number(a) - Number(b))).toEqual(expectedIds(25));
    for (const l of out) {
      expect(l.result.double).toBe(Number(l.id) * 2);
      expect(l.source).toEqual({ file: 'in.jsonl', line: Number(l.id) });
    }
    // Plain progress off a TTY: no escape codes, a final line with the totals.
    expect(res.stdout).not.toMatch(/\x1b/);
    expect(res.stdout).toMatch(/^\[all-ok\] 25\/25 100\.0% \|.*\| ok 25 \| failed 0 \| workers \d+$/m);
    const summary = JSON.parse(readFileSync(`${p.outFile}.summary.json`, 'utf8')) as RunSummary;
    expect(summary.totals.done).toBe(25);
    expect(summary.exitCode).toBe(0);
  });

  it('1 when some items fail; failed items are not in the output', async () => {
    const p = project('some-fail', 20, { fail: [4, 11] });
    const res = await runCli(['run', 'some-fail'], { cwd: p.dir });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/failed 2/);
    const ids = readJsonl<OutLine>(p.outFile).map((l) => l.id);
    expect(ids).toHaveLength(18);
    expect(ids).not.toContain('4');
    expect(ids).not.toContain('11');
  });

  it('2 for an unknown pipeline, without touching anything', async () => {
    const p = project('known', 3);
    const res = await runCli(['run', 'no-such-pipeline'], { cwd: p.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/no-such-pipeline/);
    expect(res.stdout).toBe('');
    expect(existsSync(path.join(p.dir, '.pipeline-tui'))).toBe(false);
    const byPath = await runCli(['run', './nowhere/pipe.ts', 'in.jsonl'], { cwd: p.dir });
    expect(byPath.code).toBe(2);
    expect(byPath.stderr).toMatch(/nowhere\/pipe\.ts/);
  });

  it('2 for a missing input file, naming it, before any state or output is created', async () => {
    const p = project('missing-input', 3);
    const res = await runCli(['run', 'missing-input', 'does-not-exist.jsonl'], { cwd: p.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/does-not-exist\.jsonl/);
    expect(existsSync(path.join(p.dir, '.pipeline-tui'))).toBe(false);
    expect(existsSync(path.join(p.dir, 'out'))).toBe(false);
  });

  it('2 for a corrupt state file, naming the file and --fresh, and leaving it as it was', async () => {
    const p = project('corrupt', 10);
    expect((await runCli(['run', 'corrupt'], { cwd: p.dir })).code).toBe(0);
    const stateFile = path.join(p.stateDir, 'state.json');
    const garbage = '{"version": 1, "done": [ this is not json';
    writeFileSync(stateFile, garbage);
    const outBefore = readFileSync(p.outFile, 'utf8');

    const res = await runCli(['run', 'corrupt'], { cwd: p.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(stateFile);
    expect(res.stderr).toContain('--fresh');
    expect(readFileSync(stateFile, 'utf8')).toBe(garbage);
    expect(readFileSync(p.outFile, 'utf8')).toBe(outBefore);

    // Valid JSON that is not a state document is corrupt too.
    writeFileSync(stateFile, '[1, 2, 3]');
    const res2 = await runCli(['run', 'corrupt'], { cwd: p.dir });
    expect(res2.code).toBe(2);
    expect(res2.stderr).toContain(stateFile);
    expect(readFileSync(stateFile, 'utf8')).toBe('[1, 2, 3]');

    // status refuses it the same way.
    const st = await runCli(['status', 'corrupt', '--json'], { cwd: p.dir });
    expect(st.code).toBe(2);
    expect(st.stderr).toContain(stateFile);
  });
});

describe('--fresh and resume', () => {
  it('--fresh keeps the old state (and output) as <name>.backup-* and starts over', async () => {
    const p = project('freshy', 12);
    expect((await runCli(['run', 'freshy'], { cwd: p.dir })).code).toBe(0);
    const stateFile = path.join(p.stateDir, 'state.json');
    writeFileSync(stateFile, 'garbage garbage');

    const res = await runCli(['run', 'freshy', '--fresh', '--json'], { cwd: p.dir });
    expect(res.code).toBe(0);
    const summary = endSummary(res.stdout);
    expect(summary.totals.doneThisRun).toBe(12);

    const stateRoot = path.dirname(p.stateDir);
    const backups = readdirSync(stateRoot).filter((d) => d.startsWith('freshy.backup-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(stateRoot, backups[0]!, 'state.json'), 'utf8')).toBe('garbage garbage');
    // The new state is a real document again.
    expect(() => JSON.parse(readFileSync(stateFile, 'utf8')) as unknown).not.toThrow();

    const outBackups = readdirSync(path.dirname(p.outFile)).filter((f) => f.startsWith('freshy.jsonl.backup-'));
    expect(outBackups).toHaveLength(1);
    expect(readJsonl(path.join(path.dirname(p.outFile), outBackups[0]!))).toHaveLength(12);
    const ids = readJsonl<OutLine>(p.outFile).map((l) => l.id);
    expect(duplicates(ids)).toEqual([]);
    expect(ids.sort((a, b) => Number(a) - Number(b))).toEqual(expectedIds(12));
  });

  it('re-running resumes: done items are skipped, the rest run, the output has each id once', async () => {
    const p = project('resumer', 30);
    const first = await runCli(['run', 'resumer', '--limit', '10', '--json'], { cwd: p.dir });
    expect(first.code).toBe(0);
    expect(endSummary(first.stdout).totals.doneThisRun).toBe(10);
    expect(readJsonl(p.outFile)).toHaveLength(10);

    const second = await runCli(['run', 'resumer', '--json'], { cwd: p.dir });
    expect(second.code).toBe(0);
    const s2 = endSummary(second.stdout);
    expect(s2.totals.doneThisRun).toBe(20);
    expect(s2.totals.done).toBe(30);
    const items2 = jsonLines(second.stdout).filter((e) => e.type === 'item');
    expect(items2).toHaveLength(20);

    const third = await runCli(['run', 'resumer', '--json'], { cwd: p.dir });
    expect(third.code).toBe(0);
    const s3 = endSummary(third.stdout);
    expect(s3.totals.doneThisRun).toBe(0);
    expect(s3.totals.done).toBe(30);
    expect(jsonLines(third.stdout).filter((e) => e.type === 'item')).toHaveLength(0);

    const ids = readJsonl<OutLine>(p.outFile).map((l) => l.id);
    expect(duplicates(ids)).toEqual([]);
    expect(ids.sort((a, b) => Number(a) - Number(b))).toEqual(expectedIds(30));
  });
});

describe('--json', () => {
  it('prints only JSON lines on stdout: start, item, progress, end with a summary', async () => {
    // ~1.5 s of work on one worker, so at least one progress tick happens.
    // The pipeline also writes to console.log/console.error and ctx.log: none of it may reach stdout.
    const p = project('jsonny', 40, { sleepMs: 40, workers: 1, fail: [7], noisy: true });
    const res = await runCli(['run', 'jsonny', '--json'], { cwd: p.dir });
    expect(res.code).toBe(1);
    const events = jsonLines(res.stdout);
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(['end', 'item', 'progress', 'start']);
    expect(events[0]?.type).toBe('start');
    expect(events.at(-1)?.type).toBe('end');
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'end')).toHaveLength(1);
    const items = events.filter((e) => e.type === 'item') as { id: string; status: string; error?: { code: string } }[];
    expect(items).toHaveLength(40);
    expect(new Set(items.map((i) => i.id)).size).toBe(40);
    expect(items.filter((i) => i.status === 'done')).toHaveLength(39);
    const failed = items.filter((i) => i.status === 'failed');
    expect(failed.map((i) => i.id)).toEqual(['7']);
    expect(failed[0]?.error?.code).toBe('PERMANENT');
    const summary = endSummary(res.stdout);
    expect(summary.pipeline).toBe('jsonny');
    expect(summary.totals).toMatchObject({ total: 40, done: 39, failed: 1 });
    expect(summary.exitCode).toBe(1);
    expect(summary.status).toBe('completed');
    expect(res.stdout).not.toContain('noise');
    expect(res.stderr).toContain('stdout noise 1');
    // ctx.log lines land in <state>/P/log.jsonl with time, item id, worker and message.
    const log = readJsonl<{ time: string; id: string | null; worker: number | null; message: string }>(path.join(p.stateDir, 'log.jsonl'));
    const logged = log.filter((l) => l.message.startsWith('logged '));
    // Item 7 throws before it logs.
    expect(logged.map((l) => l.id).sort((x, y) => Number(x) - Number(y))).toEqual(expectedIds(40).filter((id) => id !== '7'));
    for (const l of logged) {
      expect(l.message).toBe(`logged ${l.id}`);
      expect(typeof l.worker).toBe('number');
      expect(Number.isNaN(Date.parse(l.time))).toBe(false);
    }
  });

  it('rejects --json together with --plain (exit 2)', async () => {
    const p = project('both-flags', 2);
    const res = await runCli(['run', 'both-flags', '--json', '--plain'], { cwd: p.dir });
    expect(res.code).toBe(2);
    expect(existsSync(p.outFile)).toBe(false);
  });
});

describe('status --json and malformed input', () => {
  it('a malformed jsonl line is a failed PARSE_ERROR item with id <file>:<line>; status --json has the contract shape', async () => {
    const p = project('parsey', 0, { fail: [5] });
    const lines = [1, 2, 3, 4, 5, 6].map((i) => JSON.stringify({ id: i }));
    lines.splice(2, 0, '{"id": 99, oops');   // line 3
    writeFile(p.dir, 'in.jsonl', `${lines.join('\n')}\n`);
    const res = await runCli(['run', 'parsey', '--json'], { cwd: p.dir });
    expect(res.code).toBe(1);
    const items = jsonLines(res.stdout).filter((e) => e.type === 'item') as { id: string; status: string; error?: { code: string }; source: unknown }[];
    const bad = items.find((i) => i.id === 'in.jsonl:3');
    expect(bad?.status).toBe('failed');
    expect(bad?.error?.code).toBe('PARSE_ERROR');
    expect(bad?.source).toEqual({ file: 'in.jsonl', line: 3 });
    // The other records ran; record 5 failed in pipeline code.
    const ids = readJsonl<OutLine>(p.outFile).map((l) => l.id).sort();
    expect(ids).toEqual(['1', '2', '3', '4', '6']);
    expect(readJsonl<OutLine>(p.outFile).find((l) => l.id === '4')?.source).toEqual({ file: 'in.jsonl', line: 5 });

    const st = await runCli(['status', 'parsey', '--json'], { cwd: p.dir });
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as StatusJson;
    expect(Object.keys(status).sort()).toEqual(['counts', 'failed', 'lastRun', 'pipeline', 'state']);
    expect(status.pipeline).toBe('parsey');
    expect(status.state).toBe(p.stateDir);
    expect(status.counts).toEqual({ done: 5, failed: 2, pending: 0 });
    expect(status.failed.map((f) => f.id).sort()).toEqual(['5', 'in.jsonl:3']);
    const parse = status.failed.find((f) => f.id === 'in.jsonl:3');
    expect(parse).toMatchObject({ source: { file: 'in.jsonl', line: 3 }, attempts: 1, error: { code: 'PARSE_ERROR', category: 'parse' } });
    expect(parse?.error.message).toMatch(/in\.jsonl:3/);
    const perm = status.failed.find((f) => f.id === '5');
    expect(perm).toMatchObject({ source: { file: 'in.jsonl', line: 6 }, attempts: 1, error: { code: 'PERMANENT', category: 'permanent' } });
    expect(perm?.error.message).toContain('rejected 5');
    // An error raised in pipeline code points at the pipeline's TypeScript line.
    const throwLine = p.source.split('\n').findIndex((l) => l.includes('throw new PermanentError')) + 1;
    expect(perm?.error.line).toBe(throwLine);
    expect(perm?.error.file).toMatch(/pipelines\/parsey\.ts$/);
    expect(perm?.error.message).toContain(`parsey.ts:${throwLine}`);
    expect(status.lastRun).toMatchObject({ status: 'completed', exitCode: 1 });

    // Fixing the line and re-running replaces the parse failure with the real item.
    lines[2] = JSON.stringify({ id: 99 });
    writeFile(p.dir, 'in.jsonl', `${lines.join('\n')}\n`);
    const again = await runCli(['run', 'parsey', '--json'], { cwd: p.dir });
    expect(again.code).toBe(1); // record 5 still fails
    const st2 = JSON.parse((await runCli(['status', 'parsey', '--json'], { cwd: p.dir })).stdout) as StatusJson;
    expect(st2.counts).toEqual({ done: 6, failed: 1, pending: 0 });
    expect(st2.failed.map((f) => f.id)).toEqual(['5']);
  });

  it('status --json for a pipeline with no state exits 2 with a hint', async () => {
    const p = project('never-ran', 1);
    const res = await runCli(['status', 'never-ran', '--json'], { cwd: p.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/never-ran/);
  });
});

describe('output', () => {
  it("order: 'input' writes the output in input order, also across a resumed run", async () => {
    const dir = makeProject();
    writePipeline(dir, 'pipelines/ordered.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'ordered',
  input: 'in.jsonl',
  id: (r: any) => 'k' + r.id,
  workers: 4,
  order: 'input',
  async process(r: any) {
    await new Promise((res) => setTimeout(res, (13 - (r.id % 13)) * 3)); // later records tend to finish first
    return { id: r.id };
  },
});
`);
    writeJsonl(dir, 'in.jsonl', 40);
    const outFile = path.join(dir, 'out', 'ordered.jsonl');
    const first = await runCli(['run', 'ordered', '--limit', '15', '--json'], { cwd: dir });
    expect(first.code).toBe(0);
    // Completion order really differs from input order, so the ordering below is the engine's doing.
    const completion = jsonLines(first.stdout).filter((e) => e.type === 'item').map((e) => String(e.id));
    expect(completion).not.toEqual([...completion].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
    expect(readJsonl<{ id: string }>(outFile).map((l) => l.id)).toEqual(Array.from({ length: 15 }, (_, i) => `k${i + 1}`));

    const second = await runCli(['run', 'ordered'], { cwd: dir });
    expect(second.code).toBe(0);
    expect(readJsonl<{ id: string }>(outFile).map((l) => l.id)).toEqual(Array.from({ length: 40 }, (_, i) => `k${i + 1}`));
  });

  it('a resumed run with a new --out gets every done item in the new file exactly once', async () => {
    const p = project('new-out', 20);
    expect((await runCli(['run', 'new-out', '--limit', '8'], { cwd: p.dir })).code).toBe(0);
    const res = await runCli(['run', 'new-out', '--out', 'elsewhere/all.jsonl', '--json'], { cwd: p.dir });
    expect(res.code).toBe(0);
    expect(endSummary(res.stdout).totals.doneThisRun).toBe(12);
    const ids = readJsonl<OutLine>(path.join(p.dir, 'elsewhere', 'all.jsonl')).map((l) => l.id);
    expect(duplicates(ids)).toEqual([]);
    expect(ids.sort((a, b) => Number(a) - Number(b))).toEqual(expectedIds(20));
    expect(readJsonl(p.outFile)).toHaveLength(8); // the old output is left alone
  });
});
