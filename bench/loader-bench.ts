// jiti (what engine/load.ts uses) against tsx, on the same small .ts pipeline: the time to load the loader
// and import the pipeline in a fresh process (warm transpile cache, and right after an edit), the same in a
// worker thread, and whether each still works under Node's permission model (the sandboxed run's case).
// Every figure is measured inside its process (loader module load + import), so Node's own start, the
// same for both, is left out. tsx is a devDependency of the bench only; without it its row says so.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pipelineSource as runtimePipeline } from './runtime-bench.js';
import { tempDir } from './util.js';

/** The pipeline imports the API by absolute path: tsx has no alias option (tsconfig `paths` do not reach its CommonJS path), and resolving it is not what is compared. */
const apiPath = fileURLToPath(new URL('../api.js', import.meta.url));

export interface LoaderFigures {
  /** Medians, ms: loading the loader's module plus importing the pipeline, its transpile cache warm. */
  warmMs: number;
  /** The same right after the pipeline changed (a transpile, then the cache write). */
  afterEditMs: number;
  /** From `new Worker` to the pipeline imported in it (cache warm), minus a bare worker's start. */
  workerMs: number;
  /** Under --experimental-permission with only the project, the loader and its cache readable (and the cache writable): 'ok' or the error. */
  sandboxedWarm: string;
  sandboxedAfterEdit: string;
}

export interface LoaderBenchResult {
  jiti: LoaderFigures;
  /** Undefined when tsx is not installed. */
  tsx: LoaderFigures | undefined;
  bareWorkerMs: number;
  loadAverage: number;
}

type Loader = 'jiti' | 'tsx';

/** A script that imports FILE with LOADER and prints `{ ms }` (or `{ error }`); in a worker with `worker`. */
function script(jitiPath: string, tsxApi: string | undefined): string {
  return `import { createRequire } from 'node:module';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
async function load(loader, file, cacheDir) {
  const t0 = performance.now();
  let mod;
  if (loader === 'jiti') {
    const { createJiti } = createRequire(import.meta.url)(${JSON.stringify(jitiPath)});
    mod = await createJiti(import.meta.url, { sourceMaps: true, fsCache: cacheDir, moduleCache: true }).import(file);
  } else if (loader === 'tsx') {
    const { tsImport } = await import(${JSON.stringify(tsxApi ? pathToFileURL(tsxApi).href : '')});
    mod = await tsImport(file, { parentURL: import.meta.url });
  }
  const def = mod?.default?.default ?? mod?.default ?? mod;
  if (loader !== 'none' && typeof def?.process !== 'function') throw new Error('no pipeline in ' + JSON.stringify(Object.keys(mod ?? {})));
  return performance.now() - t0;
}
const [loader, file, cacheDir, where] = isMainThread ? process.argv.slice(2) : workerData;
if (!isMainThread) {
  await load(loader, file, cacheDir);
  parentPort.postMessage('done');
} else if (where === 'worker') {
  const t0 = performance.now();
  const w = new Worker(new URL(import.meta.url), { workerData: [loader, file, cacheDir] });
  w.on('message', () => { process.stdout.write(JSON.stringify({ ms: performance.now() - t0 })); void w.terminate(); });
  w.on('error', (e) => { process.stdout.write(JSON.stringify({ error: String(e?.message ?? e).split('\\n')[0] })); process.exitCode = 1; });
} else {
  try { process.stdout.write(JSON.stringify({ ms: await load(loader, file, cacheDir) })); }
  catch (e) { process.stdout.write(JSON.stringify({ error: String(e?.message ?? e).split('\\n')[0] })); process.exitCode = 1; }
}
`;
}

function run(args: string[]): Promise<{ ms?: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', () => {
      try { resolve(JSON.parse(out) as { ms?: number; error?: string }); } catch { resolve({ error: (err.trim().split('\n').find((l) => /Error/.test(l)) ?? err).slice(0, 200) }); }
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

// tsx resolves no 'pipeline-tui' alias: both loaders import the API by its path.
const pipelineSource = (salt: string) => runtimePipeline(salt, apiPath);

/** Where tsx's ESM API is, if installed (`tsxDir`: a tsx package folder to use instead). */
function tsxApiPath(tsxDir?: string): string | undefined {
  try {
    const dir = tsxDir ?? path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
    return path.join(dir, 'dist', 'esm', 'api', 'index.mjs');
  } catch {
    return undefined;
  }
}

/** Runs every variant `runs` times, interleaved (jiti, tsx, jiti, ...) so load changes hit both alike. */
export async function loaderBench(options: { runs?: number; tsxDir?: string } = {}): Promise<LoaderBenchResult> {
  const runs = options.runs ?? 7;
  const jitiPath = createRequire(import.meta.url).resolve('jiti');
  const tsxApi = tsxApiPath(options.tsxDir);
  const loaders: Loader[] = tsxApi ? ['jiti', 'tsx'] : ['jiti'];
  const { dir, cleanup } = tempDir('loader');
  try {
    const main = path.join(dir, 'load.mjs');
    const file = path.join(dir, 'pipelines', 'startup.ts');
    const cacheDir = path.join(dir, 'jiti-cache');
    mkdirSync(path.dirname(file), { recursive: true });
    mkdirSync(cacheDir);
    writeFileSync(main, script(jitiPath, tsxApi));
    // Pipelines are ES modules. Without this tsx takes the file for CommonJS and transpiles it with esbuild's
    // sync API, which runs esbuild from a worker thread started with `execArgv: []`: in Node 20 such a thread
    // is outside the permission model, so that path "works" in the sandbox only through that hole.
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(file, pipelineSource('warm'));
    // tsx keeps its cache in <tmp>/tsx-<uid> (not configurable); the sandboxed runs get it as jiti gets its own.
    const tsxCache = path.join(os.tmpdir(), `tsx-${process.getuid?.() ?? 0}`);
    const readable = [dir, path.dirname(apiPath), path.dirname(path.dirname(jitiPath)), ...(tsxApi ? [path.resolve(tsxApi, '../../../../..'), tsxCache] : [])];
    const sandbox = ['--experimental-permission', '--allow-worker', ...readable.map((p) => `--allow-fs-read=${p}`), `--allow-fs-write=${cacheDir}`, `--allow-fs-write=${tsxCache}`, '--disable-warning=ExperimentalWarning'];
    const once = (loader: Loader | 'none', where: 'main' | 'worker', sandboxed = false) =>
      run([...(sandboxed ? sandbox : []), main, loader, file, cacheDir, where]);
    for (const l of loaders) await once(l, 'main'); // fills both caches and the OS file cache
    const warm = new Map<Loader, number[]>(loaders.map((l) => [l, []]));
    const edited = new Map<Loader, number[]>(loaders.map((l) => [l, []]));
    const worker = new Map<Loader, number[]>(loaders.map((l) => [l, []]));
    const bare: number[] = [];
    const problems = new Map<string, string>();
    const take = (into: number[], r: { ms?: number; error?: string }, what: string) => {
      if (r.ms !== undefined) into.push(r.ms);
      else problems.set(what, r.error ?? 'no result');
    };
    for (let i = 0; i < runs; i++) {
      for (const l of loaders) take(warm.get(l)!, await once(l, 'main'), `${l} warm`);
      writeFileSync(file, pipelineSource(`edit ${i} ${Date.now()}`));
      for (const l of loaders) take(edited.get(l)!, await once(l, 'main'), `${l} after edit`);
      take(bare, await once('none', 'worker'), 'bare worker');
      for (const l of loaders) take(worker.get(l)!, await once(l, 'worker'), `${l} worker`);
    }
    if (problems.size > 0) throw new Error([...problems].map(([k, v]) => `${k}: ${v}`).join('; '));
    const bareWorkerMs = median(bare);
    // Warm first for both (each loader has its own cache), then one edit that both see cold.
    const sandboxed = async (l: Loader): Promise<string> => {
      const r = await once(l, 'worker', true);
      return r.ms !== undefined ? 'ok' : r.error ?? 'failed';
    };
    const sandboxedWarm = new Map<Loader, string>();
    for (const l of loaders) sandboxedWarm.set(l, await sandboxed(l));
    writeFileSync(file, pipelineSource(`sandboxed edit ${Date.now()}`));
    const sandboxedAfterEdit = new Map<Loader, string>();
    for (const l of loaders) sandboxedAfterEdit.set(l, await sandboxed(l));
    const figures = (l: Loader): LoaderFigures => ({
      warmMs: median(warm.get(l)!),
      afterEditMs: median(edited.get(l)!),
      workerMs: median(worker.get(l)!) - bareWorkerMs,
      sandboxedWarm: sandboxedWarm.get(l)!,
      sandboxedAfterEdit: sandboxedAfterEdit.get(l)!,
    });
    const jiti = figures('jiti');
    return { jiti, tsx: tsxApi ? figures('tsx') : undefined, bareWorkerMs, loadAverage: os.loadavg()[0]! };
  } finally {
    cleanup();
  }
}
