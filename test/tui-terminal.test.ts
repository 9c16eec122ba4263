// The dashboard in a real terminal: tmux gives the CLI a pseudo-terminal (raw mode, resize, exit codes),
// keys go in with send-keys and the screen comes back as text with capture-pane. Plus the other side of
// the TTY decision: off a terminal, Ink and React are never even imported.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupProjects, cliPath, makeProject, readJsonl, runCli, sleep, waitFor, writeFile, writeJsonl, writePipeline } from './helpers.js';

const hasTmux = (() => {
  try { execFileSync('tmux', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

// Ink draws nothing live when it believes it runs in CI; the terminal under test is a real one.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION'));
const socket = `pt-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { env, encoding: 'utf8' });

afterAll(() => {
  if (hasTmux) { try { tmux('kill-server'); } catch { /* no server left */ } }
  cleanupProjects();
});

const slowPipeline = `import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'slow',
  input: 'in.jsonl',
  id: (r: any) => String(r.id),
  priority: (r: any) => r.id % 3,
  retry: { attempts: 1 },
  async process(r: any) {
    await new Promise((res) => setTimeout(res, 20));
    if (r.id % 40 === 0) throw new Error('boom \\x1b]0;pwned\\x07 bell\\x07 back\\x08space car\\rriage ' + r.id);
    return { id: r.id };
  },
});
`;

function project(n: number): string {
  const dir = makeProject('pt-tui-');
  writePipeline(dir, 'slow.ts', slowPipeline);
  writeJsonl(dir, 'in.jsonl', n);
  return dir;
}

/**
 * Starts the CLI in a new 100x30 tmux session; its exit code lands in `exit.txt` and the pane stays for reading.
 * The code is written aside and renamed: `echo > exit.txt` creates the file empty before it writes, and a
 * read in between saw "" (Number("") is 0), which twice failed CI as "exited 0, not 130".
 */
function start(name: string, dir: string, args: string): void {
  const cmd = `cd '${dir}' && node '${cliPath}' ${args}; echo $? > exit.tmp && mv exit.tmp exit.txt; sleep 600`;
  tmux('new-session', '-d', '-x', '100', '-y', '30', '-s', name, cmd);
}

const screen = (name: string) => tmux('capture-pane', '-p', '-t', name);
const doneOn = (text: string) => Number(/Done\s+([\d,]+)/.exec(text)?.[1]?.replace(/,/g, '') ?? NaN);

async function waitScreen(name: string, test: (text: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  let last = '';
  try {
    await waitFor(() => test((last = screen(name))), timeoutMs, what, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}; the screen was:\n${last}`);
  }
  return last;
}

function exitCode(dir: string): number | null {
  const file = path.join(dir, 'exit.txt');
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8').trim();
  if (!/^\d+$/.test(text)) throw new Error(`Expected an exit code in ${file}, got "${text}"`);
  return Number(text);
}

describe.skipIf(!hasTmux)('dashboard in a real terminal (tmux)', () => {
  it('+ adds a worker, p holds the pause, p resumes, ? shows help, resize shows "too small", q checkpoints and exits 130', async () => {
    const dir = project(3000);
    const seen: string[] = [];
    start('keys', dir, 'run slow.ts in.jsonl --workers 2');
    seen.push(await waitScreen('keys', (s) => s.includes('RUNNING') && doneOn(s) > 0, 'items done'));
    expect(seen.at(-1)).toContain('Workers: 2');

    tmux('send-keys', '-t', 'keys', '+');
    seen.push(await waitScreen('keys', (s) => s.includes('Workers: 3') && s.includes('workers 3'), 'three workers'));

    tmux('send-keys', '-t', 'keys', 'p');
    seen.push(await waitScreen('keys', (s) => s.includes('PAUSED') && /Running\s+0\b/.test(s), 'paused and drained'));
    const held = doneOn(screen('keys'));
    await sleep(1000);
    seen.push(screen('keys'));
    expect(seen.at(-1)).toContain('PAUSED');
    expect(doneOn(seen.at(-1)!)).toBe(held);

    tmux('send-keys', '-t', 'keys', 'p');
    seen.push(await waitScreen('keys', (s) => s.includes('RUNNING') && doneOn(s) > held, 'resumed and moving'));

    tmux('send-keys', '-t', 'keys', '?');
    seen.push(await waitScreen('keys', (s) => s.includes('Keys') && s.includes('Ctrl-C twice') && s.includes('one worker more / less'), 'the help overlay'));
    tmux('send-keys', '-t', 'keys', '?');

    tmux('resize-window', '-t', 'keys', '-x', '50', '-y', '12');
    seen.push(await waitScreen('keys', (s) => s.includes('Terminal too small (need 60x16)'), 'the too-small screen'));
    tmux('resize-window', '-t', 'keys', '-x', '100', '-y', '30');
    seen.push(await waitScreen('keys', (s) => s.includes('Queue') && s.includes('Workers: 3'), 'the dashboard again'));
    seen.push(await waitScreen('keys', (s) => /TRANSIENT \d+: boom/.test(s), 'an error line (with its item id)'));

    tmux('send-keys', '-t', 'keys', 'q');
    await waitFor(() => exitCode(dir) !== null, 30_000, 'the CLI to exit');
    seen.push(screen('keys'));
    expect(exitCode(dir), `the screen at exit:\n${screen('keys')}`).toBe(130);
    expect(seen.at(-1)).toContain('Checkpoint saved');

    // The checkpoint: a stopped run, every done id in the output exactly once, the failures dead-lettered.
    const doc = JSON.parse(readFileSync(path.join(dir, '.pipeline-tui', 'slow', 'state.json'), 'utf8')) as { done: string[]; failed: Record<string, unknown>; runs: { status: string }[] };
    expect(doc.runs.at(-1)?.status).toBe('stopped');
    const out = readJsonl<{ id: string }>(path.join(dir, 'out', 'slow.jsonl'));
    expect(doc.done.length).toBeGreaterThan(held);
    expect(new Set(out.map((l) => l.id)).size).toBe(doc.done.length);
    expect(Object.keys(doc.failed).length).toBeGreaterThan(0);

    // The error messages carried an OSC title change, BEL, BS and CR: none reached the terminal.
    expect(tmux('display-message', '-p', '-t', 'keys', '#{pane_title}')).not.toContain('pwned');
    for (const s of seen) {
      expect(s).not.toContain('pwned');
      expect(s).not.toContain('ERROR');
      expect(s).not.toContain('Maximum update depth');
    }
  });

  it('Ctrl-C once drains (waiting for running items); Ctrl-C again exits at once, after a checkpoint', async () => {
    const dir = project(200);
    // After the first 20, every item takes 30 s: a graceful stop would wait for them, a forced one does not.
    writePipeline(dir, 'stuck.ts', slowPipeline.replace("name: 'slow'", "name: 'stuck'").replace('priority: (r: any) => r.id % 3,', '').replace('setTimeout(res, 20)', 'setTimeout(res, r.id <= 20 ? 20 : 30_000)'));
    start('ctrlc', dir, 'run stuck.ts in.jsonl --workers 2');
    await waitScreen('ctrlc', (s) => doneOn(s) > 0 && /Running\s+[1-9]/.test(s), 'the slow items running');
    tmux('send-keys', '-t', 'ctrlc', 'C-c');
    const draining = await waitScreen('ctrlc', (s) => s.includes('DRAINING') && s.includes('Ctrl-C again'), 'the first Ctrl-C: draining', 5000);
    await sleep(1000);
    expect(exitCode(dir)).toBeNull();
    expect(screen('ctrlc')).toContain('DRAINING');
    const t0 = Date.now();
    tmux('send-keys', '-t', 'ctrlc', 'C-c');
    await waitFor(() => exitCode(dir) !== null, 15_000, 'the CLI to exit');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(exitCode(dir), `the screen while draining:\n${draining}\nthe screen at exit:\n${screen('ctrlc')}`).toBe(130);
    const doc = JSON.parse(readFileSync(path.join(dir, '.pipeline-tui', 'stuck', 'state.json'), 'utf8')) as { done: string[]; runs: { status: string }[] };
    expect(doc.runs.at(-1)?.status).toBe('stopped');
    expect(doc.done.length).toBeGreaterThan(0);
    expect(doc.done.length).toBeLessThanOrEqual(20);
  });

  it('watch mode shows the folder, the files seen so far and the latest one, live; q stops with exit 130', async () => {
    const dir = project(0);
    mkdirSync(path.join(dir, 'inbox'));
    writeFile(dir, 'inbox/first.jsonl', '{"id":1}\n{"id":2}\n');
    start('watch', dir, 'watch slow.ts inbox --workers 2 --settle 200');
    await waitScreen('watch', (s) => /Watching\s+inbox\s+·\s+1 file seen\s+·\s+last: inbox\/first\.jsonl/.test(s), 'the first file seen');
    writeFile(dir, 'inbox/second.jsonl', '{"id":3}\n');
    const both = await waitScreen('watch', (s) => /2 files seen\s+·\s+last: inbox\/second\.jsonl/.test(s) && doneOn(s) === 3, 'the second file seen and done');
    expect(both).toContain('Watching');
    tmux('send-keys', '-t', 'watch', 'q');
    await waitFor(() => exitCode(dir) !== null, 10_000, 'the CLI to exit');
    expect(exitCode(dir), `the screen at exit:\n${screen('watch')}`).toBe(130);
  });

  it('with no pipeline, a picker over ./pipelines/ shows checkpoints and starts the one chosen', async () => {
    const dir = project(60);
    writeFile(dir, 'pipelines/slow.ts', slowPipeline);
    start('pick', dir, '--workers 2');
    await waitScreen('pick', (s) => s.includes('Pipelines in ./pipelines/') && /slow\s+no checkpoint/.test(s), 'the picker');
    tmux('send-keys', '-t', 'pick', 'Enter');
    // The interactive dashboard stays on DONE until q.
    const done = await waitScreen('pick', (s) => s.includes('DONE') && s.includes('q exit'), 'the DONE screen');
    expect(done).toMatch(/Finished in \d+s: ok 59, failed 1/);
    tmux('send-keys', '-t', 'pick', 'q');
    await waitFor(() => exitCode(dir) !== null, 10_000, 'the CLI to exit');
    expect(exitCode(dir)).toBe(1);
  });
});

describe('off a terminal', () => {
  it('never imports Ink or React: plain progress lines, no escape codes', async () => {
    const dir = project(30);
    // A loader hook that fails the process if anything resolves ink or react, or the dashboard (bundled with them).
    writeFile(dir, 'no-ink.mjs', `export async function resolve(spec, ctx, next) {
  if (/^(ink|react|react-reconciler|ink-testing-library)(\\/|$)/.test(spec) || /dashboard\\/(bundled\\/|index\\.js$|session\\.js$)/.test(spec)) throw new Error('imported off a TTY: ' + spec);
  return next(spec, ctx);
}\n`);
    writeFile(dir, 'register.mjs', `import { register } from 'node:module';\nregister('./no-ink.mjs', import.meta.url);\n`);
    const nodeOptions = `--import=${path.join(dir, 'register.mjs')}`;
    const plain = await runCli(['slow.ts'], { cwd: dir, env: { NODE_OPTIONS: nodeOptions } });
    expect(plain.stderr).not.toContain('imported off a TTY');
    expect(plain.code).toBe(0); // 30 items, none a multiple of 40
    expect(plain.stdout).toMatch(/^\[slow\] 30\/30 100\.0% \| .* \| ok 30 \| failed 0 \| workers \d+$/m);
    expect(plain.stdout).not.toMatch(/\x1b/);
  });
});
