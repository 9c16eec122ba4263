import { PipelineTuiError } from '../engine/errors.js';

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

