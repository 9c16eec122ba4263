// The dashboard's state: one zustand vanilla store, fed from `engine.stats()` on a timer (never per item),
// and the pure functions that compute each next state. Nothing here imports React or Ink, so the reducers
// are tested as plain functions and the store can be fed without a screen.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { AttemptError, EngineStats, RunCounts, RunSummary, WorkerStats } from '../engine/types.js';

export type RunStatus = 'STARTING' | 'RUNNING' | 'PAUSED' | 'DRAINING' | 'DONE';
/** `resume-prompt`: waiting for continue/fresh before the engine exists; `finished`: run() has settled. */
export type Phase = 'starting' | 'resume-prompt' | 'running' | 'finished';

/** Panels that Tab moves between, in screen order. */
export const panelOrder = ['queue', 'workers', 'providers', 'errors', 'throughput', 'logs'] as const;
export type PanelId = (typeof panelOrder)[number];

/** One provider's usage, read defensively from `stats().providers` (absent until providers report). */
export interface ProviderRow {
  name: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  rateLimited: number;
  retries: number;
  errors: number;
  latencyP50: number | null;
  latencyP95: number | null;
  currentRpm: number;
  limitRpm: number | null;
  fallbacks: number;
}

export interface LogLine { time: string; id: string | null; worker: number | null; message: string }
export interface PriorityTier { priority: number; count: number }
export interface CategoryCount { category: string; count: number }

/** What the resume prompt shows about an unfinished checkpoint. */
export interface ResumeInfo { done: number; failed: number; left: number | null; status: string; at: string | null }

/** Watch mode: the folders watched and the files seen so far. */
export interface WatchInfo { folders: string[]; filesSeen: number; recentFiles?: string[] }

/** Items finished per whole second, oldest first; the open second is still counting. */
export interface Throughput { perSecond: number[]; secondStart: number; lastFinished: number }

export interface UiState {
  focus: PanelId;
  help: boolean;
  /** The full view of the selected error is open. */
  detail: boolean;
  /** Index into `errors.recent` (newest first). */
  selected: number;
  /** Ctrl-C presses so far: the first stops gracefully, the next stops at once. */
  interrupts: number;
  /** A stop was requested (q or Ctrl-C); the run is draining. */
  stopping: boolean;
}

export interface DashboardState {
  pipeline: string;
  simulated: boolean;
  phase: Phase;
  status: RunStatus;
  /** The DONE screen stays until q (the interactive `pipeline-tui PIPELINE`), instead of exiting with the run. */
  hold: boolean;
  elapsedMs: number;
  counts: RunCounts;
  rate: number;
  etaMs: number | null;
  byPriority: PriorityTier[];
  workers: WorkerStats;
  errors: { total: number; byCategory: CategoryCount[]; recent: AttemptError[] };
  /** `null` until the engine reports at least one provider. */
  providers: ProviderRow[] | null;
  throughput: Throughput;
  logs: LogLine[];
  watch: WatchInfo | null;
  resume: ResumeInfo | null;
  summary: RunSummary | null;
  /** The message of an error that ended the run early (state, input or pipeline problems). */
  failure: string | null;
  notice: { text: string; at: number } | null;
  ui: UiState;
}

export type DashboardStore = StoreApi<DashboardState>;

/** Seconds of throughput history kept (the sparkline shows the last few minutes of it). */
export const THROUGHPUT_SECONDS = 600;
export const MAX_LOG_LINES = 100;
export const NOTICE_MS = 4000;

const emptyCounts: RunCounts = { total: 0, totalKnown: false, done: 0, failed: 0, skipped: 0, pending: 0, running: 0, retrying: 0 };
const emptyWorkers: WorkerStats = { size: 0, target: 0, busy: 0, crashes: 0, timeouts: 0, replacements: 0, perStage: [] };

export interface InitialOptions {
  pipeline: string;
  simulated?: boolean;
  hold?: boolean;
  watch?: WatchInfo;
  now?: number;
}

export function initialState(o: InitialOptions): DashboardState {
  return {
    pipeline: o.pipeline,
    simulated: o.simulated ?? false,
    phase: 'starting',
    status: 'STARTING',
    hold: o.hold ?? false,
    elapsedMs: 0,
    counts: emptyCounts,
    rate: 0,
    etaMs: null,
    byPriority: [],
    workers: emptyWorkers,
    errors: { total: 0, byCategory: [], recent: [] },
    providers: null,
    throughput: { perSecond: [], secondStart: o.now ?? 0, lastFinished: -1 },
    logs: [],
    watch: o.watch ?? null,
    resume: null,
    summary: null,
    failure: null,
    notice: null,
    ui: { focus: 'queue', help: false, detail: false, selected: 0, interrupts: 0, stopping: false },
  };
}

export function createDashboardStore(o: InitialOptions): DashboardStore {
  return createStore<DashboardState>()(() => initialState(o));
}

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

/** The next state from one `engine.stats()` snapshot. */
export function applyStats(s: DashboardState, stats: EngineStats, now: number): DashboardState {
  const c = stats.counts;
  const recent = [...stats.errors.recent].reverse();
  const errorsTotal = Object.values(stats.errors.byCategory).reduce((a, b) => a + b, 0);
  const notice = s.notice && now - s.notice.at < NOTICE_MS ? s.notice : null;
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
    byPriority: priorityTiers(stats.byPriority),
    workers: stats.workers,
    errors: { total: errorsTotal, byCategory: categoryCounts(stats.errors.byCategory), recent },
    providers: normalizeProviders((stats as EngineStats & { providers?: unknown }).providers),
    throughput: sampleThroughput(s.throughput, c.done + c.failed, now),
    notice,
    ui: { ...s.ui, selected: Math.min(s.ui.selected, Math.max(0, recent.length - 1)) },
  };
}

export function withNotice(s: DashboardState, text: string, now: number): DashboardState {
  return { ...s, notice: { text, at: now } };
}

export function addLogs(s: DashboardState, lines: LogLine[]): DashboardState {
  if (lines.length === 0) return s;
  const logs = [...s.logs, ...lines];
  return { ...s, logs: logs.length > MAX_LOG_LINES ? logs.slice(-MAX_LOG_LINES) : logs };
}

export function askResume(s: DashboardState, info: ResumeInfo): DashboardState {
  return { ...s, phase: 'resume-prompt', resume: info };
}

export function startRun(s: DashboardState): DashboardState {
  return { ...s, phase: 'running', resume: null };
}

export function finishRun(s: DashboardState, summary: RunSummary): DashboardState {
  return { ...s, phase: 'finished', status: 'DONE', summary, etaMs: null, ui: { ...s.ui, stopping: false } };
}

export function failRun(s: DashboardState, message: string): DashboardState {
  return { ...s, phase: 'finished', status: 'DONE', failure: message, ui: { ...s.ui, stopping: false } };
}

export function setWatch(s: DashboardState, watch: WatchInfo | null): DashboardState {
  return { ...s, watch };
}

export type UiAction =
  | { type: 'focus'; step: 1 | -1 }
  | { type: 'help'; open?: boolean }
  | { type: 'detail'; open: boolean }
  | { type: 'select'; step: number }
  | { type: 'stopping' }
  | { type: 'interrupt' };

/** Screen-only state changes (focus, overlays, selection); the engine is never touched here. */
export function applyUi(s: DashboardState, a: UiAction): DashboardState {
  const ui = s.ui;
  switch (a.type) {
    case 'focus': {
      const i = panelOrder.indexOf(ui.focus);
      const next = panelOrder[(i + a.step + panelOrder.length) % panelOrder.length]!;
      return { ...s, ui: { ...ui, focus: next } };
    }
    case 'help': return { ...s, ui: { ...ui, help: a.open ?? !ui.help, detail: false } };
    case 'detail': return { ...s, ui: { ...ui, detail: a.open && s.errors.recent.length > 0, help: false } };
    case 'select': {
      const last = Math.max(0, s.errors.recent.length - 1);
      return { ...s, ui: { ...ui, selected: Math.min(last, Math.max(0, ui.selected + a.step)) } };
    }
    case 'stopping': return { ...s, ui: { ...ui, stopping: true } };
    case 'interrupt': return { ...s, ui: { ...ui, interrupts: ui.interrupts + 1, stopping: true } };
  }
}
