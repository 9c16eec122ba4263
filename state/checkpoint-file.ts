import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Adapter } from 'lowdb';
import type { CheckpointDoc } from './checkpoint.js';
import type { IdSet } from './id-set.js';
import { skipString } from './json-bytes.js';
import { writeAll } from './write-all.js';

/** How the top-level `done` list starts in a document written by JSON.stringify(doc, null, 2). */
const DONE_KEY = Buffer.from('\n  "done": [');
/** Stands in for the list while the rest of the document is parsed: proves the list found was the top-level one. */
const PLACEHOLDER = '"\\u0000pipeline-tui: done ids"';

const isWs = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * lowdb's JSONFile for the checkpoint document, byte for byte the same file (`JSON.stringify(doc, null,
 * 2)`, written to `.state.json.tmp` and renamed over), except that the `done` ids live in an `IdSet`
 * rather than in the document object: they are read into it and written from it straight from and to
 * bytes. A million-element array, its million strings and its 25 MB JSON text in one piece were the peak
 * of a large run's memory (at its very end) and most of the time it took to resume.
 */
export class CheckpointFile implements Adapter<CheckpointDoc> {
  constructor(private readonly file: string, private readonly done: IdSet) {}

  /** The document, with `done` empty: its ids are added to the set. */
  async read(): Promise<CheckpointDoc | null> {
    let buf: Buffer;
    try {
      buf = await readFile(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const fast = this.readFast(buf);
    if (fast) return fast;
    const doc = JSON.parse(buf.toString('utf8')) as CheckpointDoc | null;
    if (doc && Array.isArray(doc.done) && doc.done.every((id) => typeof id === 'string')) {
      for (const id of doc.done) this.done.add(id);
      doc.done = [];
    }
    return doc;
  }

  /**
   * The document as this class (or JSONFile) writes it: the ids of the list are checked as JSON strings
   * and added from their bytes, the rest is parsed with the list replaced by a placeholder. Undefined
   * (and nothing added) when the file is laid out otherwise, or is not valid: then JSON.parse decides.
   */
  private readFast(buf: Buffer): CheckpointDoc | undefined {
    const at = buf.indexOf(DONE_KEY);
    if (at < 0) return undefined;
    const listStart = at + DONE_KEY.length - 1;
    // First pass: the list's syntax and its end; ids are added only once the whole document is known good.
    let i = listStart + 1;
    let count = 0;
    while (isWs(buf[i])) i++;
    if (buf[i] !== 0x5d) {
      for (;;) {
        if (buf[i] !== 0x22) return undefined;
        i = skipString(buf, i, buf.length);
        if (i < 0) return undefined;
        count++;
        while (isWs(buf[i])) i++;
        if (buf[i] === 0x5d) break;
        if (buf[i] !== 0x2c) return undefined;
        i++;
        while (isWs(buf[i])) i++;
      }
    }
    const listEnd = i + 1;
    let doc: CheckpointDoc;
    try {
      doc = JSON.parse(`${buf.toString('utf8', 0, listStart)}${PLACEHOLDER}${buf.toString('utf8', listEnd)}`) as CheckpointDoc;
    } catch {
      return undefined;
    }
    if (typeof doc !== 'object' || doc === null || (doc.done as unknown) !== JSON.parse(PLACEHOLDER)) return undefined;
    this.done.ids.expect(count, listEnd - listStart);
    for (let s = listStart + 1; s < listEnd;) {
      if (buf[s] !== 0x22) { s++; continue; }
      const e = skipString(buf, s, listEnd);
      let plain = true;
      for (let k = s + 1; k < e - 1; k++) if (buf[k] === 0x5c || buf[k]! >= 0x80) { plain = false; break; }
      if (plain) this.done.addAscii(buf, s + 1, e - 1);
      else this.done.add(JSON.parse(buf.toString('utf8', s, e)) as string);
      s = e;
    }
    doc.done = [];
    return doc;
  }

  /** Writes `doc` with its `done` taken from the id set (the document's own `done` is ignored). */
  async write(doc: CheckpointDoc): Promise<void> {
    // Synchronous on purpose: the ids written must be exactly those of `doc.journalBytes`, so nothing
    // may add one while the file is written.
    const text = JSON.stringify({ ...doc, done: [] }, null, 2);
    // Top-level keys are the only ones indented by two spaces, and JSON has no raw newline inside a string.
    const marker = '\n  "done": []';
    const at = text.indexOf(marker);
    if (at < 0) throw new Error(`checkpoint document without a top-level "done" (${this.file})`);
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, `${text.slice(0, at)}\n  "done": [`);
      for (const chunk of this.done.jsonChunks('\n    ', ',\n    ')) {
        for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
      }
      writeAll(fd, `${this.done.size === 0 ? ']' : '\n  ]'}${text.slice(at + marker.length)}`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
