// `run`, `retry` and the default command. Every module a command needs beyond deciding whether to hand
// the run to the sandbox is imported where it is used: the sandbox launcher should load next to nothing.
import type { EngineOptions } from '../engine/engine.js';
import { messages } from '../engine/errors.js';
import type { PermissionFlags } from '../engine/permissions.js';
import { trace } from '../engine/trace.js';
import { importBundled } from './bundled.js';
import { printError } from './print-error.js';
import { activeSandbox } from '../engine/sandbox.js';
import type { PoolFlags, ScannedPipeline } from './plan.js';
import { loadPlannedPipeline, sandboxWanted } from './sandbox-child.js';

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

/** The whole dashboard: components, picker, session. */
export function importDashboard(): Promise<typeof import('./dashboard/index.js')> {
  return importBundled('./dashboard/bundled/index.js', () => import('./dashboard/index.js'));
}

/** A run under the dashboard; on a real terminal its frames are drawn on another thread, so this loads no Ink. */
export function importDashboardSession(): Promise<typeof import('./dashboard/session.js')> {
  return importBundled('./dashboard/bundled/session.js', () => import('./dashboard/session.js'));
}

export interface RunExtra { retryFailed?: boolean; holdDashboard?: boolean }

/** A `run`-like command as parsed by the launcher, handed to its sandboxed child (JSON). */
export interface ParsedRun { ref: string; inputs: string[]; flags: RunFlags; extra: RunExtra }

export async function runCommand(ref: string, inputs: string[], flags: RunFlags, extra: RunExtra = {}): Promise<number> {
  if (flags.json && flags.plain) throw messages.usage('Expected one of --json or --plain, got both');
  if (flags.tui && (flags.json || flags.plain)) throw messages.usage(`Expected one of --tui or --${flags.json ? 'json' : 'plain'}, got both`);
  if (flags.workers === 0 && !flags.redis) throw messages.usage('Expected --workers to be a positive integer or "auto", got 0 (0 is for a --redis coordinator that leaves the work to other machines)');
  const withDashboard = wantsDashboard(flags);
  const pool = { ...(flags.workers === undefined ? {} : { workers: flags.workers }), ...(flags.redis === undefined ? {} : { redis: flags.redis }) };
  // Unless -A, the run happens in a sandboxed child (tui/sandbox.ts) and this process only waits for it.
  // That child starts its worker threads as it starts, except under the dashboard (see below).
  if (sandboxWanted(flags)) {
    const command: ParsedRun = { ref, inputs, flags, extra };
    return (await import('./sandbox.js')).launchSandboxed(ref, { inputs, stateDir: flags.state, out: flags.out, flags, ref, command, ...(withDashboard ? { dashboard: { simulated: flags.simulate ?? false } } : { pool }) });
  }
  // Worker threads start ahead of the pool (engine/worker-prestart.ts): now, or under the dashboard once
  // its first frame is out (workers starting meanwhile would take the CPU the frame needs).
  const scanned = withDashboard || activeSandbox() === undefined ? await scanRef(ref) : undefined;
  const startWorkers = scanned && (await workerStarter(scanned, pool));
  if (!withDashboard) await startWorkers?.();
  // The dashboard's session loads only on the dashboard path (never off a TTY), in parallel with the
  // pipeline; it loads the engine itself, while or once its first frame is drawn.
  const dashboard = withDashboard ? importDashboardSession() : undefined;
  dashboard?.catch(() => undefined); // awaited below; this only keeps a failed import from being "unhandled" meanwhile
  // Otherwise the engine (and the SDKs behind it) loads while the pipeline does.
  const engineModule = dashboard ? undefined : import('../engine/engine.js');
  engineModule?.catch(() => undefined);
  const load = async () => {
    const { loadPipeline } = await import('../engine/load.js');
    const loaded = await loadPlannedPipeline(() => loadPipeline(ref));
    trace('pipeline loaded');
    (await import('../engine/worker-prestart.js')).pipelineLoaded(loaded.file);
    return loaded;
  };
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
  const statusHintFor = (name: string) => `pipeline-tui status ${name}${flags.state === '.pipeline-tui' ? '' : ` --state ${flags.state}`}`;
  if (dashboard) {
    // A pipeline whose name its text says loads after the first frame.
    const pipeline = scanned ? { name: scanned.declaration.name, load } : await load();
    const { runDashboard } = await dashboard;
    return runDashboard({ pipeline, engineOptions: options, inputs, statusHint: statusHintFor(pipeline.name), simulated: flags.simulate ?? false, hold: extra.holdDashboard ?? false, ...(startWorkers ? { onFirstFrame: () => void startWorkers() } : {}) });
  }
  const pipeline = await load();
  const [{ createEngine }, { attachJsonReporter, attachPlainReporter }] = await Promise.all([engineModule ?? import('../engine/engine.js'), import('./report.js')]);
  trace('engine module loaded');
  const engine = createEngine(pipeline, options);
  const statusHint = statusHintFor(pipeline.name);
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
    trace('run finished');
    return summary.exitCode;
  } catch (e) {
    return printError(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The pipeline REF names, read from its text (see tui/plan.ts). */
async function scanRef(ref: string): Promise<ScannedPipeline | undefined> {
  return (await import('./plan.js')).scanPipelineRef(ref, process.cwd());
}

/** Starts the first pool's workers ahead for the scanned pipeline, when its text says how many. */
async function workerStarter(scanned: ScannedPipeline, pool: PoolFlags): Promise<(() => Promise<void>) | undefined> {
  const workers = (await import('./plan.js')).prestartCount(pool, scanned.poolSize);
  if (workers === undefined) return undefined;
  return async () => (await import('../engine/worker-prestart.js')).prestartWorkers(scanned.declaration.file, workers);
}
