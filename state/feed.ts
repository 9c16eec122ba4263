// Feeds the dashboard store from a running engine without listening to its events: a listener on
// 'event' makes the engine build and emit one object per item, which costs throughput on large runs.
// `stats()` is polled instead (at most ~10 times a second, however fast items finish), and ctx.log lines
// are read from the log file the engine appends to anyway.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { EngineStats } from '../engine/types.js';
import { applyStats } from './snapshot.js';
import { addLogs, setWatch, type DashboardStore, type LogLine, type WatchInfo } from './store.js';

export interface StatsSource { stats(): EngineStats }

export interface FeedOptions {
  /** Poll period of `stats()`, or a function asked before every poll (to pace it by the cost of drawing). @default 100 */
  intervalMs?: number | (() => number);
  /** `<state>/<pipeline>/log.jsonl`, read from its size at start (earlier runs' lines are not shown). */
  logFile?: string;
  /** Read the log from its start (a fresh run: the old log was moved aside). @default false */
  logFromStart?: boolean;
  /** Poll period of the log file. @default 500 */
  logIntervalMs?: number;
  /** Watch mode: read with every poll, for the folders watched and the files seen so far. */
  watch?: () => WatchInfo;
  /** @default Date.now */
  now?: () => number;
}

/** Starts polling; returns a function that takes one last sample and stops. */
export function feedStore(store: DashboardStore, source: StatsSource, options: FeedOptions = {}): () => void {
  const now = options.now ?? Date.now;
  const watch = options.watch;
  const poll = () => store.setState((s) => {
    const next = applyStats(s, source.stats(), now());
    return watch ? setWatch(next, watch()) : next;
  }, true);
  const tail = options.logFile ? new LogTail(options.logFile, options.logFromStart ?? false) : undefined;
  const readLogs = () => { if (tail) store.setState((s) => addLogs(s, tail.read()), true); };
  const period = options.intervalMs ?? 100;
  let statsTimer: NodeJS.Timeout | undefined;
  const next = () => {
    statsTimer = setTimeout(() => { poll(); next(); }, typeof period === 'function' ? period() : period);
  };
  poll();
  next();
  const logTimer = tail ? setInterval(readLogs, options.logIntervalMs ?? 500) : undefined;
  return () => {
    clearTimeout(statsTimer);
    clearInterval(logTimer);
    poll();
    readLogs();
  };
}

/** At most this much of the log is read per poll; a pipeline logging faster than that shows its latest lines. */
const MAX_READ = 64 * 1024;

/** Reads the lines appended to a jsonl log since the last call. A partial last line waits for the next call. */
export class LogTail {
  private offset: number | undefined;
  private rest = '';

  constructor(private readonly file: string, fromStart = false) {
    this.offset = fromStart ? 0 : sizeOf(file);
  }

  read(): LogLine[] {
    const size = sizeOf(this.file);
    if (size === undefined) return [];
    if (this.offset === undefined || size < this.offset) { this.offset = 0; this.rest = ''; }
    if (size === this.offset) return [];
    let from = this.offset;
    if (size - from > MAX_READ) { from = size - MAX_READ; this.rest = ''; }
    const buf = Buffer.alloc(size - from);
    const fd = openSync(this.file, 'r');
    try { readSync(fd, buf, 0, buf.length, from); } finally { closeSync(fd); }
    this.offset = size;
    const text = this.rest + buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    this.rest = text.slice(end + 1);
    return end < 0 ? [] : parseLogLines(text.slice(0, end));
  }
}

function sizeOf(file: string): number | undefined {
  return statSync(file, { throwIfNoEntry: false })?.size;
}

/** Lines of the engine's log.jsonl; anything malformed is skipped, never shown half-parsed. */
export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      if (typeof v.message !== 'string') continue;
      out.push({
        time: typeof v.time === 'string' ? v.time : '',
        id: typeof v.id === 'string' ? v.id : null,
        worker: typeof v.worker === 'number' ? v.worker : null,
        message: v.message,
      });
    } catch { /* a torn or foreign line */ }
  }
  return out;
}
