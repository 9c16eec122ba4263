import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Jiti } from 'jiti';
import { ErrorCode, PipelineTuiError } from './errors.js';
import { describeLoadError, formatLoadProblem } from './load-error.js';
import { activeSandbox } from './sandbox.js';
import { isFile, isPipelinePath, listPipelineFiles } from './pipeline-files.js';
import { assertValidPipeline, defaultWorkers, retryDefaults } from './validate.js';
import type { LoadedPipeline, PipelineDefinition, ResolvedStage } from './types.js';

/** The module pipelines get for `import ... from 'pipeline-tui'`, wherever they live. */
export const apiModulePath = fileURLToPath(new URL('../api.js', import.meta.url));
export { isFile, isPipelinePath, listPipelineFiles, pipelineExtensions } from './pipeline-files.js';

// jiti is one large CommonJS file: `require` loads it in a third of the time an ESM `import` takes,
// which scans it for named exports first (measured: ~30 vs ~100 ms, paid by every worker at start).
const { createJiti } = createRequire(import.meta.url)('jiti') as typeof import('jiti');

let jiti: Jiti | undefined;
function loader(): Jiti {
  // One loader per thread: jiti's module cache then makes the second import of a file free, and its
  // fs cache makes every worker after the first skip transpiling.
  // In a sandbox the transpile cache is the pipeline's own (writable there, never read by the launcher,
  // so sandboxed code cannot plant code that an unsandboxed process would run).
  jiti ??= createJiti(import.meta.url, {
    alias: { 'pipeline-tui': apiModulePath },
    sourceMaps: true,
    fsCache: activeSandbox()?.cacheDir ?? true,
    moduleCache: true,
  });
  return jiti;
}


/** Loads the file's default (or named `pipeline`) export and returns it unvalidated. */
export async function importPipelineModule(file: string): Promise<unknown> {
  try {
    const mod = (await loader().import(file)) as Record<string, unknown> | null;
    if (mod === null || typeof mod !== 'object') return mod;
    return 'default' in mod && mod.default !== undefined ? mod.default : mod.pipeline;
  } catch (thrown) {
    const problem = describeLoadError(thrown, file);
    throw new PipelineTuiError(ErrorCode.PipelineLoad, formatLoadProblem(problem), { cause: thrown });
  }
}

/** Finds the file for PIPELINE: a path, or the `name` of a file in `./pipelines/`. */
export async function resolvePipelineFile(ref: string, cwd = process.cwd()): Promise<string> {
  const asPath = path.resolve(cwd, ref);
  if (isFile(asPath)) return asPath;
  if (isPipelinePath(ref)) {
    throw new PipelineTuiError(ErrorCode.PipelineNotFound, `Pipeline file ${ref} does not exist`, {
      hint: 'Give a path to a .ts/.mts/.js/.mjs file, or the name of a pipeline in ./pipelines/ (see `pipeline-tui list`).',
    });
  }
  const files = listPipelineFiles(path.join(cwd, 'pipelines'));
  // The file named like the pipeline is the usual case; only when it is absent do we load the others.
  const byBasename = files.filter((f) => path.basename(f).replace(/\.(m?ts|m?js)$/, '') === ref);
  for (const f of [...byBasename, ...files.filter((f) => !byBasename.includes(f))]) {
    try {
      const def = await importPipelineModule(f);
      if (typeof def === 'object' && def !== null && (def as { name?: unknown }).name === ref) return f;
    } catch { /* a broken neighbour must not hide the pipeline asked for */ }
  }
  throw new PipelineTuiError(ErrorCode.PipelineNotFound, `No pipeline named "${ref}" in ${path.join(cwd, 'pipelines')}`, {
    hint: 'Run `pipeline-tui list` to see the pipelines found, or pass a path to the file.',
  });
}

export function resolvePipeline(file: string, def: PipelineDefinition): LoadedPipeline {
  const baseTimeout = def.timeoutMs ?? 60_000;
  const baseRetry = { ...retryDefaults, ...def.retry };
  const stageDefs = def.stages ?? [{ name: def.name, process: def.process! }];
  const stages: ResolvedStage[] = stageDefs.map((s, index) => ({
    name: s.name,
    index,
    timeoutMs: (def.stages ? (s as { timeoutMs?: number }).timeoutMs : undefined) ?? baseTimeout,
    retry: { ...baseRetry, ...(def.stages ? (s as { retry?: object }).retry : undefined) },
    workers: def.stages ? (s as { workers?: number }).workers : undefined,
  }));
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return {
    file,
    definition: def,
    name: def.name,
    description: def.description ?? '',
    input: list(def.input),
    watch: list(def.watch),
    output: def.output ?? `out/${def.name}.jsonl`,
    order: def.order ?? 'completion',
    stages,
    workers: def.workers ?? defaultWorkers,
    hasReduce: typeof def.reduce === 'function',
  };
}

/** Loads and validates a pipeline by name or path. Throws PipelineTuiError (exit 2) on any problem. */
export async function loadPipeline(ref: string, options: { cwd?: string } = {}): Promise<LoadedPipeline> {
  const file = await resolvePipelineFile(ref, options.cwd);
  const def = await importPipelineModule(file);
  assertValidPipeline(def, path.relative(options.cwd ?? process.cwd(), file) || file);
  return resolvePipeline(file, def);
}
