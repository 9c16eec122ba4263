// Sets of item ids over an IdIndex (see id-index.ts): one bit per id of the index, so the checkpoint's
// done ids and the engine's seen ids share one copy of the ids themselves.
import { grow, IdIndex } from './id-index.js';

/**
 * A set of ids over an `IdIndex`: what `Set<string>` offered the checkpoint and the engine (add, has,
 * size, iteration), for one bit per id of the index. Sets over one index share the ids' bytes, so the
 * done ids and the ids seen in a run cost one copy. Iteration is in the index's order (first sight of
 * each id by any set over it), not in the order of this set's own insertions.
 */
export class IdSet implements Iterable<string> {
  private bits = new Uint32Array(32);
  private n = 0;

  constructor(readonly ids: IdIndex = new IdIndex()) {}

  get size(): number { return this.n; }

  has(id: string): boolean {
    const i = this.ids.indexOf(id);
    return i >= 0 && this.hasIndex(i);
  }

  add(id: string): this {
    this.addIndex(this.ids.add(id));
    return this;
  }

  /** Adds the id whose ASCII bytes are `b[start..end)` (see `IdIndex.addAscii`); whether it was new. */
  addAscii(b: Uint8Array, start: number, end: number): boolean {
    return this.addIndex(this.ids.addAscii(b, start, end));
  }

  /** Whether the id at index `i` of `ids` is a member: with `ids.add`, one lookup serves several sets. */
  hasIndex(i: number): boolean {
    return (i >>> 5) < this.bits.length && (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Adds the id at index `i` of `ids`; whether it was new. */
  addIndex(i: number): boolean {
    if (this.hasIndex(i)) return false;
    if ((i >>> 5) >= this.bits.length) this.bits = grow(this.bits, Math.max(this.bits.length * 2, (i >>> 5) + 1));
    this.bits[i >>> 5]! |= 1 << (i & 31);
    this.n++;
    return true;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    const count = this.ids.count;
    for (let i = 0; i < count; i++) if (this.hasIndex(i)) yield this.ids.idAt(i);
  }

  values(): IterableIterator<string> { return this[Symbol.iterator](); }

  /**
   * The members as JSON strings, `first` before the first one and `between` before each next one, in
   * buffers of about `chunkBytes` (each valid until the next is asked for): a million ids go to a JSON
   * file without a string or an array of them. Yields nothing for an empty set.
   */
  *jsonChunks(first: string, between: string, chunkBytes = 1 << 20): Generator<Buffer> {
    const ids = this.ids;
    const count = ids.count;
    const sep = [Buffer.from(first), Buffer.from(between)] as const;
    let out = Buffer.allocUnsafe(chunkBytes);
    let pos = 0;
    let written = 0;
    for (let i = 0; i < count; i++) {
      if (!this.hasIndex(i)) continue;
      const s = sep[written === 0 ? 0 : 1];
      for (;;) {
        const end = pos + s.length <= out.length ? ids.writeJson(i, out, pos + s.length) : -1;
        if (end >= 0) { s.copy(out, pos); pos = end; break; }
        if (pos === 0) { out = Buffer.allocUnsafe(out.length * 2); continue; } // one id longer than a chunk
        yield out.subarray(0, pos);
        pos = 0;
      }
      written++;
    }
    if (pos > 0) yield out.subarray(0, pos);
  }
}
