import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliMeasured, tempDir, writeJsonl, writePipeline } from './util.js';

const cli = fileURLToPath(new URL('../../bin/pipeline-tui.js', import.meta.url));

export interface IoRun {
  /** Peak of the summed resident sets of the CLI's process tree (launcher and sandboxed child, its worker threads included), MB. */
  rssMb: number;
  /** The launcher's share of that peak, MB. */
  launcherMb: number;
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
      const r = await runCliMeasured(cli, ['run', 'io.ts', input, '--workers', '2', '--plain', '--state', `state-${input}`, '--out', `out/${input}.jsonl`], t.dir);
      if (r.code !== 0) throw new Error(`io bench: run on ${input} exited ${r.code}`);
      return { rssMb: r.rssMb, launcherMb: r.launcherMb, runnerRssMb: r.runnerRssMb, itemsPerSec: n / (r.ms / 1000), ms: r.ms };
    };
    const jsonl = await measure('in.jsonl');
    const csv = await measure('in.csv');
    return { jsonl, csv };
  } finally {
    t.cleanup();
  }
}
