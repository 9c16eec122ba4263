import { spawn as spawnProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { peakRssMb, tempDir, writeJsonl, writePipeline } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

export interface IoRun {
  /** Peak resident set of the CLI (all its processes: main threads, worker threads, native buffers), MB. */
  rssMb: number;
  /** Peak resident set of the process that runs the pipeline, MB. */
  runnerRssMb: number;
  itemsPerSec: number;
  ms: number;
}

/** Writes `n` csv rows (header + `id,name,city,amount`) in 50k-row appends. */
function writeCsv(file: string, n: number): void {
  writeFileSync(file, 'id,name,city,amount\n');
  let chunk = '';
  for (let i = 0; i < n; i++) {
    chunk += `${i},"Supplier ${i}, Ltd",City ${i % 977},${(i % 10_000) / 100}\n`;
    if ((i + 1) % 50_000 === 0 || i === n - 1) { writeFileSync(file, chunk, { flag: 'a' }); chunk = ''; }
  }
}

/** The process and its descendants (the CLI runs a pipeline in a sandboxed child of the launcher). */
function processTree(pid: number): number[] {
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

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs the CLI; `rss` is the peak of the summed resident sets of its process tree, sampled every 50 ms
 * (a launcher and the sandboxed child that does the work), `rssWorker` the peak (VmHWM) of the largest one.
 */
function runCli(dir: string, args: string[]): Promise<{ ms: number; rss: number; rssWorker: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawnProcess(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    let rss = 0;
    let rssWorker = 0;
    const poll = setInterval(() => {
      const tree = processTree(child.pid!);
      rss = Math.max(rss, tree.reduce((sum, pid) => sum + rssMb(pid), 0));
      for (const pid of tree) rssWorker = Math.max(rssWorker, peakRssMb(pid));
    }, 50);
    child.on('error', reject);
    child.on('exit', (code) => { clearInterval(poll); resolve({ ms: performance.now() - t0, rss, rssWorker, code }); });
  });
}

/**
 * Peak RSS of the CLI on an `n`-row jsonl input and on an `n`-row csv input, as a user runs it: the
 * default id (a content hash, so every id is a fresh 16-char string), 2 workers, streamed jsonl output.
 */
export async function inputMemory(n: number): Promise<{ jsonl: IoRun; csv: IoRun }> {
  const t = tempDir('io');
  try {
    writeJsonl(path.join(t.dir, 'in.jsonl'), n, (i) => ({ id: i, name: `Supplier ${i}, Ltd`, city: `City ${i % 977}`, amount: (i % 10_000) / 100 }));
    writeCsv(path.join(t.dir, 'in.csv'), n);
    writePipeline(t.dir, 'io', `{ name: 'io', process: (r: { name: string }) => ({ n: r.name.length }) }`);
    const measure = async (input: string): Promise<IoRun> => {
      // A state folder per input: each run starts from nothing.
      const r = await runCli(t.dir, ['run', 'io.ts', input, '--workers', '2', '--plain', '--state', `state-${input}`, '--out', `out/${input}.jsonl`]);
      if (r.code !== 0) throw new Error(`io bench: run on ${input} exited ${r.code}`);
      return { rssMb: r.rss, runnerRssMb: r.rssWorker, itemsPerSec: n / (r.ms / 1000), ms: r.ms };
    };
    const jsonl = await measure('in.jsonl');
    const csv = await measure('in.csv');
    return { jsonl, csv };
  } finally {
    t.cleanup();
  }
}
