// The dashboard drawn on a thread of its own. React, layout and Ink's output cost tens of ms a frame
// (more while their code is still cold), and on the main thread each frame is time in which no item is
// dispatched or checkpointed: the whole pool waits. Here the main thread only sends the store's state
// when it changes and writes the frames it gets back to the terminal; keys come back as key names, and
// the main thread decides what they do (tui/dashboard/render-host.ts), so the store has one owner.
import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { render } from 'ink';
import { trace } from '../../engine/trace.js';
import { createDashboardStore, type DashboardState } from '../../state/store.js';
import type { KeyName } from '../keys.js';
import { Dashboard } from './dashboard.js';

/** What the main thread sends. */
export type ToRenderThread =
  | { type: 'state'; state: DashboardState }
  | { type: 'input'; data: string }
  | { type: 'resize'; columns: number; rows: number }
  | { type: 'unmount' };

/** What this thread sends back. */
export type FromRenderThread =
  | { type: 'write'; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'raw-mode'; on: boolean }
  | { type: 'keys'; keys: KeyName[] }
  | { type: 'frame'; renderTime: number }
  | { type: 'unmounted' };

export interface RenderThreadData {
  state: DashboardState;
  columns: number;
  rows: number;
  /** The real stdin is a terminal that can be put in raw mode (keys are read). */
  keys: boolean;
  maxFps: number;
}

trace('dashboard thread: modules loaded');
const port = parentPort;
if (!port) throw new Error('render-thread.js runs as a worker thread (see render-host.ts)');
const send = (m: FromRenderThread) => port.postMessage(m);
const data = workerData as RenderThreadData;

// Stand-ins for the terminal's streams, with what Ink uses of them.
const output = (stream: 'stdout' | 'stderr') => Object.assign(new EventEmitter(), {
  columns: data.columns, rows: data.rows, isTTY: true,
  write: (s: string) => { send({ type: 'write', stream, data: s }); return true; },
});
const stdout = output('stdout');
const stderr = output('stderr');
const pending: string[] = [];
const stdin = Object.assign(new EventEmitter(), {
  isTTY: data.keys,
  setRawMode: (on: boolean) => { send({ type: 'raw-mode', on }); },
  setEncoding: () => undefined, ref: () => undefined, unref: () => undefined, resume: () => undefined, pause: () => undefined,
  read: () => pending.shift() ?? null,
});

const store = createDashboardStore({ pipeline: data.state.pipeline });
store.setState(data.state, true);
const ink = render(<Dashboard store={store} onKeys={(keys) => send({ type: 'keys', keys })} />, {
  stdout: stdout as never, stderr: stderr as never, stdin: stdin as never,
  exitOnCtrlC: false, patchConsole: false, maxFps: data.maxFps,
  onRender: (m) => send({ type: 'frame', renderTime: m.renderTime }),
});

port.on('message', (m: ToRenderThread) => {
  switch (m.type) {
    case 'state': store.setState(m.state, true); return;
    case 'input': pending.push(m.data); stdin.emit('readable'); return;
    case 'resize':
      for (const s of [stdout, stderr]) { s.columns = m.columns; s.rows = m.rows; }
      stdout.emit('resize');
      return;
    case 'unmount':
      // The last state reaches React on a later tick; unmounting before that would leave a stale last frame.
      setImmediate(() => {
        ink.unmount();
        void ink.waitUntilExit().finally(() => send({ type: 'unmounted' }));
      });
      return;
  }
});
