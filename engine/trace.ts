// PIPELINE_TUI_TRACE=1: a timestamped line on stderr at each start-up step, in the launcher, the
// sandboxed child and every worker thread, for finding where start-up time goes. The times are
// wall-clock epoch milliseconds, so lines from different processes and threads line up; read them
// against the launcher's first line. Off, this costs one environment read per thread.
import { readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

export const traceEnvVar = 'PIPELINE_TUI_TRACE';

const on = process.env[traceEnvVar] === '1';

// Loaded only when tracing: the sandbox launcher starts no thread, and node:worker_threads is a few ms of its start.
const threadId = on ? (createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads')).threadId : 0;

/** Whether start-up tracing is on in this thread. */
export function tracing(): boolean {
  return on;
}

/**
 * Writes `[pt-trace] <epoch ms> <pid>[:<thread>] <step>` to stderr when tracing is on. Straight to fd 2:
 * a worker's process.stderr is piped through the main thread (and shown as the worker's log lines).
 */
export function trace(step: string, at = performance.timeOrigin + performance.now()): void {
  if (!on) return;
  writeSync(2, `[pt-trace] ${at.toFixed(1)} ${process.pid}${threadId === 0 ? '' : `:${threadId}`} ${step}${threadCpu()}\n`);
}

/** ` cpu=<ms>`: this thread's CPU time so far, unlike wall time unmoved by other load (Linux; not in a sandbox). */
function threadCpu(): string {
  try {
    return ` cpu=${(Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6).toFixed(1)}`;
  } catch {
    return '';
  }
}

/** The moment this process (or thread) began, before Node's own start-up: the first line of its trace. */
export function traceOrigin(): void {
  trace(threadId === 0 ? 'process start' : 'thread start', performance.timeOrigin);
}
