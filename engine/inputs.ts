import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse';
import { glob, isDynamicPattern } from 'tinyglobby';
import { messages } from './errors.js';
import type { ItemSource } from './types.js';

export type InputRecord =
  | { record: unknown; source: ItemSource; error?: undefined }
  | { error: string; source: { file: string; line: number }; record?: undefined };

/** A format reader: a small interface so new formats (xlsx, parquet) plug in without touching the engine. */
export interface InputReader {
  readonly extensions: readonly string[];
  /** Cheap estimate of the record count, for progress before the file is fully read. */
  estimate(file: string): Promise<number>;
  /** Records in batches: per-record async iteration costs more than parsing a small record. */
  read(file: string, display: string): AsyncIterable<InputRecord[]>;
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let i = -1;
    while ((i = chunk.indexOf(10, i + 1)) !== -1) n++;
    last = chunk[chunk.length - 1] ?? last;
  }
  return last === 10 ? n : n + 1;
}

/** Splits a byte stream into lines without readline: one pass over each chunk, one batch per chunk. */
async function* lineBatches(file: string): AsyncGenerator<{ first: number; lines: string[] }> {
  let carry = '';
  let line = 0;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 18 }) as AsyncIterable<string>) {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop()!;
    const first = line + 1;
    line += parts.length;
    yield { first, lines: parts };
  }
  if (carry !== '') yield { first: line + 1, lines: [carry] };
}

const jsonl: InputReader = {
  extensions: ['.jsonl', '.ndjson'],
  estimate: countLines,
  async *read(file, display) {
    for await (const { first, lines } of lineBatches(file)) {
      const out: InputRecord[] = [];
      for (let i = 0; i < lines.length; i++) {
        const line = first + i;
        let t = lines[i]!;
        if (t.endsWith('\r')) t = t.slice(0, -1);
        if (line === 1 && t.charCodeAt(0) === 0xfeff) t = t.slice(1);
        if (t.length === 0 || t.trim() === '') continue;
        try {
          out.push({ record: JSON.parse(t), source: { file: display, line } });
        } catch (e) {
          out.push({ error: `${display}:${line}: invalid JSON (${(e as Error).message}); fix the line and run the pipeline again`, source: { file: display, line } });
        }
      }
      if (out.length > 0) yield out;
    }
  },
};

const json: InputReader = {
  extensions: ['.json'],
  async estimate(file) { return statSync(file).size > 0 ? 1 : 0; },
  async *read(file, display) {
    let data: unknown;
    const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw messages.inputInvalid(display, `invalid JSON (${(e as Error).message})`, 'A .json input must hold one array of records or one object; use .jsonl for one record per line.');
    }
    const list = Array.isArray(data) ? data : [data];
    for (let i = 0; i < list.length; i += 1000) {
      yield list.slice(i, i + 1000).map((record, j) => ({ record, source: { file: display, row: i + j + 1 } }));
    }
  },
};

/** Picks the delimiter that splits the header line the most; users rarely say which one their export used. */
function sniffDelimiter(file: string): string {
  const head = readFileSync(file, { encoding: 'utf8', flag: 'r' }).slice(0, 64 * 1024).split(/\r?\n/)[0] ?? '';
  let best = ',';
  let bestCount = 0;
  for (const d of [',', ';', '\t', '|']) {
    const count = head.split(d).length - 1;
    if (count > bestCount) { best = d; bestCount = count; }
  }
  return best;
}

const csv: InputReader = {
  extensions: ['.csv', '.tsv'],
  estimate: async (file) => Math.max(0, (await countLines(file)) - 1),
  async *read(file, display) {
    const errors: InputRecord[] = [];
    const parser = createReadStream(file).pipe(parseCsv({
      bom: true,
      columns: true,
      delimiter: file.endsWith('.tsv') ? '\t' : sniffDelimiter(file),
      info: true,
      relax_quotes: false,
      skip_empty_lines: true,
      skip_records_with_error: true,
    }));
    parser.on('skip', (err: Error & { lines?: number }) => {
      const line = err.lines ?? 0;
      errors.push({ error: `${display}:${line}: ${err.message}; fix the row and run \`pipeline-tui retry\``, source: { file: display, line } });
    });
    let batch: InputRecord[] = [];
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      if (errors.length > 0) batch.push(...errors.splice(0));
      batch.push({ record: rec.record, source: { file: display, line: rec.info.lines } });
      if (batch.length >= 1000) { yield batch; batch = []; }
    }
    batch.push(...errors.splice(0));
    if (batch.length > 0) yield batch;
  },
};

const text: InputReader = {
  extensions: ['.txt', '.md', '.markdown'],
  async estimate() { return 1; },
  async *read(file, display) {
    yield [{ record: { path: display, text: await readFile(file, 'utf8') }, source: { file: display } }];
  },
};

export const readers: InputReader[] = [jsonl, json, csv, text];

export function readerFor(file: string): InputReader | undefined {
  const ext = path.extname(file).toLowerCase();
  return readers.find((r) => r.extensions.includes(ext));
}

const supported = () => readers.flatMap((r) => r.extensions).join(', ');

/**
 * Expands files, folders and globs (relative to `cwd`) into a sorted, de-duplicated file list and
 * checks each before anything runs: a typo must fail at once, not after an hour of work.
 */
export async function expandInputs(patterns: string[], cwd = process.cwd()): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    const abs = path.resolve(cwd, pattern);
    let found: string[];
    if (isDynamicPattern(pattern)) {
      found = (await glob(pattern, { cwd, absolute: true, onlyFiles: true, dot: false })).sort();
    } else if (existsSync(abs) && statSync(abs).isDirectory()) {
      found = (await glob('**/*', { cwd: abs, absolute: true, onlyFiles: true, dot: false })).filter((f) => readerFor(f)).sort();
    } else {
      found = existsSync(abs) ? [abs] : [];
    }
    if (found.length === 0) throw messages.inputNotFound(pattern);
    files.push(...found);
  }
  const unique = [...new Set(files)];
  for (const f of unique) {
    const display = path.relative(cwd, f) || f;
    if (!readerFor(f)) throw messages.inputInvalid(display, `unknown file type "${path.extname(f) || '(none)'}"`, `Supported: ${supported()}.`);
    if (statSync(f).size === 0) throw messages.inputInvalid(display, 'the file is empty', 'Remove it from the inputs or add records to it.');
  }
  return unique;
}

/** All records of all files, in order, streamed: nothing but the current chunk of each file is held. */
export async function* readInputs(files: string[], cwd = process.cwd()): AsyncGenerator<InputRecord[]> {
  for (const f of files) yield* readerFor(f)!.read(f, path.relative(cwd, f) || f);
}

export async function estimateTotal(files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += await readerFor(f)!.estimate(f);
  return n;
}
