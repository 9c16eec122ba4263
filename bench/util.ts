import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const now = (): number => performance.timeOrigin + performance.now();

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pt-bench-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `n` small records as jsonl without holding them all in memory at once. */
export function writeJsonl(file: string, n: number, make: (i: number) => unknown = (i) => ({ id: i, x: i })): void {
  const chunk: string[] = [];
  writeFileSync(file, '');
  for (let i = 0; i < n; i++) {
    chunk.push(JSON.stringify(make(i)));
    if (chunk.length === 50_000 || i === n - 1) {
      writeFileSync(file, `${chunk.join('\n')}\n`, { flag: 'a' });
      chunk.length = 0;
    }
  }
}

export function writePipeline(dir: string, name: string, body: string): string {
  const file = path.join(dir, `${name}.ts`);
  writeFileSync(file, `import { definePipeline } from 'pipeline-tui';\nexport default definePipeline(${body});\n`);
  return file;
}

/**
 * The most times in any window of `windowMs` (a time at exactly the window's length leaves it). The limit
 * checks of the bench and of the timing tests (test/timing/limits-measure.ts) both count with this.
 */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let hi = 0, lo = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A `VmXxx: N kB` line of /proc/<pid>/status in MB; 0 once the process has gone. */
function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Peak resident set of a running process (VmHWM), in MB; 0 once it has gone. */
export const peakRssMb = (pid: number): number => statusMb(pid, 'VmHWM');

/** Resident set of a running process now (VmRSS), in MB; 0 once it has gone. */
export const rssMb = (pid: number): number => statusMb(pid, 'VmRSS');

/** The process and its descendants, parents first. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch { /* gone meanwhile */ }
  }
  return out;
}

export interface CliRun {
  ms: number;
  code: number | null;
  /**
   * Peak of the summed resident sets of the CLI's process tree, sampled every 50 ms, MB: what the run
   * costs the machine. The launcher re-executes itself as a sandboxed child that does the work (see
   * tui/sandbox.ts), so the launcher alone says little; its worker threads are inside the child.
   */
  rssMb: number;
  /** The launcher's share of that peak (its resident set at that moment), MB. */
  launcherMb: number;
  /** The largest peak (VmHWM) of any one process of the tree, MB: the one that runs the pipeline. */
  runnerRssMb: number;
}

/** Runs the CLI (`node cli ...args` in `cwd`, stdout ignored) and measures its whole process tree. */
export function runCliMeasured(cli: string, args: string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    let rss = 0;
    let launcher = 0;
    let runner = 0;
    const poll = setInterval(() => {
      const tree = processTree(child.pid!);
      const each = tree.map(rssMb);
      const sum = each.reduce((a, b) => a + b, 0);
      if (sum > rss) { rss = sum; launcher = each[0]!; }
      for (const pid of tree) runner = Math.max(runner, peakRssMb(pid));
    }, 50);
    child.on('error', (e) => { clearInterval(poll); reject(e); });
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ ms: performance.now() - t0, code, rssMb: rss, launcherMb: launcher, runnerRssMb: runner });
    });
  });
}

export interface Row { metric: string; ours: string; peer?: string; ratio?: string; target: string; ok: boolean | null }

export function printTable(rows: Row[]): void {
  const head: Row = { metric: 'metric', ours: 'pipeline-tui', peer: 'peer', ratio: 'ratio', target: 'target', ok: null };
  const cols = ['metric', 'ours', 'peer', 'ratio', 'target'] as const;
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => String(r[c] ?? '').length))])) as Record<(typeof cols)[number], number>;
  const line = (r: Row, mark: string) => `| ${cols.map((c) => String(r[c] ?? '').padEnd(width[c])).join(' | ')} | ${mark.padEnd(4)} |`;
  process.stdout.write(`${line(head, 'met')}\n|${cols.map((c) => '-'.repeat(width[c] + 2)).join('|')}|------|\n`);
  for (const r of rows) process.stdout.write(`${line(r, r.ok === null ? '' : r.ok ? 'yes' : 'NO')}\n`);
}
