/**
 * Adaptive batch size. A message round trip to a worker costs tens of microseconds; for items that
 * take a microsecond that would be the whole cost, for items that take a second it is nothing.
 * So we size batches to about `targetMs` of work and keep two in flight per worker while items are
 * fast (the next batch is already waiting when one finishes), one at a time once they are slow
 * (so a slow item never holds others hostage in a worker's private queue).
 */
export class BatchSizer {
  private perItemMs = -1;
  constructor(private readonly targetMs = 4, private readonly maxBatch = 512) {}

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

  get maxOutstanding(): number {
    return this.perItemMs >= 0 && this.perItemMs < this.targetMs ? 2 : 1;
  }
}
