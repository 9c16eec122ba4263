// The byte-level JSON check that lets a journal replay skip JSON.parse must judge every line as
// JSON.parse would: anything it lets through that JSON.parse rejects would hide corruption.
import { describe, expect, it } from 'vitest';
import { isJson } from '../dist/state/json-bytes.js';

const parses = (text: string): boolean => {
  try { JSON.parse(text); return true; } catch { return false; }
};

const samples = [
  '{}', '[]', '0', '-0', '1.5', '-1.5e+10', '1E-7', '"s"', 'true', 'false', 'null', ' {"a" : [1, 2, {"b": null}]} ',
  '{"k":"d","n":12,"id":"item-1","result":{"label":"positive","score":0.93,"n":1},"source":{"file":"in.jsonl","line":2}}',
  '{"k":"o","b":123}', '"\\u00e9\\n\\t\\"\\\\\\/"', '"é 日本 🙂"', '\t[1,\r\n2]',
  // Invalid:
  '', ' ', '{', '}', '{"a"}', '{"a":}', '{"a":1,}', '[1,]', '[,1]', '01', '1.', '.5', '-', '1e', '1e+', '+1', '--1',
  'tru', 'nul', 'falsey', 'True', '"unterminated', '"bad \\x escape"', '"bad \\u12g4"', '"\\u12"', '"raw\ttab"', '"raw\u0001"',
  '{"a":1}{"b":2}', '{"a":1} x', '[1 2]', '{"a" 1}', '{a:1}', "{'a':1}", 'NaN', 'Infinity', '[1]]',
  '{"k":"d","n":12,"id":"item-1","result":{"label":"positive","sco', '{"k":"d","n":12,"id":"item-1","result":{}}garbage',
];

describe('isJson', () => {
  it.each(samples)('agrees with JSON.parse on %j', (text) => {
    const b = Buffer.from(text);
    expect(isJson(b, 0, b.length)).toBe(parses(text));
  });

  it('never reads past the end it is given (a truncated line followed by more bytes)', () => {
    const text = '{"a":"b\n"}';
    const b = Buffer.from(text);
    const nl = text.indexOf('\n');
    expect(isJson(b, 0, nl)).toBe(false);
    const num = Buffer.from('[12\n3]');
    expect(isJson(num, 0, 3)).toBe(false);
    const word = Buffer.from('[tr\nue]');
    expect(isJson(word, 0, 3)).toBe(false);
    const slice = Buffer.from('xx{"a":1}yy');
    expect(isJson(slice, 2, 9)).toBe(true);
    expect(isJson(slice, 2, 8)).toBe(false);
  });

  it('agrees with JSON.parse on 20,000 random one-byte edits of journal-like lines', () => {
    let seed = 42;
    const random = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const alphabet = Buffer.from('{}[]",:.-+eE0123456789 \t\nabcdefnulltruefalse\\u/\u0001é');
    const bases = samples.filter(parses).map((t) => Buffer.from(t));
    let disagreements = 0;
    for (let k = 0; k < 20_000; k++) {
      const base = bases[random(bases.length)]!;
      const at = random(base.length + 1);
      const op = random(3);
      const byte = Buffer.from([alphabet[random(alphabet.length)]!]);
      const edited = op === 0 ? Buffer.concat([base.subarray(0, at), byte, base.subarray(at)])
        : op === 1 ? Buffer.concat([base.subarray(0, at), base.subarray(at + 1)])
        : Buffer.concat([base.subarray(0, at), byte, base.subarray(at + 1)]);
      if (isJson(edited, 0, edited.length) !== parses(edited.toString('utf8'))) disagreements++;
    }
    expect(disagreements).toBe(0);
  });

  it('checks nesting of any depth', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const b = Buffer.from(deep);
    expect(isJson(b, 0, b.length)).toBe(parses(deep));
    const broken = Buffer.from(`${'['.repeat(100_000)}${']'.repeat(99_999)}`);
    expect(isJson(broken, 0, broken.length)).toBe(false);
  });
});
