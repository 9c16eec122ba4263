// `pipeline-tui check [PIPELINE...]`: load, validate and type-check; one `file:line:col message` per problem.
import path from 'node:path';
import { describeLoadError } from '../engine/load-error.js';
import { importPipelineModule, listPipelineFiles, resolvePipelineFile } from '../engine/load.js';
import { fieldOfProblem, loadTypeScript, locateField, typecheck, type CheckProblem } from '../engine/typecheck.js';
import { validatePipeline } from '../engine/validate.js';

const shown = (file: string) => {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
};

/** Exit 0 when every file is clean, 1 when any has a problem (2, thrown, when a PIPELINE is not found). */
export async function checkCommand(refs: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const files = refs.length > 0 ? await Promise.all(refs.map((r) => resolvePipelineFile(r))) : listPipelineFiles(path.resolve('pipelines'));
  if (files.length === 0) {
    err.write('check: no pipelines in ./pipelines/; pass files to check\n');
    return 0;
  }
  // Type-checking is the slow part; it runs while the files load.
  const typed = typecheck(files);
  typed.catch(() => undefined);
  const ts = await loadTypeScript();
  const { problems: typeProblems, sources } = await typed;
  const problems: CheckProblem[] = [];
  for (const file of files) {
    let def: unknown;
    try {
      def = await importPipelineModule(file);
    } catch (thrown) {
      const p = describeLoadError((thrown as { cause?: unknown }).cause ?? thrown, file);
      // A syntax error is also one of TypeScript's; report it once, with TypeScript's wording.
      if (p.syntax && typeProblems.some((t) => t.file === path.resolve(file) && t.line === p.line)) continue;
      problems.push({ file: path.resolve(p.file), line: p.line ?? 1, column: p.column ?? 1, message: p.syntax ? `Syntax error: ${p.message}` : p.message });
      continue;
    }
    const sf = sources.get(path.resolve(file));
    for (const message of validatePipeline(def)) {
      const at = sf ? locateField(ts, sf, fieldOfProblem(message)) : { line: 1, column: 1 };
      problems.push({ file: path.resolve(file), ...at, message });
    }
  }
  // Our message for a field says more than the compiler's ("did you mean 'timeoutMs'?"): one per line.
  const validated = new Set(problems.map((p) => `${p.file}:${p.line}`));
  problems.push(...typeProblems.filter((t) => !validated.has(`${t.file}:${t.line}`)));
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  for (const p of problems) out.write(`${shown(p.file)}:${p.line}:${p.column} ${p.message}\n`);
  const bad = new Set(problems.map((p) => p.file)).size;
  err.write(problems.length === 0
    ? `check: ${files.length} file${files.length === 1 ? '' : 's'}, no problems\n`
    : `check: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${bad} of ${files.length} file${files.length === 1 ? '' : 's'}\n`);
  return problems.length === 0 ? 0 : 1;
}
