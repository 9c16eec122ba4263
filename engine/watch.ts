import { existsSync, statSync, type Stats } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { messages } from './errors.js';
import { checkInput, isIgnoredName, readerFor } from './inputs.js';
import type { InputRecord, ReadOptions, RecordSource, SourceRun } from './readers/types.js';

export interface WatchOptions {
  /** Folders to watch, recursively (relative to `cwd`). */
  dirs: string[];
  /** Base of relative paths, and of the file names records carry. @default process.cwd() */
  cwd?: string;
  readOptions?: ReadOptions;
  /** A file is read once it has not been written to for this long. @default 1000 */
  settleMs?: number;
  /** Paths never read (the output, the state); a path also covers what is inside it and `path.*` beside it. */
  exclude?: string[];
  /** Move each file here once all its records are done or failed (sub-folders kept). @default not moved */
  moveDone?: string;
  /** The id the engine gives a record (needed with `moveDone`). */
  idOf?: (record: unknown) => string;
  /** The pipeline's `expand`, which the engine applies to these records (ids are those of the parts). */
  expand?: ((record: any) => Iterable<unknown>) | undefined;
  onEvent?: (e: WatchEvent) => void;
}

export type WatchEvent =
  | { type: 'ready'; dirs: string[]; files: number }
  | { type: 'read'; file: string; records: number }
  | { type: 'skipped'; file: string; message: string }
  | { type: 'moved'; file: string; to: string }
  | { type: 'error'; message: string };

interface Pending { readyAt: number; sig: string; sigSince: number; ready: boolean }
interface Tracked { abs: string; display: string; ids: string[]; next: number }

/**
 * Watch mode's record source: the files already in the folders, then every new or changed file, one
 * file at a time (so 10k files never means 10k open handles), each once it has stopped changing.
 * Ids are the engine's (by default a hash of the record's content), so a file read again after a
 * restart or a change only yields work for records not done before.
 */
export class WatchSource implements RecordSource {
  private readonly cwd: string;
  private readonly roots: string[];
  private readonly settleMs: number;
  private readonly exclude: string[];
  private readonly moveDone: string | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly tracked: Tracked[] = [];
  private readonly movedTo = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private moveTimer: NodeJS.Timeout | undefined;
  private moving = false;
  private reading: string | undefined;
  private run: SourceRun | undefined;
  private closed = false;
  /** Files read in this session (a changed file read again counts once), and the latest few, newest last. */
  private readonly seen = new Set<string>();
  private readonly recent: string[] = [];

  constructor(private readonly options: WatchOptions) {
    this.cwd = options.cwd ?? process.cwd();
    this.roots = options.dirs.map((d) => path.resolve(this.cwd, d));
    for (const [i, root] of this.roots.entries()) {
      if (!existsSync(root) || !statSync(root).isDirectory()) throw messages.watchFolderMissing(options.dirs[i]!);
    }
    this.settleMs = options.settleMs ?? 1000;
    this.moveDone = options.moveDone === undefined ? undefined : path.resolve(this.cwd, options.moveDone);
    this.exclude = [...(options.exclude ?? []), ...(this.moveDone ? [this.moveDone] : [])].map((p) => path.resolve(this.cwd, p));
  }

  attach(run: SourceRun): void { this.run = run; }

  async *[Symbol.asyncIterator](): AsyncGenerator<InputRecord[]> {
    await this.start();
    // Records of small files that are ready one after another travel together: a batch per file would
    // cost the engine a dispatch and a journal write per file when a folder holds thousands of them.
    let batch: InputRecord[] = [];
    try {
      while (!this.closed) {
        const file = await this.nextReady(batch.length === 0);
        if (file === undefined) {
          if (batch.length > 0) { yield batch; batch = []; }
          continue;
        }
        this.reading = file;
        for await (const records of this.readFile(file)) {
          if (batch.length === 0 && records.length >= 1000) { yield records; continue; }
          batch.push(...records);
          if (batch.length >= 1000) { yield batch; batch = []; }
        }
        this.reading = undefined;
      }
    } finally {
      await this.close();
    }
  }

  /** Stops watching; a read in progress ends at its next batch. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.moveTimer);
    this.wake?.();
    await this.watcher?.close();
  }

  /** What the dashboard's Watch panel shows: files read so far and the latest ones, newest last. */
  progress(): { filesSeen: number; recentFiles: string[] } {
    return { filesSeen: this.seen.size, recentFiles: [...this.recent] };
  }

  /** Where an input read earlier is now: moved by `moveDone` (in this session or an earlier one). */
  locate(file: string): string | undefined {
    const abs = path.resolve(this.cwd, file);
    if (existsSync(abs)) return undefined;
    const moved = this.movedTo.get(abs) ?? (this.moveDone ? this.destinationOf(abs) : undefined);
    return moved !== undefined && existsSync(moved) ? moved : undefined;
  }

  private isExcluded(p: string): boolean {
    return this.exclude.some((e) => p === e || p.startsWith(`${e}${path.sep}`) || p.startsWith(`${e}.`));
  }

  private ignored = (p: string, stats?: Stats): boolean => {
    if (this.roots.includes(p)) return false;
    if (this.isExcluded(p) || isIgnoredName(path.basename(p))) return true;
    return stats?.isFile() === true && readerFor(p) === undefined;
  };

  private start(): Promise<void> {
    const initial: string[] = [];
    let ready = false;
    // Not persistent: the engine's run keeps the process alive; when it ends, watching must not.
    const w = watch(this.roots, { ignored: this.ignored, ignoreInitial: false, persistent: false, atomic: true });
    this.watcher = w;
    const add = (p: string | Error) => {
      if (typeof p !== 'string' || this.closed || !readerFor(p) || this.ignored(p)) return;
      if (ready) this.enqueue(p); else initial.push(p);
    };
    w.on('add', add).on('change', add);
    w.on('unlink', (p: string | Error) => { if (typeof p === 'string') this.pending.delete(p); });
    w.on('error', (e: unknown) => this.options.onEvent?.({ type: 'error', message: (e as Error).message }));
    return new Promise((resolve) => {
      w.once('ready', () => {
        ready = true;
        // Files already there go in name order, so a restart reads them in the same order.
        for (const p of initial.sort()) this.enqueue(p);
        this.options.onEvent?.({ type: 'ready', dirs: this.options.dirs, files: initial.length });
        resolve();
      });
    });
  }

  private enqueue(file: string): void {
    this.pending.delete(file); // a change moves it to the back: it is being written
    this.pending.set(file, { readyAt: 0, sig: '', sigSince: 0, ready: false });
    this.wake?.();
  }

  /**
   * The next file nobody is writing to: its mtime/ctime (ctime catches copies that keep the original
   * mtime) is `settleMs` old, or it has not changed size or times while we watched for that long (for
   * file systems whose clock is not ours). A file still growing waits; others go ahead of it. Files due
   * for a look are stat'ed a few dozen at a time: one at a time, a big backlog waits on latency.
   * Without `wait`, undefined when no file is ready now.
   */
  private async nextReady(wait = true): Promise<string | undefined> {
    while (!this.closed) {
      const now = Date.now();
      const due: [string, Pending][] = [];
      let soonest = Infinity;
      for (const [file, p] of this.pending) {
        if (p.ready) { this.pending.delete(file); return file; }
        if (p.readyAt <= now) { if (due.push([file, p]) >= 64) break; } else soonest = Math.min(soonest, p.readyAt);
      }
      if (due.length > 0) { await Promise.all(due.map(([file, p]) => this.look(file, p))); continue; }
      if (this.closed || !wait) break;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(soonest) ? setTimeout(resolve, Math.max(10, soonest - Date.now())) : undefined;
        timer?.unref();
        this.wake = () => { clearTimeout(timer); this.wake = undefined; resolve(); };
      });
    }
    return undefined;
  }

  private async look(file: string, p: Pending): Promise<void> {
    let st: Stats;
    try { st = await stat(file); } catch { if (this.pending.get(file) === p) this.pending.delete(file); return; }
    if (!st.isFile()) { if (this.pending.get(file) === p) this.pending.delete(file); return; }
    const now = Date.now();
    const sig = `${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (sig !== p.sig) { p.sig = sig; p.sigSince = now; }
    p.readyAt = Math.min(Math.max(st.mtimeMs, st.ctimeMs), p.sigSince) + this.settleMs;
    p.ready = p.readyAt <= now;
  }

  private async *readFile(abs: string): AsyncGenerator<InputRecord[]> {
    const display = path.relative(this.cwd, abs) || abs;
    const readOptions = this.options.readOptions ?? {};
    const ids: string[] | undefined = this.moveDone ? [] : undefined;
    let count = 0;
    try {
      const reader = await checkInput(abs, display, readOptions);
      for await (const batch of reader.read(abs, display, readOptions)) {
        if (ids) for (const r of batch) ids.push(...this.idsOf(r));
        count += batch.length;
        yield batch;
        if (this.closed) return;
      }
    } catch (e) {
      // A file that cannot be read must not stop the watch: say why; a change to it brings it back.
      this.options.onEvent?.({ type: 'skipped', file: display, message: `${(e as Error).message}; it is read again when it changes` });
      return;
    }
    this.seen.add(abs);
    const at = this.recent.indexOf(display);
    if (at >= 0) this.recent.splice(at, 1);
    this.recent.push(display);
    if (this.recent.length > 5) this.recent.shift();
    this.options.onEvent?.({ type: 'read', file: display, records: count });
    if (ids) {
      this.tracked.push({ abs, display, ids, next: 0 });
      this.moveTimer ??= setInterval(() => void this.moveSettled(), 200);
      this.moveTimer.unref();
    }
  }

  /** The engine's ids for a record, as expandRecords() and pump() make them: failures fall back to file:line. */
  private idsOf(r: InputRecord): string[] {
    const src = r.source;
    const where = 'line' in src ? src.line : 'row' in src ? src.row : 0;
    if (r.error !== undefined) return [`${src.file}:${where}`];
    const expand = this.options.expand;
    let parts: unknown[];
    try { parts = expand ? [...expand(r.record)] : [r.record]; } catch { return [`${src.file}:${'line' in src ? src.line : 0}`]; }
    return parts.map((record) => {
      try { return this.options.idOf!(record); } catch { return `${src.file}:${expand ? 0 : where}`; }
    });
  }

  private async moveSettled(): Promise<void> {
    if (this.moving || !this.run) return;
    this.moving = true;
    try {
      for (const t of [...this.tracked]) {
        while (t.next < t.ids.length && this.run.isSettled(t.ids[t.next]!)) t.next++;
        const changed = this.pending.has(t.abs) || this.reading === t.abs;
        if (t.next < t.ids.length && !changed) continue;
        this.tracked.splice(this.tracked.indexOf(t), 1);
        if (!changed) await this.move(t);
      }
      if (this.tracked.length === 0) { clearInterval(this.moveTimer); this.moveTimer = undefined; }
    } finally {
      this.moving = false;
    }
  }

  private destinationOf(abs: string): string {
    const root = this.roots.filter((r) => abs.startsWith(`${r}${path.sep}`)).sort((a, b) => b.length - a.length)[0];
    return path.join(this.moveDone!, root ? path.relative(root, abs) : path.basename(abs));
  }

  private async move(t: Tracked): Promise<void> {
    let to = this.destinationOf(t.abs);
    const ext = path.extname(to);
    for (let k = 2; existsSync(to); k++) to = `${to.slice(0, to.length - ext.length).replace(/ \(\d+\)$/, '')} (${k})${ext}`;
    try {
      await mkdir(path.dirname(to), { recursive: true });
      try {
        await rename(t.abs, to);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        await copyFile(t.abs, to);
        await rm(t.abs);
      }
      this.movedTo.set(t.abs, to);
      this.options.onEvent?.({ type: 'moved', file: t.display, to: path.relative(this.cwd, to) || to });
    } catch (e) {
      this.options.onEvent?.({ type: 'error', message: `could not move ${t.display} to ${to}: ${(e as Error).message}` });
    }
  }
}
