// Text from items, errors and logs is written by pipeline code and by whatever data it processed. Ink
// passes OSC sequences, BEL, BS and CR through to the terminal, so one crafted record could retitle the
// window, ring the bell or overwrite the dashboard. Everything user-derived goes through here first.

/** OSC, DCS, SOS, PM and APC strings (7-bit and C1 introducers), up to their terminator. */
const CONTROL_STRING = /(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)/g;
/** CSI sequences: `ESC [` or C1 CSI, parameters, intermediates, final byte. */
const CSI = /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?/g;
/** Any other escape: ESC, optional intermediates, one final byte. */
const OTHER_ESCAPE = /\x1b[\x20-\x2f]*[\x30-\x7e]?/g;
/** What is left of C0 (tab and line breaks are handled by the callers), DEL and C1. */
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/** Bidirectional overrides and isolates reorder what follows them on screen ("Trojan Source"). */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAKS = /\r\n|[\n\r\u2028\u2029\x0b\x0c\x85]/;

function stripSequences(text: string): string {
  return text.replace(CONTROL_STRING, '').replace(CSI, '').replace(OTHER_ESCAPE, '');
}

/**
 * One line of plain text: escape sequences removed, tabs and line breaks turned into single spaces,
 * every other control character (C0, DEL, C1) and bidi override dropped.
 */
export function oneLine(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return stripSequences(text)
    .replace(/[\t\n\r\u2028\u2029\x0b\x0c\x85]+/g, ' ')
    .replace(CONTROLS, '')
    .replace(BIDI, '')
    .replace(/ {2,}/g, ' ')
    .trim();
}

/** Several lines of plain text (for the full view of one error): split on line breaks, each line cleaned like `oneLine`. */
export function safeLines(value: unknown): string[] {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return stripSequences(text)
    .split(LINE_BREAKS)
    .map((line) => line.replace(/\t/g, '  ').replace(CONTROLS, '').replace(BIDI, '').trimEnd());
}
