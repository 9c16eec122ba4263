// Turns what loading a pipeline threw into what a user can act on: `file:line:col`, the line, a caret.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describeThrown } from './errors.js';
import { locateInPipeline } from './stack.js';

export interface LoadProblem {
  /** Relative to the cwd when inside it. */
  file: string;
  line?: number;
  column?: number;
  /** One line, without the location. */
  message: string;
  /** `  6 |     const x = a +;` and the caret line under it, when the source could be read. */
  frame?: string;
  syntax: boolean;
}

const display = (file: string, cwd: string) => {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
};

/**
 * jiti reports a parse error as `ParseError: <reason> \n <abs file>:<line>:<col>` (babel's column is
 * 0-based); Node's own SyntaxError (a native `.mjs`) has `<file>:<line>` on the first stack line.
 */
export function describeLoadError(thrown: unknown, pipelineFile: string, cwd = process.cwd()): LoadProblem {
  const d = describeThrown(thrown);
  const jiti = /^(?:(\w*Error): )?([\s\S]*?)\s*\n\s*((?:file:\/\/)?\/[^\n]*?):(\d+):(\d+)\s*$/.exec(d.message);
  if (jiti) {
    const file = jiti[3]!.replace(/^file:\/\//, '');
    // Babel's error recovery can blame an earlier line (a generic call before the real mistake reads as
    // a comparison); TypeScript's parser points at the mistake, so its first syntax error wins when it has one.
    const ts = typeScriptSyntaxError(file);
    const line = ts?.line ?? Number(jiti[4]);
    const column = ts?.column ?? Number(jiti[5]) + 1;
    return { file: display(file, cwd), line, column, message: ts?.message ?? jiti[2]!.trim(), frame: codeFrame(file, line, column), syntax: true };
  }
  if (d.name === 'SyntaxError' && d.stack) {
    const m = /^(?:file:\/\/)?(\/[^\n]*?):(\d+)\n/.exec(d.stack);
    if (m) return { file: display(m[1]!, cwd), line: Number(m[2]), message: d.message, frame: codeFrame(m[1]!, Number(m[2]), undefined), syntax: true };
  }
  const where = locateInPipeline(d.stack, pipelineFile);
  return {
    file: where?.file ?? display(pipelineFile, cwd),
    ...(where ? { line: where.line, column: where.column } : {}),
    message: d.name !== 'Error' && !d.message.startsWith(d.name) ? `${d.name}: ${d.message}` : d.message,
    syntax: false,
  };
}

/** `pipelines/bad.ts:6:25: Syntax error: Unexpected token` and the frame below it. */
export function formatLoadProblem(p: LoadProblem): string {
  const at = `${p.file}${p.line === undefined ? '' : `:${p.line}${p.column === undefined ? '' : `:${p.column}`}`}`;
  const head = p.syntax ? `${at}: Syntax error: ${p.message}` : `${at}: ${p.message}`;
  return p.frame ? `${head}\n${p.frame}` : head;
}

/** The first syntax error TypeScript finds in `file` (loaded only on this error path). */
function typeScriptSyntaxError(file: string): { line: number; column: number; message: string } | undefined {
  try {
    const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');
    const text = readFileSync(file, 'utf8');
    const out = ts.transpileModule(text, { fileName: file, reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext } });
    const d = out.diagnostics?.find((x) => x.category === ts.DiagnosticCategory.Error && x.file && x.start !== undefined);
    if (!d?.file || d.start === undefined) return undefined;
    const pos = d.file.getLineAndCharacterOfPosition(d.start);
    return { line: pos.line + 1, column: pos.character + 1, message: ts.flattenDiagnosticMessageText(d.messageText, ' ') };
  } catch {
    return undefined; // no TypeScript installed: babel's position stands
  }
}

function codeFrame(file: string, line: number, column: number | undefined): string | undefined {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
  const src = text.split(/\r?\n/)[line - 1];
  if (src === undefined) return undefined;
  const gutter = String(line);
  const out = [`  ${gutter} | ${src}`];
  if (column !== undefined) {
    // Tabs stay tabs so the caret lines up however wide the terminal draws them.
    const pad = src.slice(0, column - 1).replace(/[^\t]/g, ' ');
    out.push(`  ${' '.repeat(gutter.length)} | ${pad}^`);
  }
  return out.join('\n');
}
