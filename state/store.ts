// The dashboard's state: one zustand vanilla store, fed from `engine.stats()` on a timer (never per item;
// see snapshot.ts and feed.ts), and the pure functions that compute each next state. Nothing here imports
// React or Ink, so the reducers are tested as plain functions and the store can be fed without a screen.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { AttemptError, MachineStats, RunCounts, RunSummary, WorkerStats } from '../engine/types.js';

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

/** A distributed run's Redis connection, as the header and the Machines panel show it. */
export interface RedisInfo { url: string; status: 'connected' | 'connecting' | 'reconnecting' | 'closed' }

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
  /** `recent` newest first; `id` is the item's (absent only in stats from before the engine reported it). */
  errors: { total: number; byCategory: CategoryCount[]; recent: (AttemptError & { id?: string })[] };
  /** `null` until the engine reports at least one provider. */
  providers: ProviderRow[] | null;
  throughput: Throughput;
  /** Distributed runs only (`null` otherwise): every machine serving the run, this one first. */
  machines: MachineStats[] | null;
  redis: RedisInfo | null;
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
    machines: null,
    redis: null,
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

/** The watch panel's data; the state is returned as is when nothing changed (no re-render). */
export function setWatch(s: DashboardState, watch: WatchInfo | null): DashboardState {
  const w = s.watch;
  const same = (a: string[] | undefined, b: string[] | undefined) => a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));
  if (w === watch || (w && watch && w.filesSeen === watch.filesSeen && same(w.folders, watch.folders) && same(w.recentFiles, watch.recentFiles))) return s;
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
