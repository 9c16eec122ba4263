import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { backupName } from '../../state/paths.js';
import type { CheckpointStore } from '../../state/checkpoint.js';
import { recordId } from '../ids.js';
import { readOptionsOf } from '../inputs.js';
import { atomicWrite, removeStaleTemps } from './atomic.js';
import { DoneIndex, outputJson } from './done-rows.js';
import { JsonlOutput } from './jsonl.js';
import { writeCsv, writeXlsx, type TableContext } from './tables.js';
import type { OutputOptions, OutputPipeline, OutputWriter } from './types.js';

export type { OutputOptions, OutputPipeline, OutputWriter } from './types.js';
export { JsonlOutput } from './jsonl.js';

type Build = (file: string, journal: string, ctx: TableContext) => Promise<void>;

/** jsonl in input order, and json: the jsonl lines, sliced from the journal, never re-serialised. */
const wholeJsonl: Build = (file, journal) => writeLines(file, journal, { open: '', sep: '\n', close: '\n', empty: '' });
const wholeJson: Build = (file, journal) => writeLines(file, journal, { open: '[\n', sep: ',\n', close: '\n]\n', empty: '[]\n' });

async function writeLines(file: string, journal: string, f: { open: string; sep: string; close: string; empty: string }): Promise<void> {
  const index = await DoneIndex.build(journal);
  await atomicWrite(file, async (out) => {
    if (index.count === 0) { out.write(f.empty); return; }
    out.write(f.open);
    let first = true;
    for await (const rows of index.rows()) {
      let text = '';
      for (const r of rows) { text += `${first ? '' : f.sep}${outputJson(r.line)}`; first = false; }
      out.write(text);
    }
    out.write(f.close);
  });
}

const builders: Record<string, Build> = { '.jsonl': wholeJsonl, '.json': wholeJson, '.csv': writeCsv, '.xlsx': writeXlsx };

/**
 * A format written whole from the journal: at the end, at a stop, and during a long run at most every
 * `checkpointMs` (and never more than ~10% of the time: a rewrite that took 3 s waits 30 s at least).
 * Rows are in input order: completion order means nothing in a file written whole.
 */
class RebuiltOutput implements OutputWriter {
  readonly streaming = false;
  readonly bytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private writtenAt = -1;
  private nextAt: number;

  constructor(readonly file: string, private readonly build: Build, private readonly store: CheckpointStore, private readonly ctx: TableContext, private readonly everyMs: number) {
    this.nextAt = Date.now() + everyMs;
    this.timer = setInterval(() => {
      if (Date.now() >= this.nextAt && this.store.journalSize !== this.writtenAt) this.rewrite().catch(() => { /* the final rewrite reports */ });
    }, Math.min(1000, everyMs));
    this.timer.unref();
  }

  append(): void { throw new Error(`${this.file} is written whole, not appended`); }

  rewrite(): Promise<void> {
    this.chain = this.chain.catch(() => undefined).then(async () => {
      const journalBytes = this.store.journalSize;
      if (journalBytes === this.writtenAt && existsSync(this.file)) return;
      const started = Date.now();
      await this.build(this.file, this.store.paths.journal, this.ctx);
      this.writtenAt = journalBytes;
      this.nextAt = Date.now() + Math.max(this.everyMs, (Date.now() - started) * 10);
    });
    return this.chain;
  }

  close(): void { clearInterval(this.timer); }
}

/** Opens the output for a run: streamed jsonl for `order: 'completion'`, otherwise a format rebuilt whole. */
export async function openOutput(file: string, store: CheckpointStore, pipeline: OutputPipeline, options: OutputOptions = {}): Promise<OutputWriter> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl' && pipeline.order === 'completion') return JsonlOutput.open(file, store, { fresh: options.fresh ?? false });
  const build = builders[ext];
  if (!build) throw new TypeError(`Expected an output path ending in .jsonl, .json, .csv or .xlsx, got ${file}`);
  if (options.fresh && existsSync(file)) renameSync(file, backupName(file));
  removeStaleTemps(file);
  const ctx: TableContext = {
    cwd: options.cwd ?? process.cwd(),
    locate: options.locate,
    idOf: (record) => recordId(pipeline.definition, record),
    readOptions: readOptionsOf(pipeline.definition),
  };
  return new RebuiltOutput(file, build, store, ctx, options.checkpointMs ?? 30_000);
}
