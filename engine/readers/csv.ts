import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { countLines, fileChunks } from './jsonl.js';
import type { CsvDialect, InputReader, InputRecord, InputTable, ReadOptions } from './types.js';

type CsvRow = { line: number; fields: string[]; error?: undefined } | { line: number; error: string; fields?: undefined };

function head(file: string, bytes = 64 * 1024): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the dialect from the start of the file. The delimiter is the candidate that splits the header
 * line (outside quotes) the most: users rarely know which one their export used.
 */
export function sniffDialect(file: string, options: ReadOptions = {}): CsvDialect {
  const buf = head(file);
  const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  const text = buf.toString('utf8', bom ? 3 : 0);
  const nl = text.indexOf('\n');
  const eol = nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
  let delimiter = options.delimiter ?? (path.extname(file).toLowerCase() === '.tsv' ? '\t' : undefined);
  if (delimiter === undefined) {
    const counts = new Map<string, number>();
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') quoted = !quoted;
      else if (!quoted && (c === '\n' || c === '\r')) break;
      else if (!quoted && (c === ',' || c === ';' || c === '\t' || c === '|')) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    delimiter = ',';
    let best = 0;
    for (const [d, n] of counts) if (n > best) { best = n; delimiter = d; }
  }
  return { delimiter, bom, eol };
}

/** Line breaks as a person counts them: CRLF, CR or LF is one. */
function breaksIn(s: string, leadingOnly: boolean): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13) { n++; if (s.charCodeAt(i + 1) === 10) i++; } else if (c === 10) n++; else if (leadingOnly) break;
  }
  return n;
}

/**
 * Rows with the line each starts on, in file order, one batch per chunk read. csv-parse's own line
 * count drifts after a quoted CRLF, so lines are counted from each record's raw text instead.
 * A malformed row becomes an error row; parsing goes on with the next one.
 */
async function* csvRows(file: string, display: string, delimiter: string): AsyncGenerator<CsvRow[]> {
  // Loaded on the first csv read: the engine imports every reader, and most runs read no csv.
  const { parse: parseCsv } = await import('csv-parse');
  let breaks = 0;
  let rows: CsvRow[] = [];
  const startOf = (raw: string): number => {
    const start = breaks + breaksIn(raw, true) + 1;
    breaks += breaksIn(raw, false);
    return start;
  };
  const parser = parseCsv({
    bom: true, delimiter, raw: true, relax_quotes: false, skip_empty_lines: true, skip_records_with_error: true,
    max_record_size: 16 << 20,
    // Rows are collected here, in parse order with the skipped ones, instead of pushed through the stream.
    on_record: (rec: unknown) => {
      const r = rec as { record: string[]; raw: string };
      rows.push({ line: startOf(r.raw), fields: r.record });
      return null;
    },
  });
  parser.on('skip', (err: Error & { raw?: string }) => {
    const line = startOf(err.raw ?? '');
    rows.push({ line, error: `${display}:${line}: ${err.message.replace(/ (?:on|at) line \d+/, '')}; fix the row and run the pipeline again` });
  });
  let failure: Error | undefined;
  parser.on('error', (e: Error) => { failure = e; });
  parser.resume();
  const finished = new Promise<void>((resolve) => { parser.once('end', resolve); parser.once('error', () => resolve()); });
  // Writes are parsed synchronously, so each chunk's rows are ready when write() returns; the consumer
  // pulling batches is what paces the reading.
  for await (const chunk of fileChunks(file)) {
    parser.write(chunk);
    if (rows.length > 0) { yield rows; rows = []; }
    if (failure) break;
  }
  if (!failure) { parser.end(); await finished; }
  if (failure) rows.push({ line: breaks + 1, error: `${display}:${breaks + 1}: ${failure.message}; fix the file and run the pipeline again` });
  if (rows.length > 0) yield rows;
}

/** The record a row stands for, keyed by header as csv-parse's `columns: true` would (a repeated name keeps the last). */
export function csvRecord(header: string[], fields: string[]): Record<string, string> {
  const rec: Record<string, string> = {};
  for (let i = 0; i < header.length; i++) rec[header[i]!] = fields[i]!;
  return rec;
}

export const csvReader: InputReader = {
  extensions: ['.csv', '.tsv'],
  estimate: async (file) => Math.max(0, (await countLines(file)) - 1),
  async *read(file, display, options) {
    let header: string[] | undefined;
    for await (const rows of csvRows(file, display, sniffDialect(file, options).delimiter)) {
      const out: InputRecord[] = [];
      for (const row of rows) {
        if (row.error !== undefined) out.push({ error: row.error, source: { file: display, line: row.line } });
        else if (header === undefined) header = row.fields;
        else out.push({ record: csvRecord(header, row.fields), source: { file: display, line: row.line } });
      }
      if (out.length > 0) yield out;
    }
  },
  async table(file, options) {
    const dialect = sniffDialect(file, options);
    const it = csvRows(file, file, dialect.delimiter)[Symbol.asyncIterator]();
    let buffered: CsvRow[] = [];
    let i = 0;
    let done = false;
    const next = async (): Promise<CsvRow | undefined> => {
      while (i >= buffered.length) {
        if (done) return undefined;
        const r = await it.next();
        if (r.done) { done = true; return undefined; }
        buffered = r.value; i = 0;
      }
      return buffered[i++];
    };
    let first = await next();
    while (first && first.error !== undefined) first = await next();
    const header = first?.fields ?? [];
    let current: CsvRow | undefined;
    const table: InputTable = {
      header,
      dialect,
      async at(pos) {
        while (!current || current.line < pos) {
          current = await next();
          if (!current) return undefined;
        }
        if (current.line !== pos || current.fields === undefined) return undefined;
        return { record: csvRecord(header, current.fields), cells: current.fields };
      },
      close() { done = true; void it.return(undefined); },
    };
    return table;
  },
};
