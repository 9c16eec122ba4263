import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ItemSource } from '../types.js';

/** One done item as the journal holds it. */
export interface DoneEntry { n: number; id: string; result: unknown; source: ItemSource }

/** A done item's journal line, with the input file and position it came from. */
export interface DoneRow { line: string; file: string; pos: number }

/** Done lines start so (journalLine.done); anything else is parsed the slow way. */
const PREFIX = Buffer.from('{"k":"d","n":');
const DONE_KEY = '"k":"d"';

export function parseEntry(line: string): DoneEntry {
  return JSON.parse(line) as DoneEntry;
}

/** The jsonl output line of a journal line (no newline): `{"id":…,"result":…,"source":…}`, sliced, not re-serialised. */
export function outputJson(line: string): string {
  if (line.startsWith('{"k":"d","n":')) {
    const comma = line.indexOf(',', PREFIX.length);
    if (comma > 0) return `{${line.slice(comma + 1)}`;
  }
  const e = parseEntry(line);
  return JSON.stringify({ id: e.id, result: e.result, source: e.source });
}

class Column<A extends Float64Array | Uint32Array> {
  constructor(public a: A, private readonly make: (n: number) => A) {}
  set(i: number, v: number): void {
    if (i >= this.a.length) { const b = this.make(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[i] = v;
  }
}

/**
 * Where each done line of the journal is, as typed arrays (about 30 bytes an item, so a million-item
 * output is indexed in ~30 MB instead of holding a million results), and the lines again in input
 * order: file by file (files in the order the run read them), line or row ascending within a file.
 */
export class DoneIndex {
  count = 0;
  readonly files: string[] = [];
  private readonly fileIds = new Map<string, number>();
  private fileKey: number[] = [];
  private readonly offset = new Column(new Float64Array(1024), (n) => new Float64Array(n));
  private readonly length = new Column(new Uint32Array(1024), (n) => new Uint32Array(n));
  private readonly fileOf = new Column(new Uint32Array(1024), (n) => new Uint32Array(n));
  private readonly pos = new Column(new Float64Array(1024), (n) => new Float64Array(n));

  private constructor(private readonly journal: string) {}

  /** Indexes the journal as it is now; `visit` sees every done entry parsed (for formats that need results up front). */
  static async build(journal: string, visit?: (e: DoneEntry) => void): Promise<DoneIndex> {
    const index = new DoneIndex(journal);
    if (!existsSync(journal)) return index;
    const fh = await open(journal, 'r');
    try {
      const size = (await fh.stat()).size;
      const buf = Buffer.alloc(1 << 20);
      let carry: Buffer | undefined;
      let at = 0;
      let chunkStart = 0;
      while (at < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - at), at);
        if (bytesRead === 0) break;
        let chunk = buf.subarray(0, bytesRead);
        if (carry) chunk = Buffer.concat([carry, chunk]); else chunkStart = at;
        carry = undefined;
        let start = 0;
        let nl: number;
        while ((nl = chunk.indexOf(10, start)) !== -1) {
          index.add(chunk, start, nl, chunkStart + start, visit);
          start = nl + 1;
        }
        // A last line without its newline is an append in progress: the journal does not vouch for it yet.
        if (start < chunk.length) { carry = Buffer.from(chunk.subarray(start)); chunkStart += start; }
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return index;
  }

  private add(chunk: Buffer, start: number, end: number, offset: number, visit: ((e: DoneEntry) => void) | undefined): void {
    const fast = chunk.compare(PREFIX, 0, PREFIX.length, start, start + PREFIX.length) === 0;
    if (!fast) { const k = chunk.indexOf(DONE_KEY, start); if (k === -1 || k >= end) return; }
    const line = chunk.toString('utf8', start, end);
    let n: number;
    let source: ItemSource;
    try {
      if (visit || !fast) {
        const e = parseEntry(line);
        if ((e as { k?: string }).k !== 'd') return;
        visit?.(e);
        n = e.n; source = e.source;
      } else {
        n = Number(line.slice(PREFIX.length, line.indexOf(',', PREFIX.length)));
        // The worker writes `source` last, so the last `,"source":` is the top-level one.
        source = JSON.parse(line.slice(line.lastIndexOf(',"source":') + 10, -1)) as ItemSource;
      }
    } catch {
      return; // the checkpoint validated the journal when it opened; a line it let through but we cannot read is skipped
    }
    let f = this.fileIds.get(source.file);
    if (f === undefined) { f = this.files.length; this.files.push(source.file); this.fileIds.set(source.file, f); this.fileKey.push(n); }
    if (n < this.fileKey[f]!) this.fileKey[f] = n;
    const i = this.count++;
    this.offset.set(i, offset);
    this.length.set(i, end - start);
    this.fileOf.set(i, f);
    this.pos.set(i, 'line' in source ? source.line : 'row' in source ? source.row : 0);
  }

  /** Done lines in input order, in batches; reads of adjacent lines are merged. */
  async *rows(batchSize = 2000): AsyncGenerator<DoneRow[]> {
    const off = this.offset.a; const len = this.length.a; const fi = this.fileOf.a; const pos = this.pos.a; const key = this.fileKey;
    const order = new Uint32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => (key[fi[a]!]! - key[fi[b]!]!) || (fi[a]! - fi[b]!) || (pos[a]! - pos[b]!) || (off[a]! - off[b]!));
    if (order.length === 0) return;
    const fh = await open(this.journal, 'r');
    try {
      let batch: DoneRow[] = [];
      for (let i = 0; i < order.length;) {
        // One read for a run of lines that lie back to back in the journal (the usual case).
        let j = i + 1;
        let end = off[order[i]!]! + len[order[i]!]!;
        while (j < order.length && off[order[j]!] === end + 1 && end - off[order[i]!]! < 1 << 20) { end = off[order[j]!]! + len[order[j]!]!; j++; }
        const from = off[order[i]!]!;
        const buf = Buffer.alloc(end - from);
        await fh.read(buf, 0, buf.length, from);
        for (let k = i; k < j; k++) {
          const o = order[k]!;
          batch.push({ line: buf.toString('utf8', off[o]! - from, off[o]! - from + len[o]!), file: this.files[fi[o]!]!, pos: pos[o]! });
          if (batch.length >= batchSize) { yield batch; batch = []; }
        }
        i = j;
      }
      if (batch.length > 0) yield batch;
    } finally {
      await fh.close();
    }
  }
}
