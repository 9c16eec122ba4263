import { readFile } from 'node:fs/promises';
import type { InputReader } from './types.js';

export const textReader: InputReader = {
  extensions: ['.txt', '.md', '.markdown'],
  async estimate() { return 1; },
  async *read(file, display) {
    yield [{ record: { path: display, text: (await readFile(file, 'utf8')).replace(/^\uFEFF/, '') }, source: { file: display } }];
  },
};
