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
const SOURCE_FILE = Buffer.from(',"source":{"file":"');
const LINE_KEY = Buffer.from(',"line":');
const ROW_KEY = Buffer.from(',"row":');
const PART_KEY = Buffer.from(',"part":');

/** Where in its file an item came from: line, row, or part (of an expanded record); 0 for a whole file. */
const positionOf = (src: ItemSource): number => ('line' in src ? src.line : 'row' in src ? src.row : 'part' in src ? src.part : 0);

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
    let where = fast && !visit ? this.scan(chunk, start, end) : undefined;
    if (!where) {
      try {
        const e = parseEntry(chunk.toString('utf8', start, end));
        if ((e as { k?: string }).k !== 'd') return;
        visit?.(e);
        const src = e.source;
        where = { n: e.n, fileJson: JSON.stringify(src.file), pos: positionOf(src) };
      } catch {
        return; // the checkpoint validated the journal when it opened; a line it let through but we cannot read is skipped
      }
    }
    let f = this.fileIds.get(where.fileJson);
    if (f === undefined) {
      f = this.files.length;
      this.files.push(JSON.parse(where.fileJson) as string);
      this.fileIds.set(where.fileJson, f);
      this.fileKey.push(where.n);
    }
    if (where.n < this.fileKey[f]!) this.fileKey[f] = where.n;
    const i = this.count++;
    this.offset.set(i, offset);
    this.length.set(i, end - start);
    this.fileOf.set(i, f);
    this.pos.set(i, where.pos);
  }

  /**
   * n, source file and line/row/part read off the bytes of a line as journalLine.done writes it
   * (`{"k":"d","n":N,"id":…,"result":…,"source":{"file":"…","line":L}}`), without decoding the result;
   * undefined when the line has another shape (then it is parsed whole).
   */
  private scan(b: Buffer, start: number, end: number): { n: number; fileJson: string; pos: number } | undefined {
    let i = start + PREFIX.length;
    let n = 0;
    for (; i < end && b[i]! >= 48 && b[i]! <= 57; i++) n = n * 10 + b[i]! - 48;
    if (b[i] !== 44 /* , */) return undefined;
    // The worker writes `source` last, so the last `,"source":` is the top-level one.
    const s = b.lastIndexOf(SOURCE_FILE, end);
    if (s < i) return undefined;
    const q0 = s + SOURCE_FILE.length - 1;
    let q1 = q0 + 1;
    for (; q1 < end && b[q1] !== 34 /* " */; q1++) if (b[q1] === 92 /* \ */) q1++;
    if (q1 >= end) return undefined;
    const raw = b.toString('utf8', q0, q1 + 1);
    const fileJson = raw.includes('\\') ? JSON.stringify(JSON.parse(raw)) : raw; // one spelling per name
    let j = q1 + 1;
    if (b[j] === 125 /* } */) return { n, fileJson, pos: 0 };
    const key = [LINE_KEY, ROW_KEY, PART_KEY].find((k) => b.compare(k, 0, k.length, j, j + k.length) === 0);
    if (!key) return undefined;
    let pos = 0;
    for (j += key.length; j < end && b[j]! >= 48 && b[j]! <= 57; j++) pos = pos * 10 + b[j]! - 48;
    return b[j] === 125 ? { n, fileJson, pos } : undefined;
  }

  /**
   * Done lines in input order, in batches. Input order is close to journal order (items finish roughly
   * in the order they were read), so each batch is read with a few large reads of the journal spans it
   * covers (its lines sorted by offset, gaps under 64 KB read through) rather than a read per line.
   */
  async *rows(batchSize = 4096): AsyncGenerator<DoneRow[]> {
    const off = this.offset.a; const len = this.length.a; const fi = this.fileOf.a; const pos = this.pos.a; const key = this.fileKey;
    const order = new Uint32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => (key[fi[a]!]! - key[fi[b]!]!) || (fi[a]! - fi[b]!) || (pos[a]! - pos[b]!) || (off[a]! - off[b]!));
    if (order.length === 0) return;
    const fh = await open(this.journal, 'r');
    try {
      for (let from = 0; from < order.length; from += batchSize) {
        const batch = order.subarray(from, Math.min(order.length, from + batchSize));
        const byOffset = Uint32Array.from(batch).sort((a, b) => off[a]! - off[b]!);
        const text = new Map<number, string>();
        for (let i = 0; i < byOffset.length;) {
          const start = off[byOffset[i]!]!;
          let end = start + len[byOffset[i]!]!;
          let j = i + 1;
          while (j < byOffset.length && off[byOffset[j]!]! - end <= 1 << 16 && off[byOffset[j]!]! + len[byOffset[j]!]! - start <= 1 << 22) {
            end = Math.max(end, off[byOffset[j]!]! + len[byOffset[j]!]!);
            j++;
          }
          const buf = Buffer.allocUnsafe(end - start);
          await fh.read(buf, 0, buf.length, start);
          for (let k = i; k < j; k++) {
            const o = byOffset[k]!;
            text.set(o, buf.toString('utf8', off[o]! - start, off[o]! - start + len[o]!));
          }
          i = j;
        }
        yield Array.from(batch, (o) => ({ line: text.get(o)!, file: this.files[fi[o]!]!, pos: pos[o]! }));
      }
    } finally {
      await fh.close();
    }
  }
}
