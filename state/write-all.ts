import { writeSync } from 'node:fs';

/** Writes all of `text` (writeSync may write less than asked) and returns the byte count. */
export function writeAll(fd: number, text: string): number {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
  return buf.length;
}
