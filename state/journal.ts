import { closeSync, existsSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isJson, skipString } from './json-bytes.js';
import type { AttemptError, ItemSource } from '../engine/types.js';

export interface DeadLetter {
  id: string;
  source: ItemSource;
  attempts: number;
  stage: number;
  errors: AttemptError[];
  at: string;
  /** The record as it entered the failed stage, so `retry` needs no input files. Absent for parse errors. */
  record?: unknown;
}

/** Journal lines. Short keys: a 1M-item run writes a million of them. */
export type JournalEntry =
  | { k: 'd'; n: number; id: string; result: unknown; source: ItemSource }
  | { k: 's'; id: string; st: number; r: string }
  | { k: 'f'; id: string; e: DeadLetter }
  | { k: 'o'; b: number }
  /** A dead letter resolved without a new result under its id (a fixed input line now parses, under its real id). */
  | { k: 'x'; id: string };

export const journalLine = {
  /** `core` is `"id":…,"result":…,"source":…}` as the worker built it. */
  done: (n: number, core: string) => `{"k":"d","n":${n},${core}\n`,
  stage: (id: string, stage: number, json: string) => `{"k":"s","id":${JSON.stringify(id)},"st":${stage},"r":${JSON.stringify(json)}}\n`,
  failed: (d: DeadLetter) => `{"k":"f","id":${JSON.stringify(d.id)},"e":${JSON.stringify(d)}}\n`,
  output: (bytes: number) => `{"k":"o","b":${bytes}}\n`,
  cleared: (id: string) => `{"k":"x","id":${JSON.stringify(id)}}\n`,
};

export class JournalCorruptError extends Error {
  constructor(readonly line: number, detail: string) {
    super(`line ${line}: ${detail}`);
  }
}

/**
 * A process killed mid-append can leave half a line at the end. That line was never acknowledged
 * (its items were not counted done), so dropping it is correct; anything malformed before the last
 * line is real corruption and is reported, never skipped.
 */
export function trimPartialTail(file: string): void {
  if (!existsSync(file)) return;
  const size = statSync(file).size;
  if (size === 0) return;
  const fd = openSync(file, 'r+');
  try {
    const chunk = Buffer.alloc(Math.min(size, 1 << 16));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = readSync(fd, chunk, 0, end - start, start);
      const nl = chunk.subarray(0, n).lastIndexOf(10);
      if (nl >= 0) {
        if (start + nl + 1 !== size) ftruncateSync(fd, start + nl + 1);
        return;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
}

/** Lines of one read of the journal: `bounds` holds start, end pairs into `buf` (end at the newline, or at the end of the file for a last line without one). */
export interface LineChunk {
  buf: Buffer;
  /** File offset of `buf[0]`. */
  offset: number;
  bounds: number[];
}

const READ_SIZE = 1 << 20;

/**
 * The lines of `file` from byte `from` to byte `to`, a megabyte read at a time. `buf` is reused: a chunk is
 * valid until the next one is asked for. A line longer than the buffer grows it.
 */
export async function* lineChunks(file: string, from = 0, to = Infinity): AsyncGenerator<LineChunk> {
  if (!existsSync(file)) return;
  const fh = await open(file, 'r');
  try {
    const size = Math.min(to, (await fh.stat()).size);
    let buf = Buffer.allocUnsafe(READ_SIZE);
    let pos = from;
    let carry = 0;
    while (pos < size) {
      if (carry === buf.length) { const b = Buffer.allocUnsafe(buf.length * 2); buf.copy(b, 0, 0, carry); buf = b; }
      const { bytesRead } = await fh.read(buf, carry, Math.min(buf.length - carry, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const filled = carry + bytesRead;
      const bounds: number[] = [];
      const view = buf.subarray(0, filled);
      let start = 0;
      for (let nl = view.indexOf(10, 0); nl !== -1; nl = view.indexOf(10, start)) {
        bounds.push(start, nl);
        start = nl + 1;
      }
      if (pos >= size && start < filled) { bounds.push(start, filled); start = filled; }
      yield { buf, offset: pos - filled, bounds };
      buf.copy(buf, 0, start, filled);
      carry = filled - start;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Checks the lines of a journal as they stream by: a bad line is only corruption if another line
 * follows it (the last one may be an append in progress, or cut short by a kill).
 */
class LineCheck {
  line = 0;
  private bad: JournalCorruptError | undefined;

  /** Counts the line; false for an empty one (skipped); throws when a bad line turns out not to be the last. */
  next(empty: boolean): boolean {
    this.line++;
    if (empty) return false;
    if (this.bad) throw this.bad;
    return true;
  }

  badJson(detail: string): void { this.bad = new JournalCorruptError(this.line, `not JSON (${detail})`); }

  entry(text: string): JournalEntry | undefined {
    let entry: JournalEntry;
    try {
      entry = JSON.parse(text) as JournalEntry;
    } catch (e) {
      this.badJson((e as Error).message);
      return undefined;
    }
    if (typeof entry !== 'object' || entry === null || typeof (entry as { k?: unknown }).k !== 'string') {
      throw new JournalCorruptError(this.line, 'not a journal entry');
    }
    return entry;
  }
}

/** Streams journal entries from `fromByte`, parsing each line once. */
export async function* readJournal(file: string, fromByte = 0): AsyncGenerator<JournalEntry> {
  const check = new LineCheck();
  for await (const { buf, bounds } of lineChunks(file, fromByte)) {
    const entries: JournalEntry[] = [];
    for (let i = 0; i < bounds.length; i += 2) {
      if (!check.next(bounds[i] === bounds[i + 1])) continue;
      const e = check.entry(buf.toString('utf8', bounds[i], bounds[i + 1]));
      if (e) entries.push(e);
    }
    yield* entries;
  }
}

/** What a replay is told, line by line; see `replayJournal`. Offsets are file offsets. */
export interface JournalVisitor {
  /**
   * A done entry. When `ascii`, the id is `buf[idStart..idEnd)` byte for byte (ASCII, no escapes) and
   * `id` is left undefined unless `wantIds()`; otherwise `id` is the decoded id.
   */
  done(d: DoneLine): void;
  /** An output checkpoint (`{"k":"o","b":…}`) on the line from `start` to `end` (its newline). */
  output(bytes: number, start: number, end: number): void;
  /** Any other entry, parsed whole. */
  entry(e: JournalEntry): void;
  /** Whether `done` needs every id as a string (dead letters or stages to clear by id). */
  wantIds(): boolean;
}

export interface DoneLine { buf: Buffer; idStart: number; idEnd: number; ascii: boolean; id: string | undefined }

const DONE_PREFIX = Buffer.from('{"k":"d","n":');
const DONE_ID = Buffer.from(',"id":"');
const OUTPUT_PREFIX = Buffer.from('{"k":"o","b":');

/** `buf[at..]` starts with `prefix`, within `end`. A loop: Buffer#compare costs more to call than to run here. */
function startsWith(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (buf[at + k] !== prefix[k]) return false;
  return true;
}

/** End of the digits from `i`, or -1 when there are none. */
function digitsEnd(buf: Buffer, i: number, end: number): number {
  const from = i;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  return i === from ? -1 : i;
}

/**
 * Replays a journal from `fromByte` with as little work per line as exactness allows. Every line is
 * checked to be JSON (a corrupt line before the last is reported, as `readJournal` does), but the lines
 * the engine writes by the million, done entries and output checkpoints, are read off their bytes (the
 * id, the output size) instead of being parsed: results and sources are checked, never decoded.
 */
export async function replayJournal(file: string, fromByte: number, visit: JournalVisitor): Promise<void> {
  const check = new LineCheck();
  const d: DoneLine = { buf: Buffer.alloc(0), idStart: 0, idEnd: 0, ascii: true, id: undefined };
  for await (const { buf, offset, bounds } of lineChunks(file, fromByte)) {
    d.buf = buf;
    for (let i = 0; i < bounds.length; i += 2) {
      const start = bounds[i]!;
      const end = bounds[i + 1]!;
      if (!check.next(start === end)) continue;
      if (startsWith(buf, start, end, DONE_PREFIX)) {
        const n = digitsEnd(buf, start + DONE_PREFIX.length, end);
        if (n > 0 && startsWith(buf, n, end, DONE_ID) && isJson(buf, start, end)) {
          const q = n + DONE_ID.length - 1;
          const close = skipString(buf, q, end);
          let ascii = true;
          for (let k = q + 1; k < close - 1; k++) if (buf[k] === 0x5c || buf[k]! >= 0x80) { ascii = false; break; }
          d.idStart = q + 1;
          d.idEnd = close - 1;
          d.ascii = ascii;
          d.id = ascii ? (visit.wantIds() ? buf.toString('latin1', q + 1, close - 1) : undefined) : JSON.parse(buf.toString('utf8', q, close)) as string;
          visit.done(d);
          continue;
        }
      } else if (startsWith(buf, start, end, OUTPUT_PREFIX)) {
        const n = digitsEnd(buf, start + OUTPUT_PREFIX.length, end);
        if (n > 0 && n === end - 1 && buf[n] === 0x7d) {
          visit.output(Number(buf.toString('latin1', start + OUTPUT_PREFIX.length, n)), offset + start, offset + end);
          continue;
        }
      }
      // Any other line, or one of those two shapes that is not quite right: parsed whole, which also
      // words the error of a corrupt line as JSON.parse does.
      const e = check.entry(buf.toString('utf8', start, end));
      if (!e) continue;
      if (e.k === 'd') {
        const id = (e as Extract<JournalEntry, { k: 'd' }>).id as unknown;
        if (typeof id !== 'string') throw new JournalCorruptError(check.line, 'a done entry without a string id');
        d.ascii = false;
        d.id = id;
        visit.done(d);
      } else if (e.k === 'o') {
        visit.output((e as Extract<JournalEntry, { k: 'o' }>).b, offset + start, offset + end);
      } else {
        visit.entry(e);
      }
    }
  }
}

/**
 * The jsonl output lines (`{"id","result","source"}` and a newline) of the done entries between two
 * journal offsets: sliced from the journal line, byte for byte what the run appended to the output.
 */
export async function doneOutputLines(file: string, from: number, to: number): Promise<string> {
  let out = '';
  for await (const { buf, bounds } of lineChunks(file, from, to)) {
    for (let i = 0; i < bounds.length; i += 2) {
      const start = bounds[i]!;
      const end = bounds[i + 1]!;
      if (start === end) continue;
      if (startsWith(buf, start, end, DONE_PREFIX)) {
        const n = digitsEnd(buf, start + DONE_PREFIX.length, end);
        if (n > 0 && buf[n] === 0x2c && isJson(buf, start, end)) { out += `{${buf.toString('utf8', n + 1, end)}\n`; continue; }
      }
      let e: JournalEntry;
      // The replay checked every line but the last, which it skips when it does not parse: so do we.
      try { e = JSON.parse(buf.toString('utf8', start, end)) as JournalEntry; } catch { continue; }
      if (e.k === 'd') out += `${JSON.stringify({ id: e.id, result: e.result, source: e.source })}\n`;
    }
  }
  return out;
}
