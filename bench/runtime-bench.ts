// Cold start of `pipeline-tui run` on a small .ts pipeline: spawn to the first finished item, with the
// permission sandbox (the CLI re-executes itself) and without it (-A). Wall-clock, so the machine's load
// is returned with the figures.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

export interface StartFigures {
  /** Median of the runs, ms from spawn to the first `item` event. */
  medianMs: number;
  minMs: number;
  /** Every run, in order. */
  runsMs: number[];
}

export interface RuntimeBenchResult {
  /** Sandboxed (the default): the launcher plans the grant (from the pipeline's text when it can), then re-executes itself under Node's permission model. */
  sandboxed: StartFigures;
  /** `-A`: one process, no sandbox. */
  unsandboxed: StartFigures;
  /** Sandboxed, right after the pipeline file changed: jiti transpiles it again (in the sandboxed process; in the launcher too when its text cannot be read). */
  sandboxedAfterEdit: StartFigures;
  /** `node -e ""` on this machine: the floor under every figure (twice for the sandboxed ones). */
  nodeStartMs: number;
  /** 1-minute load average when the runs ended, and the core count: a loaded machine inflates every figure. */
  loadAverage: number;
  cores: number;
}

/** The small .ts pipeline both start-up benches load; `salt` changes its text (a cache miss), `api` where definePipeline comes from. */
export const pipelineSource = (salt: string, api = 'pipeline-tui') => `import { definePipeline } from ${JSON.stringify(api)};
// ${salt}
interface Tweet { id: number; text: string }
type Out = { words: number };
export default definePipeline<Tweet, Out>({
  name: 'startup',
  input: 'in.jsonl',
  id: (r) => String(r.id),
  workers: 2,
  async process(record) {
    return { words: record.text.split(/\\s+/).length };
  },
});
`;

function timeToFirstItem(cwd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    let first: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (first === undefined && out.includes('"type":"item"')) first = performance.now() - started;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || first === undefined) reject(new Error(`pipeline-tui ${args.join(' ')} exited ${code}: ${err.slice(0, 500)}`));
      else resolve(first);
    });
  });
}

function nodeStart(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - started));
  });
}

const figures = (runsMs: number[]): StartFigures => {
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)]!, minMs: sorted[0]!, runsMs };
};

/** Runs each variant `runs` times (interleaved, so load changes hit all alike) after one warm-up run. */
export async function runtimeBench(options: { runs?: number } = {}): Promise<RuntimeBenchResult> {
  const runs = options.runs ?? 5;
  const { dir, cleanup } = tempDir('runtime');
  try {
    const file = path.join(dir, 'pipelines', 'startup.ts');
    writeFileSync(path.join(dir, 'in.jsonl'), '{"id":1,"text":"hello there"}\n{"id":2,"text":"general kenobi"}\n');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, pipelineSource('warm'));
    const base = ['run', 'startup', '--json', '--fresh'];
    await timeToFirstItem(dir, base); // fills both transpile caches and the OS file cache
    await timeToFirstItem(dir, [...base, '-A']);
    const sandboxed: number[] = [];
    const unsandboxed: number[] = [];
    const afterEdit: number[] = [];
    const nodeRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      nodeRuns.push(await nodeStart());
      sandboxed.push(await timeToFirstItem(dir, base));
      unsandboxed.push(await timeToFirstItem(dir, [...base, '-A']));
    }
    // Apart, and last: an edit replaces the file's transpiled copy in the cache, so a warm run right after
    // one (even with the old text back) transpiles again.
    for (let i = 0; i < runs; i++) {
      writeFileSync(file, pipelineSource(`edit ${i} ${Date.now()}`));
      afterEdit.push(await timeToFirstItem(dir, base));
    }
    return {
      sandboxed: figures(sandboxed),
      unsandboxed: figures(unsandboxed),
      sandboxedAfterEdit: figures(afterEdit),
      nodeStartMs: figures(nodeRuns).medianMs,
      loadAverage: os.loadavg()[0]!,
      cores: os.cpus().length,
    };
  } finally {
    cleanup();
  }
}
