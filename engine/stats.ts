import { Histogram } from './histogram.js';
import type { AttemptError, RecentError, RunCounts } from './types.js';

/** Counters the dashboard, progress lines and the summary read. Updated per group, not per render. */
export class RunStats {
  readonly processing = new Histogram();
  readonly byCategory: Record<string, number> = {};
  readonly byCode: Record<string, number> = {};
  readonly recent: RecentError[] = [];
  counts: RunCounts = { total: 0, totalKnown: false, done: 0, failed: 0, skipped: 0, pending: 0, running: 0, retrying: 0 };
  doneThisRun = 0;
  failedThisRun = 0;
  attempts = 0;
  retries = 0;
  private samples: { t: number; n: number }[] = [];

  recordError(id: string, e: AttemptError): void {
    this.byCategory[e.category] = (this.byCategory[e.category] ?? 0) + 1;
    this.byCode[e.code] = (this.byCode[e.code] ?? 0) + 1;
    this.recent.push({ ...e, id });
    if (this.recent.length > 20) this.recent.shift();
  }

  /** Called about once a second; the rate is items finished over the last ~10 s. */
  sample(now: number): void {
    this.samples.push({ t: now, n: this.doneThisRun + this.failedThisRun });
    while (this.samples.length > 2 && now - this.samples[0]!.t > 10_000) this.samples.shift();
  }

  rate(now: number): number {
    const first = this.samples[0];
    const n = this.doneThisRun + this.failedThisRun;
    if (!first || now - first.t < 200) return 0;
    return ((n - first.n) * 1000) / (now - first.t);
  }

  eta(now: number): number | null {
    const r = this.rate(now);
    const left = this.counts.total - this.counts.done - this.counts.failed - this.counts.skipped;
    if (r <= 0 || !(left >= 0)) return null;
    return Math.round((left / r) * 1000);
  }
}
