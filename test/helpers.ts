// Shared helpers for the engine tests: temp projects, pipeline/input files, the CLI as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cliPath = path.join(repoRoot, 'bin', 'pipeline-tui.js');

const made: string[] = [];

/** A fresh, empty project folder under the OS temp dir. Removed by `cleanupProjects()`. */
export function makeProject(prefix = 'pt-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every project made by this test file (call from afterAll). */
export function cleanupProjects(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes `source` to `dir/file` (folders created) and returns the absolute path. */
export function writeFile(dir: string, file: string, source: string): string {
  const abs = path.join(dir, file);
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, source);
  return abs;
}

/** Writes a pipeline file; `source` is the whole module (it imports from 'pipeline-tui' itself). */
export function writePipeline(dir: string, file: string, source: string): string {
  return writeFile(dir, file, source);
}

/** Writes a jsonl file of `n` records, `{ id: i, ...make(i) }` for i = 1..n; returns the absolute path. */
export function writeJsonl(dir: string, file: string, n: number, make: (i: number) => Record<string, unknown> = () => ({})): string {
  let text = '';
  for (let i = 1; i <= n; i++) text += `${JSON.stringify({ id: i, ...make(i) })}\n`;
  return writeFile(dir, file, text);
}

/** Parses a jsonl file; a line that is not JSON makes the test fail with the line number. */
export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      throw new Error(`${file}:${i + 1}: not JSON: ${line.slice(0, 200)}`);
    }
  });
  return out;
}

/** Counts complete lines (newline-terminated) of a file, 0 if it does not exist. */
export function countLines(file: string): number {
  if (!existsSync(file)) return 0;
  const buf = readFileSync(file);
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  ms: number;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child (SIGKILL) after this long; the result then has `signal: 'SIGKILL'`. @default 45000 */
  timeoutMs?: number;
}

/** Starts the CLI without waiting; stdout/stderr are piped (not a TTY, so `--plain` is the default). */
export function spawnCli(args: string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a spawned CLI's output and waits for it to exit. */
export function waitCli(child: ChildProcess, timeoutMs = 45_000): Promise<CliResult> {
  const started = Date.now();
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return waitCli(spawnCli(args, options), options.timeoutMs);
}

/** Parses every stdout line as JSON (throws naming the first line that is not). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l !== '').map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`stdout line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    }
  });
}

/** Resolves when `cond()` is true (polled), rejects after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 20_000, what = 'condition', everyMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ids (as strings) that occur more than once. */
export function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const id of ids) { if (seen.has(id)) dup.add(id); seen.add(id); }
  return [...dup];
}

/** "1".."n" */
export function expectedIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i + 1));
}
