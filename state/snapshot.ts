// From one `engine.stats()` snapshot to the next dashboard state: pure, and sharing every part that did
// not change, so that a poll re-renders only the panels whose numbers moved.
import type { EngineStats, MachineStats, WorkerStats } from '../engine/types.js';
import { NOTICE_MS, THROUGHPUT_SECONDS, type CategoryCount, type DashboardState, type PriorityTier, type ProviderRow, type RunStatus, type Throughput } from './store.js';

const statusOf: Record<EngineStats['state'], RunStatus> = { idle: 'STARTING', running: 'RUNNING', paused: 'PAUSED', draining: 'DRAINING', done: 'DONE' };

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const count = (v: unknown): number => Math.max(0, finite(v) ?? 0);
/** A count, or a per-code breakdown of counts summed. */
const total = (v: unknown): number =>
  typeof v === 'object' && v !== null ? Object.values(v as Record<string, unknown>).reduce<number>((n, x) => n + count(x), 0) : count(v);

/**
 * `stats().providers` as rows, or `null` when there is nothing to show. The field is added to the engine
 * separately and may be missing, empty or partly filled; anything not a finite number reads as 0 (or as
 * "unknown" for latencies and limits) rather than breaking the screen.
 */
export function normalizeProviders(raw: unknown): ProviderRow[] | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const rows: ProviderRow[] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) continue;
    const p = value as Record<string, unknown>;
    const limit = finite(p.limitRpm);
    rows.push({
      name,
      requests: count(p.requests),
      inputTokens: count(p.inputTokens),
      outputTokens: count(p.outputTokens),
      rateLimited: count(p.rateLimited),
      retries: count(p.retries),
      errors: total(p.errors),
      latencyP50: finite(p.latencyP50),
      latencyP95: finite(p.latencyP95),
      currentRpm: count(p.currentRpm),
      limitRpm: limit !== null && limit > 0 ? limit : null,
      fallbacks: count(p.fallbacks),
    });
  }
  rows.sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
  return rows.length > 0 ? rows : null;
}

/** Pending items per priority tier, highest tier first (the order they are dispatched in). */
export function priorityTiers(byPriority: Record<string, number>): PriorityTier[] {
  return Object.entries(byPriority)
    .map(([p, n]) => ({ priority: Number(p), count: n }))
    .filter((t) => Number.isFinite(t.priority) && t.count > 0)
    .sort((a, b) => b.priority - a.priority);
}

export function categoryCounts(byCategory: Record<string, number>): CategoryCount[] {
  return Object.entries(byCategory)
    .map(([category, n]) => ({ category, count: n }))
    .filter((c) => c.count > 0)
    .sort((a, b) => b.count - a.count || a.category.localeCompare(b.category));
}

/**
 * Folds the finished-item total into per-second buckets. Polled every ~100 ms, so a bucket closes when
 * its second has passed; seconds with no poll at all (a blocked event loop) are filled with zeros so
 * the sparkline's time axis stays true. A drop in the total (retry moves failed items back) restarts
 * the baseline instead of counting negative work.
 */
export function sampleThroughput(t: Throughput, finished: number, now: number): Throughput {
  if (t.lastFinished < 0 || finished < t.lastFinished) return { perSecond: t.perSecond, secondStart: t.lastFinished < 0 ? now : t.secondStart, lastFinished: finished };
  if (now - t.secondStart < 1000) return t;
  const elapsed = Math.floor((now - t.secondStart) / 1000);
  const perSecond = [...t.perSecond, finished - t.lastFinished];
  for (let i = 1; i < Math.min(elapsed, THROUGHPUT_SECONDS); i++) perSecond.push(0);
  if (perSecond.length > THROUGHPUT_SECONDS) perSecond.splice(0, perSecond.length - THROUGHPUT_SECONDS);
  return { perSecond, secondStart: t.secondStart + elapsed * 1000, lastFinished: finished };
}

function shallowEqual(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** `prev` when `next` holds the same flat objects: unchanged panels then skip their render. */
function keepList<T extends object>(prev: T[], next: T[]): T[] {
  return prev.length === next.length && next.every((x, i) => shallowEqual(prev[i]!, x)) ? prev : next;
}

function keepObject<T extends object>(prev: T, next: T): T {
  return shallowEqual(prev, next) ? prev : next;
}

function keepProviders(prev: ProviderRow[] | null, next: ProviderRow[] | null): ProviderRow[] | null {
  return prev === null || next === null ? next : keepList(prev, next);
}

function keepWorkers(prev: WorkerStats, next: WorkerStats): WorkerStats {
  const perStage = keepList(prev.perStage, next.perStage);
  return keepObject(prev, { ...next, perStage });
}

/** Coordinator first, then machines that are up, busiest first; gone machines last. */
export function machineRows(machines: MachineStats[]): MachineStats[] {
  const rank = (m: MachineStats) => (m.role === 'coordinator' ? 0 : m.up ? 1 : 2);
  return [...machines].sort((a, b) => rank(a) - rank(b) || b.rate - a.rate || a.id.localeCompare(b.id));
}

function keepMachines(prev: MachineStats[] | null, next: MachineStats[] | undefined): MachineStats[] | null {
  if (next === undefined) return null;
  const rows = machineRows(next);
  return prev === null ? rows : keepList(prev, rows);
}

/**
 * The next state from one `engine.stats()` snapshot. Parts that did not change keep their identity, so
 * a poll every 100 ms re-renders only the panels whose numbers moved.
 */
export function applyStats(s: DashboardState, stats: EngineStats, now: number): DashboardState {
  const c = keepObject(s.counts, stats.counts);
  const recent = keepList(s.errors.recent, [...stats.errors.recent].reverse());
  const byCategory = keepList(s.errors.byCategory, categoryCounts(stats.errors.byCategory));
  const errorsTotal = byCategory.reduce((a, b) => a + b.count, 0);
  const errors = errorsTotal === s.errors.total && byCategory === s.errors.byCategory && recent === s.errors.recent ? s.errors : { total: errorsTotal, byCategory, recent };
  const notice = s.notice && now - s.notice.at < NOTICE_MS ? s.notice : null;
  const selected = Math.min(s.ui.selected, Math.max(0, recent.length - 1));
  return {
    ...s,
    pipeline: stats.pipeline || s.pipeline,
    // The engine also labels runs whose providers have no API key and fall back to the simulator.
    simulated: s.simulated || (stats as { simulated?: unknown }).simulated === true,
    // A settled run keeps its DONE phase; stats of a finished engine say 'done' anyway.
    status: s.phase === 'finished' ? 'DONE' : statusOf[stats.state],
    elapsedMs: stats.elapsedMs,
    counts: c,
    rate: finite(stats.rate) ?? 0,
    etaMs: stats.etaMs,
    byPriority: keepList(s.byPriority, priorityTiers(stats.byPriority)),
    workers: keepWorkers(s.workers, stats.workers),
    errors,
    providers: keepProviders(s.providers, normalizeProviders((stats as EngineStats & { providers?: unknown }).providers)),
    throughput: sampleThroughput(s.throughput, c.done + c.failed, now),
    machines: keepMachines(s.machines, stats.machines),
    redis: stats.redis === undefined ? null : s.redis === null ? { ...stats.redis } : keepObject(s.redis, { ...stats.redis }),
    notice,
    ui: selected === s.ui.selected ? s.ui : { ...s.ui, selected },
  };
}

