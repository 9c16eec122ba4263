import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { messages } from '../errors.js';
import { LastParsed } from './parsed-cache.js';
import type { InputReader } from './types.js';

const parsed = new LastParsed<unknown[]>();

/** A .json input is one document: parsed whole (there is no record boundary to stream on). */
async function parse(file: string, display: string): Promise<unknown[]> {
  const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  if (text.trim() === '') throw messages.inputEmpty(display);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw messages.inputInvalid(display, `invalid JSON (${(e as Error).message})`, 'a .json input must hold one array of records or one object; fix the file, or use .jsonl for one record per line');
  }
  return Array.isArray(data) ? data : [data];
}

export const jsonReader: InputReader = {
  extensions: ['.json'],
  async estimate(file) { return statSync(file).size > 0 ? 1 : 0; },
  async check(file, display) { await parsed.get(file, () => parse(file, display)); },
  async *read(file, display) {
    const list = await parsed.take(file, () => parse(file, display));
    for (let i = 0; i < list.length; i += 1000) {
      yield list.slice(i, i + 1000).map((record, j) => ({ record, source: { file: display, row: i + j + 1 } }));
    }
  },
};
