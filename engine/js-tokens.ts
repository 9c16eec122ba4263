// A small tokenizer for TypeScript/JavaScript source, enough to find literal values in a module's top
// level without running it (engine/declaration-scan.ts). It knows comments, strings, template literals
// (with nested substitutions), regular expressions and numbers; it does not build a syntax tree.
// Anything it cannot read with certainty makes it give up (undefined): its caller then falls back to
// evaluating the file, so a gap here costs time, never correctness.

export interface Token {
  /** id: identifier or keyword; str: string or substitution-free template (value cooked); tmpl: template with `${}`. */
  type: 'id' | 'str' | 'num' | 'punct' | 'tmpl' | 're';
  value: string;
  /** A line break comes before this token (for automatic semicolon insertion). */
  nl: boolean;
}

// After these, `/` starts a regular expression; after anything else it divides.
const regexAfterWords = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const expressionEnds = new Set([')', ']', '}', '++', '--']);
const punctuators = ['...', '=>', '?.', '++', '--', '&&', '||', '??'];
const idStart = /[\p{ID_Start}$_]/u;
const idPart = /[\p{ID_Continue}$\u200c\u200d]/u;

class GiveUp extends Error {}

/** The tokens of `src` outside template substitutions, or undefined when the text is not plain enough. */
export function tokenize(src: string): Token[] | undefined {
  try {
    return new Lexer(src.replace(/^\uFEFF/, '').replace(/^#![^\n]*/, '')).run();
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
}

class Lexer {
  private i = 0;
  private nl = false;
  private readonly out: Token[] = [];
  private prev: Token | undefined;
  /** Brace depth at each open `${`: tokens inside a substitution belong to their template, not to `out`. */
  private readonly substitutions: number[] = [];
  private braces = 0;

  constructor(private readonly s: string) {}

  run(): Token[] {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029') { this.nl = true; this.i++; continue; }
      if (c === ' ' || c === '\t' || c === '\v' || c === '\f' || c === '\u00a0' || c === '\ufeff' || /\s/.test(c)) { this.i++; continue; }
      if (s.startsWith('//', this.i)) { const e = s.indexOf('\n', this.i); this.i = e === -1 ? s.length : e; continue; }
      if (s.startsWith('/*', this.i)) {
        const e = s.indexOf('*/', this.i + 2);
        if (e === -1) throw new GiveUp();
        if (/[\n\r\u2028\u2029]/.test(s.slice(this.i, e))) this.nl = true;
        this.i = e + 2;
        continue;
      }
      if (c === '"' || c === '\'') { this.push('str', this.quoted(c)); continue; }
      if (c === '`') { this.i++; this.template(); continue; }
      if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[this.i + 1] ?? ''))) { this.push('num', this.match(/[0-9a-zA-Z_.]+/y)); continue; }
      if (idStart.test(c)) { this.push('id', this.identifier()); continue; }
      if (c === '\\') throw new GiveUp(); // an escaped identifier: too rare to be worth reading
      if (c === '/' && this.regexAllowed()) { this.push('re', this.regex()); continue; }
      if (c === '{') this.braces++;
      if (c === '}') {
        if (this.substitutions.length > 0 && this.substitutions.at(-1) === this.braces) {
          this.substitutions.pop();
          this.braces--;
          this.i++;
          this.template(true);
          continue;
        }
        this.braces--;
      }
      const p = punctuators.find((x) => s.startsWith(x, this.i)) ?? c;
      this.i += p.length;
      this.push('punct', p);
    }
    if (this.substitutions.length > 0) throw new GiveUp();
    return this.out;
  }

  private push(type: Token['type'], value: string): void {
    const t: Token = { type, value, nl: this.nl };
    this.nl = false;
    this.prev = t;
    if (this.substitutions.length === 0) this.out.push(t);
  }

  private regexAllowed(): boolean {
    const p = this.prev;
    if (!p) return true;
    if (p.type === 'punct') return !expressionEnds.has(p.value);
    return p.type === 'id' && regexAfterWords.has(p.value);
  }

  private match(re: RegExp): string {
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) throw new GiveUp();
    this.i += m[0].length;
    return m[0];
  }

  private identifier(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && idPart.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  private quoted(q: string): string {
    let v = '';
    this.i++;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === '\n' || c === '\r') throw new GiveUp();
      this.i++;
      if (c === q) return v;
      v += c === '\\' ? this.escape() : c;
    }
  }

  /** `continued`: resuming after a `${…}`. Pushes one token for the whole template. */
  private template(continued = false): void {
    let v = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) throw new GiveUp();
      this.i++;
      if (c === '`') {
        if (!continued) { this.push('str', v); return; }
        // The template (pushed at its first `${`) ends an expression: a `/` after it divides.
        this.prev = { type: 'tmpl', value: '', nl: false };
        this.nl = false;
        return;
      }
      if (c === '$' && this.s[this.i] === '{') {
        this.i++;
        // The template's token goes out now; what follows up to the matching `}` is swallowed.
        if (!continued) this.push('tmpl', '');
        this.braces++;
        this.substitutions.push(this.braces);
        return;
      }
      if (c === '\r') { if (this.s[this.i] === '\n') this.i++; v += '\n'; continue; }
      v += c === '\\' ? this.escape() : c;
    }
  }

  /** The value of the escape after a backslash (already consumed). */
  private escape(): string {
    const c = this.s[this.i++];
    switch (c) {
      case undefined: throw new GiveUp();
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'b': return '\b';
      case 'f': return '\f';
      case 'v': return '\v';
      case '\r': if (this.s[this.i] === '\n') this.i++; return '';
      case '\n': case '\u2028': case '\u2029': return '';
      case 'x': return String.fromCharCode(parseInt(this.match(/[0-9a-fA-F]{2}/y), 16));
      case 'u': {
        const hex = this.s[this.i] === '{' ? this.match(/\{[0-9a-fA-F]{1,6}\}/y).slice(1, -1) : this.match(/[0-9a-fA-F]{4}/y);
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) throw new GiveUp();
        return String.fromCodePoint(code);
      }
      case '0': if (/[0-9]/.test(this.s[this.i] ?? '')) throw new GiveUp(); return '\0';
      default:
        if (/[1-9]/.test(c)) throw new GiveUp(); // legacy octal
        return c;
    }
  }

  private regex(): string {
    const start = this.i;
    this.i++;
    let inClass = false;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === '\n' || c === '\r') throw new GiveUp();
      this.i++;
      if (c === '\\') { this.i++; continue; }
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) break;
    }
    while (this.i < this.s.length && idPart.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }
}
