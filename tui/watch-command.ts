import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createEngine, type EngineOptions } from '../engine/engine.js';
import { messages } from '../engine/errors.js';
import { recordId } from '../engine/ids.js';
import { readOptionsOf } from '../engine/inputs.js';
import { loadPipeline } from '../engine/load.js';
import { WatchSource, type WatchEvent } from '../engine/watch.js';
import type { AllowFlag } from '../engine/permissions.js';
import { importDashboardSession, wantsDashboard, type RunFlags } from './commands.js';
import { printError } from './print-error.js';
import { attachJsonReporter, attachPlainReporter } from './report.js';
import { runSandboxed, sandboxWanted } from './sandbox.js';

export interface WatchFlags extends RunFlags {
  /** Move each file here once all its records are done or failed. */
  moveDone?: string;
  /** Milliseconds a file must go unwritten before it is read. */
  settle?: number;
}

const withPaths = (flag: AllowFlag | undefined, paths: string[]): AllowFlag => (flag === true ? true : [...(flag ?? []), ...paths]);

/** Plain: a line per notice on stderr. --json: the same as one JSON object (stdout carries engine events only). */
function watchReporter(name: string, json: boolean): (e: WatchEvent) => void {
  return (e) => {
    if (json) { const { type, ...rest } = e; process.stderr.write(`${JSON.stringify({ type: 'watch', event: type, ...rest })}\n`); return; }
    const text = e.type === 'ready' ? `watching ${e.dirs.join(', ')} (${e.files} file${e.files === 1 ? '' : 's'} already there); Ctrl-C stops`
      : e.type === 'read' ? `read ${e.file} (${e.records} record${e.records === 1 ? '' : 's'})`
      : e.type === 'skipped' ? `skipped ${e.file}: ${e.message}`
      : e.type === 'moved' ? `moved ${e.file} to ${e.to}`
      : `watch error: ${e.message}`;
    process.stderr.write(`[${name}] ${text}\n`);
  };
}

/**
 * `pipeline-tui watch PIPELINE [DIR...]`: the files already in DIRs, then every new or changed file,
 * until SIGINT/SIGTERM (or `q` on the dashboard): drain, checkpoint, exit 130.
 */
export async function watchCommand(ref: string, dirs: string[], flags: WatchFlags): Promise<number> {
  if (flags.json && flags.plain) throw messages.usage('Expected one of --json or --plain, got both');
  const sandbox = sandboxWanted(flags);
  const pipeline = await loadPipeline(ref);
  const folders = dirs.length > 0 ? dirs : pipeline.watch;
  if (folders.length === 0) throw messages.usage(`Pipeline "${pipeline.name}" declares no watch folder and none was given`, `Pass folders: pipeline-tui watch ${pipeline.name} inbox/`);
  for (const d of folders) if (!existsSync(d) || !statSync(d).isDirectory()) throw messages.watchFolderMissing(d);
  const moveDone = flags.moveDone === undefined ? undefined : path.resolve(flags.moveDone);
  if (moveDone) mkdirSync(moveDone, { recursive: true });
  if (sandbox) {
    // --move-done writes in two places: it takes files out of the watched folders and puts them in its own.
    const movePaths = moveDone ? [moveDone, ...folders.map((d) => path.resolve(d))] : [];
    const granted = moveDone ? { ...flags, allowRead: withPaths(flags.allowRead, [moveDone]), allowWrite: withPaths(flags.allowWrite, movePaths) } : flags;
    return runSandboxed(pipeline, { inputs: folders, stateDir: flags.state, out: flags.out, flags: granted });
  }
  const out = path.resolve(flags.out ?? pipeline.output);
  const dashboard = wantsDashboard(flags);
  const source = new WatchSource({
    dirs: folders,
    readOptions: readOptionsOf(pipeline.definition),
    ...(flags.settle === undefined ? {} : { settleMs: flags.settle }),
    // Never read our own writing back: the output (its temp files, summary, backups) and the state.
    exclude: [out, path.resolve(flags.state)],
    ...(moveDone ? { moveDone } : {}),
    idOf: (record) => recordId(pipeline.definition, record),
    expand: pipeline.definition.expand,
    // The dashboard owns the terminal: lines written under it would tear its frame.
    ...(dashboard ? {} : { onEvent: watchReporter(pipeline.name, flags.json === true) }),
  });
  const options: EngineOptions = {
    stateDir: flags.state,
    source,
    ...(flags.workers === undefined ? {} : { workers: flags.workers }),
    ...(flags.out === undefined ? {} : { out: flags.out }),
    ...(flags.limit === undefined ? {} : { limit: flags.limit }),
    fresh: flags.fresh ?? false,
    simulate: flags.simulate ?? false,
    ...(flags.redis === undefined ? {} : { redis: flags.redis }),
    ...(flags.metricsPort === undefined ? {} : { metricsPort: flags.metricsPort }),
  };
  const statusHint = `pipeline-tui status ${pipeline.name}${flags.state === '.pipeline-tui' ? '' : ` --state ${flags.state}`}`;
  if (dashboard) {
    const { runDashboard } = await importDashboardSession();
    try {
      return await runDashboard({ pipeline, engineOptions: options, statusHint, simulated: flags.simulate ?? false, watch: () => ({ folders, ...source.progress() }) });
    } finally {
      await source.close();
    }
  }
  const engine = createEngine(pipeline, options);
  if (flags.json) attachJsonReporter(engine, process.stdout, process.stderr);
  else attachPlainReporter(engine, process.stdout, process.stderr, statusHint);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n[${pipeline.name}] ${sig}: stopping; running items may finish (up to their timeout). ${sig === 'SIGINT' ? 'Ctrl-C again' : 'Signal again'} to stop at once.\n`);
      void engine.stop();
    } else {
      void engine.stop({ force: true });
    }
    void source.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await engine.run();
    return summary.exitCode;
  } catch (e) {
    return printError(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await source.close();
  }
}
