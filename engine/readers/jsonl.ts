import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { InputReader, InputRecord } from './types.js';

const CHUNK = 1 << 18;

/**
 * The file in chunks of up to 256 KB. A file that fits in one is read with one synchronous call: a
 * stream costs four round trips to the thread pool, which is most of the time of a folder of small files.
 */
export function fileChunks(file: string): AsyncIterable<Buffer> | Buffer[] {
  if (statSync(file).size <= CHUNK) return [readFileSync(file)];
  return createReadStream(file, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>;
}

export async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of fileChunks(file)) {
    let i = -1;
    while ((i = chunk.indexOf(10, i + 1)) !== -1) n++;
    last = chunk[chunk.length - 1] ?? last;
  }
  return last === 10 ? n : n + 1;
}

/**
 * Splits a byte stream into lines without readline: one pass over each chunk, one batch per chunk.
 * A line longer than a chunk is collected in parts and joined once, so a 10 MB line costs one copy.
 */
export async function* lineBatches(file: string): AsyncGenerator<{ first: number; lines: string[] }> {
  let carry: string[] = [];
  let line = 0;
  const decoder = new TextDecoder();
  for await (const bytes of fileChunks(file)) {
    const chunk = decoder.decode(bytes, { stream: true });
    if (chunk.indexOf('\n') === -1) { carry.push(chunk); continue; }
    const parts = (carry.length > 0 ? carry.join('') + chunk : chunk).split('\n');
    carry = [parts.pop()!];
    const first = line + 1;
    line += parts.length;
    yield { first, lines: parts };
  }
  carry.push(decoder.decode());
  const rest = carry.join('');
  if (rest !== '') yield { first: line + 1, lines: [rest] };
}

export const jsonlReader: InputReader = {
  extensions: ['.jsonl', '.ndjson'],
  estimate: countLines,
  async *read(file, display) {
    for await (const { first, lines } of lineBatches(file)) {
      const out: InputRecord[] = [];
      for (let i = 0; i < lines.length; i++) {
        const line = first + i;
        let t = lines[i]!;
        if (t.endsWith('\r')) t = t.slice(0, -1);
        if (line === 1 && t.charCodeAt(0) === 0xfeff) t = t.slice(1);
        if (t.length === 0 || t.trim() === '') continue;
        try {
          out.push({ record: JSON.parse(t), source: { file: display, line } });
        } catch (e) {
          out.push({ error: `${display}:${line}: invalid JSON (${(e as Error).message}); fix the line and run the pipeline again`, source: { file: display, line } });
        }
      }
      if (out.length > 0) yield out;
    }
  },
};
