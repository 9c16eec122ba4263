import { spawn as spawnProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { peakRssMb, tempDir, writeJsonl, writePipeline } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

export interface IoRun {
  /** Peak resident set of the whole CLI process (main thread, worker threads, native buffers), MB. */
  rssMb: number;
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

function runCli(dir: string, args: string[]): Promise<{ ms: number; rss: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawnProcess(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    let rss = 0;
    const poll = setInterval(() => { rss = Math.max(rss, peakRssMb(child.pid!)); }, 50);
    child.on('error', reject);
    child.on('exit', (code) => { clearInterval(poll); resolve({ ms: performance.now() - t0, rss, code }); });
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
      const r = await runCli(t.dir, ['run', 'io.ts', input, '--workers', '2', '--plain', '--fresh', '--out', `out/${input}.jsonl`]);
      if (r.code !== 0) throw new Error(`io bench: run on ${input} exited ${r.code}`);
      return { rssMb: r.rss, itemsPerSec: n / (r.ms / 1000), ms: r.ms };
    };
    const jsonl = await measure('in.jsonl');
    const csv = await measure('in.csv');
    return { jsonl, csv };
  } finally {
    t.cleanup();
  }
}
