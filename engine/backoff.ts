import type { RetryOptions } from './types.js';

/**
 * Full-jitter exponential backoff: a uniform wait in [0, min(cap, base * 2^(attempt-1))].
 * Full jitter spreads retries of items that failed together (a provider outage) instead of
 * sending them back in lockstep.
 */
export function backoffDelay(failedAttempt: number, retry: Required<RetryOptions>, random: () => number = Math.random): number {
  const ceiling = Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** Math.max(0, failedAttempt - 1));
  return Math.floor(random() * ceiling);
}
