import { writeAll } from './write-all.js';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Low } from 'lowdb';
import { messages } from '../engine/errors.js';
import { CheckpointFile } from './checkpoint-file.js';
import { IdIndex } from './id-index.js';
import { IdSet } from './id-set.js';
import { backupName, statePaths, type StatePaths } from './paths.js';
import { JournalCorruptError, replayJournal, trimPartialTail, type DeadLetter } from './journal.js';

export interface RunRecord {
  startedAt: string;
  endedAt?: string;
  status: 'running' | 'completed' | 'stopped' | 'crashed';
  total?: number;
  done?: number;
  failed?: number;
  exitCode?: number;
}

/** The lowdb document. It is rewritten whole, so it holds the index, not the results (those stay in the journal). */
export interface CheckpointDoc {
  version: 1;
  pipeline: string;
  file: string;
  createdAt: string;
  updatedAt: string;
  /** How many journal bytes are folded into this document; replay starts there. */
  journalBytes: number;
  /** On disk, every done id. In memory always empty: the ids live in `CheckpointStore.done` (CheckpointFile reads and writes them). */
  done: string[];
  failed: Record<string, DeadLetter>;
  /** Multi-stage items part-way through: last completed stage and its result (JSON). */
  stages: Record<string, { stage: number; json: string }>;
  output: { path: string; bytes: number } | null;
  runs: RunRecord[];
}

/** Journal bytes from `from` to `to`. */
export interface JournalSpan { from: number; to: number }

/**
 * Where the jsonl output stood when the state was opened, and where in the journal the items are that
 * it may lack. Spans, not the items: after a crash of a run with a csv output (which writes no output
 * checkpoints) the items since the last one are the whole journal.
 */
export interface OutputTail {
  /** Output size the journal last vouched for. */
  committedBytes: number | null;
  /** The items the journal committed after that, not yet vouched for in the output. */
  pending: JournalSpan;
  /** The items of the last committed group, in case the output write of that group was cut short. */
  lastGroup: JournalSpan;
  previousCommittedBytes: number | null;
}

function isDoc(v: unknown): v is CheckpointDoc {
  const d = v as CheckpointDoc;
  return typeof d === 'object' && d !== null && d.version === 1 && Array.isArray(d.done) && d.done.every((id) => typeof id === 'string') && typeof d.failed === 'object' &&
    typeof d.journalBytes === 'number' && Array.isArray(d.runs);
}

/**
 * Durable progress for one pipeline. Cost per item is one slice of an append to the journal (group
 * commit), whatever the size of the run; the lowdb document is rewritten only when compacting (run
 * end, stop, resume), because lowdb always rewrites the whole file.
 */
export class CheckpointStore {
  /** Every id this process knows: the done ones, and (through sets over it, see `IdSet`) the engine's. */
  readonly ids: IdIndex;
  readonly failed = new Map<string, DeadLetter>();
  readonly stages = new Map<string, { stage: number; json: string }>();
  readonly outputTail: OutputTail = { committedBytes: null, pending: { from: 0, to: 0 }, lastGroup: { from: 0, to: 0 }, previousCommittedBytes: null };
  private journalFd: number;
  private journalBytes: number;
  private closed = false;

  private readOnly = false;

  private constructor(readonly paths: StatePaths, private readonly db: Low<CheckpointDoc>, readonly done: IdSet) {
    this.ids = done.ids;
    this.journalFd = openSync(paths.journal, 'a');
    this.journalBytes = fstatSync(this.journalFd).size;
  }

  get doc(): CheckpointDoc { return this.db.data; }

  /** Opens (or creates) the state of `pipeline`. `fresh` moves any existing state aside first. */
  static async open(stateRoot: string, pipeline: string, file: string, options: { fresh?: boolean; readOnly?: boolean } = {}): Promise<CheckpointStore> {
    const paths = statePaths(stateRoot, pipeline);
    if (options.fresh && existsSync(paths.dir)) renameSync(paths.dir, backupName(paths.dir));
    mkdirSync(paths.dir, { recursive: true });
    if (!options.readOnly) acquireLock(paths);
    const now = new Date().toISOString();
    const done = new IdSet(new IdIndex());
    const db = new Low<CheckpointDoc>(new CheckpointFile(paths.doc, done), {
      version: 1, pipeline, file, createdAt: now, updatedAt: now, journalBytes: 0, done: [], failed: {}, stages: {}, output: null, runs: [],
    });
    try {
      await db.read();
    } catch (e) {
      releaseLock(paths);
      throw messages.stateCorrupt(paths.doc, (e as Error).message);
    }
    if (!isDoc(db.data)) {
      releaseLock(paths);
      throw messages.stateCorrupt(paths.doc, 'not a pipeline-tui state document (version 1)');
    }
    if (!options.readOnly) {
      trimPartialTail(paths.journal);
      // We hold the lock, so a run still marked running was killed before it could say so.
      const last = db.data.runs.at(-1);
      if (last?.status === 'running') last.status = 'crashed';
    }
    const store = new CheckpointStore(paths, db, done);
    store.readOnly = options.readOnly ?? false;
    try {
      await store.replay();
    } catch (e) {
      store.close();
      if (e instanceof JournalCorruptError) throw messages.stateCorrupt(paths.journal, e.message);
      throw e;
    }
    return store;
  }

  private async replay(): Promise<void> {
    const doc = this.db.data; // its done ids are in `done` (see CheckpointFile)
    for (const [id, d] of Object.entries(doc.failed)) this.failed.set(id, d);
    for (const [id, s] of Object.entries(doc.stages ?? {})) this.stages.set(id, s);
    const tail = this.outputTail;
    tail.committedBytes = doc.output?.bytes ?? null;
    if (doc.journalBytes > this.journalBytes) throw new JournalCorruptError(0, `shorter (${this.journalBytes} bytes) than the state document says (${doc.journalBytes})`);
    // Where the done items not yet vouched for by an output checkpoint start.
    let group = doc.journalBytes;
    await replayJournal(this.paths.journal, doc.journalBytes, {
      wantIds: () => this.failed.size > 0 || this.stages.size > 0,
      done: (d) => {
        if (d.id === undefined) { this.done.addAscii(d.buf, d.idStart, d.idEnd); return; }
        this.done.add(d.id);
        this.failed.delete(d.id);
        this.stages.delete(d.id);
      },
      output: (bytes, start, end) => {
        tail.previousCommittedBytes = tail.committedBytes;
        tail.committedBytes = bytes;
        tail.lastGroup = { from: group, to: start };
        group = end + 1;
      },
      entry: (e) => {
        switch (e.k) {
          case 'x': this.failed.delete(e.id); break;
          case 's': this.stages.set(e.id, { stage: e.st, json: e.r }); break;
          case 'f': this.failed.set(e.id, e.e); this.stages.delete(e.id); break;
        }
      },
    });
    tail.pending = { from: Math.min(group, this.journalBytes), to: this.journalBytes };
  }

  get journalSize(): number { return this.journalBytes; }

  /** One write per group: entries become durable (against a process crash) when this returns. */
  append(text: string): void {
    if (text.length === 0) return;
    this.journalBytes += writeAll(this.journalFd, text);
  }

  /** Folds the in-memory view into the lowdb document, which is then consistent with the journal up to now. */
  async compact(extra: { output?: { path: string; bytes: number } | null; run?: RunRecord } = {}): Promise<void> {
    const doc = this.db.data;
    doc.updatedAt = new Date().toISOString();
    doc.journalBytes = this.journalBytes;
    doc.failed = Object.fromEntries(this.failed);
    doc.stages = Object.fromEntries(this.stages);
    if (extra.output !== undefined) doc.output = extra.output;
    if (extra.run) {
      const last = doc.runs.at(-1);
      if (last && last.startedAt === extra.run.startedAt) doc.runs[doc.runs.length - 1] = extra.run;
      else doc.runs.push(extra.run);
      if (doc.runs.length > 100) doc.runs.splice(0, doc.runs.length - 100);
    }
    await this.db.write();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.journalFd);
    // A read-only view never took the lock, so it must not drop one (ours or anyone's).
    if (!this.readOnly) releaseLock(this.paths);
  }
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The pid holding the state's lock, if that process is alive. */
export function lockOwner(paths: StatePaths): number | undefined {
  if (!existsSync(paths.lock)) return undefined;
  const pid = Number(readFileSync(paths.lock, 'utf8').trim());
  return Number.isInteger(pid) && pidAlive(pid) ? pid : undefined;
}

function acquireLock(paths: StatePaths): void {
  if (existsSync(paths.lock)) {
    const pid = Number(readFileSync(paths.lock, 'utf8').trim());
    // A lock left by a killed process is stale; only a live owner (other than us) blocks. A run whose
    // launcher was just killed has a sandboxed child that follows it within moments: give it 3 s.
    if (Number.isInteger(pid) && pid !== process.pid) {
      const sleeper = new Int32Array(new SharedArrayBuffer(4));
      for (let waited = 0; pidAlive(pid) && waited < 3_000; waited += 50) Atomics.wait(sleeper, 0, 0, 50);
      if (pidAlive(pid)) throw messages.stateLocked(paths.dir, pid);
    }
  }
  writeFileSync(paths.lock, String(process.pid));
}

function releaseLock(paths: StatePaths): void {
  try {
    if (existsSync(paths.lock) && readFileSync(paths.lock, 'utf8').trim() === String(process.pid)) rmSync(paths.lock);
  } catch { /* best effort: a stale lock is detected by pid next time */ }
}
