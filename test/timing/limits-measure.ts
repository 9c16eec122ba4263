// How the timing tests check a provider limit: strictly where our process writes requests, and at the
// (loopback) server with room for the server's stamping noise.
import diagnostics from 'node:diagnostics_channel';

/**
 * How late the server may stamp an arrival after our socket write, on this 2-core VM: `npm run bench`
 * prints it (p99 1-3 ms, max 4-9 ms measured; a bare http client and server thread, max 3-17 ms, 31 with
 * fetch). A server check as strict as the limit fails on that noise alone. Shortened by it, a window still
 * catches any limiter that breaks the limit: a limit per worker, a fixed window's 2x at its edge, or even
 * one start too many a second (11 at 10/s span 909 ms).
 */
export const SERVER_STAMP_NOISE_MS = 30;

// The bench's count, so a test and the bench's row can never disagree on what "in any second" means.
export { maxInWindow } from '../../dist/bench/util.js';

/**
 * Records when each HTTP request this process sends has been written (Node's fetch reports it, as the
 * limiter's own stamp does), in the clock the simulator stamps arrivals with. The simulator's uncounted
 * warm-up requests are left out.
 */
export function recordRequestWrites(): { times: number[]; stop(): void } {
  const times: number[] = [];
  const onSent = (message: unknown) => {
    const headers = String((message as { request?: { headers?: unknown } }).request?.headers ?? '');
    if (!headers.includes('x-simulator-warmup')) times.push(performance.timeOrigin + performance.now());
  };
  diagnostics.subscribe('undici:request:bodySent', onSent);
  return { times, stop: () => diagnostics.unsubscribe('undici:request:bodySent', onSent) };
}
