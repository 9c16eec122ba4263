// The sandboxed child's side of the launcher (tui/sandbox.ts), and what both sides share: the signal relay,
// the check of a plan made from the pipeline's text, and whether a process should hand its run over at all.
// Kept apart so the sandboxed process does not load the launcher's planning code.
import { declarationOfPipeline, sameDeclaration } from '../engine/declaration.js';
import type { PermissionFlags } from '../engine/permissions.js';
import { activeSandbox } from '../engine/sandbox.js';
import type { LoadedPipeline } from '../engine/types.js';

/** Whether this process should hand the run to a sandboxed child: not with -A, and never from inside one. */
export function sandboxWanted(flags: PermissionFlags): boolean {
  return flags.allowAll !== true && activeSandbox() === undefined;
}

export type RelayedSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
export const relayed: RelayedSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
export interface SignalEcho { __pt: 'signal'; signal: RelayedSignal }
/** From a child whose pipeline does not declare what its plan was made from: plan again from the evaluated pipeline. */
export interface ReplanRequest { __pt: 'replan' }
/** The exit code that goes with a ReplanRequest (EX_CONFIG); either alone is an ordinary exit. */
export const replanExitCode = 78;

/**
 * In the sandboxed child of a run planned from the pipeline's text: loads the pipeline, and unless it
 * declares exactly what the plan was made from (or does not load), asks the launcher to plan again and
 * exits before anything ran. The launcher then loads it itself, and reports a load error as before.
 */
export async function loadPlannedPipeline(load: () => Promise<LoadedPipeline>): Promise<LoadedPipeline> {
  const planned = activeSandbox()?.declared;
  if (planned === undefined) return load();
  let pipeline: LoadedPipeline;
  try {
    pipeline = await load();
  } catch {
    return askReplan();
  }
  return sameDeclaration(declarationOfPipeline(pipeline), planned) ? pipeline : askReplan();
}

function askReplan(): Promise<never> {
  return new Promise<never>(() => {
    const exit = () => process.exit(replanExitCode);
    if (typeof process.send === 'function' && process.connected) process.send({ __pt: 'replan' } satisfies ReplanRequest, undefined, undefined, exit);
    else exit();
  });
}

/**
 * The sandboxed child's half of the relay: echo the signals it gets, and die at once when the launcher
 * does (a `kill -9` of the launcher must not leave a run going without anyone to report to).
 */
export function attachToLauncher(): void {
  if (!activeSandbox() || typeof process.send !== 'function') return;
  process.channel?.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  // A launcher killed while we were starting disconnected before that handler existed: follow it now,
  // or we would run the whole job as an orphan holding the state lock.
  if (!process.connected) process.kill(process.pid, 'SIGKILL');
  for (const signal of relayed) {
    const echo = () => {
      process.send?.({ __pt: 'signal', signal } satisfies SignalEcho);
      // Until the command installs its own handler (while loading, say), keep Node's default: die by it.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, echo);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, echo);
  }
}
