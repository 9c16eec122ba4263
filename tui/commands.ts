import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { EngineOptions } from '../engine/engine.js';
import { messages } from '../engine/errors.js';
import { importPipelineModule, loadPipeline, pipelineExtensions } from '../engine/load.js';
import { validatePipeline } from '../engine/validate.js';
import { CheckpointStore, lockOwner } from '../state/checkpoint.js';
import { statePaths } from '../state/paths.js';
import type { PermissionFlags } from '../engine/permissions.js';
import { printError } from './print-error.js';
import { attachJsonReporter, attachPlainReporter } from './report.js';
import { runSandboxed, sandboxWanted } from './sandbox.js';

export interface RunFlags extends PermissionFlags {
  workers?: number | 'auto';
  state: string;
  out?: string;
  fresh?: boolean;
  limit?: number;
  plain?: boolean;
  json?: boolean;
  tui?: boolean;
  simulate?: boolean;
  /** A distributed run: this process coordinates (and works, unless --workers 0). */
  redis?: string;
  metricsPort?: number;
}

/** The live dashboard when stdout is a terminal and neither --plain nor --json asks otherwise, or with --tui. */
export function wantsDashboard(flags: Pick<RunFlags, 'tui' | 'plain' | 'json'>, stdout: { isTTY?: boolean } = process.stdout): boolean {
  return flags.tui === true || (!flags.plain && !flags.json && stdout.isTTY === true);
}

/**
 * Loads the dashboard with React's production build unless NODE_ENV says otherwise: React picks its build
 * when first loaded, and the development one costs several times more main-thread time per frame (time
 * the engine needs). NODE_ENV is restored once loaded, before any worker thread starts.
 */
export async function importDashboard(): Promise<typeof import('./dashboard/index.js')> {
  const unset = process.env.NODE_ENV === undefined;
  if (unset) process.env.NODE_ENV = 'production';
  try {
    return await import('./dashboard/index.js');
  } finally {
    if (unset) delete process.env.NODE_ENV;
  }
}

export async function runCommand(ref: string, inputs: string[], flags: RunFlags, extra: { retryFailed?: boolean; holdDashboard?: boolean } = {}): Promise<number> {
  if (flags.json && flags.plain) throw messages.usage('Expected one of --json or --plain, got both');
  if (flags.tui && (flags.json || flags.plain)) throw messages.usage(`Expected one of --tui or --${flags.json ? 'json' : 'plain'}, got both`);
  if (flags.workers === 0 && !flags.redis) throw messages.usage('Expected --workers to be a positive integer or "auto", got 0 (0 is for a --redis coordinator that leaves the work to other machines)');
  // Ink and React load only on the dashboard path (never off a TTY), in parallel with the pipeline.
  // Unless -A, the run happens in a sandboxed child (tui/sandbox.ts) and this process only waits for it.
  const sandbox = sandboxWanted(flags);
  const dashboard = wantsDashboard(flags) && !sandbox ? importDashboard() : undefined;
  dashboard?.catch(() => undefined); // awaited below; this only keeps a failed import from being "unhandled" meanwhile
  // The engine (and the SDKs behind it) loads while the pipeline does; the sandbox launcher never needs it.
  const engineModule = sandbox ? undefined : import('../engine/engine.js');
  engineModule?.catch(() => undefined);
  const pipeline = await loadPipeline(ref);
  if (sandbox) return runSandboxed(pipeline, { inputs, stateDir: flags.state, out: flags.out, flags, ref });
  const options: EngineOptions = {
    stateDir: flags.state,
    ...(flags.workers === undefined ? {} : { workers: flags.workers }),
    ...(flags.out === undefined ? {} : { out: flags.out }),
    ...(flags.limit === undefined ? {} : { limit: flags.limit }),
    fresh: flags.fresh ?? false,
    retryFailed: extra.retryFailed ?? false,
    simulate: flags.simulate ?? false,
    ...(flags.redis === undefined ? {} : { redis: flags.redis }),
    ...(flags.metricsPort === undefined ? {} : { metricsPort: flags.metricsPort }),
  };
  const statusHint = `pipeline-tui status ${pipeline.name}${flags.state === '.pipeline-tui' ? '' : ` --state ${flags.state}`}`;
  if (dashboard) {
    const { runDashboard } = await dashboard;
    return runDashboard({ pipeline, engineOptions: options, inputs, statusHint, simulated: flags.simulate ?? false, hold: extra.holdDashboard ?? false });
  }
  const { createEngine } = await (engineModule ?? import('../engine/engine.js'));
  const engine = createEngine(pipeline, options);
  if (flags.json) attachJsonReporter(engine, process.stdout, process.stderr);
  else attachPlainReporter(engine, process.stdout, process.stderr, statusHint);

  // First signal: drain (running items finish or time out), checkpoint, exit 130. Second: stop at once, still checkpointing.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n[${pipeline.name}] ${sig}: stopping; running items may finish (up to their timeout). ${sig === 'SIGINT' ? 'Ctrl-C again' : 'Signal again'} to stop at once.\n`);
      void engine.stop();
    } else {
      void engine.stop({ force: true });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await engine.run(inputs);
    return summary.exitCode;
  } catch (e) {
    return printError(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function pipelineFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => pipelineExtensions.some((e) => f.endsWith(e)) && !f.endsWith('.d.ts') && !f.startsWith('_')).sort().map((f) => path.join(dir, f));
}

export async function listCommand(flags: { json?: boolean }): Promise<number> {
  const rows: { name: string | null; file: string; description: string; error?: string }[] = [];
  for (const file of pipelineFiles(path.resolve('pipelines'))) {
    const rel = path.relative(process.cwd(), file);
    try {
      const def = await importPipelineModule(file);
      const problems = validatePipeline(def);
      const d = def as { name?: unknown; description?: unknown } | null;
      rows.push({ name: typeof d?.name === 'string' ? d.name : null, file: rel, description: typeof d?.description === 'string' ? d.description : '', ...(problems.length ? { error: problems.join('; ') } : {}) });
    } catch (e) {
      // The first line only: a syntax error's code frame follows it (`run` and `check` show it).
      rows.push({ name: null, file: rel, description: '', error: (e as Error).message.split('\n')[0]!.replace(`${rel}: `, '') });
    }
  }
  if (flags.json) { process.stdout.write(`${JSON.stringify(rows)}\n`); return 0; }
  if (rows.length === 0) { process.stdout.write('No pipelines in ./pipelines/\n'); return 0; }
  const w = Math.max(4, ...rows.map((r) => (r.name ?? '?').length));
  const fw = Math.max(4, ...rows.map((r) => r.file.length));
  for (const r of rows) {
    process.stdout.write(`${(r.name ?? '?').padEnd(w)}  ${r.file.padEnd(fw)}  ${r.error ? `BROKEN: ${r.error}` : r.description}\n`);
  }
  return 0;
}

export async function statusCommand(ref: string | undefined, flags: { state: string; json?: boolean; redis?: string }): Promise<number> {
  const root = path.resolve(flags.state);
  const names = ref ? [ref.replace(/\.(m?ts|m?js)$/, '').split(/[\\/]/).pop()!] : existsSync(root) ? readdirSync(root).filter((d) => existsSync(statePaths(root, d).doc)) : [];
  if (ref && !existsSync(statePaths(root, names[0]!).doc)) {
    throw messages.usage(`No checkpoint for "${names[0]}" in ${root}`, 'Run the pipeline first, or pass --state DIR if it ran with another state directory.');
  }
  const reports = [];
  for (const name of names) {
    const store = await CheckpointStore.open(root, name, '', { readOnly: true });
    try {
      const recorded = store.doc.runs.at(-1) ?? null;
      // A run marked running whose process is gone was killed (kill -9, power loss) mid-run.
      const lastRun = recorded?.status === 'running' && lockOwner(store.paths) === undefined ? { ...recorded, status: 'crashed' as const } : recorded;
      const failed = [...store.failed.values()].map((d) => {
        const e = d.errors.at(-1);
        return { id: d.id, source: d.source, attempts: d.attempts, error: e ? { code: e.code, message: e.message, category: e.category, ...(e.file ? { file: e.file } : {}), ...(e.line ? { line: e.line } : {}) } : null };
      });
      const pending = store.stages.size + Math.max(0, (lastRun?.total ?? 0) - store.done.size - store.failed.size);
      // A distributed run: the machines serving it (loaded only then: it needs BullMQ).
      const distributed = flags.redis !== undefined || existsSync(path.join(store.paths.dir, 'distributed.json'))
        ? await (await import('../engine/distributed/status.js')).distributedStatus(store.paths.dir, name, flags.redis) : undefined;
      reports.push({ pipeline: name, state: store.paths.dir, counts: { done: store.done.size, failed: store.failed.size, pending }, failed, lastRun, ...(distributed ? { distributed } : {}) });
    } finally {
      store.close();
    }
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(ref ? reports[0] : reports, null, 2)}\n`);
    return 0;
  }
  if (reports.length === 0) process.stdout.write(`No checkpoints in ${root}\n`);
  for (const r of reports) {
    process.stdout.write(`${r.pipeline}: done ${r.counts.done}, failed ${r.counts.failed}, pending ${r.counts.pending}   (${r.state})\n`);
    if (r.lastRun) process.stdout.write(`  last run: ${r.lastRun.status}, started ${r.lastRun.startedAt}${r.lastRun.endedAt ? `, ended ${r.lastRun.endedAt}` : ''}\n`);
    const d = 'distributed' in r ? r.distributed : undefined;
    if (d) {
      process.stdout.write(`  distributed run ${d.run ?? '(none active)'} on ${d.redis}: ${d.error ?? `${d.machines.length} machine(s)`}\n`);
      for (const m of d.machines) process.stdout.write(`    ${m.host}  pid ${m.pid}  ${m.role}  busy ${m.busy}/${m.workers}  done ${m.done}  failed ${m.failed}\n`);
    }
    for (const f of r.failed.slice(0, 50)) {
      const where = 'line' in f.source ? `${f.source.file}:${f.source.line}` : 'row' in f.source ? `${f.source.file} row ${f.source.row}` : f.source.file;
      process.stdout.write(`  ✗ ${f.id}  (${where}, ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}) ${f.error ? `${f.error.code}: ${f.error.message}` : ''}\n`);
    }
    if (r.failed.length > 50) process.stdout.write(`  … and ${r.failed.length - 50} more (use --json for all)\n`);
  }
  return 0;
}
