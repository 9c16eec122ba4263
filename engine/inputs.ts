import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { messages } from './errors.js';
import { csvReader } from './readers/csv.js';
import { jsonReader } from './readers/json.js';
import { jsonlReader } from './readers/jsonl.js';
import { textReader } from './readers/text.js';
import { xlsxReader } from './readers/xlsx.js';
import type { InputReader, InputRecord, ReadOptions } from './readers/types.js';
import type { PipelineDefinition } from './types.js';

export type { InputReader, InputRecord, InputTable, ReadOptions, RecordSource, SourceRun } from './readers/types.js';

export const readers: InputReader[] = [jsonlReader, jsonReader, csvReader, xlsxReader, textReader];

export function readerFor(file: string): InputReader | undefined {
  const ext = path.extname(file).toLowerCase();
  return readers.find((r) => r.extensions.includes(ext));
}

export const supportedExtensions = (): string => readers.flatMap((r) => r.extensions).join(', ');

/**
 * Files that are not inputs (yet): dotfiles, Office lock files (`~$Book.xlsx`), editor backups and
 * swap files, and downloads or copies still in progress. Folders, globs and watch mode skip them.
 */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~$') || name.endsWith('~') || /^#.*#$/.test(name) ||
    /\.(crdownload|part|partial|download|opdownload|tmp|temp|swp|swx|crswap|!ut)$/i.test(name);
}

export function readOptionsOf(def: Pick<PipelineDefinition, 'sheet' | 'delimiter'>): ReadOptions {
  return { sheet: def.sheet, delimiter: def.delimiter };
}

/**
 * Checks one input before anything runs: a typo or a broken workbook must stop the run at once
 * (exit 2, naming the file and the fix), not after an hour of work.
 */
export async function checkInput(file: string, display: string, options: ReadOptions = {}): Promise<InputReader> {
  const reader = readerFor(file);
  if (!reader) throw messages.inputUnsupported(display, path.extname(file), supportedExtensions());
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw messages.inputUnreadable(display, 'not a regular file', 'pass files, folders or globs');
    size = st.size;
    accessSync(file, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw messages.inputNotFound(display);
    if (code === 'EACCES' || code === 'EPERM') throw messages.inputUnreadable(display, 'permission denied', 'make the file readable for this user');
    throw e;
  }
  if (size === 0) throw messages.inputEmpty(display);
  await reader.check?.(file, display, options);
  return reader;
}

/** Expands files, folders and globs (relative to `cwd`) into a sorted, de-duplicated, checked file list. */
export async function expandInputs(patterns: string[], cwd = process.cwd(), options: ReadOptions = {}): Promise<string[]> {
  const files: string[] = [];
  const usable = (f: string) => !isIgnoredName(path.basename(f));
  for (const pattern of patterns) {
    const abs = path.resolve(cwd, pattern);
    let found: string[];
    if (isDynamicPattern(pattern)) {
      found = (await glob(pattern, { cwd, absolute: true, onlyFiles: true, dot: false })).filter(usable).sort();
      if (found.length === 0) throw messages.inputNotFound(pattern, 'glob');
    } else if (existsSync(abs) && statSync(abs).isDirectory()) {
      found = (await glob('**/*', { cwd: abs, absolute: true, onlyFiles: true, dot: false })).filter((f) => usable(f) && readerFor(f)).sort();
      if (found.length === 0) throw messages.inputNotFound(pattern, 'folder');
    } else {
      found = [abs];
    }
    files.push(...found);
  }
  const unique = [...new Set(files)];
  for (const f of unique) await checkInput(f, path.relative(cwd, f) || f, options);
  return unique;
}

/** All records of all files, in order, streamed: nothing but the current chunk of each file is held. */
export async function* readInputs(files: string[], cwd = process.cwd(), options: ReadOptions = {}): AsyncGenerator<InputRecord[]> {
  for (const f of files) yield* readerFor(f)!.read(f, path.relative(cwd, f) || f, options);
}

export async function estimateTotal(files: string[], options: ReadOptions = {}): Promise<number> {
  let n = 0;
  for (const f of files) n += await readerFor(f)!.estimate(f, options);
  return n;
}
