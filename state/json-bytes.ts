// JSON syntax checked on bytes, building nothing. Replaying a million-line journal must notice a corrupt
// line as surely as JSON.parse would, but parsing every result only to throw it away costs seconds;
// checking the bytes costs a fraction of that. The grammar is RFC 8259's, as JSON.parse accepts it.
//
// Every read is bounded by `end`: the bytes after a line are the next line (or a stale buffer), and a
// truncated line must not borrow them. One loop with an explicit stack of open containers, no recursion:
// any depth is checked, and a call per value would cost a fifth more.

/** 1 for the four whitespace bytes JSON allows. */
const WS = new Uint8Array(256);
WS[0x20] = WS[0x0a] = WS[0x0d] = WS[0x09] = 1;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;
/** Bytes a string's scan stops at: 1 for `"`, 2 for `\`, 3 for a control character; 0 for the rest. */
const STRING_STOP = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 3;
STRING_STOP[0x22] = 1;
STRING_STOP[0x5c] = 2;

const OBJECT = 0x7b;
const ARRAY = 0x5b;

/** End of the string that opens at `b[i]` (a `"`), past its closing quote; -1 if malformed. */
export function skipString(b: Uint8Array, i: number, end: number): number {
  for (i++; i < end; i++) {
    const stop = STRING_STOP[b[i]!]!;
    if (stop === 0) continue;
    if (stop === 1) return i + 1;
    if (stop === 3) return -1;
    const d = i + 1 < end ? b[i + 1] : -1;
    if (d === 0x75) {
      if (i + 5 >= end || !HEX[b[i + 2]!] || !HEX[b[i + 3]!] || !HEX[b[i + 4]!] || !HEX[b[i + 5]!]) return -1;
      i += 5;
    } else if (d === 0x22 || d === 0x5c || d === 0x2f || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) {
      i++;
    } else {
      return -1;
    }
  }
  return -1;
}

/** End of `word` if it is spelled at `i`, else -1. */
function skipWord(b: Uint8Array, i: number, end: number, word: readonly number[]): number {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return -1;
  return i + word.length;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** After an object's `{` or `,`: end of `"key":`, whitespace included, or -1. */
function skipKey(b: Uint8Array, i: number, end: number): number {
  while (i < end && WS[b[i]!] === 1) i++;
  if (i >= end || b[i] !== 0x22) return -1;
  i = skipString(b, i, end);
  if (i < 0) return -1;
  while (i < end && WS[b[i]!] === 1) i++;
  return i < end && b[i] === 0x3a ? i + 1 : -1;
}

/** The open containers (`{` or `[`) of the value being checked; grown as deep as a line goes. */
let open = new Uint8Array(64);

/** Whether `b[start..end)` is exactly one JSON value (whitespace around it allowed), as JSON.parse would judge. */
export function isJson(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  let depth = 0;
  for (;;) {
    // A value is expected at i.
    while (i < end && WS[b[i]!] === 1) i++;
    if (i >= end) return false;
    const c = b[i]!;
    if (c === OBJECT || c === ARRAY) {
      if (depth === open.length) { const grown = new Uint8Array(depth * 2); grown.set(open); open = grown; }
      open[depth++] = c;
      i++;
      while (i < end && WS[b[i]!] === 1) i++;
      if (i < end && b[i] === (c === OBJECT ? 0x7d : 0x5d)) {
        depth--;
        i++;
      } else {
        if (c === OBJECT && (i = skipKey(b, i, end)) < 0) return false;
        continue;
      }
    } else if (c === 0x22) i = skipString(b, i, end);
    else if (c === 0x74) i = skipWord(b, i, end, TRUE);
    else if (c === 0x66) i = skipWord(b, i, end, FALSE);
    else if (c === 0x6e) i = skipWord(b, i, end, NULL);
    else {
      // A number, inline: results are full of them, and a call each costs a tenth of the whole check.
      if (b[i] === 0x2d && ++i >= end) return false;
      const first = b[i]!;
      if (first === 0x30) i++;
      else if (first >= 0x31 && first <= 0x39) while (++i < end && b[i]! >= 0x30 && b[i]! <= 0x39);
      else return false;
      if (i < end && b[i] === 0x2e) {
        const from = i + 1;
        while (++i < end && b[i]! >= 0x30 && b[i]! <= 0x39);
        if (i === from) return false;
      }
      if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
        if (++i < end && (b[i] === 0x2b || b[i] === 0x2d)) i++;
        const from = i;
        while (i < end && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
        if (i === from) return false;
      }
    }
    if (i < 0) return false;
    // A value ended: close containers, or take a separator and expect the next value.
    for (;;) {
      while (i < end && WS[b[i]!] === 1) i++;
      if (depth === 0) return i === end;
      if (i >= end) return false;
      const kind = open[depth - 1]!;
      const d = b[i]!;
      if (d === 0x2c) {
        i++;
        if (kind === OBJECT && (i = skipKey(b, i, end)) < 0) return false;
        break;
      }
      if (d !== (kind === OBJECT ? 0x7d : 0x5d)) return false;
      depth--;
      i++;
    }
  }
}
