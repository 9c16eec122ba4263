import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Peak resident set of a running process (VmHWM), in MB; 0 once it has gone. */
export function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
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
