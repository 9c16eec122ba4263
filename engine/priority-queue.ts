/** What the scheduler needs from a queue; swap in another ordering without touching the engine. */
export interface ItemQueue<T> {
  readonly size: number;
  /** `priority` is an integer in -10..10; higher is dequeued first, FIFO within one priority. */
  enqueue(item: T, priority: number): void;
  dequeue(): T | undefined;
  /** Counts per priority, highest first, for the dashboard. */
  sizes(): Map<number, number>;
  drain(): T[];
}

class Fifo<T> {
  // A head index instead of Array#shift keeps dequeue O(1); the array is compacted when half is dead.
  private items: T[] = [];
  private head = 0;
  get size(): number { return this.items.length - this.head; }
  push(item: T): void { this.items.push(item); }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  drain(): T[] { const out = this.items.slice(this.head); this.items = []; this.head = 0; return out; }
}

export const minPriority = -10;
export const maxPriority = 10;

/** One FIFO per priority level: O(1) enqueue, O(levels) dequeue, and stable order within a level. */
export class BucketPriorityQueue<T> implements ItemQueue<T> {
  private readonly buckets: Fifo<T>[] = Array.from({ length: maxPriority - minPriority + 1 }, () => new Fifo<T>());
  private count = 0;
  private top = -1;

  get size(): number { return this.count; }

  enqueue(item: T, priority: number): void {
    const level = clampPriority(priority) - minPriority;
    this.buckets[level]!.push(item);
    this.count++;
    if (level > this.top) this.top = level;
  }

  dequeue(): T | undefined {
    while (this.top >= 0) {
      const item = this.buckets[this.top]!.shift();
      if (item !== undefined) { this.count--; return item; }
      this.top--;
    }
    return undefined;
  }

  sizes(): Map<number, number> {
    const out = new Map<number, number>();
    for (let level = this.buckets.length - 1; level >= 0; level--) {
      const n = this.buckets[level]!.size;
      if (n > 0) out.set(level + minPriority, n);
    }
    return out;
  }

  drain(): T[] {
    const out: T[] = [];
    for (let level = this.buckets.length - 1; level >= 0; level--) out.push(...this.buckets[level]!.drain());
    this.count = 0;
    this.top = -1;
    return out;
  }
}

/** Out-of-range or fractional priorities are clamped rather than rejected: a scoring function may overshoot. */
export function clampPriority(p: number): number {
  if (!Number.isFinite(p)) return 0;
  return Math.max(minPriority, Math.min(maxPriority, Math.round(p)));
}
