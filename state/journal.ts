import { closeSync, createReadStream, existsSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
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

/** Streams journal entries from `fromByte`, parsing each line once. */
export async function* readJournal(file: string, fromByte = 0): AsyncGenerator<JournalEntry> {
  if (!existsSync(file)) return;
  const rl = createInterface({ input: createReadStream(file, { start: fromByte }), crlfDelay: Infinity });
  let line = 0;
  // A bad line is only corruption if another line follows it: the last one may be an append in progress.
  let bad: JournalCorruptError | undefined;
  for await (const text of rl) {
    line++;
    if (text === '') continue;
    if (bad) throw bad;
    let entry: JournalEntry;
    try {
      entry = JSON.parse(text) as JournalEntry;
    } catch (e) {
      bad = new JournalCorruptError(line, `not JSON (${(e as Error).message})`);
      continue;
    }
    if (typeof entry !== 'object' || entry === null || typeof (entry as { k?: unknown }).k !== 'string') {
      throw new JournalCorruptError(line, 'not a journal entry');
    }
    yield entry;
  }
}
