// Item ids by the million without a million strings on the heap. A `Set<string>` of 1M 16-char ids costs
// ~32 MB of string objects plus ~20 MB of hash table, all in the V8 heap, which the collector then lets
// grow by a multiple of it; and the engine holds two such sets (done, and seen in this run). Here the ids
// live once, as bytes in one buffer, indexed by an open-addressing table of typed arrays, outside the
// collected heap: ~28 bytes a default id all told, 8 of them the id. Exact: every id is stored whole, so
// two ids that share a hash are told apart by their bytes, and every id comes back out as the very
// string that went in.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Mixes the last bits in (murmur3's finaliser): the table is indexed by the low bits of the hash. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a string's UTF-16 code units; `hashAscii` gives the same value for the same id as bytes. */
export function hashId(id: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), FNV_PRIME);
  return finish(h);
}

function hashAscii(b: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return finish(h);
}

/** Past this share of used slots the table doubles: linear probing stays short below it. */
const MAX_LOAD = 0.5;

/** The default id (engine/ids.ts) is 16 lowercase hex digits: such an id is kept in 8 bytes, not 16. */
const HEX_ID_LENGTH = 16;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Value of a lowercase hex digit's code, -1 for any other code below 256. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let v = 0; v < 16; v++) HEX_VALUE[HEX_DIGITS[v]!] = v;

const isHexId = (id: string): boolean => {
  if (id.length !== HEX_ID_LENGTH) return false;
  for (let i = 0; i < HEX_ID_LENGTH; i++) { const c = id.charCodeAt(i); if (c > 0xff || HEX_VALUE[c]! < 0) return false; }
  return true;
};

const isHexBytes = (b: Uint8Array, start: number, end: number): boolean => {
  if (end - start !== HEX_ID_LENGTH) return false;
  for (let i = start; i < end; i++) if (HEX_VALUE[b[i]!]! < 0) return false;
  return true;
};

const bit = (bits: Uint32Array, i: number): boolean => (bits[i >>> 5]! & (1 << (i & 31))) !== 0;

/**
 * Interns ids: each distinct id gets a dense index (0, 1, 2, … in order of first sight) that never
 * changes, and the id can be read back from its index. Ids are never removed. A default id (16 hex
 * digits) is stored as the 8 bytes it spells; any other id whose code units all fit a byte as latin1
 * bytes; any other id as UTF-16LE, so any JS string round-trips (lone surrogates included).
 */
export class IdIndex {
  private bytes = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  /** `ends[i]`: where id i ends in `bytes`; it starts where id i-1 ends. */
  private ends = new Uint32Array(1024);
  /** Bit i: id i is stored as UTF-16LE. */
  private wide = new Uint32Array(32);
  /** Bit i: id i is 16 hex digits, stored as 8 bytes. */
  private hex = new Uint32Array(32);
  /**
   * Pairs (hash, index + 1), a pair per slot; index + 1 = 0 is an empty slot. The hash sits beside the
   * index so that a probe costs one cache miss, not three (slot, hash, bytes): at a million ids the
   * table is far larger than the cache.
   */
  private slots = new Uint32Array(2 * 2048);
  private n = 0;

  /** How many distinct ids. */
  get count(): number { return this.n; }

  /** Index of `id`, or -1. */
  indexOf(id: string): number {
    const h = hashId(id);
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = slots[2 * s + 1]!;
      if (e === 0) return -1;
      if (slots[2 * s] === h && this.equals(e - 1, id)) return e - 1;
    }
  }

  /** Index of `id`, added if new. */
  add(id: string): number {
    const h = hashId(id);
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let s = h & mask;
    for (; ; s = (s + 1) & mask) {
      const e = slots[2 * s + 1]!;
      if (e === 0) break;
      if (slots[2 * s] === h && this.equals(e - 1, id)) return e - 1;
    }
    if (isHexId(id)) {
      this.reserve(HEX_ID_LENGTH / 2);
      const b = this.bytes;
      let p = this.used;
      for (let i = 0; i < HEX_ID_LENGTH; i += 2) b[p++] = (HEX_VALUE[id.charCodeAt(i)]! << 4) | HEX_VALUE[id.charCodeAt(i + 1)]!;
      return this.append(s, h, p, false, true);
    }
    let wide = false;
    for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) > 0xff) { wide = true; break; }
    const len = wide ? id.length * 2 : id.length;
    this.reserve(len);
    const b = this.bytes;
    let p = this.used;
    if (wide) { b.write(id, p, len, 'utf16le'); p += len; } else for (let i = 0; i < id.length; i++) b[p++] = id.charCodeAt(i);
    return this.append(s, h, p, wide, false);
  }

  /**
   * Index of the id whose ASCII bytes (no escapes: exactly the id's characters) are `b[start..end)`,
   * added if new: the journal replay's path, which then needs no string per id.
   */
  addAscii(b: Uint8Array, start: number, end: number): number {
    const h = hashAscii(b, start, end);
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let s = h & mask;
    for (; ; s = (s + 1) & mask) {
      const e = slots[2 * s + 1]!;
      if (e === 0) break;
      if (slots[2 * s] === h && this.equalsBytes(e - 1, b, start, end)) return e - 1;
    }
    const hex = isHexBytes(b, start, end);
    this.reserve(hex ? HEX_ID_LENGTH / 2 : end - start);
    const bytes = this.bytes;
    let p = this.used;
    if (hex) for (let q = start; q < end; q += 2) bytes[p++] = (HEX_VALUE[b[q]!]! << 4) | HEX_VALUE[b[q + 1]!]!;
    else for (let q = start; q < end; q++) bytes[p++] = b[q]!;
    return this.append(s, h, p, false, hex);
  }

  /** The id at `index` (0 <= index < count). */
  idAt(index: number): string {
    const start = index === 0 ? 0 : this.ends[index - 1]!;
    const encoding = bit(this.hex, index) ? 'hex' : bit(this.wide, index) ? 'utf16le' : 'latin1';
    return this.bytes.toString(encoding, start, this.ends[index]!);
  }

  /**
   * Writes id `index` as a JSON string at `out[pos..]` and returns where it ends, or -1 when it does not
   * fit. A latin1 id of printable ASCII without `"` or `\\` (nearly every id) is copied byte for byte;
   * any other goes through JSON.stringify, so the file says exactly what JSON.stringify would.
   */
  writeJson(index: number, out: Buffer, pos: number): number {
    const start = index === 0 ? 0 : this.ends[index - 1]!;
    const end = this.ends[index]!;
    if (bit(this.hex, index)) {
      if (pos + HEX_ID_LENGTH + 2 > out.length) return -1;
      const b = this.bytes;
      let p = pos;
      out[p++] = 0x22;
      for (let k = start; k < end; k++) { out[p++] = HEX_DIGITS[b[k]! >>> 4]!; out[p++] = HEX_DIGITS[b[k]! & 15]!; }
      out[p++] = 0x22;
      return p;
    }
    if (!bit(this.wide, index) && pos + end - start + 2 <= out.length) {
      const b = this.bytes;
      let p = pos;
      out[p++] = 0x22;
      let k = start;
      for (; k < end; k++) {
        const c = b[k]!;
        if (c < 0x20 || c >= 0x80 || c === 0x22 || c === 0x5c) break;
        out[p++] = c;
      }
      if (k === end) { out[p++] = 0x22; return p; }
    }
    const json = JSON.stringify(this.idAt(index));
    const len = Buffer.byteLength(json);
    return pos + len > out.length ? -1 : pos + out.write(json, pos);
  }

  private equals(i: number, id: string): boolean {
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    const end = this.ends[i]!;
    const b = this.bytes;
    if (bit(this.hex, i)) {
      if (id.length !== HEX_ID_LENGTH) return false;
      for (let k = 0, p = start; k < HEX_ID_LENGTH; k += 2, p++) {
        if (id.charCodeAt(k) !== HEX_DIGITS[b[p]! >>> 4] || id.charCodeAt(k + 1) !== HEX_DIGITS[b[p]! & 15]) return false;
      }
      return true;
    }
    if (bit(this.wide, i)) {
      if (end - start !== id.length * 2) return false;
      for (let k = 0, p = start; k < id.length; k++, p += 2) if ((b[p]! | (b[p + 1]! << 8)) !== id.charCodeAt(k)) return false;
      return true;
    }
    if (end - start !== id.length) return false;
    for (let k = 0, p = start; k < id.length; k++, p++) if (b[p] !== id.charCodeAt(k)) return false;
    return true;
  }

  private equalsBytes(i: number, other: Uint8Array, from: number, to: number): boolean {
    if (bit(this.wide, i)) return false; // an ASCII id is never stored wide
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    const b = this.bytes;
    if (bit(this.hex, i)) {
      if (to - from !== HEX_ID_LENGTH) return false;
      for (let q = from, p = start; q < to; q += 2, p++) {
        if (other[q] !== HEX_DIGITS[b[p]! >>> 4] || other[q + 1] !== HEX_DIGITS[b[p]! & 15]) return false;
      }
      return true;
    }
    if (this.ends[i]! - start !== to - from) return false;
    for (let p = start, q = from; q < to; p++, q++) if (b[p] !== other[q]) return false;
    return true;
  }

  /** Makes room for `count` more ids of `bytes` bytes in all at once, instead of by doublings. */
  expect(count: number, bytes: number): void {
    this.reserve(bytes);
    const total = this.n + count;
    if (total > this.ends.length) {
      const size = 2 ** Math.ceil(Math.log2(total));
      this.ends = grow(this.ends, size);
      this.wide = grow(this.wide, size >>> 5);
      this.hex = grow(this.hex, size >>> 5);
    }
    let pairs = this.slots.length >>> 1;
    while (total > pairs * MAX_LOAD) pairs *= 2;
    if (pairs > this.slots.length >>> 1) this.rehash(pairs);
  }

  /** Room for `len` more bytes. Offsets are 32-bit: 4 GiB of ids (some 250M ids of 16 chars). */
  private reserve(len: number): void {
    const need = this.used + len;
    if (need <= this.bytes.length) return;
    if (need > 0xffffffff) throw new RangeError(`Expected at most 4 GiB of item ids in one run, got ${need} bytes`);
    const next = Buffer.allocUnsafe(Math.min(0xffffffff, Math.max(need, this.bytes.length * 2)));
    this.bytes.copy(next, 0, 0, this.used);
    this.bytes = next;
  }

  private append(slot: number, h: number, end: number, wide: boolean, hex: boolean): number {
    const i = this.n;
    if (i === this.ends.length) {
      this.ends = grow(this.ends, i * 2);
      this.wide = grow(this.wide, (i * 2) >>> 5);
      this.hex = grow(this.hex, (i * 2) >>> 5);
    }
    this.ends[i] = end;
    if (wide) this.wide[i >>> 5]! |= 1 << (i & 31);
    if (hex) this.hex[i >>> 5]! |= 1 << (i & 31);
    this.used = end;
    this.slots[2 * slot] = h;
    this.slots[2 * slot + 1] = i + 1;
    this.n = i + 1;
    if (this.n > (this.slots.length >>> 1) * MAX_LOAD) this.rehash(this.slots.length);
    return i;
  }

  /** Doubles the table: `pairs` slots. */
  private rehash(pairs: number): void {
    const old = this.slots;
    const slots = new Uint32Array(2 * pairs);
    const mask = pairs - 1;
    for (let k = 0; k < old.length; k += 2) {
      const e = old[k + 1]!;
      if (e === 0) continue;
      const h = old[k]!;
      let s = h & mask;
      while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
      slots[2 * s] = h;
      slots[2 * s + 1] = e;
    }
    this.slots = slots;
  }
}

/** `a` copied into a zeroed array of `size` elements. */
export function grow<A extends Uint32Array>(a: A, size: number): A {
  const b = new Uint32Array(size) as A;
  b.set(a);
  return b;
}
