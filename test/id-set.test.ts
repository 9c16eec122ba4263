// The compact id set behind the checkpoint's done ids and the engine's seen ids: it must behave exactly
// like a Set<string> (no false positives on shared hashes, every id back as it went in) while growing.
import { describe, expect, it } from 'vitest';
import { hashId, IdIndex } from '../dist/state/id-index.js';
import { IdSet } from '../dist/state/id-set.js';

/** Two different ids with the same 32-bit hash, found by the birthday bound (~2^16 tries). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `id-${i}`;
    const h = hashId(id);
    const other = seen.get(h);
    if (other !== undefined) return [other, id];
    seen.set(h, id);
  }
}

describe('IdSet', () => {
  it('behaves like Set<string>: add is idempotent, has is exact, size counts distinct ids', () => {
    const s = new IdSet();
    expect(s.size).toBe(0);
    expect(s.has('a')).toBe(false);
    s.add('a').add('b').add('a').add('');
    expect(s.size).toBe(3);
    expect(s.has('a')).toBe(true);
    expect(s.has('')).toBe(true);
    expect(s.has('ab')).toBe(false);
    expect(s.has('A')).toBe(false);
    expect([...s]).toEqual(['a', 'b', '']);
  });

  it('tells apart ids that share a hash (no false positive), in either order of insertion', () => {
    const [x, y] = collidingPair();
    expect(x).not.toBe(y);
    expect(hashId(x)).toBe(hashId(y));
    const s = new IdSet();
    s.add(x);
    expect(s.has(y)).toBe(false);
    s.add(y);
    expect(s.size).toBe(2);
    expect(s.has(x) && s.has(y)).toBe(true);
    const t = new IdSet();
    t.add(y);
    expect(t.has(x)).toBe(false);
    expect([...t]).toEqual([y]);
  });

  it('returns every id as the very string that went in: non-latin1, emoji, lone surrogates, control characters', () => {
    const ids = ['é', 'ÿ', 'Ā', 'naïve', '日本語', '🙂', 'a\ud800b', '\udfff', 'tab\there', 'nul\u0000', '"quoted"', 'back\\slash', '\u00ff\u0100'];
    const s = new IdSet();
    for (const id of ids) s.add(id);
    expect(s.size).toBe(ids.length);
    expect([...s]).toEqual(ids);
    for (const id of ids) expect(s.has(id)).toBe(true);
    // Same characters, other width: 'ÿ' (U+00FF, stored as a byte) is not 'ÿ' followed by anything.
    expect(s.has('\u00ff\u0000')).toBe(false);
    expect(s.has('\ud800')).toBe(false);
  });

  it('keeps every id across growth of the table and the byte store (200,000 ids)', () => {
    const s = new IdSet();
    const n = 200_000;
    for (let i = 0; i < n; i++) s.add(`item-${i}`);
    for (let i = 0; i < n; i += 2) s.add(`item-${i}`); // again: no change
    expect(s.size).toBe(n);
    for (let i = 0; i < n; i++) if (!s.has(`item-${i}`)) throw new Error(`lost item-${i}`);
    expect(s.has(`item-${n}`)).toBe(false);
    let k = 0;
    for (const id of s) expect(id).toBe(`item-${k++}`);
    expect(k).toBe(n);
  });

  it('expect() sizes the index up front; ids added after it are all there', () => {
    const ids = new IdIndex();
    ids.add('before');
    ids.expect(50_000, 50_000 * 16);
    const s = new IdSet(ids);
    for (let i = 0; i < 60_000; i++) s.add(i.toString(16).padStart(16, '0'));
    expect(s.size).toBe(60_000);
    expect(ids.count).toBe(60_001);
    expect(ids.idAt(0)).toBe('before');
    expect(s.has('before')).toBe(false);
    expect(s.has((59_999).toString(16).padStart(16, '0'))).toBe(true);
  });

  it('keeps default ids (16 lowercase hex digits) in 8 bytes, exactly: near misses stay what they are', () => {
    const hex = ['0123456789abcdef', 'ffffffffffffffff', '0000000000000000', 'a1b2c3d4e5f60718'];
    const near = ['0123456789ABCDEF', '0123456789abcde', '0123456789abcdef0', '0123456789abcdeg', 'g123456789abcdef', '０123456789abcde'];
    const s = new IdSet();
    for (const id of [...hex, ...near]) s.add(id);
    expect([...s]).toEqual([...hex, ...near]);
    for (const id of [...hex, ...near]) expect(s.has(id)).toBe(true);
    expect(s.has('0123456789abcdee')).toBe(false);
    expect(s.has('0123456789abcdeF')).toBe(false);
    // From journal bytes too, and the same id from either side is one id.
    const buf = Buffer.from('"fedcba9876543210" "0123456789abcdef"', 'latin1');
    expect(s.addAscii(buf, 1, 17)).toBe(true);
    expect(s.addAscii(buf, 20, 36)).toBe(false);
    expect(s.has('fedcba9876543210')).toBe(true);
    const parts: Buffer[] = [];
    for (const chunk of s.jsonChunks('', ',')) parts.push(Buffer.from(chunk));
    expect(JSON.parse(`[${Buffer.concat(parts).toString('utf8')}]`)).toEqual([...hex, ...near, 'fedcba9876543210']);
  });

  it('addAscii (from journal bytes) and add (from strings) agree on the same id', () => {
    const buf = Buffer.from('xx"item-7"yy"item-8"', 'latin1');
    const s = new IdSet();
    expect(s.addAscii(buf, 3, 9)).toBe(true);
    expect(s.has('item-7')).toBe(true);
    expect(s.addAscii(buf, 3, 9)).toBe(false);
    s.add('item-8');
    expect(s.addAscii(buf, 13, 19)).toBe(false);
    expect(s.size).toBe(2);
    expect([...s]).toEqual(['item-7', 'item-8']);
  });

  it('sets over one index share its ids but not their membership', () => {
    const ids = new IdIndex();
    const done = new IdSet(ids);
    const seen = new IdSet(ids);
    seen.add('a').add('b');
    done.add('b').add('c');
    expect(ids.count).toBe(3);
    expect([done.has('a'), done.has('b'), done.has('c')]).toEqual([false, true, true]);
    expect([seen.has('a'), seen.has('b'), seen.has('c')]).toEqual([true, true, false]);
    expect([...done]).toEqual(['b', 'c']);
    expect(done.size).toBe(2);
  });

  it('jsonChunks writes the members as JSON.stringify would, across chunk boundaries and for an id longer than a chunk', () => {
    const long = 'L'.repeat(300);
    const ids = ['plain', 'with "quotes"', 'back\\slash', 'new\nline', '\u0001', 'é', '日本', '🙂', 'a\ud800', 'del\u007f', long, ''];
    const s = new IdSet();
    for (const id of ids) s.add(id);
    for (const size of [16, 64, 1 << 20]) {
      const parts: Buffer[] = [];
      for (const chunk of s.jsonChunks('[', ',', size)) parts.push(Buffer.from(chunk)); // each is valid until the next
      const text = Buffer.concat(parts).toString('utf8');
      expect(text).toBe(`[${ids.map((id) => JSON.stringify(id)).join(',')}`);
    }
    expect([...new IdSet().jsonChunks('[', ',')]).toEqual([]);
  });
});
