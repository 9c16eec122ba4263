// A sandboxed run's dashboard is drawn by its launcher (launcher-screen.ts): the launcher is idle while
// the run goes on, it can start drawing while this process is still starting (two Node starts apart),
// and every frame's work then happens outside the process that runs the pipeline. This side sends
// the store's state when it changes; keys and frames come back over the same IPC channel.
import type { DashboardState, DashboardStore } from '../../state/store.js';
import type { KeyName } from '../keys.js';
import type { MountedDashboard } from './render-host.js';

/** From the sandboxed process to its launcher. */
export type ToLauncherScreen =
  | { __pt: 'screen-state'; state: DashboardState }
  | { __pt: 'screen-unmount' };

/** From the launcher to the sandboxed process. */
export type FromLauncherScreen =
  | { __pt: 'screen-keys'; keys: KeyName[] }
  | { __pt: 'screen-frame'; renderTime: number }
  | { __pt: 'screen-unmounted' };

export interface RemoteScreenOptions {
  store: DashboardStore;
  onKeys(keys: KeyName[]): void;
  onFrame(renderTime: number): void;
}

export function mountInLauncher(o: RemoteScreenOptions): MountedDashboard {
  const send = (m: ToLauncherScreen) => { if (process.connected) process.send?.(m); };
  let unmounted: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { unmounted = resolve; });
  const onMessage = (m: FromLauncherScreen) => {
    switch (m?.__pt) {
      case 'screen-keys': o.onKeys(m.keys); return;
      case 'screen-frame': o.onFrame(m.renderTime); return;
      case 'screen-unmounted': unmounted(); return;
      default:
    }
  };
  process.on('message', onMessage);
  // The channel is unref'd (the launcher's lifeline must not keep a finished run alive), but while the
  // dashboard is up this process may wait on nothing but the launcher (a key, the DONE screen held until q).
  process.channel?.ref();
  send({ __pt: 'screen-state', state: o.store.getState() });
  const unsubscribe = o.store.subscribe((state) => send({ __pt: 'screen-state', state }));
  return {
    async unmount() {
      unsubscribe();
      send({ __pt: 'screen-state', state: o.store.getState() });
      send({ __pt: 'screen-unmount' });
      // The summary lines this process prints next must come after the last frame. A launcher gone
      // away cannot answer; this process then dies with it anyway (attachToLauncher).
      try {
        if (process.connected) await done;
      } finally {
        process.channel?.unref();
        process.off('message', onMessage);
      }
    },
  };
}
