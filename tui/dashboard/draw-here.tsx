// The dashboard drawn on the calling thread: for given streams (tests, a fake terminal), and in a sandbox
// launcher, whose main thread has nothing else to do. Kept apart so the main thread of a run on a real
// terminal, whose dashboard draws on its own thread, never loads Ink.
import { render } from 'ink';
import type { DashboardStore } from '../../state/store.js';
import type { KeyEffect, KeyName } from '../keys.js';
import { Dashboard } from './dashboard.js';
import type { MountedDashboard } from './render-host.js';

export interface DrawHereOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  maxFps: number;
  debug: boolean;
  onFrame(renderTime: number): void;
}

/** Keys go to `onEffect` as planned by the store's keys, or to `onKeys` undecided (the store is a copy). */
export function drawHere(store: DashboardStore, keys: { onEffect: (effect: KeyEffect) => void } | { onKeys: (keys: KeyName[]) => void }, o: DrawHereOptions): MountedDashboard {
  const ink = render(<Dashboard store={store} {...keys} />, {
    stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, exitOnCtrlC: false, maxFps: o.maxFps, debug: o.debug,
    onRender: (m) => o.onFrame(m.renderTime),
  });
  return {
    async unmount() {
      // Store updates reach React on a later tick; unmounting before that would leave a stale last frame.
      await new Promise<void>((resolve) => setImmediate(resolve));
      ink.unmount();
      await ink.waitUntilExit();
    },
  };
}
