/**
 * Adaptive batch size. A message round trip to a worker costs tens of microseconds; for items that
 * take a microsecond that would be the whole cost, for items that take a second it is nothing.
 * So we size batches to about `targetMs` of work, and a worker holds its next batch while it runs one,
 * so it never waits a round trip to the main thread between batches (on two busy cores that wait is
 * the main thread's whole turn, not only the trip).
 *
 * A waiting batch of slow items could hold others hostage (one worker with work queued while another
 * idles, or a pause that still starts it), so for items slower than `targetMs` it waits only where the
 * pool can take it back (the mailbox, see mailbox.ts). Past `prefetchBelowMs` the round trip is under
 * a percent of an item and the second batch is not worth a slot: one at a time.
 */
export class BatchSizer {
  private perItemMs = -1;
  constructor(private readonly targetMs = 4, private readonly maxBatch = 512, private readonly prefetchBelowMs = 50) {}

  observe(count: number, totalMs: number): void {
    if (count === 0) return;
    const sample = totalMs / count;
    // EWMA so one slow item does not collapse the batch size, but a change in workload shows quickly.
    this.perItemMs = this.perItemMs < 0 ? sample : this.perItemMs * 0.7 + sample * 0.3;
  }

  get size(): number {
    // Unknown cost: one item, so a slow first item is reported (and made durable) on its own.
    if (this.perItemMs < 0) return 1;
    if (this.perItemMs >= this.targetMs) return 1;
    return Math.max(1, Math.min(this.maxBatch, Math.floor(this.targetMs / Math.max(this.perItemMs, 0.0005))));
  }

  /** Batches a worker may hold: the running one, and while items are not slow, the next. */
  get maxOutstanding(): number {
    return this.perItemMs >= 0 && this.perItemMs < this.prefetchBelowMs ? 2 : 1;
  }

  /** Whether a worker's next batch may wait only where the pool can take it back. */
  get reclaimableOnly(): boolean {
    return this.perItemMs >= this.targetMs;
  }
}
