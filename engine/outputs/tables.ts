import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CellObject } from 'xlsx';
import { readerFor } from '../inputs.js';
import { cellValue, loadSheetJs } from '../readers/xlsx.js';
import type { CsvDialect, InputTable, ReadOptions } from '../readers/types.js';
import { atomicWrite } from './atomic.js';
import { DoneIndex, parseEntry, type DoneEntry } from './done-rows.js';

/**
 * csv and xlsx outputs: one row per done item, the input's own columns first (when the item came from
 * a csv or xlsx row, looked up again by line/row and confirmed by id), then the result flattened into
 * columns (`address.city`). Inputs without columns (jsonl, json, txt) give an `id` column instead.
 */
export interface TableContext {
  cwd: string;
  locate?: ((file: string) => string | undefined) | undefined;
  idOf: (record: unknown) => string;
  readOptions: ReadOptions;
}

/** Past this many distinct result keys (keys that are data, not names) the result goes in one JSON column. */
const MAX_RESULT_COLUMNS = 500;
const XLSX_MAX_TEXT = 32_767;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function flatten(value: unknown, prefix: string, out: Record<string, unknown>): Record<string, unknown> {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix || 'result'] = value;
  }
  return out;
}

/**
 * The result columns: every key any result has, ordered by the first record (in reading order, `n`) that
 * has it, then by its place in that record. The journal lists items as they finished, so taking keys in
 * journal order would make the column order depend on which worker was quicker.
 */
class ResultColumns {
  private readonly first = new Map<string, { n: number; at: number }>();
  private ordered: string[] | undefined;
  overflow = false;

  add(result: unknown, n: number): void {
    if (this.overflow) return;
    const keys = Object.keys(flatten(result, '', {}));
    for (const [at, k] of keys.entries()) {
      const seen = this.first.get(k);
      if (seen && (seen.n < n || (seen.n === n && seen.at <= at))) continue;
      this.first.set(k, { n, at });
      this.ordered = undefined;
      if (this.first.size > MAX_RESULT_COLUMNS) { this.overflow = true; return; }
    }
  }

  private get keys(): string[] {
    this.ordered ??= [...this.first.entries()].sort(([, a], [, b]) => a.n - b.n || a.at - b.at).map(([k]) => k);
    return this.ordered;
  }

  values(result: unknown): unknown[] {
    if (this.overflow) return [result];
    const flat = flatten(result, '', {});
    return this.keys.map((k) => flat[k]);
  }

  get names(): string[] { return this.overflow ? ['result'] : this.keys; }
}

interface Layout {
  inputCols: string[];
  withId: boolean;
  header: string[];
  results: ResultColumns;
  dialect: CsvDialect | undefined;
  sheetName: string | undefined;
}

/** Opens the input table of `file` (as the journal names it), wherever it is now; undefined if it is not a readable table. */
async function openTable(file: string, ctx: TableContext): Promise<InputTable | undefined> {
  const abs = ctx.locate?.(file) ?? path.resolve(ctx.cwd, file);
  const reader = readerFor(abs);
  if (!reader?.table || !existsSync(abs)) return undefined;
  try { return await reader.table(abs, ctx.readOptions); } catch { return undefined; }
}

/** Lays the columns out, keeping the table of the first file open for the rows that follow. */
async function layout(index: DoneIndex, results: ResultColumns, ctx: TableContext): Promise<{ layout: Layout; first: InputTable | undefined }> {
  const inputCols: string[] = [];
  const seen = new Set<string>();
  let withId = false;
  let dialect: CsvDialect | undefined;
  let sheetName: string | undefined;
  let first: InputTable | undefined;
  for (const [i, file] of index.files.entries()) {
    const t = await openTable(file, ctx);
    if (!t) { withId = true; continue; }
    for (const c of t.header) if (!seen.has(c)) { seen.add(c); inputCols.push(c); }
    dialect ??= t.dialect;
    sheetName ??= t.sheetName;
    if (i === 0) first = t; else t.close();
  }
  if (inputCols.length === 0) withId = true;
  const taken = new Set([...inputCols, ...(withId ? ['id'] : [])]);
  const resultNames = results.names.map((k) => (taken.has(k) ? `result.${k}` : k));
  return { layout: { inputCols, withId, header: [...inputCols, ...(withId ? ['id'] : []), ...resultNames], results, dialect, sheetName }, first };
}

interface Joined { entry: DoneEntry; input: { record: Record<string, unknown>; cells: unknown[]; table: InputTable } | undefined }

/** Done items in input order, each with its input row when that row can still be found and has the same id. */
async function* joined(index: DoneIndex, ctx: TableContext, first: InputTable | undefined): AsyncGenerator<Joined[]> {
  let file: string | undefined;
  let table: InputTable | undefined;
  let spare = first;
  try {
    for await (const rows of index.rows()) {
      const out: Joined[] = [];
      for (const row of rows) {
        if (row.file !== file) {
          table?.close();
          table = spare && row.file === index.files[0] ? spare : await openTable(row.file, ctx);
          spare = undefined;
          file = row.file;
        }
        const entry = parseEntry(row.line);
        let input: Joined['input'];
        if (table && row.pos > 0) {
          const hit = await table.at(row.pos);
          if (hit && sameId(ctx, hit.record, entry.id)) input = { ...hit, table };
        }
        out.push({ entry, input });
      }
      yield out;
    }
  } finally {
    table?.close();
    spare?.close();
  }
}

function sameId(ctx: TableContext, record: unknown, id: string): boolean {
  try { return ctx.idOf(record) === id; } catch { return false; }
}

async function prepare(journal: string, ctx: TableContext) {
  const results = new ResultColumns();
  const index = await DoneIndex.build(journal, (e) => results.add(e.result, e.n));
  return { index, ...(await layout(index, results, ctx)) };
}

function rowValues(j: Joined, l: Layout, cell: (input: NonNullable<Joined['input']>, col: string) => unknown): unknown[] {
  const values: unknown[] = l.inputCols.map((c) => (j.input ? cell(j.input, c) : undefined));
  if (l.withId) values.push(j.entry.id);
  values.push(...l.results.values(j.entry.result));
  return values;
}

function csvField(v: unknown, delimiter: string): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.includes(delimiter) || s.includes('"') || s.includes('\n') || s.includes('\r') ? `"${s.replaceAll('"', '""')}"` : s;
}

/** csv output in the first csv input's dialect (delimiter, BOM, line ends), so it opens where the input did. */
export async function writeCsv(file: string, journal: string, ctx: TableContext): Promise<void> {
  const { index, layout: l, first } = await prepare(journal, ctx);
  const { delimiter, bom, eol } = l.dialect ?? { delimiter: ctx.readOptions.delimiter ?? ',', bom: false, eol: '\n' as const };
  const line = (values: unknown[]) => `${values.map((v) => csvField(v, delimiter)).join(delimiter)}${eol}`;
  await atomicWrite(file, async (out) => {
    out.write(`${bom ? '\uFEFF' : ''}${line(l.header)}`);
    for await (const batch of joined(index, ctx, first)) {
      let text = '';
      for (const j of batch) text += line(rowValues(j, l, (input, c) => input.record[c]));
      out.write(text);
    }
  });
}

/** Spreadsheet dates are naive; the reader read them as UTC, so the serial number is taken in UTC too. */
const serialOf = (d: Date) => d.getTime() / 86_400_000 + 25_569;

function toCell(v: unknown): CellObject | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? { t: 'n', v } : { t: 's', v: String(v) };
  if (typeof v === 'boolean') return { t: 'b', v };
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return { t: 's', v: s.length > XLSX_MAX_TEXT ? `${s.slice(0, XLSX_MAX_TEXT - 1)}…` : s };
}

/** Marks a value that is an input cell (copied with its format) rather than a result value. */
class InputCell { constructor(readonly cell: unknown) {} }

/** An input cell as written back: its value and number format, not its formula (formulas were read as values). */
function copyCell(c: unknown): CellObject | undefined {
  if (typeof c === 'string') return toCell(c);
  const cell = c as CellObject | undefined;
  if (!cell || cell.v === undefined || cell.t === 'z') return undefined;
  if (cell.t === 'd' && cell.v instanceof Date) return { t: 'n', v: serialOf(cell.v), z: typeof cell.z === 'string' && cell.z !== 'General' ? cell.z : 'yyyy-mm-dd' };
  if (cell.t === 'e') return toCell(cellValue(cell));
  return { t: cell.t, v: cell.v, ...(cell.z !== undefined && cell.z !== 'General' ? { z: cell.z } : {}) };
}

/** xlsx output: one sheet (named like the input sheet), input cells copied with their formats. */
export async function writeXlsx(file: string, journal: string, ctx: TableContext): Promise<void> {
  const XLSX = await loadSheetJs();
  const { index, layout: l, first } = await prepare(journal, ctx);
  const rows: (CellObject | undefined)[][] = [l.header.map((h) => ({ t: 's', v: h }))];
  for await (const batch of joined(index, ctx, first)) {
    for (const j of batch) {
      rows.push(rowValues(j, l, (input, c) => {
        const i = input.table.header.indexOf(c);
        return i === -1 ? undefined : new InputCell(input.cells[i]);
      }).map((v) => (v instanceof InputCell ? copyCell(v.cell) : toCell(v))));
    }
  }
  // Dense sheets may have holes: an undefined cell is an empty one.
  const ws = { '!data': rows as CellObject[][], '!ref': XLSX.utils.encode_range({ s: { r: 0, c: 0 }, e: { r: rows.length - 1, c: Math.max(0, l.header.length - 1) } }) };
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, ws, l.sheetName ?? 'Results');
  const buf = XLSX.write(wb, { type: 'buffer', bookType: 'xlsx', compression: true }) as Buffer;
  await atomicWrite(file, (out) => out.writeBuffer(buf));
}
