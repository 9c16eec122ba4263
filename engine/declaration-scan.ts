// Reads a pipeline's declaration (engine/declaration.ts) from its text, without running it, so the sandbox
// launcher neither runs pipeline code unsandboxed nor pays for loading it. Only the plain shape is read:
// `export default definePipeline({ name: 'x', permissions: { read: [...] }, ... })` (or a plain object, or
// `const p = ...` exported as `export default p`) with name, input, watch, output, permissions and the
// providers' baseURL as literals. Anything else (a spread, a computed key, a variable, `process.env`) gives
// undefined and the caller evaluates the file. The sandboxed process checks the result against the evaluated
// pipeline before anything runs (tui/sandbox-child.ts): a wrong answer costs a restart, never a wrong grant.
import { declarationOf, type Declaration } from './declaration.js';
import { tokenize, type Token } from './js-tokens.js';
import type { Permissions, ProviderLimits } from './types.js';
import { defaultWorkers } from './validate.js';

const wanted = new Set(['name', 'input', 'watch', 'output', 'permissions', 'providers']);
const permissionKinds = new Set(['read', 'write', 'net', 'env']);
const open: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const operatorWords = new Set(['as', 'satisfies', 'in', 'instanceof', 'of']);

class GiveUp extends Error {}
const giveUp = (): never => { throw new GiveUp(); };

interface Property { kind: 'value' | 'method' | 'accessor' | 'shorthand'; start: number; end: number }

/** The declaration written in `source` (the text of `file`), or undefined when it is not plain literals. */
export function scanDeclaration(file: string, source: string): Declaration | undefined {
  return scanPipeline(file, source)?.declaration;
}

/**
 * The declaration, and the size of the first stage's pool when the text says it (a literal `workers`,
 * or none: the default; undefined with `stages`). The size is only a hint for starting workers early.
 */
export function scanPipeline(file: string, source: string): { declaration: Declaration; poolSize: number | undefined } | undefined {
  const tokens = tokenize(source);
  if (!tokens) return undefined;
  try {
    return new Scanner(tokens).pipeline(file);
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
}

class Scanner {
  /** Bracket depth before each token: statements at depth 0 are the module's top level. */
  private readonly depth: number[] = [];

  constructor(private readonly t: Token[]) {
    let d = 0;
    for (const tok of t) {
      if (tok.type === 'punct' && (tok.value === ')' || tok.value === ']' || tok.value === '}')) d--;
      this.depth.push(d);
      if (tok.type === 'punct' && open[tok.value]) d++;
    }
  }

  private is(i: number, value: string, type: Token['type'] = 'punct'): boolean {
    const tok = this.t[i];
    return tok !== undefined && tok.type === type && tok.value === value;
  }

  private topLevel(i: number, value: string, type: Token['type'] = 'id'): boolean {
    return this.depth[i] === 0 && this.is(i, value, type);
  }

  pipeline(file: string): { declaration: Declaration; poolSize: number | undefined } {
    const defines = this.defineImports();
    const exports = this.t.flatMap((_, i) => (this.topLevel(i, 'export') && this.is(i + 1, 'default', 'id') ? [i + 2] : []));
    // `export { p as default }` and other spellings: not read.
    const otherDefault = this.t.some((tok, i) => this.topLevel(i, 'export') && this.is(i + 1, '{') && this.t.slice(i + 2, this.closing(i + 1)).some((x) => x.type === 'id' && x.value === 'default'));
    if (exports.length !== 1 || otherDefault) giveUp();
    let at = exports[0]!;
    const first = this.t[at] ?? giveUp();
    if (first.type === 'id' && !defines.has(first.value)) {
      // `export default p`, with `const p = …` the only other mention of p (nothing can change it).
      this.endOfExpression(at + 1);
      const name = first.value;
      if (this.t.filter((x) => x.type === 'id' && x.value === name).length !== 2) giveUp();
      const decl = this.t.findIndex((_, i) => this.topLevel(i, 'const') && this.is(i + 1, name, 'id'));
      if (decl === -1) giveUp();
      at = decl + 2;
      if (this.is(at, ':')) at = this.skipType(at + 1, (i) => this.is(i, '='));
      if (!this.is(at, '=')) giveUp();
      at++;
    }
    const props = this.properties(this.definitionObject(at, defines));
    return { declaration: this.read(file, props), poolSize: this.poolSize(props) };
  }

  private poolSize(props: Map<string, Property>): number | undefined {
    if (props.has('stages')) return undefined;
    const w = props.get('workers');
    if (w === undefined) return defaultWorkers;
    const count = (p: Property | undefined) => {
      const tok = p?.kind === 'value' && p.end === p.start + 1 ? this.t[p.start] : undefined;
      const n = tok?.type === 'num' ? Number(tok.value.replace(/_/g, '')) : NaN;
      return Number.isInteger(n) && n > 0 ? n : undefined;
    };
    if (!this.is(w.start, '{')) return count(w);
    try { return count(this.objectAt(w).get('min')); } catch (e) { if (e instanceof GiveUp) return undefined; throw e; }
  }

  /** Local names of `definePipeline` imported from 'pipeline-tui'. */
  private defineImports(): Set<string> {
    const names = new Set<string>();
    this.t.forEach((_, i) => {
      if (!this.topLevel(i, 'import') || !this.is(i + 1, '{')) return;
      const close = this.closing(i + 1);
      if (!this.is(close + 1, 'from', 'id') || !this.is(close + 2, 'pipeline-tui', 'str')) return;
      const specs = this.t.slice(i + 2, close);
      for (let k = 0; k < specs.length; k++) {
        if (specs[k]?.value !== 'definePipeline' || specs[k - 1]?.value === 'type') continue;
        names.add(specs[k + 1]?.value === 'as' ? specs[k + 2]?.value ?? giveUp() : 'definePipeline');
      }
    });
    return names;
  }

  /** Index of the `{` of the definition object starting at `i`, after checking the expression ends with it. */
  private definitionObject(i: number, defines: Set<string>): number {
    if (this.is(i, '{')) { this.endOfExpression(this.closing(i) + 1); return i; }
    const callee = this.t[i];
    if (callee?.type !== 'id' || !defines.has(callee.value)) giveUp();
    let j = i + 1;
    if (this.is(j, '<')) j = this.skipAngles(j);
    if (!this.is(j, '(') || !this.is(j + 1, '{')) giveUp();
    let k = this.closing(j + 1) + 1;
    if (this.is(k, ',')) k++;
    if (!this.is(k, ')')) giveUp();
    this.endOfExpression(k + 1);
    return j + 1;
  }

  /** The expression must end at `i`: `;`, the end, `as`/`satisfies` a type, or a new line that cannot continue it. */
  private endOfExpression(i: number): void {
    let j = i;
    if (this.is(j, 'as', 'id') || this.is(j, 'satisfies', 'id')) {
      j = this.skipType(j + 1, (k) => this.is(k, ';') || this.t[k] === undefined || (this.t[k]!.nl && this.t[k]!.type === 'id'));
    }
    const next = this.t[j];
    if (next === undefined || (next.type === 'punct' && next.value === ';')) return;
    if (next.nl && next.type === 'id' && !operatorWords.has(next.value)) return;
    giveUp();
  }

  /** Index of the bracket closing the one at `i`. */
  private closing(i: number): number {
    const d = this.depth[i]!;
    for (let j = i + 1; j < this.t.length; j++) if (this.depth[j] === d) return this.is(j, open[this.t[i]!.value]!) ? j : giveUp();
    return giveUp();
  }

  /** Past `<…>` (type arguments) starting at `i`; `=>` inside is one token, so it never closes one. */
  private skipAngles(i: number): number {
    let n = 0;
    for (let j = i; j < this.t.length; j++) {
      if (this.is(j, '<')) n++;
      else if (this.is(j, '>') && --n === 0) return j + 1;
      else if (this.t[j]!.type === 'punct' && open[this.t[j]!.value]) j = this.closing(j);
    }
    return giveUp();
  }

  /** Past a type starting at `i`, up to the first token at its own level for which `stop` holds. */
  private skipType(i: number, stop: (j: number) => boolean): number {
    let angles = 0;
    for (let j = i; j <= this.t.length; j++) {
      if (angles === 0 && j > i && stop(j)) return j;
      const tok = this.t[j];
      if (tok === undefined) return giveUp();
      if (this.is(j, '<')) angles++;
      else if (this.is(j, '>')) angles--;
      else if (tok.type === 'punct' && open[tok.value]) j = this.closing(j);
    }
    return giveUp();
  }

  /** Properties of the object literal at `i`, by key; a spread or a computed key gives up. */
  private properties(i: number): Map<string, Property> {
    const props = new Map<string, Property>();
    const end = this.closing(i);
    let j = i + 1;
    while (j < end) {
      let kind: Property['kind'] = 'value';
      const mod = this.t[j]!;
      if (mod.type === 'id' && (mod.value === 'get' || mod.value === 'set' || mod.value === 'async') && !this.is(j + 1, ':') && !this.is(j + 1, '(') && !this.is(j + 1, ',') && !this.is(j + 1, '}') && !this.is(j + 1, '<')) {
        if (mod.value !== 'async') kind = 'accessor';
        j++;
      }
      if (this.is(j, '*')) j++;
      const key = this.t[j]!;
      if (key.type !== 'id' && key.type !== 'str') giveUp(); // spread, computed or numeric key
      j++;
      const start = j;
      if (kind === 'accessor' || this.is(j, '(') || this.is(j, '<')) {
        kind = kind === 'accessor' ? 'accessor' : 'method';
        j = this.skipMethod(j);
      } else if (this.is(j, ':')) {
        j = this.skipValue(j + 1, end);
      } else if (this.is(j, ',') || j === end) {
        kind = 'shorthand';
      } else giveUp();
      if (props.has(key.value)) giveUp();
      props.set(key.value, { kind, start: kind === 'value' ? start + 1 : start, end: j });
      if (this.is(j, ',')) j++;
      else if (j !== end) giveUp();
    }
    return props;
  }

  /** Past a method's type parameters, parameters, return type and body. */
  private skipMethod(i: number): number {
    let j = this.is(i, '<') ? this.skipAngles(i) : i;
    if (!this.is(j, '(')) giveUp();
    j = this.closing(j) + 1;
    if (this.is(j, ':')) {
      // The body is the first `{` that cannot start an object type: one right after a complete type.
      const completes = (k: number) => { const p = this.t[k - 1]!; return p.type !== 'punct' || [')', ']', '}', '>'].includes(p.value); };
      j = this.skipType(j + 1, (k) => this.is(k, '{') && completes(k));
    }
    if (!this.is(j, '{')) giveUp();
    return this.closing(j) + 1;
  }

  /** Past one property value: up to the `,` or the object's end at this level. */
  private skipValue(i: number, end: number): number {
    for (let j = i; j < end; j++) {
      if (this.is(j, ',')) return j;
      const tok = this.t[j]!;
      if (tok.type === 'punct' && open[tok.value]) j = this.closing(j);
    }
    return end;
  }

  private read(file: string, props: Map<string, Property>): Declaration {
    for (const [k, p] of props) if (wanted.has(k) && p.kind !== 'value') giveUp();
    const value = (k: string) => props.get(k);
    const name = this.string(value('name') ?? giveUp());
    const optional = <T>(k: string, f: (p: Property) => T): T | undefined => { const p = value(k); return p ? f(p) : undefined; };
    return declarationOf(file, {
      name,
      input: optional('input', (p) => this.stringOrList(p)),
      watch: optional('watch', (p) => this.stringOrList(p)),
      output: optional('output', (p) => this.string(p)),
      permissions: optional('permissions', (p) => this.permissions(p)),
      providers: optional('providers', (p) => this.providers(p)),
    });
  }

  /** The value spans exactly [start, end), allowing a trailing `as const`. */
  private span(p: Property): { start: number; end: number } {
    const end = this.is(p.end - 2, 'as', 'id') && this.is(p.end - 1, 'const', 'id') ? p.end - 2 : p.end;
    return { start: p.start, end };
  }

  private string(p: Property): string {
    const { start, end } = this.span(p);
    return end === start + 1 && this.t[start]!.type === 'str' ? this.t[start]!.value : giveUp();
  }

  private stringOrList(p: Property): string | string[] {
    const { start, end } = this.span(p);
    if (end === start + 1) return this.string(p);
    if (!this.is(start, '[') || this.closing(start) !== end - 1) giveUp();
    const out: string[] = [];
    for (let j = start + 1; j < end - 1; j++) {
      if (this.t[j]!.type !== 'str') giveUp();
      out.push(this.t[j]!.value);
      if (this.is(j + 1, ',')) j++;
      else if (j + 1 !== end - 1) giveUp();
    }
    return out;
  }

  private objectAt(p: Property): Map<string, Property> {
    const { start, end } = this.span(p);
    if (!this.is(start, '{') || this.closing(start) !== end - 1) giveUp();
    return this.properties(start);
  }

  private permissions(p: Property): Permissions {
    const out: Permissions = {};
    for (const [kind, v] of this.objectAt(p)) {
      if (!permissionKinds.has(kind) || v.kind !== 'value') giveUp();
      const list = this.stringOrList(v);
      out[kind as keyof Permissions] = Array.isArray(list) ? list : giveUp();
    }
    return out;
  }

  private providers(p: Property): Record<string, ProviderLimits> {
    const out: Record<string, ProviderLimits> = {};
    for (const [name, v] of this.objectAt(p)) {
      if (v.kind !== 'value') giveUp();
      const config = this.objectAt(v);
      const base = config.get('baseURL');
      if (base && base.kind !== 'value') giveUp();
      for (const c of config.values()) if (c.kind === 'accessor') giveUp();
      out[name] = base ? { baseURL: this.string(base) } : {};
    }
    return out;
  }
}
