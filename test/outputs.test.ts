// Output writers: csv and xlsx written back beside the input's columns, json, input order, atomic
// rewrites (a kill mid-write leaves the old file), checkpoint-time rewrites, --fresh and resume.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import * as XLSX from 'xlsx';
import { createEngine, loadPipeline } from '../dist/index.js';
import { removeStaleTemps, tempName } from '../dist/engine/outputs/atomic.js';
import { openOutput } from '../dist/engine/outputs/index.js';
import { CheckpointStore } from '../dist/state/checkpoint.js';
import { journalLine } from '../dist/state/journal.js';
import { cleanupProjects, makeProject, readJsonl, repoRoot, runCli, spawnCli, waitFor, writeFile, writePipeline } from './helpers.js';

XLSX.set_fs(fs);
afterAll(cleanupProjects);

/** The engine in this process (no CLI start-up): for tests about what is written, not how the CLI runs. */
async function runApi(dir: string, pipelineFile: string, inputs: string[], options: { limit?: number; fresh?: boolean } = {}) {
  return createEngine(await loadPipeline(pipelineFile, { cwd: dir }), { cwd: dir, ...options }).run(inputs);
}

const csvRows = (file: string, delimiter = ',') => parseCsv(readFileSync(file), { bom: true, delimiter, relax_column_count: false }) as string[][];

describe('csv output', () => {
  it('round trip csv -> csv: the input columns as they were, then the flattened result, in the input dialect', async () => {
    const dir = makeProject();
    writePipeline(dir, 'match.ts', `
import { definePipeline, PermanentError } from 'pipeline-tui';
export default definePipeline({
  name: 'match', workers: 2, output: 'out/matched.csv',
  process(r: any) {
    if (r.Name === 'Bad') throw new PermanentError('no match');
    return { match: r.Name.toUpperCase(), address: { city: r.City, zip: r.Name.length }, tags: ['a', 'b'] };
  },
});
`);
    writeFile(dir, 'Frs.csv', '\uFEFFName;Note;City\r\nAcme;"a; b";Oslo\r\nBad;x;Rome\r\nBeta;"two\r\nlines, ""quoted""";Bern\r\n');
    const res = await runCli(['run', 'match.ts', 'Frs.csv'], { cwd: dir });
    expect(res.code).toBe(1); // the Bad row failed: never in the output
    const file = path.join(dir, 'out', 'matched.csv');
    const raw = readFileSync(file, 'utf8');
    expect(raw.startsWith('\uFEFFName;Note;City;match;address.city;address.zip;tags\r\n')).toBe(true);
    expect(csvRows(file, ';')).toEqual([
      ['Name', 'Note', 'City', 'match', 'address.city', 'address.zip', 'tags'],
      ['Acme', 'a; b', 'Oslo', 'ACME', 'Oslo', '4', '["a","b"]'],
      ['Beta', 'two\r\nlines, "quoted"', 'Bern', 'BETA', 'Bern', '4', '["a","b"]'],
    ]);
  });

  it('jsonl -> csv: an id column and the result columns; a result key that is an input column is prefixed', async () => {
    const dir = makeProject();
    const p = writePipeline(dir, 'p.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'p', id: (r: any) => 'k' + r.n, order: 'input', output: 'out/p.csv', process: (r: any) => r.n === 2 ? 'plain' : { id: r.n, half: r.n / 2 } });
`);
    writeFile(dir, 'in.jsonl', '{"n":1}\n{"n":2}\n{"n":3}\n');
    expect((await runApi(dir, p, ['in.jsonl'])).exitCode).toBe(0);
    expect(csvRows(path.join(dir, 'out', 'p.csv'))).toEqual([
      ['id', 'result.id', 'half', 'result'],
      ['k1', '1', '0.5', ''],
      ['k2', '', '', 'plain'],
      ['k3', '3', '1.5', ''],
    ]);
  });
});

describe('xlsx output', () => {
  it('round trip xlsx -> xlsx: the sheet keeps its name, its columns, dates and number formats; results follow', async () => {
    const dir = makeProject();
    writePipeline(dir, 'match.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({
  name: 'match', workers: 2, output: 'out/Frs-matched.xlsx',
  process: (r: any) => ({ match: String(r.Name).toUpperCase(), score: r.Amount * 2, ok: r.Amount > 5, when: r.Since }),
});
`);
    const ws = XLSX.utils.aoa_to_sheet([['Name', 'Since', 'Amount', 'Double'], ['Acme', new Date(Date.UTC(2024, 2, 1)), 12.5, null], ['Beta', new Date(Date.UTC(2023, 11, 24)), 3, null]], { cellDates: true, UTC: true });
    ws.D2 = { t: 'n', f: 'C2*2', v: 25 };
    ws.C2!.z = '0.00';
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, ws, 'Suppliers');
    XLSX.writeFile(wb, path.join(dir, 'Frs.xlsx'));

    const res = await runCli(['run', 'match.ts', 'Frs.xlsx'], { cwd: dir });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const back = XLSX.readFile(path.join(dir, 'out', 'Frs-matched.xlsx'), { cellDates: true, cellNF: true, UTC: true });
    expect(back.SheetNames).toEqual(['Suppliers']);
    const sheet = back.Sheets.Suppliers!;
    expect(XLSX.utils.sheet_to_json(sheet, { header: 1, raw: true, defval: null, UTC: true })).toEqual([
      ['Name', 'Since', 'Amount', 'Double', 'match', 'score', 'ok', 'when'],
      ['Acme', new Date(Date.UTC(2024, 2, 1)), 12.5, 25, 'ACME', 25, true, '2024-03-01'],
      ['Beta', new Date(Date.UTC(2023, 11, 24)), 3, null, 'BETA', 6, false, '2023-12-24'],
    ]);
    expect(sheet.C2!.z).toBe('0.00');
    expect(sheet.B2!.t).toBe('d');
    expect(sheet.D2!.f).toBeUndefined(); // the formula's value, not the formula
  }, 90_000);
});

describe('whole-file outputs', () => {
  it('order: input writes json and jsonl in input order whatever the completion order; failed items are left out', async () => {
    const dir = makeProject();
    const n = 30;
    writeFile(dir, 'in.jsonl', Array.from({ length: n }, (_, i) => JSON.stringify({ n: i + 1 })).join('\n'));
    for (const ext of ['json', 'jsonl']) {
      const file = writePipeline(dir, `p-${ext}.ts`, `
import { definePipeline, PermanentError } from 'pipeline-tui';
export default definePipeline({
  name: 'p-${ext}', id: (r: any) => String(r.n), workers: 4, order: 'input', output: 'out/p.${ext}',
  async process(r: any) {
    if (r.n === 7) throw new PermanentError('seven');
    await new Promise((res) => setTimeout(res, (${n} - r.n) % 5 * 4));
    return { n: r.n };
  },
});
`);
      const summary = await createEngine(await loadPipeline(file, { cwd: dir }), { cwd: dir }).run([path.join(dir, 'in.jsonl')]);
      expect(summary.totals.failed).toBe(1);
      const out = path.join(dir, 'out', `p.${ext}`);
      const rows = ext === 'json' ? JSON.parse(readFileSync(out, 'utf8')) as { id: string }[] : readJsonl<{ id: string }>(out);
      expect(rows.map((r) => r.id)).toEqual(Array.from({ length: n }, (_, i) => String(i + 1)).filter((id) => id !== '7'));
      expect(rows[0]).toEqual({ id: '1', result: { n: 1 }, source: { file: 'in.jsonl', line: 1 } });
    }
  });

  it('a resumed run rewrites the file with each id once; --fresh keeps the old file as a backup', async () => {
    const dir = makeProject();
    const p = writePipeline(dir, 'p.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'p', id: (r: any) => r.Name, output: 'out/p.csv', process: (r: any) => ({ len: r.Name.length }) });
`);
    writeFile(dir, 'in.csv', 'Name\nann\nbob\ncy\ndee\ned\n');
    expect((await runApi(dir, p, ['in.csv'], { limit: 2 })).exitCode).toBe(0);
    expect(csvRows(path.join(dir, 'out', 'p.csv')).map((r) => r[0])).toEqual(['Name', 'ann', 'bob']);
    expect((await runApi(dir, p, ['in.csv'])).exitCode).toBe(0);
    expect(csvRows(path.join(dir, 'out', 'p.csv')).map((r) => r[0])).toEqual(['Name', 'ann', 'bob', 'cy', 'dee', 'ed']);
    expect((await runApi(dir, p, ['in.csv'], { fresh: true, limit: 1 })).exitCode).toBe(0);
    const names = readdirSync(path.join(dir, 'out'));
    expect(names.filter((f) => f.startsWith('p.csv.backup-'))).toHaveLength(1);
    expect(csvRows(path.join(dir, 'out', 'p.csv')).map((r) => r[0])).toEqual(['Name', 'ann']);
  });

  it('during a run the file is rewritten at checkpoints, not only at the end', async () => {
    const dir = makeProject();
    const store = await CheckpointStore.open(path.join(dir, 'state'), 'ck', 'ck.ts');
    const file = path.join(dir, 'out', 'ck.json');
    const out = await openOutput(file, store, { order: 'completion', definition: {} }, { cwd: dir, checkpointMs: 100 });
    try {
      const finish = (n: number) => {
        store.append(journalLine.done(n, `"id":"i${n}","result":{"n":${n}},"source":{"file":"in.jsonl","line":${n + 1}}}`));
        store.done.add(`i${n}`);
      };
      const ids = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { id: string }[]).map((r) => r.id) : []);
      finish(0);
      await waitFor(() => ids().length === 1, 5000, 'the first checkpoint rewrite');
      finish(2); finish(1);
      await waitFor(() => ids().length === 3, 5000, 'the second checkpoint rewrite');
      expect(ids()).toEqual(['i0', 'i1', 'i2']);
    } finally {
      out.close();
      store.close();
    }
  });
});

describe('atomic writes', () => {
  it('a process killed in the middle of a rewrite leaves the old file intact; its temp file is cleaned up later', async () => {
    const dir = makeProject();
    const file = path.join(dir, 'out.csv');
    writeFileSync(file, 'a,b\n1,2\n');
    const script = writeFile(dir, 'writer.mjs', `
import { atomicWrite } from ${JSON.stringify(path.join(repoRoot, 'dist/engine/outputs/atomic.js'))};
await atomicWrite(process.argv[2], async (out) => {
  out.write('a,b\\n3,'); out.flush();
  await new Promise(() => setInterval(() => {}, 1000)); // never finishes: killed here
});
`);
    const child = spawn(process.execPath, [script, file], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    const tmp = tempName(file, child.pid!);
    await waitFor(() => existsSync(tmp) && readFileSync(tmp, 'utf8').length > 0, 10_000, 'the temp file');
    child.kill('SIGKILL');
    await exited;
    expect(readFileSync(file, 'utf8')).toBe('a,b\n1,2\n');
    expect(existsSync(tmp)).toBe(true);
    removeStaleTemps(file);
    expect(existsSync(tmp)).toBe(false);
  });

  it('a run killed while it writes its csv output leaves a whole file: the old one or the new one', async () => {
    const dir = makeProject();
    const p = writePipeline(dir, 'p.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'p', id: (r: any) => r.id, workers: 2, output: 'out/p.csv', process: (r: any) => ({ text: 'row ' + r.id + ', quoted "x"' }) });
`);
    const rows = (n: number) => `id,pad\n${Array.from({ length: n }, (_, i) => `${i},${'p'.repeat(60)}`).join('\n')}\n`;
    writeFile(dir, 'in.csv', rows(100));
    expect((await runApi(dir, p, ['in.csv'])).exitCode).toBe(0);
    const before = readFileSync(path.join(dir, 'out', 'p.csv'), 'utf8');
    writeFile(dir, 'in.csv', rows(20_000));
    const child = spawnCli(['run', 'p.ts', 'in.csv', '-A'], { cwd: dir });
    const exited = new Promise((r) => child.on('exit', r));
    const outDir = path.join(dir, 'out');
    let sawTemp = false;
    for (let t = Date.now(); Date.now() - t < 40_000 && child.exitCode === null;) {
      if (readdirSync(outDir).some((f) => f.startsWith('.p.csv.') && f.endsWith('.tmp'))) { child.kill('SIGKILL'); sawTemp = true; break; }
      await new Promise((r) => setImmediate(r));
    }
    await exited;
    const after = readFileSync(path.join(outDir, 'p.csv'), 'utf8');
    const n = csvRows(path.join(outDir, 'p.csv')).length - 1;
    expect(after === before || n === 20_000).toBe(true);
    expect(sawTemp || n === 20_000).toBe(true);
    if (process.env.PT_TEST_VERBOSE) process.stderr.write(`kill test: saw temp ${sawTemp}, rows after ${n}\n`);
  });
});
