// The launcher's side of remote-screen.ts: it draws the sandboxed run's dashboard from the state the run
// sends, and hands keys back. It starts drawing before the
// sandboxed process exists, from what the launcher knows (the pipeline's name), so the first frame does
// not wait for a second Node start.
import type { ChildProcess } from 'node:child_process';
import { createDashboardStore, type InitialOptions } from '../../state/store.js';
import type { KeyName } from '../keys.js';
import { drawHere } from './draw-here.js';
import type { MountedDashboard } from './render-host.js';
import type { FromLauncherScreen, ToLauncherScreen } from './remote-screen.js';

export class LauncherScreen {
  private readonly store;
  private readonly mounted: MountedDashboard;
  private child: ChildProcess | undefined;
  /** The child sent its state: it listens. Keys pressed before that wait for it. */
  private ready = false;
  private readonly heldKeys: KeyName[] = [];
  private lastFrame: number | undefined;
  private closing: Promise<void> | undefined;

  constructor(initial: InitialOptions) {
    this.store = createDashboardStore(initial);
    // Drawn on this thread: the launcher only relays, so a frame here takes nothing from the run, and a
    // thread of its own would cost a thread start before the first frame.
    this.mounted = drawHere(this.store, {
      onKeys: (keys) => { if (this.ready) this.send({ __pt: 'screen-keys', keys }); else this.heldKeys.push(...keys); },
    }, {
      onFrame: (renderTime) => { this.lastFrame = renderTime; if (this.ready) this.send({ __pt: 'screen-frame', renderTime }); },
      maxFps: 10, debug: false, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr,
    });
  }

  /** The sandboxed process that owns the state from now on (a re-plan starts another). */
  attach(child: ChildProcess): void {
    this.child = child;
    this.ready = false;
    child.on('message', (m: ToLauncherScreen) => {
      if (m?.__pt === 'screen-state') {
        this.store.setState(m.state, true);
        if (this.ready) return;
        this.ready = true;
        // Its session waits for a first frame before starting the engine; one is on the screen already.
        if (this.lastFrame !== undefined) this.send({ __pt: 'screen-frame', renderTime: this.lastFrame });
        if (this.heldKeys.length > 0) this.send({ __pt: 'screen-keys', keys: this.heldKeys.splice(0) });
      } else if (m?.__pt === 'screen-unmount') {
        void this.close().then(() => this.send({ __pt: 'screen-unmounted' }));
      }
    });
  }

  /** Draws the last frame and gives the terminal back (idempotent): at the run's end, or when its process is gone. */
  close(): Promise<void> {
    this.closing ??= this.mounted.unmount();
    return this.closing;
  }

  private send(m: FromLauncherScreen): void {
    // A child that just exited can still read as connected; what it no longer hears does not matter.
    if (this.child?.connected) this.child.send(m, (e) => void e);
  }
}
