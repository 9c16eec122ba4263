// The main thread's side of render-thread.tsx: it owns the store and the real terminal. Every store change
// is sent (the store changes at most ~10 times a second, and on keys), frames are written as they come,
// keys are decided here with the same planKeys the in-process dashboard uses.
import { Worker } from 'node:worker_threads';
import { trace } from '../../engine/trace.js';
import type { DashboardStore } from '../../state/store.js';
import type { KeyName } from '../keys.js';
import type { FromRenderThread, RenderThreadData, ToRenderThread } from './render-thread.js';

export interface RenderHostOptions {
  store: DashboardStore;
  onKeys(keys: KeyName[]): void;
  /** Each frame Ink wrote, with its drawing time. */
  onFrame(renderTime: number): void;
  maxFps: number;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** The mounted dashboard; `unmount` resolves once its last frame is on the terminal and the thread is gone. */
export interface MountedDashboard { unmount(): Promise<void> }

/**
 * The thread's entry beside this module: compiled, beside the compiled host; bundled, beside the bundle's
 * chunks (scripts/bundle-dashboard.mjs puts both in dashboard/bundled/).
 */
const entry = () => new URL('./render-thread.js', import.meta.url);

export function mountOnThread(o: RenderHostOptions): MountedDashboard {
  const { stdin, stdout, stderr, store } = o;
  const data: RenderThreadData = { state: store.getState(), columns: stdout.columns || 80, rows: stdout.rows || 24, keys: stdin.isTTY === true, maxFps: o.maxFps };
  // React's production build, as the unbundled dashboard loads it (the bundle has it built in).
  trace('dashboard thread starting');
  const worker = new Worker(entry(), { workerData: data, env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'production' }, stdout: false, stderr: false });
  const post = (m: ToRenderThread) => worker.postMessage(m);
  const unsubscribe = store.subscribe((state) => post({ type: 'state', state }));
  const onResize = () => post({ type: 'resize', columns: stdout.columns || 80, rows: stdout.rows || 24 });
  stdout.on('resize', onResize);
  const onInput = (d: Buffer | string) => post({ type: 'input', data: d.toString() });
  let raw = false;
  const rawMode = (on: boolean) => {
    if (on === raw || stdin.isTTY !== true) return;
    raw = on;
    stdin.setRawMode(on);
    if (on) { stdin.setEncoding('utf8'); stdin.on('data', onInput); stdin.resume(); }
    else { stdin.off('data', onInput); stdin.pause(); }
  };
  let unmounted: (() => void) | undefined;
  let failed: ((e: unknown) => void) | undefined;
  worker.on('message', (m: FromRenderThread) => {
    switch (m.type) {
      case 'write': (m.stream === 'stderr' ? stderr : stdout).write(m.data); return;
      case 'raw-mode': rawMode(m.on); return;
      case 'keys': o.onKeys(m.keys); return;
      case 'frame': o.onFrame(m.renderTime); return;
      case 'unmounted': unmounted?.(); return;
    }
  });
  const done = new Promise<void>((resolve, reject) => { unmounted = resolve; failed = reject; });
  done.catch(() => undefined);
  const cleanup = () => {
    unsubscribe();
    stdout.off('resize', onResize);
    rawMode(false);
  };
  let leaving = false;
  const lost = (e: Error) => {
    failed?.(e);
    if (leaving) return;
    // Keys went through the thread: out of raw mode, Ctrl-C stops the run again.
    cleanup();
    stderr.write(`\npipeline-tui: the dashboard stopped drawing (${e.message}); the run goes on, Ctrl-C stops it\n`);
  };
  worker.on('error', lost);
  worker.on('exit', () => lost(new Error('its thread exited')));
  return {
    async unmount() {
      leaving = true;
      post({ type: 'unmount' });
      try {
        await done;
      } catch { /* the thread is gone; the summary lines still follow */ } finally {
        cleanup();
        await worker.terminate();
      }
    },
  };
}
