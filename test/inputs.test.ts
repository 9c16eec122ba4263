// Input readers on real files, good and bad: jsonl, json, csv, xlsx, txt/md, folders and globs, and the
// CLI's answer to inputs it cannot use (exit 2 before anything runs) or lines it cannot parse (failed items).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as XLSX from 'xlsx';
import { expandInputs, readInputs, type InputRecord, type ReadOptions } from '../dist/engine/inputs.js';
import { cleanupProjects, jsonLines, makeProject, readJsonl, runCli, writeFile, writePipeline } from './helpers.js';

XLSX.set_fs(fs);
afterAll(cleanupProjects);

async function readAll(dir: string, patterns: string[], options: ReadOptions = {}): Promise<InputRecord[]> {
  const files = await expandInputs(patterns, dir, options);
  const out: InputRecord[] = [];
  for await (const batch of readInputs(files, dir, options)) out.push(...batch);
  return out;
}

/** The error `expandInputs` throws for these inputs (it must throw). */
async function inputError(dir: string, patterns: string[], options: ReadOptions = {}): Promise<{ code: string; message: string }> {
  try {
    await expandInputs(patterns, dir, options);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error(`expected ${patterns.join(' ')} to be rejected`);
}

const good = (rs: InputRecord[]) => rs.filter((r) => r.error === undefined).map((r) => r.record);

function writeWorkbook(file: string, sheets: Record<string, unknown[][]>): void {
  const wb = XLSX.utils.book_new();
  for (const [name, rows] of Object.entries(sheets)) XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(rows, { cellDates: true, UTC: true }), name);
  XLSX.writeFile(wb, file);
}

describe('jsonl', () => {
  it('reads BOM, CRLF and blank lines; a malformed line mid-file is an error naming file:line and the rest go on', async () => {
    const dir = makeProject();
    writeFile(dir, 'in.jsonl', '\uFEFF{"a":1}\r\n{"a":2}\r\n\r\n{"a": oops}\r\n{"a":4}\r\n{"a":5}');
    const rs = await readAll(dir, ['in.jsonl']);
    expect(good(rs)).toEqual([{ a: 1 }, { a: 2 }, { a: 4 }, { a: 5 }]);
    const bad = rs.filter((r) => r.error !== undefined);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.source).toEqual({ file: 'in.jsonl', line: 4 });
    expect(bad[0]!.error).toMatch(/^in\.jsonl:4: invalid JSON/);
    expect(rs.find((r) => (r.record as { a?: number } | undefined)?.a === 5)?.source).toEqual({ file: 'in.jsonl', line: 6 });
  });

  it('reads a 10 MB line', async () => {
    const dir = makeProject();
    const big = 'x'.repeat(10 * 1024 * 1024);
    writeFile(dir, 'big.jsonl', `{"n":1}\n${JSON.stringify({ n: 2, big })}\n{"n":3}\n`);
    const rs = await readAll(dir, ['big.jsonl']);
    expect(rs.map((r) => (r.record as { n: number }).n)).toEqual([1, 2, 3]);
    expect((rs[1]!.record as { big: string }).big.length).toBe(big.length);
    expect(rs[2]!.source).toEqual({ file: 'big.jsonl', line: 3 });
  });
});

describe('json', () => {
  it('reads an array or one object, each with its position', async () => {
    const dir = makeProject();
    writeFile(dir, 'list.json', '\uFEFF[{"a":1},{"a":2}]');
    writeFile(dir, 'one.json', '{"a":3}');
    const rs = await readAll(dir, ['list.json', 'one.json']);
    expect(good(rs)).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(rs.map((r) => r.source)).toEqual([{ file: 'list.json', row: 1 }, { file: 'list.json', row: 2 }, { file: 'one.json', row: 1 }]);
  });

  it('an invalid or blank document is rejected before reading, naming the file and what to do', async () => {
    const dir = makeProject();
    writeFile(dir, 'bad.json', '[{"a":1},');
    writeFile(dir, 'blank.json', '  \n');
    const bad = await inputError(dir, ['bad.json']);
    expect(bad.code).toBe('INPUT_INVALID');
    expect(bad.message).toMatch(/^Input bad\.json: invalid JSON .* — .*\.jsonl/);
    expect((await inputError(dir, ['blank.json'])).code).toBe('INPUT_EMPTY');
  });
});

describe('csv', () => {
  it('reads BOM, CRLF, quoted delimiters, quotes and newlines by header, with the line each row starts on', async () => {
    const dir = makeProject();
    writeFile(dir, 'in.csv', '\uFEFFname,note,city\r\nAcme,"a, b",Oslo\r\nBeta,"two\r\nlines",Rome\r\n\r\nGamma,"say ""hi""",Bern\r\n');
    const rs = await readAll(dir, ['in.csv']);
    expect(good(rs)).toEqual([
      { name: 'Acme', note: 'a, b', city: 'Oslo' },
      { name: 'Beta', note: 'two\r\nlines', city: 'Rome' },
      { name: 'Gamma', note: 'say "hi"', city: 'Bern' },
    ]);
    expect(rs.map((r) => r.source)).toEqual([{ file: 'in.csv', line: 2 }, { file: 'in.csv', line: 3 }, { file: 'in.csv', line: 6 }]);
  });

  it('sniffs the delimiter (; and tab), or takes the one set', async () => {
    const dir = makeProject();
    writeFile(dir, 'semi.csv', 'a;b\n"1;x";2\n');
    writeFile(dir, 'tabs.tsv', 'a\tb\n1\t2\n');
    writeFile(dir, 'pipe.csv', 'a|b,c\n1|2,3\n');
    expect(good(await readAll(dir, ['semi.csv', 'tabs.tsv']))).toEqual([{ a: '1;x', b: '2' }, { a: '1', b: '2' }]);
    expect(good(await readAll(dir, ['pipe.csv'], { delimiter: '|' }))).toEqual([{ a: '1', 'b,c': '2,3' }]);
  });

  it('a malformed row mid-file is an error naming file:line; the rows after it are read', async () => {
    const dir = makeProject();
    writeFile(dir, 'in.csv', 'id,text\n1,"multi\nline"\n2,too,many\n3,ok\n4,"never closed\n5,lost\n');
    const rs = await readAll(dir, ['in.csv']);
    expect(good(rs)).toEqual([{ id: '1', text: 'multi\nline' }, { id: '3', text: 'ok' }]);
    const bad = rs.filter((r) => r.error !== undefined);
    expect(bad.map((r) => r.source)).toEqual([{ file: 'in.csv', line: 4 }, { file: 'in.csv', line: 6 }]);
    expect(bad[0]!.error).toMatch(/^in\.csv:4: /);
  });
});

describe('xlsx', () => {
  it('reads the first sheet by header: dates as ISO strings, formulas as their values, blank rows skipped', async () => {
    const dir = makeProject();
    const file = path.join(dir, 'Frs.xlsx');
    writeWorkbook(file, {
      Suppliers: [['Name', 'Since', 'Amount', 'Double'], ['Acme', new Date(Date.UTC(2024, 2, 1)), 12.5], [], ['Beta', new Date(Date.UTC(2024, 2, 1, 13, 45, 10)), 3, null]],
      Other: [['x'], [1]],
    });
    // A formula with its cached value, as Excel saves it.
    const wb = XLSX.readFile(file, { cellDates: true });
    wb.Sheets.Suppliers!.D2 = { t: 'n', f: 'C2*2', v: 25 };
    XLSX.writeFile(wb, file);
    const rs = await readAll(dir, ['Frs.xlsx']);
    expect(good(rs)).toEqual([
      { Name: 'Acme', Since: '2024-03-01', Amount: 12.5, Double: 25 },
      { Name: 'Beta', Since: '2024-03-01T13:45:10', Amount: 3, Double: null },
    ]);
    expect(rs.map((r) => r.source)).toEqual([{ file: 'Frs.xlsx', row: 2 }, { file: 'Frs.xlsx', row: 4 }]);
    expect(good(await readAll(dir, ['Frs.xlsx'], { sheet: 'Other' }))).toEqual([{ x: 1 }]);
  });

  it('a missing sheet, a corrupt or truncated workbook are rejected naming the file and what to do', async () => {
    const dir = makeProject();
    const file = path.join(dir, 'ok.xlsx');
    writeWorkbook(file, { Data: [['a'], [1]] });
    const missing = await inputError(dir, ['ok.xlsx'], { sheet: 'Nope' });
    expect(missing.message).toBe('Input ok.xlsx: no sheet named "Nope" (sheets: "Data") — set `sheet` in the pipeline to one of them');
    writeFileSync(path.join(dir, 'junk.xlsx'), 'this is not a workbook,at all\n');
    writeFileSync(path.join(dir, 'cut.xlsx'), readFileSync(file).subarray(0, 300));
    for (const f of ['junk.xlsx', 'cut.xlsx']) {
      const e = await inputError(dir, [f]);
      expect(e.code).toBe('INPUT_UNREADABLE');
      expect(e.message).toMatch(new RegExp(`^Input ${f.replace('.', '\\.')}: .* — open it in Excel or LibreOffice and save it again as \\.xlsx$`));
    }
  });
});

describe('txt, md, folders and globs', () => {
  it('a text file is one { path, text } record', async () => {
    const dir = makeProject();
    writeFile(dir, 'docs/a.md', '# Title\n\nBody\n');
    writeFile(dir, 'docs/b.txt', 'plain');
    expect(good(await readAll(dir, ['docs']))).toEqual([{ path: 'docs/a.md', text: '# Title\n\nBody\n' }, { path: 'docs/b.txt', text: 'plain' }]);
  });

  it('folders and globs skip dotfiles, lock files, partial downloads and temp files', async () => {
    const dir = makeProject();
    writeFile(dir, 'in/a.jsonl', '{"a":1}\n');
    for (const junk of ['.hidden.jsonl', '~$Frs.xlsx', 'b.jsonl.crdownload', 'c.csv.part', 'd.json.tmp', 'notes.jsonl~', 'e.docx']) writeFile(dir, `in/${junk}`, 'junk');
    expect(await expandInputs(['in'], dir)).toEqual([path.join(dir, 'in/a.jsonl')]);
    expect(await expandInputs(['in/*.jsonl*'], dir)).toEqual([path.join(dir, 'in/a.jsonl')]);
    expect((await inputError(dir, ['in/*.xlsx'])).code).toBe('INPUT_NOT_FOUND');
  });

  it('a missing file, a glob matching nothing, an empty file and an unknown extension are rejected', async () => {
    const dir = makeProject();
    writeFile(dir, 'empty.csv', '');
    writeFile(dir, 'notes.docx', 'x');
    const cases: [string, string, RegExp][] = [
      ['nope.jsonl', 'INPUT_NOT_FOUND', /^Input nope\.jsonl: no such file or folder — /],
      ['data/*.csv', 'INPUT_NOT_FOUND', /^Input data\/\*\.csv: the pattern matched no file — /],
      ['empty.csv', 'INPUT_EMPTY', /^Input empty\.csv: the file is empty — /],
      ['notes.docx', 'INPUT_UNSUPPORTED', /^Input notes\.docx: unknown file type "\.docx" — convert it to one of .*\.xlsx/],
    ];
    for (const [input, code, message] of cases) {
      const e = await inputError(dir, [input]);
      expect(e.code, input).toBe(code);
      expect(e.message, input).toMatch(message);
    }
  });
});

describe('the CLI on bad input', () => {
  const pipeline = (dir: string) => writePipeline(dir, 'p.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'p', workers: 1, process: (r: any) => ({ seen: Object.keys(r).length }) });
`);

  it('exit 2 before anything runs for a corrupt workbook among good inputs', async () => {
    const dir = makeProject();
    pipeline(dir);
    writeFile(dir, 'a.jsonl', '{"a":1}\n');
    writeFile(dir, 'Frs.xlsx', 'PK\u0003\u0004 not really a zip');
    const res = await runCli(['run', 'p.ts', 'a.jsonl', 'Frs.xlsx'], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Input Frs\.xlsx: the workbook is corrupt or unreadable .* — open it in Excel/);
    expect(existsSync(path.join(dir, 'out', 'p.jsonl'))).toBe(false);
    expect(existsSync(path.join(dir, '.pipeline-tui', 'p', 'journal.jsonl'))).toBe(false);
  });

  it('a malformed csv row becomes a failed PARSE_ERROR item with id <file>:<line>; the others are processed', async () => {
    const dir = makeProject();
    pipeline(dir);
    writeFile(dir, 'in.csv', 'a,b\n1,2\n3,4,5\n6,7\n');
    const res = await runCli(['run', 'p.ts', 'in.csv', '--json'], { cwd: dir });
    expect(res.code).toBe(1);
    const failed = jsonLines(res.stdout).filter((e) => e.type === 'item' && e.status === 'failed');
    expect(failed).toMatchObject([{ id: 'in.csv:3', source: { file: 'in.csv', line: 3 }, error: { code: 'PARSE_ERROR', line: 3 } }]);
    expect(readJsonl<{ source: { line: number } }>(path.join(dir, 'out', 'p.jsonl')).map((l) => l.source.line).sort()).toEqual([2, 4]);
  });
});
