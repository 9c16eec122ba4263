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
  /** Trivial items per run. @default 200000 */
  items?: number;
  /** Runs of each kind, alternated; medians are reported. @default 3 */
  rounds?: number;
  /** @default 2 */
  workers?: number;
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
  /** Every run's items/s, in run order, for judging the noise. */
  samples: { plain: number[]; dashboard: number[] };
  /** Median time from spawning the CLI to the first dashboard frame on the terminal, in ms. Target: < 500. */
  firstFrameMs: number;
  /** Median time from spawning `node -e 0` under the same pseudo-terminal to its exit: the floor under firstFrameMs. */
  nodeStartMs: number;
}

/** Shell-quotes one argument. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// Ink draws nothing live when it believes it runs in CI; the pseudo-terminal here is a real one.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION'));

interface PtyRun { code: number | null; firstFrameMs: number | null; ms: number }

/** Runs `command` on a 100x30 pseudo-terminal; `frameMark` is text that shows the first dashboard frame arrived. */
function onPty(cwd: string, command: string, frameMark?: string): Promise<PtyRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('script', ['-qfec', `stty cols 100 rows 30 2>/dev/null; exec ${command}`, '/dev/null'], { cwd, env, stdio: ['pipe', 'pipe', 'inherit'] });
    let firstFrameMs: number | null = null;
    let seen = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (firstFrameMs !== null || !frameMark) return;
      seen = (seen + d).slice(-4096);
      if (seen.includes(frameMark)) firstFrameMs = performance.now() - t0;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, firstFrameMs, ms: performance.now() - t0 }));
    // stdin stays open (and silent): `script` ends the session when its input ends.
  });
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };

export async function dashboardBench(options: DashboardBenchOptions = {}): Promise<DashboardBenchResult> {
  const items = options.items ?? 200_000;
  const rounds = options.rounds ?? 3;
  const workers = options.workers ?? 2;
  if (spawnSync('script', ['--version']).error) throw new Error('dashboard bench: needs `script` (util-linux) for a pseudo-terminal');
  const t = tempDir('dashboard');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), items);
    writePipeline(t.dir, 'trivial', `{ name: 'trivial', id: (r: { id: number }) => String(r.id), process: (r: { x: number }) => ({ y: r.x * 2 }) }`);
    const run = async (mode: '--plain' | '--tui') => {
      const r = await onPty(t.dir, `${q(process.execPath)} ${q(cli)} run trivial.ts in.jsonl --workers ${workers} --fresh ${mode}`, 'pipeline-tui');
      if (r.code !== 0) throw new Error(`dashboard bench: ${mode} run exited ${r.code}`);
      const summary = JSON.parse(readFileSync(path.join(t.dir, 'out', 'trivial.jsonl.summary.json'), 'utf8')) as { throughput: { itemsPerSecond: number }; totals: { doneThisRun: number } };
      if (summary.totals.doneThisRun !== items) throw new Error(`dashboard bench: expected ${items} done, got ${summary.totals.doneThisRun}`);
      return { perSec: summary.throughput.itemsPerSecond, firstFrameMs: r.firstFrameMs };
    };
    await run('--plain'); // warm the transpile cache and the page cache
    const plain: number[] = [];
    const dashboard: number[] = [];
    const frames: number[] = [];
    for (let i = 0; i < rounds; i++) {
      plain.push((await run('--plain')).perSec);
      const d = await run('--tui');
      dashboard.push(d.perSec);
      if (d.firstFrameMs !== null) frames.push(d.firstFrameMs);
    }
    const starts: number[] = [];
    for (let i = 0; i < rounds; i++) starts.push((await onPty(t.dir, `${q(process.execPath)} -e 0`)).ms);
    const p = median(plain);
    const d = median(dashboard);
    return {
      items, rounds,
      plainItemsPerSec: p,
      dashboardItemsPerSec: d,
      overheadPct: ((p - d) / p) * 100,
      samples: { plain, dashboard },
      firstFrameMs: median(frames),
      nodeStartMs: median(starts),
    };
  } finally {
    t.cleanup();
  }
}
