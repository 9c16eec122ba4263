// JSON syntax checked on bytes, building nothing. Replaying a million-line journal must notice a corrupt
// line as surely as JSON.parse would, but parsing every result only to throw it away costs seconds;
// checking the bytes costs a fraction of that. The grammar is RFC 8259's, as JSON.parse accepts it.

// Every read is bounded by `end`: the bytes after a line are the next line (or stale buffer), and a
// truncated line must not borrow them.
const isWs = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isHex = (c: number | undefined): boolean =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end && isWs(b[i])) i++;
  return i;
}

/** `b[i]`, or -1 past `end`. */
const at = (b: Uint8Array, i: number, end: number): number => (i < end ? b[i]! : -1);

/** Bytes a string's scan must stop at: 1 for `"`, 2 for `\\`, 3 for a control character; 0 for the rest. */
const STRING_STOP = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 3;
STRING_STOP[0x22] = 1;
STRING_STOP[0x5c] = 2;

/** End of the string that opens at `b[i]` (a `"`), past its closing quote; -1 if malformed. */
export function skipString(b: Uint8Array, i: number, end: number): number {
  for (i++; i < end; i++) {
    const stop = STRING_STOP[b[i]!]!;
    if (stop === 0) continue;
    if (stop === 1) return i + 1;
    if (stop === 3) return -1;
    const d = at(b, i + 1, end);
    if (d === 0x75) {
      if (i + 5 >= end || !(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5]))) return -1;
      i += 5;
    } else if (d === 0x22 || d === 0x5c || d === 0x2f || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) {
      i++;
    } else {
      return -1;
    }
  }
  return -1;
}

function skipDigits(b: Uint8Array, i: number, end: number): number {
  while (i < end && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  return i;
}

function skipNumber(b: Uint8Array, i: number, end: number): number {
  if (at(b, i, end) === 0x2d) i++;
  const first = at(b, i, end);
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) i = skipDigits(b, i + 1, end);
  else return -1;
  if (at(b, i, end) === 0x2e) {
    const j = skipDigits(b, i + 1, end);
    if (j === i + 1) return -1;
    i = j;
  }
  const e = at(b, i, end);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = at(b, i, end);
    if (sign === 0x2b || sign === 0x2d) i++;
    const j = skipDigits(b, i, end);
    if (j === i) return -1;
    i = j;
  }
  return i;
}

function skipWord(b: Uint8Array, i: number, end: number, word: readonly number[]): number {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return -1;
  return i + word.length;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/**
 * End of the JSON value that starts at or after `i` (leading whitespace skipped), or -1 if there is
 * none there. Recursive: a value nested deeper than the stack allows throws a RangeError, which
 * callers answer by asking JSON.parse.
 */
export function skipValue(b: Uint8Array, i: number, end: number): number {
  i = skipWs(b, i, end);
  if (i >= end) return -1;
  const c = b[i]!;
  if (c === 0x22) return skipString(b, i, end);
  if (c === 0x7b) {
    i = skipWs(b, i + 1, end);
    if (at(b, i, end) === 0x7d) return i + 1;
    for (;;) {
      if (at(b, i, end) !== 0x22) return -1;
      i = skipString(b, i, end);
      if (i < 0) return -1;
      i = skipWs(b, i, end);
      if (at(b, i, end) !== 0x3a) return -1;
      i = skipValue(b, i + 1, end);
      if (i < 0) return -1;
      i = skipWs(b, i, end);
      const d = at(b, i, end);
      if (d === 0x7d) return i + 1;
      if (d !== 0x2c) return -1;
      i = skipWs(b, i + 1, end);
    }
  }
  if (c === 0x5b) {
    i = skipWs(b, i + 1, end);
    if (at(b, i, end) === 0x5d) return i + 1;
    for (;;) {
      i = skipValue(b, i, end);
      if (i < 0) return -1;
      i = skipWs(b, i, end);
      const d = at(b, i, end);
      if (d === 0x5d) return i + 1;
      if (d !== 0x2c) return -1;
      i++;
    }
  }
  if (c === 0x74) return skipWord(b, i, end, TRUE);
  if (c === 0x66) return skipWord(b, i, end, FALSE);
  if (c === 0x6e) return skipWord(b, i, end, NULL);
  return skipNumber(b, i, end);
}

/** Whether `b[start..end)` is exactly one JSON value (whitespace around it allowed), as JSON.parse would judge. */
export function isJson(b: Uint8Array, start: number, end: number): boolean {
  let j: number;
  try {
    j = skipValue(b, start, end);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    try { JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8', start, end)); return true; } catch { return false; }
  }
  return j >= 0 && j <= end && skipWs(b, j, end) === end;
}
