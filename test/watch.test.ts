// Watch mode with real file-system events: files already there and new ones, a file written slowly in
// chunks, temp and partial files ignored, a changed file, a restart that re-runs nothing, --move-done,
// and a folder of 10k files under a small open-files limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupProjects, cliPath, makeProject, sleep, spawnCli, waitFor, writeFile, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

type Json = Record<string, any>;

interface Watching {
  child: ChildProcess;
  /** stdout: engine events (--json). */
  events: Json[];
  /** stderr: watch notices as JSON lines (`{"type":"watch","event":...}`). */
  notices: Json[];
  stderr: () => string;
  done: () => Json[];
  /** SIGINT, then the exit code. */
  stop: () => Promise<number | null>;
}

function collect(child: ChildProcess): Watching {
  const events: Json[] = [];
  const notices: Json[] = [];
  let err = '';
  let outBuf = '';
  let errBuf = '';
  const lines = (buf: string, chunk: string, each: (l: string) => void) => {
    const parts = (buf + chunk).split('\n');
    const rest = parts.pop()!;
    for (const l of parts) if (l.trim() !== '') each(l);
    return rest;
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { outBuf = lines(outBuf, d, (l) => events.push(JSON.parse(l) as Json)); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    errBuf = lines(errBuf, d, (l) => { if (l.startsWith('{"type":"watch"')) notices.push(JSON.parse(l) as Json); });
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child, events, notices,
    stderr: () => err,
    done: () => events.filter((e) => e.type === 'item' && e.status === 'done'),
    stop: async () => { child.kill('SIGINT'); return exited; },
  };
}

function startWatch(dir: string, args: string[] = []): Watching {
  return collect(spawnCli(['watch', 'p.ts', 'inbox', '--json', '--settle', '300', ...args], { cwd: dir }));
}

function project(process = `(r: any) => ({ n: r.n })`): string {
  const dir = makeProject('pt-watch-');
  writePipeline(dir, 'p.ts', `
import { definePipeline, PermanentError } from 'pipeline-tui';
export default definePipeline({ name: 'p', workers: 2, process: ${process} });
`);
  mkdirSync(path.join(dir, 'inbox'));
  return dir;
}

const jsonl = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${JSON.stringify({ n: from + i })}\n`).join('');
const readNotices = (w: Watching, file: string) => w.notices.filter((n) => n.event === 'read' && n.file === file);

describe('watch', () => {
  it('reads files already there and new ones once written; ignores temp files; a changed file adds only its new records; a restart re-runs nothing', async () => {
    const dir = project();
    writeFile(dir, 'inbox/a.jsonl', jsonl(1, 3));
    const w = startWatch(dir);
    await waitFor(() => w.done().length === 3, 30_000, 'the 3 records already there');
    expect(w.notices[0]).toMatchObject({ event: 'ready', files: 1 });

    // Written slowly, in chunks that end mid-line: read once, after the last chunk, whole.
    const slow = path.join(dir, 'inbox', 'slow.jsonl');
    const text = jsonl(101, 110);
    const cuts = [0, 17, 40, 41, 77, 100, text.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      appendFileSync(slow, text.slice(cuts[i], cuts[i + 1]));
      await sleep(100);
    }
    // Files nobody should read: partial downloads, temp and lock files, dotfiles, unknown types.
    for (const junk of ['b.jsonl.crdownload', 'c.jsonl.part', 'd.jsonl.tmp', '~$Frs.xlsx', '.hidden.jsonl', 'notes.docx']) writeFile(dir, `inbox/${junk}`, jsonl(900, 901));
    await waitFor(() => w.done().length === 13, 30_000, 'the slowly written file');
    expect(readNotices(w, 'inbox/slow.jsonl')).toEqual([{ type: 'watch', event: 'read', file: 'inbox/slow.jsonl', records: 10 }]);

    // A changed file: its old records are done already, only the new ones run.
    appendFileSync(path.join(dir, 'inbox', 'a.jsonl'), jsonl(4, 5));
    writeFile(dir, 'inbox/z.jsonl', jsonl(200, 200)); // read after the junk: by then the junk would have been read
    await waitFor(() => w.done().length === 16, 30_000, 'the changed file and z.jsonl');
    await waitFor(() => readNotices(w, 'inbox/z.jsonl').length === 1, 10_000, 'z.jsonl read');
    expect(w.events.filter((e) => e.type === 'item' && e.status === 'failed')).toEqual([]);
    expect(w.notices.filter((n) => n.event === 'read').map((n) => n.file).sort()).toEqual(['inbox/a.jsonl', 'inbox/a.jsonl', 'inbox/slow.jsonl', 'inbox/z.jsonl']);
    expect(w.done().map((e) => e.source.file).filter((f: string) => !['inbox/a.jsonl', 'inbox/slow.jsonl', 'inbox/z.jsonl'].includes(f))).toEqual([]);
    expect(await w.stop()).toBe(130);
    expect(w.events.at(-1)).toMatchObject({ type: 'end', summary: { status: 'stopped', exitCode: 130, totals: { done: 16, failed: 0 } } });

    // A restart reads every file again and runs nothing.
    const again = startWatch(dir);
    await waitFor(() => again.notices.filter((n) => n.event === 'read').length === 3, 30_000, 'the restart to read the files');
    await sleep(300);
    expect(await again.stop()).toBe(130);
    expect(again.events.filter((e) => e.type === 'item')).toEqual([]);
    expect(again.events.at(-1)).toMatchObject({ type: 'end', summary: { totals: { done: 16, doneThisRun: 0 } } });
  }, 120_000);

  it('--move-done moves a file once all its records are done or failed', async () => {
    const dir = project(`(r: any) => { if (r.n === 2) throw new PermanentError('two'); return { n: r.n }; }`);
    writeFile(dir, 'inbox/sub/a.jsonl', jsonl(1, 3));
    const w = startWatch(dir, ['--move-done', 'done']);
    await waitFor(() => w.notices.some((n) => n.event === 'moved'), 60_000, 'the move');
    expect(w.notices.find((n) => n.event === 'moved')).toMatchObject({ file: 'inbox/sub/a.jsonl', to: 'done/sub/a.jsonl' });
    expect(existsSync(path.join(dir, 'done', 'sub', 'a.jsonl'))).toBe(true);
    expect(existsSync(path.join(dir, 'inbox', 'sub', 'a.jsonl'))).toBe(false);
    expect(await w.stop()).toBe(130);
    expect(w.done()).toHaveLength(2);
  }, 90_000);

  it('works through 10k files without running out of file handles (open-files limit 256)', async () => {
    const dir = project();
    const n = 10_000;
    for (let i = 0; i < n; i++) writeFileSync(path.join(dir, 'inbox', `f${String(i).padStart(5, '0')}.jsonl`), `{"n":${i}}\n`);
    const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${cliPath}" watch p.ts inbox --json --settle 100 --workers 1 -A`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const w = collect(child);
    await waitFor(() => w.done().length === n || w.child.exitCode !== null, 100_000, `${n} files`, 100);
    expect(w.stderr()).not.toMatch(/EMFILE|too many open files/i);
    expect(w.done()).toHaveLength(n);
    expect(await w.stop()).toBe(130);
  }, 120_000);
});
