import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { backupName } from '../state/paths.js';
import { readJournal } from '../state/journal.js';
import type { CheckpointStore, OutputRecord } from '../state/checkpoint.js';

const renderLine = (r: OutputRecord) => `${JSON.stringify({ id: r.id, result: r.result, source: r.source })}\n`;

/**
 * The jsonl output, appended as items finish. The journal records the output size after every
 * group, so after a crash the file is cut back or completed to match the journal exactly: each
 * done id appears once, however the process died.
 */
export class JsonlOutput {
  private fd: number;
  private size: number;

  private constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
    this.size = fstatSync(this.fd).size;
  }

  get bytes(): number { return this.size; }

  static async open(file: string, store: CheckpointStore, options: { fresh?: boolean; streaming: boolean }): Promise<JsonlOutput> {
    mkdirSync(path.dirname(file), { recursive: true });
    if (options.fresh && existsSync(file)) renameSync(file, backupName(file));
    const out = new JsonlOutput(file);
    if (options.streaming) await out.reconcile(store);
    return out;
  }

  private async reconcile(store: CheckpointStore): Promise<void> {
    const tail = store.outputTail;
    const sameFile = store.doc.output?.path === this.file;
    const expected = tail.committedBytes;
    if (sameFile && expected !== null && this.size === expected) {
      this.appendRecords(tail.pendingLines);
    } else if (sameFile && expected !== null && this.size > expected) {
      // Written past what the journal vouches for: cut back, then add what the journal holds.
      this.truncate(expected);
      this.appendRecords(tail.pendingLines);
    } else if (sameFile && expected !== null && tail.previousCommittedBytes !== null && this.size >= tail.previousCommittedBytes) {
      // The last group's write was cut short.
      this.truncate(tail.previousCommittedBytes);
      this.appendRecords([...tail.lastGroupLines, ...tail.pendingLines]);
    } else if (store.done.size > 0 || this.size > 0) {
      // Anything else (a new --out, a deleted or edited file): rebuild from the journal, the source of truth.
      this.truncate(0);
      await this.rebuild(store);
    }
  }

  private async rebuild(store: CheckpointStore): Promise<void> {
    let batch = '';
    for await (const e of readJournal(store.paths.journal)) {
      if (e.k !== 'd' || !store.done.has(e.id)) continue;
      batch += renderLine(e);
      if (batch.length > 1 << 20) { this.append(batch); batch = ''; }
    }
    this.append(batch);
  }

  private truncate(bytes: number): void {
    ftruncateSync(this.fd, bytes);
    this.size = bytes;
  }

  private appendRecords(records: OutputRecord[]): void {
    if (records.length > 0) this.append(records.map(renderLine).join(''));
  }

  append(text: string): void {
    if (text.length === 0) return;
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.size += buf.length;
  }

  close(): void { closeSync(this.fd); }
}

/** Writes all done results in input order, atomically (temp file + rename): for `order: 'input'`. */
export async function writeInInputOrder(file: string, store: CheckpointStore): Promise<number> {
  const rows: { n: number; line: string }[] = [];
  const seen = new Set<string>();
  for await (const e of readJournal(store.paths.journal)) {
    if (e.k === 'd' && store.done.has(e.id) && !seen.has(e.id)) { seen.add(e.id); rows.push({ n: e.n, line: renderLine(e) }); }
  }
  rows.sort((a, b) => a.n - b.n);
  const tmp = `${file}.tmp-${process.pid}`;
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(tmp, 'w');
  try {
    for (const r of rows) writeSync(fd, r.line);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return rows.length;
}
