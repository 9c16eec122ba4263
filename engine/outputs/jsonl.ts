import { writeAll } from '../../state/write-all.js';
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync } from 'node:fs';
import path from 'node:path';
import { backupName } from '../../state/paths.js';
import { doneOutputLines, readJournal, type JournalEntry } from '../../state/journal.js';
import type { CheckpointStore } from '../../state/checkpoint.js';
import type { OutputWriter } from './types.js';

const renderLine = (r: Extract<JournalEntry, { k: 'd' }>) => `${JSON.stringify({ id: r.id, result: r.result, source: r.source })}\n`;

/**
 * The jsonl output, appended as items finish. The journal records the output size after every
 * group, so after a crash the file is cut back or completed to match the journal exactly: each
 * done id appears once, however the process died.
 */
export class JsonlOutput implements OutputWriter {
  readonly streaming = true;
  private fd: number;
  private size: number;

  private constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
    this.size = fstatSync(this.fd).size;
  }

  get bytes(): number { return this.size; }

  static async open(file: string, store: CheckpointStore, options: { fresh?: boolean } = {}): Promise<JsonlOutput> {
    mkdirSync(path.dirname(file), { recursive: true });
    if (options.fresh && existsSync(file)) renameSync(file, backupName(file));
    const out = new JsonlOutput(file);
    await out.reconcile(store);
    return out;
  }

  private async reconcile(store: CheckpointStore): Promise<void> {
    const tail = store.outputTail;
    const sameFile = store.doc.output?.path === this.file;
    const expected = tail.committedBytes;
    const journal = store.paths.journal;
    if (sameFile && expected !== null && this.size === expected) {
      this.append(await doneOutputLines(journal, tail.pending.from, tail.pending.to));
    } else if (sameFile && expected !== null && this.size > expected) {
      // Written past what the journal vouches for: cut back, then add what the journal holds.
      this.truncate(expected);
      this.append(await doneOutputLines(journal, tail.pending.from, tail.pending.to));
    } else if (sameFile && expected !== null && tail.previousCommittedBytes !== null && this.size >= tail.previousCommittedBytes) {
      // The last group's write was cut short: its items, then those after it (the spans are contiguous).
      this.truncate(tail.previousCommittedBytes);
      this.append(await doneOutputLines(journal, tail.lastGroup.from, tail.pending.to));
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

  append(text: string): void {
    if (text.length === 0) return;
    this.size += writeAll(this.fd, text);
  }

  async rewrite(): Promise<void> { /* appended as items finish: always current */ }

  close(): void { closeSync(this.fd); }
}
