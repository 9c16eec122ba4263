import type { LatencyStats } from './types.js';

/**
 * Log-bucketed histogram: fixed memory however many samples, ~2% relative error on percentiles.
 * A 1M-item run must not keep 1M durations around just to print p95.
 */
export class Histogram {
  private static readonly perOctave = 32;
  private readonly buckets = new Float64Array(64 * Histogram.perOctave);
  private n = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;

  get count(): number { return this.n; }

  record(ms: number): void {
    if (!(ms >= 0)) return;
    this.n++;
    this.sum += ms;
    if (ms < this.lo) this.lo = ms;
    if (ms > this.hi) this.hi = ms;
    this.buckets[this.index(ms)]!++;
  }

  private index(ms: number): number {
    // Microsecond resolution at the bottom; everything below 1 µs shares bucket 0.
    const us = ms * 1000;
    if (us < 1) return 0;
    return Math.min(this.buckets.length - 1, 1 + Math.floor(Math.log2(us) * Histogram.perOctave));
  }

  private valueAt(index: number): number {
    if (index === 0) return 0;
    return 2 ** ((index - 0.5) / Histogram.perOctave) / 1000;
  }

  percentile(p: number): number {
    if (this.n === 0) return 0;
    const rank = Math.ceil((p / 100) * this.n);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min(this.hi, Math.max(this.lo, this.valueAt(i)));
    }
    return this.hi;
  }

  stats(): LatencyStats {
    if (this.n === 0) return { min: 0, avg: 0, p50: 0, p95: 0, max: 0 };
    const r = (v: number) => Math.round(v * 1000) / 1000;
    return { min: r(this.lo), avg: r(this.sum / this.n), p50: r(this.percentile(50)), p95: r(this.percentile(95)), max: r(this.hi) };
  }
}
