import { PipelineTuiError } from '../engine/errors.js';

/**
 * Exits once the command is done and our output is flushed: a timer left behind by a library (threads.js
 * keeps a worker's start-up timer after the worker is stopped) must not hold a finished CLI open.
 * `watch` and `worker` resolve only when they are stopped, so this never cuts one short.
 */
export async function exitWhenFlushed(): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
  process.exit(process.exitCode ?? 0);
}

/** The one place run-level errors become text: a message and a hint, never a bare stack trace. */
export function printError(e: unknown): number {
  if (e instanceof PipelineTuiError) {
    process.stderr.write(`pipeline-tui: ${e.message}\n${e.hint ? `  ${e.hint}\n` : ''}`);
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(`pipeline-tui: unexpected error: ${err?.message ?? String(e)}\n  Set DEBUG=pipeline-tui for the stack trace, and please report it.\n`);
  if (process.env.DEBUG?.includes('pipeline-tui')) process.stderr.write(`${err?.stack ?? ''}\n`);
  return 2;
}

