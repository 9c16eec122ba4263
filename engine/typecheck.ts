// `pipeline-tui check`: type-checks pipeline files with the TypeScript compiler API against our published
// types, wherever the files are, and finds the source position of a validation problem's field.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TS from 'typescript';

export interface CheckProblem {
  /** Absolute path. */
  file: string;
  line: number;
  column: number;
  message: string;
}

const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
/** What `import ... from 'pipeline-tui'` means to the checker: the types the package publishes. */
export const apiTypesPath = fileURLToPath(new URL('../api.d.ts', import.meta.url));

type Ts = typeof TS;
let tsModule: Ts | undefined;
/** TypeScript is large (~9 MB of JS); only `check` pays for loading it. */
export async function loadTypeScript(): Promise<Ts> {
  tsModule ??= ((await import('typescript')) as unknown as { default: Ts }).default;
  return tsModule;
}

function compilerOptions(ts: Ts): TS.CompilerOptions {
  const typeRoot = path.join(packageRoot, 'node_modules', '@types');
  const hasNodeTypes = existsSync(path.join(typeRoot, 'node', 'package.json'));
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    // Bundler resolution matches jiti: extensionless and `.ts` imports both work, as they do at run time.
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    moduleDetection: ts.ModuleDetectionKind.Force,
    lib: ['lib.es2023.d.ts'],
    ...(hasNodeTypes ? { types: ['node'], typeRoots: [typeRoot] } : { types: [] }),
    paths: { 'pipeline-tui': [apiTypesPath] },
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    allowJs: true,
    checkJs: false,
  };
}

/** Type errors in `files` and in the user files they import (not in libraries or .d.ts files). */
export async function typecheck(files: string[]): Promise<{ problems: CheckProblem[]; sources: Map<string, TS.SourceFile> }> {
  const ts = await loadTypeScript();
  const program = ts.createProgram({ rootNames: files, options: compilerOptions(ts) });
  const problems: CheckProblem[] = [];
  // A file that does not parse gets its syntax errors only: the type errors that follow are noise.
  const syntactic = program.getSyntacticDiagnostics();
  const broken = new Set<string | undefined>(syntactic.map((d) => d.file?.fileName));
  const semantic = program.getSemanticDiagnostics().filter((d) => !broken.has(d.file?.fileName));
  for (const d of [...syntactic, ...semantic]) {
    if (d.category !== ts.DiagnosticCategory.Error || !d.file || d.start === undefined) continue;
    const name = d.file.fileName;
    if (name.endsWith('.d.ts') || name.includes('/node_modules/')) continue;
    const pos = d.file.getLineAndCharacterOfPosition(d.start);
    problems.push({ file: path.resolve(name), line: pos.line + 1, column: pos.character + 1, message: `${ts.flattenDiagnosticMessageText(d.messageText, ' ')} (TS${d.code})` });
  }
  const sources = new Map<string, TS.SourceFile>();
  for (const f of files) {
    const sf = program.getSourceFile(f);
    if (sf) sources.set(path.resolve(f), sf);
  }
  return { problems, sources };
}

function unwrap(ts: Ts, e: TS.Expression): TS.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

/** The object literal of `export default definePipeline({...})` (or `{...}`, or a const exported either way). */
function definitionLiteral(ts: Ts, sf: TS.SourceFile): TS.ObjectLiteralExpression | undefined {
  const consts = new Map<string, TS.Expression>();
  let exported: TS.Expression | undefined;
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        if (!ts.isIdentifier(d.name) || !d.initializer) continue;
        consts.set(d.name.text, d.initializer);
        const isExported = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
        if (isExported && d.name.text === 'pipeline' && !exported) exported = d.initializer;
      }
    }
    if (ts.isExportAssignment(st) && !st.isExportEquals) exported = st.expression;
  }
  for (let e = exported, hops = 0; e && hops < 5; hops++) {
    e = unwrap(ts, e);
    if (ts.isObjectLiteralExpression(e)) return e;
    if (ts.isCallExpression(e)) { e = e.arguments[0]; continue; }
    if (ts.isIdentifier(e)) { e = consts.get(e.text); continue; }
    return undefined;
  }
  return undefined;
}

function property(ts: Ts, obj: TS.ObjectLiteralExpression, key: string): TS.ObjectLiteralElementLike | undefined {
  return obj.properties.find((p) => p.name !== undefined && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) && p.name.text === key);
}

/**
 * Where a field named like validation names it (`retry.attempts`, `stages[1].name`,
 * `providers.openai.rpm`) is written; the closest enclosing object when the field is absent.
 */
export function locateField(ts: Ts, sf: TS.SourceFile, field: string | undefined): { line: number; column: number } {
  const root = definitionLiteral(ts, sf);
  let node: TS.Node | undefined = root;
  if (root && field) {
    let obj: TS.Node = root;
    for (const part of field.split('.')) {
      const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
      if (!m || !ts.isObjectLiteralExpression(obj)) break;
      const prop = property(ts, obj, m[1]!);
      if (!prop) break;
      node = prop;
      let value: TS.Node | undefined = ts.isPropertyAssignment(prop) ? unwrap(ts, prop.initializer) : undefined;
      for (const idx of m[2]!.match(/\d+/g) ?? []) {
        const el: TS.Expression | undefined = value && ts.isArrayLiteralExpression(value) ? value.elements[Number(idx)] : undefined;
        if (!el) { value = undefined; break; }
        node = el;
        value = unwrap(ts, el);
      }
      if (!value) break;
      obj = value;
    }
  }
  const pos = sf.getLineAndCharacterOfPosition((node ?? sf.statements[0] ?? sf).getStart(sf));
  return { line: pos.line + 1, column: pos.character + 1 };
}

/** The field a validation message is about: `"retry.attempts" must be…` or `unknown field "timeout"…`. */
export function fieldOfProblem(message: string): string | undefined {
  return /^(?:unknown field )?"([^"]+)"/.exec(message)?.[1];
}
