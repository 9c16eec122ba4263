// The dashboard's pure layer: store reducers, key decoding and planning, text sanitizing, layout plans.
// No screen, no engine: every function here is called with plain values.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AttemptError, EngineStats, MachineStats } from '../dist/index.js';
import {
  addLogs, applyUi, createDashboardStore, finishRun, initialState, MAX_LOG_LINES, NOTICE_MS, setWatch, THROUGHPUT_SECONDS, withNotice, type DashboardState,
} from '../dist/state/store.js';
import { applyStats, normalizeProviders, sampleThroughput } from '../dist/state/snapshot.js';
import { feedStore, LogTail, parseLogLines } from '../dist/state/feed.js';
import { decodeKeys, planKeys } from '../dist/tui/keys.js';
import { oneLine, safeLines } from '../dist/tui/sanitize.js';
import { minimumSize, planLayout } from '../dist/tui/dashboard/layout.js';
import { bar, sparkline } from '../dist/tui/dashboard/format.js';
import { RefreshPace } from '../dist/tui/dashboard/pace.js';
import { cleanupProjects, makeProject } from './helpers.js';

afterAll(cleanupProjects);
afterEach(() => { vi.useRealTimers(); });

function engineStats(over: Partial<EngineStats> = {}): EngineStats {
  return {
    pipeline: 'demo', state: 'running', startedAt: 1, elapsedMs: 5000,
    counts: { total: 100, totalKnown: true, done: 10, failed: 2, skipped: 0, pending: 80, running: 4, retrying: 4 },
    rate: 12.5, etaMs: 7000, byPriority: { '0': 50, '5': 20, '-3': 10 },
    workers: { size: 4, target: 4, busy: 3, crashes: 1, timeouts: 0, replacements: 1, perStage: [{ name: 'demo', size: 4, busy: 3, queued: 80 }] },
    errors: { byCategory: { transient: 3, timeout: 1 }, byCode: { TRANSIENT: 3, TIMEOUT: 1 }, recent: [err('first'), err('second')] },
    processingMs: { min: 1, avg: 2, p50: 2, p95: 3, max: 4 },
    providers: {}, simulated: false,
    ...over,
  } as EngineStats;
}

function err(message: string, code = 'TRANSIENT'): AttemptError {
  return { code, message, category: code === 'TIMEOUT' ? 'timeout' : 'transient', attempt: 1, stage: 0, at: '2026-01-01T10:00:00.000Z' };
}

const running = (): DashboardState => ({ ...initialState({ pipeline: 'demo', now: 0 }), phase: 'running' });

describe('store reducers', () => {
  it('applyStats maps engine state to the header status, sorts tiers and shows the newest error first', () => {
    const s = applyStats(running(), engineStats(), 1000);
    expect(s.status).toBe('RUNNING');
    expect(s.counts.done).toBe(10);
    expect(s.byPriority.map((t) => t.priority)).toEqual([5, 0, -3]);
    expect(s.errors.total).toBe(4);
    expect(s.errors.byCategory[0]).toEqual({ category: 'transient', count: 3 });
    expect(s.errors.recent.map((e) => e.message)).toEqual(['second', 'first']);
    expect(applyStats(s, engineStats({ state: 'paused' }), 1100).status).toBe('PAUSED');
    expect(applyStats(s, engineStats({ state: 'draining' }), 1100).status).toBe('DRAINING');
    expect(applyStats(s, engineStats({ state: 'idle' }), 1100).status).toBe('STARTING');
  });

  it('a finished run stays DONE whatever later stats say', () => {
    const summary = { status: 'completed', totals: { done: 10, failed: 0 } } as never;
    const s = finishRun(applyStats(running(), engineStats(), 1000), summary);
    expect(s.phase).toBe('finished');
    expect(applyStats(s, engineStats({ state: 'running' }), 2000).status).toBe('DONE');
  });

  it('providers read as "none yet" until stats carry at least one, and defensively after', () => {
    expect(normalizeProviders(undefined)).toBeNull();
    expect(normalizeProviders({})).toBeNull();
    expect(normalizeProviders('nope')).toBeNull();
    expect(normalizeProviders([1, 2])).toBeNull();
    expect(applyStats(running(), engineStats({ providers: undefined } as never), 0).providers).toBeNull();
    const rows = normalizeProviders({
      small: { requests: 2 },
      openai: { requests: 120, inputTokens: 5000, outputTokens: 900, rateLimited: 3, retries: 4, errors: { PROVIDER_ERROR: 2, TIMEOUT: 1 }, latencyP50: 300, latencyP95: 'slow', currentRpm: 90, limitRpm: 0, fallbacks: NaN },
      broken: null,
    })!;
    expect(rows.map((r) => r.name)).toEqual(['openai', 'small']);
    expect(rows[0]).toMatchObject({ requests: 120, inputTokens: 5000, errors: 3, latencyP50: 300, latencyP95: null, limitRpm: null, fallbacks: 0 });
    expect(rows[1]).toMatchObject({ requests: 2, inputTokens: 0, errors: 0, latencyP50: null });
  });

  it('distributed runs: machines sorted coordinator first, gone ones last; Redis state kept; nothing for a local run', () => {
    const m = (id: string, over: Partial<MachineStats> = {}): MachineStats => ({ id, host: id.split(':')[0]!, pid: Number(id.split(':')[1]), role: 'worker', up: true, workers: 2, busy: 1, done: 10, failed: 0, rate: 1, ...over });
    const local = applyStats(running(), engineStats(), 1000);
    expect(local.machines).toBeNull();
    expect(local.redis).toBeNull();
    const machines = [m('b:2', { up: false, rate: 0 }), m('c:3', { rate: 5 }), m('a:1', { role: 'coordinator', rate: 0.5 }), m('d:4', { rate: 9 })];
    const s = applyStats(running(), engineStats({ machines, redis: { url: 'redis://q:6379', status: 'reconnecting' } }), 1000);
    expect(s.machines?.map((x) => x.id)).toEqual(['a:1', 'd:4', 'c:3', 'b:2']);
    expect(s.redis).toEqual({ url: 'redis://q:6379', status: 'reconnecting' });
    // Unchanged numbers keep identity (no re-render); a change replaces the list and the status.
    const same = applyStats(s, engineStats({ machines: machines.map((x) => ({ ...x })), redis: { url: 'redis://q:6379', status: 'reconnecting' } }), 1100);
    expect(same.machines).toBe(s.machines);
    expect(same.redis).toBe(s.redis);
    const moved = applyStats(same, engineStats({ machines: [...machines.slice(0, 3), m('d:4', { rate: 9, done: 11 })], redis: { url: 'redis://q:6379', status: 'connected' } }), 1200);
    expect(moved.machines).not.toBe(s.machines);
    expect(moved.machines?.[1]?.done).toBe(11);
    expect(moved.redis?.status).toBe('connected');
  });

  it('the SIMULATED label comes from the flag or from the engine', () => {
    expect(applyStats(running(), engineStats(), 0).simulated).toBe(false);
    expect(applyStats(running(), engineStats({ simulated: true } as never), 0).simulated).toBe(true);
    expect(applyStats({ ...running(), simulated: true }, engineStats(), 0).simulated).toBe(true);
  });

  it('throughput folds into one bucket per second, fills silent seconds with zeros, and survives a retry', () => {
    let t = sampleThroughput({ perSecond: [], secondStart: 0, lastFinished: -1 }, 100, 10_000);
    expect(t).toEqual({ perSecond: [], secondStart: 10_000, lastFinished: 100 });
    expect(sampleThroughput(t, 150, 10_500)).toBe(t); // the open second is still counting
    t = sampleThroughput(t, 160, 11_050);
    expect(t.perSecond).toEqual([60]);
    t = sampleThroughput(t, 190, 14_100); // three seconds without a poll
    expect(t.perSecond).toEqual([60, 30, 0, 0]);
    t = sampleThroughput(t, 150, 14_200); // retry moved failed items back: new baseline, no negative bucket
    expect(t.perSecond).toEqual([60, 30, 0, 0]);
    t = sampleThroughput(t, 170, 15_200);
    expect(t.perSecond.at(-1)).toBe(20);
    const long = sampleThroughput(t, 1000, 15_200 + THROUGHPUT_SECONDS * 2000);
    expect(long.perSecond).toHaveLength(THROUGHPUT_SECONDS);
  });

  it('a notice lasts NOTICE_MS across polls; logs keep the latest MAX_LOG_LINES', () => {
    let s = withNotice(running(), 'Paused', 1000);
    s = applyStats(s, engineStats(), 1000 + NOTICE_MS - 1);
    expect(s.notice?.text).toBe('Paused');
    expect(applyStats(s, engineStats(), 1000 + NOTICE_MS).notice).toBeNull();
    const lines = Array.from({ length: MAX_LOG_LINES + 5 }, (_, i) => ({ time: '', id: null, worker: null, message: `m${i}` }));
    const logged = addLogs(running(), lines);
    expect(logged.logs).toHaveLength(MAX_LOG_LINES);
    expect(logged.logs.at(-1)?.message).toBe(`m${MAX_LOG_LINES + 4}`);
  });

  it('UI actions: Tab cycles panels, the error view needs an error, the selection stays in range', () => {
    let s = applyStats(running(), engineStats(), 0);
    expect(s.ui.focus).toBe('queue');
    s = applyUi(applyUi(applyUi(s, { type: 'focus', step: 1 }), { type: 'focus', step: 1 }), { type: 'focus', step: 1 });
    expect(s.ui.focus).toBe('errors');
    expect(applyUi(s, { type: 'focus', step: -1 }).ui.focus).toBe('providers');
    expect(applyUi(applyUi(running(), { type: 'focus', step: -1 }), { type: 'focus', step: 1 }).ui.focus).toBe('queue');
    expect(applyUi(s, { type: 'select', step: 5 }).ui.selected).toBe(1);
    expect(applyUi(s, { type: 'select', step: -5 }).ui.selected).toBe(0);
    expect(applyUi(s, { type: 'detail', open: true }).ui.detail).toBe(true);
    expect(applyUi(running(), { type: 'detail', open: true }).ui.detail).toBe(false);
  });
});

describe('keys', () => {
  it('a burst counts every key; special keys come from the flags', () => {
    expect(decodeKeys('+++')).toEqual(['+', '+', '+']);
    expect(decodeKeys('pP ')).toEqual(['p', 'p', 'space']);
    expect(decodeKeys('x+y-')).toEqual(['+', '-']);
    expect(decodeKeys('c', { ctrl: true })).toEqual(['ctrl-c']);
    expect(decodeKeys('\x03\x03')).toEqual(['ctrl-c', 'ctrl-c']);
    expect(decodeKeys('', { tab: true })).toEqual(['tab']);
    expect(decodeKeys('', { tab: true, shift: true })).toEqual(['shift-tab']);
    expect(decodeKeys('', { return: true })).toEqual(['enter']);
    expect(decodeKeys('', { upArrow: true })).toEqual(['up']);
    expect(decodeKeys('', { escape: true })).toEqual(['escape']);
    expect(decodeKeys('a', { ctrl: true })).toEqual([]);
  });

  it('"+++" is one resize by three; "+-" cancels out; pp pauses and resumes', () => {
    const s = applyStats(running(), engineStats(), 0);
    expect(planKeys(s, decodeKeys('+++'), 0).effects).toEqual([{ type: 'workers', delta: 3 }]);
    expect(planKeys(s, decodeKeys('+-'), 0).effects).toEqual([]);
    expect(planKeys(s, decodeKeys('--r'), 0).effects).toEqual([{ type: 'workers', delta: -2 }, { type: 'retry' }]);
    expect(planKeys(s, decodeKeys('pp'), 0).effects).toEqual([{ type: 'toggle-pause' }, { type: 'toggle-pause' }]);
  });

  it('q stops once; Ctrl-C twice stops at once; after q one Ctrl-C is enough', () => {
    const s = applyStats(running(), engineStats(), 0);
    const q = planKeys(s, ['q'], 0);
    expect(q.effects).toEqual([{ type: 'stop' }]);
    expect(q.state.ui.stopping).toBe(true);
    expect(planKeys(q.state, ['q', '+', 'p'], 0).effects).toEqual([]);
    expect(planKeys(q.state, ['ctrl-c'], 0).effects).toEqual([{ type: 'force-stop' }]);
    expect(planKeys(s, ['ctrl-c', 'ctrl-c'], 0).effects).toEqual([{ type: 'stop' }, { type: 'force-stop' }]);
  });

  it('the resume prompt answers c/Enter, f and q only', () => {
    const s = { ...running(), phase: 'resume-prompt' as const };
    expect(planKeys(s, ['c'], 0).effects).toEqual([{ type: 'resume', choice: 'continue' }]);
    expect(planKeys(s, ['enter'], 0).effects).toEqual([{ type: 'resume', choice: 'continue' }]);
    expect(planKeys(s, ['f'], 0).effects).toEqual([{ type: 'resume', choice: 'fresh' }]);
    expect(planKeys(s, ['q'], 0).effects).toEqual([{ type: 'resume', choice: 'quit' }]);
    expect(planKeys(s, ['p', '+', 'r', '?'], 0).effects).toEqual([]);
  });

  it('help and the error view open and close; Enter opens an error only on the Errors panel', () => {
    const s = applyStats(running(), engineStats(), 0);
    expect(planKeys(s, ['?'], 0).state.ui.help).toBe(true);
    expect(planKeys(s, ['?', 'escape'], 0).state.ui.help).toBe(false);
    expect(planKeys(s, ['enter'], 0).state.ui.detail).toBe(false);
    const open = planKeys(s, ['tab', 'tab', 'tab', 'down', 'enter'], 0).state;
    expect(open.ui).toMatchObject({ focus: 'errors', detail: true, selected: 1 });
    expect(planKeys(open, ['up'], 0).state.ui.selected).toBe(0);
    expect(planKeys(open, ['escape'], 0).state.ui.detail).toBe(false);
  });

  it('after the run, q and Ctrl-C exit and engine keys only explain', () => {
    const s = finishRun(applyStats(running(), engineStats(), 0), { status: 'completed', totals: { done: 1, failed: 0 } } as never);
    expect(planKeys(s, ['q'], 0).effects).toEqual([{ type: 'exit' }]);
    expect(planKeys(s, ['ctrl-c'], 0).effects).toEqual([{ type: 'exit' }]);
    const p = planKeys(s, ['p', '+'], 5);
    expect(p.effects).toEqual([]);
    expect(p.state.notice?.text).toMatch(/run has ended/);
  });
});

describe('sanitize', () => {
  it('removes OSC title changes, BEL, BS, CR, CSI, C1, DEL and bidi overrides from one-line text', () => {
    const evil = 'boom\x1b]0;pwned\x07 bell\x07 back\x08space car\rriage \x1b[2J\x1b[31mred\x1b[0m \x9b2Jc1 \x7fdel \u202eevil\u202c ok';
    const clean = oneLine(evil);
    expect(clean).toBe('boom bell backspace car riage red c1 del evil ok');
    for (const ch of clean) expect(ch.codePointAt(0)! >= 0x20 && !(ch.codePointAt(0)! >= 0x7f && ch.codePointAt(0)! <= 0x9f)).toBe(true);
    expect(oneLine('unterminated \x1b]0;pwned')).toBe('unterminated 0;pwned');
    expect(oneLine('emoji 🚀 and 日本語\ttab\nline')).toBe('emoji 🚀 and 日本語 tab line');
    expect(oneLine(undefined)).toBe('');
    expect(oneLine(42)).toBe('42');
  });

  it('safeLines keeps the line structure of a long message, each line clean', () => {
    expect(safeLines('first\x07\r\nsecond \x1b]2;x\x1b\\line\rthird\tcol')).toEqual(['first', 'second line', 'third  col']);
  });
});

describe('layout', () => {
  it('80x24 gets the compact layout, a larger terminal a framed one, both leaving the last row free', () => {
    const compact = planLayout({ columns: 80, rows: 24, providers: 0, stages: 1, watch: false });
    expect(compact).toMatchObject({ tooSmall: false, framed: false });
    expect(compact.height).toBeLessThanOrEqual(23);
    expect(compact.errorLines).toBeGreaterThanOrEqual(3);
    const roomy = planLayout({ columns: 120, rows: 40, providers: 3, stages: 1, watch: false });
    expect(roomy).toMatchObject({ tooSmall: false, framed: true, providerRows: 3 });
    expect(roomy.sparkHeight).toBeGreaterThan(1);
    expect(roomy.logLines).toBeGreaterThan(0);
  });

  it('every size from the minimum up fits in rows - 1; below it, "too small" with the size needed', () => {
    for (const providers of [0, 2, 12]) for (const watch of [false, true]) {
      const need = minimumSize({ providers, watch });
      for (let rows = need.rows; rows <= 70; rows++) for (const columns of [need.columns, 80, 100, 160]) {
        const p = planLayout({ columns, rows, providers, stages: 3, watch });
        expect(p.tooSmall, `${columns}x${rows}`).toBe(false);
        expect(p.height, `${columns}x${rows}`).toBeLessThanOrEqual(rows - 1);
      }
      expect(planLayout({ columns: need.columns, rows: need.rows - 1, providers, stages: 1, watch }).tooSmall).toBe(true);
      expect(planLayout({ columns: need.columns - 1, rows: 50, providers, stages: 1, watch }).tooSmall).toBe(true);
    }
    expect(planLayout({ columns: 40, rows: 10, providers: 0, stages: 1, watch: false }).need).toEqual({ columns: 60, rows: 16 });
  });

  it('a distributed run gets a Machines panel sized to its machines, within rows - 1, and a larger minimum', () => {
    expect(planLayout({ columns: 80, rows: 24, providers: 2, stages: 1, watch: false }).machineRows).toBe(0);
    const few = planLayout({ columns: 80, rows: 30, providers: 2, stages: 1, watch: false, machines: 3 });
    expect(few.machineRows).toBe(3);
    expect(few.height).toBeLessThanOrEqual(29);
    const many = planLayout({ columns: 120, rows: 60, providers: 2, stages: 1, watch: false, machines: 40 });
    expect(many.machineRows).toBe(6);
    expect(minimumSize({ providers: 2, watch: false, machines: 3 }).rows).toBe(minimumSize({ providers: 2, watch: false }).rows + 3);
    for (let rows = 10; rows <= 40; rows++) {
      const p = planLayout({ columns: 80, rows, providers: 2, stages: 1, watch: false, machines: 5 });
      if (!p.tooSmall) { expect(p.height).toBeLessThanOrEqual(rows - 1); expect(p.machineRows).toBeGreaterThan(0); }
    }
  });

  it('bars and sparklines are exactly as wide as asked', () => {
    expect(bar(0.5, 10)).toBe('█████░░░░░');
    expect(bar(2, 4)).toBe('████');
    expect(bar(NaN, 3)).toBe('░░░');
    const s = sparkline([0, 1, 2, 4, 8], 8, 2);
    expect(s.rows).toHaveLength(2);
    for (const r of s.rows) expect([...r]).toHaveLength(8);
    expect(s.max).toBe(8);
    expect(sparkline(Array.from({ length: 120 }, () => 3), 10, 1, 12).rows[0]).toBe('██████████');
  });
});

describe('feed', () => {
  it('polls stats at most ~10 times a second however fast items finish', () => {
    vi.useFakeTimers();
    const store = createDashboardStore({ pipeline: 'demo', now: 0 });
    let calls = 0;
    let done = 0;
    const source = { stats: () => { calls++; done += 10_000; return engineStats({ counts: { ...engineStats().counts, done } }); } };
    let updates = 0;
    store.subscribe(() => { updates++; });
    const stop = feedStore(store, source, { now: () => Date.now() });
    vi.advanceTimersByTime(1000);
    stop();
    expect(calls).toBeLessThanOrEqual(12);
    expect(updates).toBeLessThanOrEqual(12);
    expect(store.getState().counts.done).toBe(done);
  });

  it('watch mode: the watch getter is read with every poll; an unchanged answer keeps the state', () => {
    vi.useFakeTimers();
    const store = createDashboardStore({ pipeline: 'demo', now: 0 });
    let seen = 0;
    const stop = feedStore(store, { stats: () => engineStats() }, { watch: () => ({ folders: ['inbox/'], filesSeen: seen }), now: () => Date.now() });
    expect(store.getState().watch).toEqual({ folders: ['inbox/'], filesSeen: 0 });
    seen = 3;
    vi.advanceTimersByTime(100);
    expect(store.getState().watch?.filesSeen).toBe(3);
    stop();
    const s = store.getState();
    expect(setWatch(s, { folders: ['inbox/'], filesSeen: 3 })).toBe(s);
  });

  it('the refresh pace stretches with the cost of a frame, more when the main thread is busy, between 10 and 1 a second', () => {
    const pace = new RefreshPace();
    expect(pace.intervalMs()).toBe(100);
    pace.record(500); // the first frame (cold code) does not count
    expect(pace.intervalMs()).toBe(100);
    pace.record(0.5);
    expect(pace.intervalMs()).toBe(100);
    const slow = new RefreshPace();
    slow.record(100);
    slow.record(4); // 4 ms of Ink's drawing, as much again for React and layout: 8 ms a frame
    expect(slow.intervalMs(0.9)).toBe(400); // busy: 2% of the main thread
    expect(slow.intervalMs(0.1)).toBe(100); // idle: 10% (80 ms), but 10 frames a second at most
    slow.record(NaN);
    expect(slow.intervalMs(0.9)).toBe(400);
    slow.record(24); // average now 8 ms
    expect(slow.intervalMs(0.1)).toBe(160);
    for (let i = 0; i < 50; i++) slow.record(100);
    expect(slow.intervalMs(0.9)).toBe(1000);
    expect(slow.intervalMs(0.1)).toBe(1000);
  });

  it('the log tail reads only appended lines, waits for a partial line, and starts over when the file is replaced', () => {
    const file = path.join(makeProject(), 'log.jsonl');
    writeFileSync(file, `${JSON.stringify({ time: 't0', id: null, worker: null, message: 'old run' })}\n`);
    const tail = new LogTail(file);
    expect(tail.read()).toEqual([]);
    appendFileSync(file, `${JSON.stringify({ time: 't1', id: 'a', worker: 1, message: 'one' })}\n{"time":"t2","id":"b","mess`);
    expect(tail.read().map((l) => l.message)).toEqual(['one']);
    appendFileSync(file, 'age":"two"}\nnot json\n');
    expect(tail.read().map((l) => l.message)).toEqual(['two']);
    writeFileSync(file, `${JSON.stringify({ time: 't3', id: null, worker: null, message: 'fresh' })}\n`);
    expect(tail.read().map((l) => l.message)).toEqual(['fresh']);
    expect(parseLogLines('{"message":1}\n{"message":"x","id":7}')).toEqual([{ time: '', id: null, worker: null, message: 'x' }]);
  });
});
