// Dashboard components on a fake terminal (ink-testing-library: every frame written in full), plus one
// in-process run of the whole session against a real engine. Frames are asserted as text.
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createElement as h } from 'react';
import { render as inkRender } from 'ink';
import { render, cleanup } from 'ink-testing-library';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptError, EngineStats, RecentError } from '../dist/index.js';
import { loadPipeline } from '../dist/index.js';
import { askResume, createDashboardStore, finishRun, setWatch, startRun, type DashboardStore } from '../dist/state/store.js';
import { applyStats } from '../dist/state/snapshot.js';
import { Dashboard, Picker, runDashboard } from '../dist/tui/dashboard/index.js';
import type { KeyEffect } from '../dist/tui/keys.js';
import { createStore } from 'zustand/vanilla';
import { cleanupProjects, makeProject, waitFor, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

const sgr = /\x1b\[[0-9;]*m/g;
const plain = (frame: string | undefined) => (frame ?? '').replace(sgr, '');
const settle = () => new Promise((r) => setTimeout(r, 30));

let consoleErrors: unknown[][] = [];
beforeEach(() => {
  consoleErrors = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => { consoleErrors.push(args); });
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  // React reports render loops ("Maximum update depth exceeded") and key warnings here.
  expect(consoleErrors.map((a) => a.map(String).join(' '))).toEqual([]);
});

/** No frame may show what Ink prints when a component throws, nor a render loop. */
function expectCleanFrames(frames: string[]): void {
  for (const f of frames) {
    expect(f).not.toContain('ERROR');
    expect(f).not.toContain('Maximum update depth');
  }
}

function err(message: string, code = 'TRANSIENT', category: AttemptError['category'] = 'transient', id = 'tw-42'): RecentError {
  return { id, code, message, category, attempt: 2, stage: 0, at: '2026-01-01T10:00:00.000Z', file: 'pipe.ts', line: 12 };
}

function stats(over: Partial<EngineStats> = {}): EngineStats {
  return {
    pipeline: 'tweets', state: 'running', startedAt: 1, elapsedMs: 72_000,
    counts: { total: 5000, totalKnown: true, done: 1190, failed: 3, skipped: 7, pending: 3700, running: 8, retrying: 2 },
    rate: 312.4, etaMs: 12_000, byPriority: { '8': 120, '0': 3580 },
    workers: { size: 4, target: 4, busy: 3, crashes: 1, timeouts: 0, replacements: 1, perStage: [{ name: 'tweets', size: 4, busy: 3, queued: 3700 }] },
    errors: { byCategory: { transient: 2, timeout: 1 }, byCode: {}, recent: [err('first failure'), err('took too long', 'TIMEOUT', 'timeout')] },
    processingMs: { min: 1, avg: 2, p50: 2, p95: 3, max: 4 },
    providers: {}, simulated: false,
    ...over,
  } as EngineStats;
}

function runningStore(over: Partial<EngineStats> = {}, simulated = false): DashboardStore {
  const store = createDashboardStore({ pipeline: 'tweets', simulated, now: 0 });
  store.setState((s) => applyStats(startRun(s), stats(over), 0), true);
  return store;
}

/** Sets the fake terminal's size and tells the app, as a real terminal does on resize. */
function resize(stdout: EventEmitter, columns: number, rows: number): void {
  Object.defineProperty(stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(stdout, 'rows', { value: rows, configurable: true });
  stdout.emit('resize');
}

describe('dashboard screen', () => {
  it('shows header, progress, queue, tiers, workers, errors and the empty providers panel at 80x24', async () => {
    const store = runningStore({}, true);
    const app = render(h(Dashboard, { store }));
    resize(app.stdout, 80, 24);
    await settle();
    const frame = plain(app.lastFrame());
    expect(frame).toMatch(/tweets\s+RUNNING\s+1:12\s+SIMULATED/);
    expect(frame).toContain('workers 4');
    expect(frame).toContain('Workers: 4');
    expect(frame).toMatch(/1,200\/5,000\s+24\.0%\s+312\/s\s+ETA 12s/);
    expect(frame).toMatch(/Pending\s+3,700/);
    expect(frame).toMatch(/Retrying\s+2/);
    expect(frame).toMatch(/Tier \+8\s+120/);
    expect(frame).toMatch(/Crashes\s+1/);
    expect(frame).toContain('No provider calls yet');
    expect(frame).toMatch(/Errors\s+3: transient 2 · timeout 1/);
    expect(frame).toMatch(/TIMEOUT tw-42: took too long/);
    expect(frame).toContain('q quit');
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(80);
    expectCleanFrames(app.frames);
  });

  it('follows the store: pause, resize, providers appearing, watch mode, and DONE at the end', async () => {
    const store = runningStore();
    const app = render(h(Dashboard, { store }));
    resize(app.stdout, 100, 30);
    store.setState((s) => applyStats(s, stats({ state: 'paused', workers: { ...stats().workers, size: 6, target: 6 } }), 100), true);
    await settle();
    expect(plain(app.lastFrame())).toMatch(/PAUSED[\s\S]*Workers: 6/);
    expect(plain(app.lastFrame())).toContain('p resume');
    const providers = {
      openai: { requests: 1200, inputTokens: 320_000, outputTokens: 41_000, rateLimited: 12, retries: 3, errors: { PROVIDER_ERROR: 1 }, latencyP50: 420, latencyP95: 1800, currentRpm: 2900, limitRpm: 3500, fallbacks: 3 },
      local: { requests: 40, inputTokens: 1000, outputTokens: 500, rateLimited: 0, retries: 0, errors: 0, latencyP50: 80, latencyP95: 120, currentRpm: 10, limitRpm: null, fallbacks: 0 },
    };
    store.setState((s) => applyStats(s, stats({ providers } as never), 200), true);
    await settle();
    const frame = plain(app.lastFrame());
    expect(frame).not.toContain('No provider calls yet');
    expect(frame).toMatch(/openai\s+1\.2k\s+320k\/41k\s+█+[░▏▎▍▌▋▊▉]*\s*2\.9k\/3\.5k\s+12\s+420ms\/1\.8s/);
    expect(frame).toMatch(/local\s+40/);
    store.setState((s) => setWatch(s, { folders: ['inbox/', 'drop\x1b]0;x\x07/'], filesSeen: 12, recentFiles: ['a.jsonl'] }), true);
    await settle();
    expect(plain(app.lastFrame())).toMatch(/Watching\s+inbox\/, drop\/\s+·\s+12 files seen\s+·\s+last: a\.jsonl/);
    store.setState((s) => finishRun(applyStats(s, stats({ workers: { ...stats().workers, size: 0, target: 6 } }), 300), { status: 'completed', durationMs: 9000, totals: { done: 5000, failed: 0 } } as never), true);
    await settle();
    expect(plain(app.lastFrame())).toMatch(/DONE[\s\S]*Finished in 9s: ok 5,000, failed 0/);
    expect(plain(app.lastFrame())).toContain('Workers: 6, stopped');
    expectCleanFrames(app.frames);
  });

  it('a distributed run shows its machines and the Redis connection, "Redis: reconnecting" when it drops', async () => {
    const machine = (host: string, pid: number, over: Record<string, unknown> = {}) => ({ id: `${host}:${pid}`, host, pid, role: 'worker', up: true, workers: 4, busy: 3, done: 1200, failed: 2, rate: 41.5, ...over });
    const machines = [machine('coord-1', 100, { role: 'coordinator', workers: 2, busy: 2, done: 300, failed: 0, rate: 12 }), machine('gpu-box\x1b]0;x\x07', 2201), machine('old-box', 77, { up: false, busy: 0, rate: 0 })];
    const store = runningStore({ machines, redis: { url: 'redis://q:6379', status: 'connected' } } as never);
    const app = render(h(Dashboard, { store }));
    resize(app.stdout, 100, 34);
    await settle();
    let frame = plain(app.lastFrame());
    expect(frame).toMatch(/Machines\s+2 up\s+Redis: connected/);
    expect(frame).toMatch(/coord-1:100\s+coord\s+2\/2\s+300\s+0\s+12\.0\/s/);
    expect(frame).toMatch(/gpu-box:2201\s+worker\s+3\/4\s+1\.2k\s+2\s+41\.5\/s/);
    expect(frame).toMatch(/old-box:77\s+worker\s+gone/);
    expect(frame.split('\n')[0]).toMatch(/Redis: connected\s+workers 4/);
    store.setState((s) => applyStats(s, stats({ machines, redis: { url: 'redis://q:6379', status: 'reconnecting' } } as never), 300), true);
    await settle();
    frame = plain(app.lastFrame());
    expect(frame.split('\n')[0]).toContain('Redis: reconnecting');
    expect(app.frames.join('')).not.toContain('\x07');
    // 80x24 still fits, with fewer machine lines.
    resize(app.stdout, 80, 24);
    await settle();
    frame = plain(app.lastFrame());
    expect(frame).toContain('Machines');
    expect(frame.split('\n').length).toBeLessThanOrEqual(23);
    expectCleanFrames(app.frames);
  });

  it('never lets escape sequences or control characters from errors and logs reach the terminal', async () => {
    const evil = 'boom \x1b]0;pwned\x07 bell\x07 back\x08space car\rriage \x1b[2J\x9b1;1H \u202eevil';
    const store = runningStore({ errors: { byCategory: { transient: 1 }, byCode: {}, recent: [{ ...err(evil), code: 'X\x1b]2;pwned\x07', id: 'tw\x1b]0;pwned\x07-9' }] } });
    store.setState((s) => ({ ...s, logs: [{ time: '2026-01-01T10:00:01.000Z', id: 'id\x07', worker: 1, message: `log ${evil}` }] }), true);
    const app = render(h(Dashboard, { store }));
    resize(app.stdout, 100, 30);
    await settle();
    app.stdin.write('\t\t\t'); // to the Errors panel
    await settle();
    app.stdin.write('\r'); // the error in full
    await settle();
    expect(plain(app.lastFrame())).toMatch(/Error 1 of 1/);
    expect(plain(app.lastFrame())).toMatch(/boom +bell backspace car\n+riage +evil/);
    const all = app.frames.join('');
    expect(all).not.toContain('pwned');
    for (const bad of ['\x07', '\x08', '\r', '\x1b]', '\x9b', '\x1b[2J', '\u202e']) expect(all).not.toContain(bad);
    expectCleanFrames(app.frames);
  });

  it('shows "Terminal too small (need WxH)" below the minimum, and the dashboard again once resized', async () => {
    const store = runningStore();
    const app = render(h(Dashboard, { store }));
    resize(app.stdout, 40, 10);
    await settle();
    expect(plain(app.lastFrame())).toContain('Terminal too small (need 60x16)');
    expect(plain(app.lastFrame())).not.toContain('Queue');
    resize(app.stdout, 90, 40);
    await settle();
    expect(plain(app.lastFrame())).toMatch(/Queue[\s\S]*Workers: 4/);
    expect(plain(app.lastFrame())).toContain('╭'); // roomy: framed panels
    expectCleanFrames(app.frames);
  });

  it('keys: a burst counts every key, pp toggles twice, ? shows help, q and Ctrl-C stop', async () => {
    const store = runningStore();
    const effects: KeyEffect[] = [];
    const app = render(h(Dashboard, { store, onEffect: (e: KeyEffect) => effects.push(e) }));
    resize(app.stdout, 100, 30);
    await settle();
    app.stdin.write('+++');
    await settle();
    app.stdin.write('pp');
    await settle();
    app.stdin.write('-');
    await settle();
    expect(effects).toEqual([{ type: 'workers', delta: 3 }, { type: 'toggle-pause' }, { type: 'toggle-pause' }, { type: 'workers', delta: -1 }]);
    app.stdin.write('?');
    await settle();
    const help = plain(app.lastFrame());
    for (const k of ['p, space', '+ / -', 'r ', 'Tab', 'Enter', 'q ', 'Ctrl-C twice']) expect(help).toContain(k);
    app.stdin.write('?');
    await settle();
    expect(plain(app.lastFrame())).toContain('Queue');
    effects.length = 0;
    app.stdin.write('\x03');
    await settle();
    expect(effects).toEqual([{ type: 'stop' }]);
    expect(plain(app.lastFrame())).toContain('Ctrl-C again to stop at once');
    app.stdin.write('\x03');
    await settle();
    expect(effects).toEqual([{ type: 'stop' }, { type: 'force-stop' }]);
    expectCleanFrames(app.frames);
  });

  it('the resume prompt offers continue or fresh', async () => {
    const store = createDashboardStore({ pipeline: 'tweets', now: 0 });
    store.setState((s) => askResume(s, { done: 1200, failed: 3, left: 300, status: 'stopped', at: new Date(Date.now() - 5 * 60_000).toISOString() }), true);
    const effects: KeyEffect[] = [];
    const app = render(h(Dashboard, { store, onEffect: (e: KeyEffect) => effects.push(e) }));
    await settle();
    const frame = plain(app.lastFrame());
    expect(frame).toContain('tweets: unfinished checkpoint');
    expect(frame).toMatch(/stopped 5m ago: done 1,200 · failed 3 · left 300/);
    expect(frame).toMatch(/c \/ Enter\s+continue/);
    expect(frame).toMatch(/f\s+start fresh/);
    app.stdin.write('f');
    await settle();
    expect(effects).toEqual([{ type: 'resume', choice: 'fresh' }]);
    expectCleanFrames(app.frames);
  });

  it('without raw-mode support (stdin not a terminal) it renders and never asks for raw mode', async () => {
    const frames: string[] = [];
    const stdout = Object.assign(new EventEmitter(), { columns: 100, rows: 30, isTTY: false, write: (s: string) => { frames.push(s); return true; } });
    const stdin = Object.assign(new EventEmitter(), {
      isTTY: false,
      setRawMode: () => { throw new Error('setRawMode called without raw-mode support'); },
      setEncoding: () => undefined, ref: () => undefined, unref: () => undefined, resume: () => undefined, pause: () => undefined, read: () => null,
    });
    const ink = inkRender(h(Dashboard, { store: runningStore() }), { stdout: stdout as never, stdin: stdin as never, debug: true, patchConsole: false, exitOnCtrlC: false });
    await settle();
    ink.unmount();
    expect(plain(frames.at(-1))).toContain('Workers: 4');
    expectCleanFrames(frames);
  });
});

describe('picker', () => {
  it('lists pipelines with their checkpoint and returns the one chosen', async () => {
    const store = createStore<import('../dist/tui/dashboard/index.js').PickerState>()(() => ({
      selected: 0, message: null,
      entries: [
        { file: '/p/tweets.ts', shown: 'pipelines/tweets.ts', name: 'tweets', description: 'Enrich tweets', problem: null, checkpoint: { done: 1500, failed: 2, left: 0, lastRun: { startedAt: '2026-01-01T00:00:00Z', status: 'completed' }, unfinished: false, at: null } },
        { file: '/p/other.ts', shown: 'pipelines/other.ts', name: 'other', description: '', problem: null, checkpoint: null },
        { file: '/p/broken.ts', shown: 'pipelines/broken.ts', name: null, description: '', problem: 'name is required' },
      ],
    }));
    let chosen: string | null | undefined;
    const app = render(h(Picker, { store, onDone: (f: string | null) => { chosen = f; } }));
    await settle();
    const frame = plain(app.lastFrame());
    expect(frame).toMatch(/› tweets\s+done 1,500 · failed 2 · left 0 · completed/);
    expect(frame).toMatch(/other\s+no checkpoint/);
    expect(frame).toMatch(/broken\.ts\s+broken: name is required/);
    app.stdin.write('\x1b[B');
    await settle();
    app.stdin.write('\x1b[B');
    await settle();
    app.stdin.write('\r');
    await settle();
    expect(chosen).toBeUndefined();
    expect(plain(app.lastFrame())).toContain('cannot run');
    app.stdin.write('\x1b[A');
    await settle();
    app.stdin.write('\r');
    await settle();
    expect(chosen).toBe('/p/other.ts');
    expectCleanFrames(app.frames);
  });
});

/** A terminal for the whole session: both streams claim to be TTYs; keys are written to stdin. */
function fakeTerminal() {
  const frames: string[] = [];
  const stdout = Object.assign(new EventEmitter(), { columns: 100, rows: 30, isTTY: true, write: (s: string) => { frames.push(s); return true; } });
  let pending: string | null = null;
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true, setRawMode: () => undefined, setEncoding: () => undefined, ref: () => undefined, unref: () => undefined,
    resume: () => undefined, pause: () => undefined, read: () => { const d = pending; pending = null; return d; },
  });
  const press = (keys: string) => { pending = keys; stdin.emit('readable'); };
  const screen = () => plain(frames.filter((f) => f.includes('Queue') || f.includes('checkpoint')).at(-1));
  return { frames, stdout, stdin, press, screen };
}

describe('dashboard session (in process, real engine)', () => {
  it('draws its first frame before loading a pipeline known by name; a load error then ends it like a run error (exit 2)', async () => {
    const dir = makeProject();
    const good = writePipeline(dir, 'quick.ts', `import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'quick', id: (r: any) => String(r.id), workers: 1, process: (r: any) => ({ id: r.id }) });`);
    const bad = writePipeline(dir, 'broken.ts', 'export default definePipeline({ name: "broken",, });\n');
    const input = writeJsonl(dir, 'in.jsonl', 20);
    const t = fakeTerminal();
    let framesAtLoad = -1;
    const options = { engineOptions: { cwd: dir, stateDir: '.pipeline-tui' }, inputs: [input], statusHint: 'status', stderr: t.stdout as never, debug: true };
    const ok = await runDashboard({
      ...options, stdin: t.stdin as never, stdout: t.stdout as never,
      pipeline: { name: 'quick', load: async () => { framesAtLoad = t.frames.length; return loadPipeline(good, { cwd: dir }); } },
    });
    expect(ok).toBe(0);
    expect(framesAtLoad).toBeGreaterThan(0);
    expect(plain(t.frames[0])).toContain('quick');
    expect(t.frames.join('')).toMatch(/Finished quick .*ok 20, failed 0/);

    const t2 = fakeTerminal();
    const errors: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { errors.push(String(s)); return true; });
    const failed = await runDashboard({ ...options, stdin: t2.stdin as never, stdout: t2.stdout as never, pipeline: { name: 'broken', load: () => loadPipeline(bad, { cwd: dir }) } });
    expect(failed).toBe(2);
    expect(errors.join('')).toMatch(/broken\.ts:1:\d+/);
    expectCleanFrames(t2.frames);
  });

  it('q stops with a checkpoint; the next start offers continue/fresh, and f starts fresh keeping a backup', async () => {
    const dir = makeProject();
    const file = writePipeline(dir, 'slow.ts', `import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'slow', id: (r: any) => String(r.id), workers: 2,
  async process(r: any) { await new Promise((res) => setTimeout(res, 25)); return { id: r.id }; } });`);
    const input = writeJsonl(dir, 'in.jsonl', 300);
    const pipeline = await loadPipeline(file, { cwd: dir });
    const run = (t: ReturnType<typeof fakeTerminal>) => runDashboard({
      pipeline, engineOptions: { cwd: dir, stateDir: '.pipeline-tui' }, inputs: [input], statusHint: 'status',
      stdin: t.stdin as never, stdout: t.stdout as never, stderr: t.stdout as never, debug: true,
    });

    const first = fakeTerminal();
    const stopped = run(first);
    await waitFor(() => /Done\s+[1-9]/.test(first.screen()), 20_000, 'items done on screen');
    first.press('q');
    expect(await stopped).toBe(130);
    expect(first.frames.join('')).toContain('Checkpoint saved');
    expectCleanFrames(first.frames);

    const second = fakeTerminal();
    const fresh = run(second);
    await waitFor(() => second.screen().includes('unfinished checkpoint'), 10_000, 'the resume prompt');
    expect(second.screen()).toMatch(/The last run stopped .* ago: done [1-9]/);
    second.press('f');
    expect(await fresh).toBe(0);
    expect(second.frames.join('')).toMatch(/Finished slow .*ok 300, failed 0/);
    expect(readdirSync(path.join(dir, '.pipeline-tui')).some((d) => d.startsWith('slow.backup-'))).toBe(true);
    expect(existsSync(path.join(dir, '.pipeline-tui', 'slow', 'state.json'))).toBe(true);
    expectCleanFrames(second.frames);
  });
});
