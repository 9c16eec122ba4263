// One dashboard run: the resume prompt, the engine, the store feed, keys and signals, and the way out
// (final frame, then the plain summary lines below it). Loaded only on the TTY path.
import path from 'node:path';
import type { Engine, EngineOptions } from '../../engine/engine.js';
import { trace } from '../../engine/trace.js';
import type { LoadedPipeline, RunSummary } from '../../engine/types.js';
import { readCheckpointSummary } from '../../state/checkpoint-summary.js';
import { feedStore } from '../../state/feed.js';
import { statePaths } from '../../state/paths.js';
import { askResume, createDashboardStore, failRun, finishRun, startRun, withNotice, type WatchInfo } from '../../state/store.js';
import { activeSandbox } from '../../engine/sandbox.js';
import type { KeyEffect, KeyName, ResumeChoice } from '../keys.js';
import { printError } from '../print-error.js';
import { summaryLines } from '../report.js';
import { applyKeys } from './keys-apply.js';
import { RefreshPace } from './pace.js';
import { mountInLauncher } from './remote-screen.js';
import { mountOnThread } from './render-host.js';

/** A pipeline known by name (from its text) but not loaded yet: the first frame does not wait for it. */
export interface PendingPipeline {
  readonly name: string;
  load(): Promise<LoadedPipeline>;
}

export interface DashboardRunOptions {
  /** The pipeline, or its name and how to load it once the first frame is out (a load error then shows like a run error). */
  pipeline: LoadedPipeline | PendingPipeline;
  /** As for `createEngine`; `fresh` may still be chosen at the resume prompt. */
  engineOptions: EngineOptions;
  inputs?: string[];
  /** The `pipeline-tui status ...` command the summary points at. */
  statusHint: string;
  /** Offer continue / start fresh when the last run did not finish. @default true (never with `fresh` or `retryFailed`) */
  askResume?: boolean;
  /** Keep the DONE screen until q, instead of exiting with the run. @default false */
  hold?: boolean;
  /** Label the run SIMULATED from the start (`--simulate`); the engine's stats may also say so later. @default false */
  simulated?: boolean;
  /** Watch mode: the folders watched and the files seen, in their own panel; a function is read at every refresh. */
  watch?: WatchInfo | (() => WatchInfo);
  /** @default process.stdin */
  stdin?: NodeJS.ReadStream;
  /** @default process.stdout */
  stdout?: NodeJS.WriteStream;
  /** @default process.stderr */
  stderr?: NodeJS.WriteStream;
  /** Write every frame in full, one after another, instead of redrawing in place (tests, and CI where Ink draws nothing live). @default false */
  debug?: boolean;
  /** Draw on a thread of its own. @default true when drawing to the process's own stdin/stdout without `debug` */
  thread?: boolean;
  /** Called once the first frame is out: the caller starts what would have delayed it (worker threads). */
  onFirstFrame?: () => void;
}

/** More than this per stage is a typo held down, not a plan. */
export const MAX_WORKERS_BY_KEY = 256;

/** Runs the pipeline under the live dashboard; resolves with the exit code. */
export async function runDashboard(o: DashboardRunOptions): Promise<number> {
  const stdin = o.stdin ?? process.stdin;
  const stdout = o.stdout ?? process.stdout;
  const keysWork = stdin.isTTY === true;
  const name = o.pipeline.name;
  const pending = o.pipeline;
  const loadPipeline = 'load' in pending ? () => pending.load() : () => Promise.resolve(pending);
  const store = createDashboardStore({ pipeline: name, simulated: o.simulated ?? false, hold: o.hold ?? false, ...(o.watch ? { watch: typeof o.watch === 'function' ? o.watch() : o.watch } : {}), now: Date.now() });
  const stateRoot = path.resolve(o.engineOptions.cwd ?? process.cwd(), o.engineOptions.stateDir ?? '.pipeline-tui');
  let engine: Engine | undefined;
  let stopRequested: 'graceful' | 'force' | undefined;
  let chosen: ((c: ResumeChoice) => void) | undefined;
  let exitRequested: (() => void) | undefined;
  const notice = (text: string) => store.setState((s) => withNotice(s, text, Date.now()), true);

  const changeWorkers = (e: Engine, delta: number) => {
    const w = e.stats().workers;
    const current = Math.round(w.target / Math.max(1, w.perStage.length));
    const next = Math.min(MAX_WORKERS_BY_KEY, Math.max(1, current + delta));
    if (next === current) { notice(delta < 0 ? 'Workers: 1 is the fewest.' : `Workers: ${MAX_WORKERS_BY_KEY} is the most.`); return; }
    e.resize(next);
    notice(`Workers ${current} → ${next}${next < current ? ' (busy workers finish their items first)' : ''}`);
  };

  const onEffect = (effect: KeyEffect) => {
    switch (effect.type) {
      case 'resume': chosen?.(effect.choice); return;
      case 'exit': exitRequested?.(); return;
      case 'stop': stopRequested ??= 'graceful'; void engine?.stop(); return;
      case 'force-stop': stopRequested = 'force'; void engine?.stop({ force: true }); return;
      default: break;
    }
    if (!engine) return;
    if (effect.type === 'toggle-pause') {
      const state = engine.stats().state;
      if (state === 'running') { engine.pause(); notice('Paused: no new items start; running ones finish. p to resume.'); }
      else if (state === 'paused') { engine.resume(); notice('Resumed.'); }
    } else if (effect.type === 'workers') {
      changeWorkers(engine, effect.delta);
    } else if (effect.type === 'retry') {
      const n = engine.retryFailed();
      notice(n > 0 ? `Retrying ${n} failed item${n === 1 ? '' : 's'} with fresh attempts.` : 'Nothing to retry: no item has failed in this run.');
    }
  };

  // A signal from outside (kill, or Ctrl-C where the terminal is not in raw mode) acts like Ctrl-C pressed.
  const onSignal = () => applyKeys(store, ['ctrl-c'], onEffect);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const pace = new RefreshPace();
  // The main thread's event-loop utilization since the last refresh: high while the engine dispatches flat out.
  let lastElu = performance.eventLoopUtilization();
  const mainThreadBusy = () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, lastElu).utilization;
    lastElu = now;
    return since;
  };
  const frames = { count: 0, ms: 0 };
  let firstFrameOut!: () => void;
  // The engine starts once the first frame is out: its worker threads starting meanwhile would take the
  // CPU the frame needs (on a thread of its own, it is drawn while the pipeline and engine load here).
  // A dashboard that cannot draw must not hold the run: after a while it starts anyway.
  const firstFrame = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    firstFrameOut = () => { clearTimeout(timer); resolve(); };
  });
  const onFrame = (renderTime: number) => {
    if (frames.count++ === 0) {
      trace('dashboard first frame');
      firstFrameOut();
      o.onFirstFrame?.();
    }
    frames.ms += renderTime;
    pace.record(renderTime);
  };
  const stderr = o.stderr ?? process.stderr;
  const onKeys = (keys: KeyName[]) => applyKeys(store, keys, onEffect);
  const ownTerminal = o.stdin === undefined && o.stdout === undefined;
  // Where it is drawn, never on the thread that dispatches items if it can be helped: by a sandboxed run's
  // launcher (remote-screen.ts); else on the process's own terminal by a thread of its own
  // (render-thread.tsx); on given streams (tests), here.
  const screen = activeSandbox()?.screen && ownTerminal
    ? mountInLauncher({ store, onKeys, onFrame })
    : o.thread ?? (ownTerminal && !o.debug)
      ? mountOnThread({ store, onKeys, onFrame, maxFps: 10, stdin, stdout, stderr })
      : (await import('./draw-here.js')).drawHere(store, { onEffect }, { stdin, stdout, stderr, maxFps: 10, debug: o.debug ?? false, onFrame });
  // Loaded once the first frame is out (drawn here), or while the dashboard's thread draws it: the frame
  // needs neither, and loading them is main-thread work.
  const engineModule = import('../../engine/engine.js');
  engineModule.catch(() => undefined); // awaited below
  const pipelineLoaded = new Promise<void>((resolve) => setImmediate(resolve)).then(loadPipeline);
  pipelineLoaded.catch(() => undefined); // awaited below
  const leave = () => screen.unmount();

  try {
    let fresh = o.engineOptions.fresh ?? false;
    if (o.askResume !== false && !fresh && !o.engineOptions.retryFailed && keysWork) {
      const info = await readCheckpointSummary(stateRoot, name).catch(() => null); // unreadable state: the engine reports it
      if (info?.unfinished && stopRequested === undefined) {
        store.setState((s) => askResume(s, { done: info.done, failed: info.failed, left: info.left, status: info.lastRun?.status ?? 'stopped', at: info.at }), true);
        const choice = await new Promise<ResumeChoice>((resolve) => { chosen = resolve; });
        chosen = undefined;
        if (choice === 'quit') { await leave(); return 130; }
        fresh = choice === 'fresh';
      }
    }
    store.setState(startRun, true);
    let e: Engine;
    try {
      const [pipeline, { createEngine }] = await Promise.all([pipelineLoaded, engineModule, firstFrame]);
      e = createEngine(pipeline, { ...o.engineOptions, fresh });
    } catch (err) {
      store.setState((s) => failRun(s, err instanceof Error ? err.message : String(err)), true);
      await leave();
      return printError(err);
    }
    engine = e;
    const stopFeed = feedStore(store, e, {
      intervalMs: () => pace.intervalMs(mainThreadBusy()),
      logFile: statePaths(stateRoot, name).log,
      logFromStart: fresh,
      ...(typeof o.watch === 'function' ? { watch: o.watch } : {}),
    });
    let summary: RunSummary;
    try {
      const running = e.run(o.inputs ?? []);
      // A q or Ctrl-C before the engine existed still counts.
      if (stopRequested) void e.stop(stopRequested === 'force' ? { force: true } : {});
      summary = await running;
      trace(`run finished; ${frames.count} frames drawn, Ink's part ${(frames.ms / Math.max(1, frames.count)).toFixed(1)} ms each`);
    } catch (err) {
      stopFeed();
      store.setState((s) => failRun(s, err instanceof Error ? err.message : String(err)), true);
      await leave();
      return printError(err);
    }
    stopFeed();
    store.setState((s) => finishRun(s, summary), true);
    if (o.hold && keysWork && stopRequested === undefined) await new Promise<void>((resolve) => { exitRequested = resolve; });
    await leave();
    for (const line of summaryLines(summary, o.statusHint)) stdout.write(`${line}\n`);
    return summary.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
