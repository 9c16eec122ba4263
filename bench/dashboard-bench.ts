// What the live dashboard costs: engine throughput with the dashboard drawing to a pseudo-terminal
// against the same run printing plain lines to it, and the time from starting the CLI to its first
// dashboard frame. The pseudo-terminal comes from util-linux `script`, so the CLI takes its TTY path.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, writeJsonl, writePipeline } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

export interface DashboardBenchOptions {
  /** Trivial items per run: a run long enough that the dashboard's start (cold code) is not all it measures. @default 1000000 */
  items?: number;
  /** Runs of each kind, alternated; medians are reported. @default 3 */
  rounds?: number;
  /** @default 2 */
  workers?: number;
  /** More CLI arguments for the throughput runs. @default [] (sandboxed, as users run it: the launcher draws) */
  args?: string[];
}

export interface DashboardBenchResult {
  items: number;
  rounds: number;
  /** Median items/s (the engine's own figure, from the run summary) with `--plain` on the pseudo-terminal. */
  plainItemsPerSec: number;
  /** Median items/s with the dashboard on the pseudo-terminal. */
  dashboardItemsPerSec: number;
  /** How much slower the dashboard run is, in percent (negative: faster, i.e. noise). Target: <= 5. */
  overheadPct: number;
  /** Median over back-to-back pairs (plain, then dashboard) of the slowdown, in percent: drifting background load cancels out. */
  pairedOverheadPct: number;
  /** Median CPU time of the whole CLI process (every thread) per run, and the dashboard's extra share of it. */
  cpuMs: { plain: number; dashboard: number; overheadPct: number };
  /** Every run's items/s, in run order, for judging the noise. */
  samples: { plain: number[]; dashboard: number[] };
  /** Best run of each kind: less noise where other processes compete for the CPU. */
  best: { plainItemsPerSec: number; dashboardItemsPerSec: number; overheadPct: number };
  /** Median time from spawning the CLI (as users run it: sandbox launcher, then the sandboxed run) to the first dashboard frame, in ms. Target: < 500. */
  firstFrameMs: number;
  /** The same with -A: one process, no launcher. */
  firstFrameNoSandboxMs: number;
  /** Median time from spawning `node -e 0` on the same pseudo-terminal to its exit. */
  nodeStartMs: number;
  /** Median time from spawning `pipeline-tui --version` to its exit: loading the CLI and the engine, before any dashboard code. */
  cliStartMs: number;
  /** In this process, modules loaded: from render() to the first frame written (cold, then warm). */
  renderFirstFrameMs: { cold: number; warm: number };
}

/** Shell-quotes one argument. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// Ink draws nothing live when it believes it runs in CI; the pseudo-terminal here is a real one.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION'));

interface PtyRun { code: number | null; firstFrameMs: number | null; ms: number; /** The end of what the terminal showed. */ tail: string }

/** Runs `command` on a 100x30 pseudo-terminal; `frameMark` is text that shows the first dashboard frame arrived. */
function onPty(cwd: string, command: string, frameMark?: string): Promise<PtyRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('script', ['-qfec', `stty cols 100 rows 30 2>/dev/null; ${command}`, '/dev/null'], { cwd, env, stdio: ['pipe', 'pipe', 'inherit'] });
    let firstFrameMs: number | null = null;
    let seen = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      seen = (seen + d).slice(-4096);
      if (firstFrameMs !== null || !frameMark) return;
      if (seen.includes(frameMark)) firstFrameMs = performance.now() - t0;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, firstFrameMs, ms: performance.now() - t0, tail: seen.slice(-500) }));
    // stdin stays open (and silent): `script` ends the session when its input ends.
  });
}

/** render() to the first frame of the dashboard on a fake terminal, twice: the first pays for cold code. */
async function renderFirstFrame(): Promise<{ cold: number; warm: number }> {
  const unset = process.env.NODE_ENV === undefined;
  if (unset) process.env.NODE_ENV = 'production'; // as the CLI loads it
  const [{ EventEmitter }, { createElement }, { render }, { Dashboard }, { createDashboardStore }] = await Promise.all([
    import('node:events'), import('react'), import('ink'), import('../tui/dashboard/index.js'), import('../state/store.js'),
  ]);
  if (unset) delete process.env.NODE_ENV;
  const once = () => {
    let firstAt = 0;
    const stdout = Object.assign(new EventEmitter(), { columns: 100, rows: 30, isTTY: true, write: () => { firstAt ||= performance.now(); return true; } });
    const stdin = Object.assign(new EventEmitter(), { isTTY: false, setEncoding: () => undefined, ref: () => undefined, unref: () => undefined, read: () => null });
    const t0 = performance.now();
    const ink = render(createElement(Dashboard, { store: createDashboardStore({ pipeline: 'bench' }) }), { stdout: stdout as never, stdin: stdin as never, patchConsole: false, exitOnCtrlC: false });
    const ms = firstAt - t0;
    ink.unmount();
    return ms;
  };
  const cold = once();
  return { cold, warm: once() };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };

export async function dashboardBench(options: DashboardBenchOptions = {}): Promise<DashboardBenchResult> {
  const items = options.items ?? 1_000_000;
  const rounds = options.rounds ?? 3;
  const workers = options.workers ?? 2;
  const extra = (options.args ?? []).map(q).join(' ');
  if (spawnSync('script', ['--version']).error) throw new Error('dashboard bench: needs `script` (util-linux) for a pseudo-terminal');
  const t = tempDir('dashboard');
  const node = q(process.execPath);
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), items);
    writeJsonl(path.join(t.dir, 'small.jsonl'), 2000);
    writePipeline(t.dir, 'trivial', `{ name: 'trivial', id: (r: { id: number }) => String(r.id), process: (r: { x: number }) => ({ y: r.x * 2 }) }`);
    const run = async (mode: '--plain' | '--tui') => {
      // `times` (a shell builtin) prints the CPU time of the run: a figure that, unlike items/s, does not
      // move with whatever else the machine is doing.
      const r = await onPty(t.dir, `${node} ${q(cli)} run trivial.ts in.jsonl --workers ${workers} --fresh ${mode} ${extra}; code=$?; times; exit $code`);
      if (r.code !== 0) throw new Error(`dashboard bench: ${mode} run exited ${r.code}: ${r.tail}`);
      const summary = JSON.parse(readFileSync(path.join(t.dir, 'out', 'trivial.jsonl.summary.json'), 'utf8')) as { throughput: { itemsPerSecond: number }; totals: { doneThisRun: number } };
      if (summary.totals.doneThisRun !== items) throw new Error(`dashboard bench: expected ${items} done, got ${summary.totals.doneThisRun}`);
      const cpu = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(r.tail);
      const cpuMs = cpu ? (Number(cpu[1]) * 60 + Number(cpu[2]) + Number(cpu[3]) * 60 + Number(cpu[4])) * 1000 : NaN;
      return { perSec: summary.throughput.itemsPerSecond, cpuMs };
    };
    /** Spawn to first dashboard frame ('pipeline-tui' is on the header line), on a small input. */
    const firstFrame = async (args: string) => {
      const r = await onPty(t.dir, `${node} ${q(cli)} run trivial.ts small.jsonl --workers ${workers} --fresh --tui ${args}`, 'pipeline-tui');
      if (r.code !== 0 || r.firstFrameMs === null) throw new Error(`dashboard bench: first-frame run exited ${r.code}: ${r.tail}`);
      return r.firstFrameMs;
    };
    await run('--plain'); // warm the transpile cache and the page cache
    const plain: number[] = [];
    const dashboard: number[] = [];
    const paired: number[] = [];
    const cpu = { plain: [] as number[], dashboard: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      const a = await run('--plain');
      const b = await run('--tui');
      plain.push(a.perSec);
      dashboard.push(b.perSec);
      cpu.plain.push(a.cpuMs);
      cpu.dashboard.push(b.cpuMs);
      paired.push(((a.perSec - b.perSec) / a.perSec) * 100);
    }
    const frames: number[] = [];
    const framesNoSandbox: number[] = [];
    const starts: number[] = [];
    const cliStarts: number[] = [];
    for (let i = 0; i < rounds; i++) {
      frames.push(await firstFrame(''));
      framesNoSandbox.push(await firstFrame('-A'));
      starts.push((await onPty(t.dir, `${node} -e 0`)).ms);
      cliStarts.push((await onPty(t.dir, `${node} ${q(cli)} --version`)).ms);
    }
    const p = median(plain);
    const d = median(dashboard);
    const bp = Math.max(...plain);
    const bd = Math.max(...dashboard);
    return {
      items, rounds,
      plainItemsPerSec: p,
      dashboardItemsPerSec: d,
      overheadPct: ((p - d) / p) * 100,
      pairedOverheadPct: median(paired),
      cpuMs: { plain: median(cpu.plain), dashboard: median(cpu.dashboard), overheadPct: ((median(cpu.dashboard) - median(cpu.plain)) / median(cpu.plain)) * 100 },
      samples: { plain, dashboard },
      best: { plainItemsPerSec: bp, dashboardItemsPerSec: bd, overheadPct: ((bp - bd) / bp) * 100 },
      firstFrameMs: median(frames),
      firstFrameNoSandboxMs: median(framesNoSandbox),
      nodeStartMs: median(starts),
      cliStartMs: median(cliStarts),
      renderFirstFrameMs: await renderFirstFrame(),
    };
  } finally {
    t.cleanup();
  }
}
