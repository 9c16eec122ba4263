import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { CellObject, WorkBook, WorkSheet } from 'xlsx';
import { messages } from '../errors.js';
import { LastParsed } from './parsed-cache.js';
import type { InputReader, InputRecord, InputTable, ReadOptions } from './types.js';

type SheetJs = typeof import('xlsx');
let sheetjs: Promise<SheetJs> | undefined;
/** SheetJS is large; a run without workbooks should not pay for loading it. */
export const loadSheetJs = (): Promise<SheetJs> => (sheetjs ??= import('xlsx'));

interface Sheet {
  name: string;
  /** Dense rows (`!data`); holes are empty rows/cells. */
  rows: (CellObject | undefined)[][];
  /** 0-based index of the header row and the column range. */
  headerRow: number;
  firstCol: number;
  lastCol: number;
  lastRow: number;
}

const errorText: Record<number, string> = { 0: '#NULL!', 7: '#DIV/0!', 15: '#VALUE!', 23: '#REF!', 29: '#NAME?', 36: '#NUM!', 42: '#N/A', 43: '#GETTING_DATA' };
const counts = new Map<string, number>();
const parsed = new LastParsed<Sheet>();

function startsLikeWorkbook(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    const zip = b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
    const cfb = b[0] === 0xd0 && b[1] === 0xcf && b[2] === 0x11 && b[3] === 0xe0; // .xls, or an encrypted .xlsx
    return zip || cfb;
  } finally {
    closeSync(fd);
  }
}

/** Reads one sheet with the values formulas last computed; dates come back as UTC-true Date objects. */
async function loadSheet(file: string, display: string, options: ReadOptions, extra: { cellNF?: boolean } = {}): Promise<Sheet> {
  const todo = 'open it in Excel or LibreOffice and save it again as .xlsx';
  if (!startsLikeWorkbook(file)) throw messages.inputUnreadable(display, 'not a spreadsheet (the file does not start like an .xlsx/.xls workbook; it may be corrupt or renamed)', todo);
  const XLSX = await loadSheetJs();
  let wb: WorkBook;
  try {
    wb = XLSX.read(await readFile(file), {
      type: 'buffer', dense: true, cellDates: true, UTC: true, cellFormula: false, cellHTML: false, cellText: false,
      cellNF: extra.cellNF ?? false, sheets: options.sheet ?? 0,
    });
  } catch (e) {
    const msg = (e as Error).message;
    if (/password-protected/i.test(msg)) throw messages.inputUnreadable(display, 'the workbook is password-protected', 'save a copy without a password and use that');
    throw messages.inputUnreadable(display, `the workbook is corrupt or unreadable (${msg})`, todo);
  }
  const name = options.sheet ?? wb.SheetNames[0];
  const ws: WorkSheet | undefined = name === undefined ? undefined : wb.Sheets[name];
  if (name === undefined || ws === undefined) {
    if (options.sheet !== undefined) throw messages.inputInvalid(display, `no sheet named "${options.sheet}" (sheets: ${wb.SheetNames.map((s) => `"${s}"`).join(', ')})`, 'set `sheet` in the pipeline to one of them');
    throw messages.inputUnreadable(display, 'the workbook has no sheets', todo);
  }
  const ref = ws['!ref'];
  const rows = (ws['!data'] ?? []) as (CellObject | undefined)[][];
  if (!ref || rows.length === 0) throw messages.inputInvalid(display, `sheet "${name}" is empty`, 'put a header row and records in it, or set `sheet` in the pipeline to the sheet that has them');
  const range = XLSX.utils.decode_range(ref);
  let headerRow = range.s.r;
  while (headerRow <= range.e.r && isBlank(rows[headerRow], range.s.c, range.e.c)) headerRow++;
  if (headerRow > range.e.r) throw messages.inputInvalid(display, `sheet "${name}" is empty`, 'put a header row and records in it, or set `sheet` in the pipeline to the sheet that has them');
  return { name, rows, headerRow, firstCol: range.s.c, lastCol: range.e.c, lastRow: range.e.r };
}

function isBlank(row: (CellObject | undefined)[] | undefined, from: number, to: number): boolean {
  if (!row) return true;
  for (let c = from; c <= to; c++) { const v = row[c]; if (v && v.t !== 'z' && v.v !== undefined && v.v !== '') return false; }
  return true;
}

/** `2024-03-01` for a date, `2024-03-01T13:45:10` with a time: spreadsheet dates carry no time zone. */
export function isoDate(d: Date): string {
  const s = d.toISOString();
  if (s.endsWith('T00:00:00.000Z')) return s.slice(0, 10);
  return s.endsWith('.000Z') ? s.slice(0, 19) : s.slice(0, 23);
}

export function cellValue(cell: CellObject | undefined): unknown {
  if (!cell || cell.v === undefined) return cell?.t === 'e' ? '#ERROR' : null;
  switch (cell.t) {
    case 'd': return cell.v instanceof Date ? isoDate(cell.v) : String(cell.v);
    case 'e': return errorText[cell.v as number] ?? '#ERROR';
    case 'z': return null;
    default: return cell.v;
  }
}

/** Header names as SheetJS's sheet_to_json makes them: blanks become `__EMPTY`, repeats get `_1`, `_2`. */
function headerOf(sheet: Sheet): string[] {
  const seen = new Map<string, number>();
  const names: string[] = [];
  const row = sheet.rows[sheet.headerRow] ?? [];
  for (let c = sheet.firstCol; c <= sheet.lastCol; c++) {
    const v = cellValue(row[c]);
    const base = v === null || v === '' ? '__EMPTY' : String(v);
    const k = seen.get(base) ?? 0;
    seen.set(base, k + 1);
    names.push(k === 0 ? base : `${base}_${k}`);
  }
  return names;
}

function recordAt(sheet: Sheet, header: string[], r: number): Record<string, unknown> | undefined {
  const row = sheet.rows[r];
  if (isBlank(row, sheet.firstCol, sheet.lastCol)) return undefined;
  const rec: Record<string, unknown> = {};
  for (let c = 0; c < header.length; c++) rec[header[c]!] = cellValue(row![sheet.firstCol + c]);
  return rec;
}

export const xlsxReader: InputReader = {
  extensions: ['.xlsx', '.xlsm', '.xls', '.ods'],
  async estimate(file) { return counts.get(file) ?? 0; },
  async check(file, display, options) {
    const sheet = await parsed.get(file, () => loadSheet(file, display, options), options.sheet);
    counts.set(file, sheet.lastRow - sheet.headerRow);
  },
  async *read(file, display, options) {
    const sheet = await parsed.take(file, () => loadSheet(file, display, options), options.sheet);
    const header = headerOf(sheet);
    let out: InputRecord[] = [];
    for (let r = sheet.headerRow + 1; r <= sheet.lastRow; r++) {
      const record = recordAt(sheet, header, r);
      if (record) out.push({ record, source: { file: display, row: r + 1 } });
      if (out.length >= 1000) { yield out; out = []; }
    }
    if (out.length > 0) yield out;
  },
  async table(file, options) {
    const sheet = await loadSheet(file, file, options, { cellNF: true });
    const header = headerOf(sheet);
    const table: InputTable = {
      header,
      sheetName: sheet.name,
      async at(pos) {
        const record = recordAt(sheet, header, pos - 1);
        if (!record) return undefined;
        const row = sheet.rows[pos - 1]!;
        return { record, cells: header.map((_, c) => row[sheet.firstCol + c]) };
      },
      close() { sheet.rows = []; },
    };
    return table;
  },
};
