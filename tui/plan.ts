// What the CLI can know about a run from the pipeline's text, before (or instead of) loading it: the
// declaration the sandbox is planned from, and how many worker threads to start ahead of the pool.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Declaration } from '../engine/declaration.js';
import { scanPipeline } from '../engine/declaration-scan.js';
import { isFile, isPipelinePath, listPipelineFiles } from '../engine/pipeline-files.js';
import type { WorkersSetting } from '../engine/types.js';

/** The flags that size a run's pools. */
export interface PoolFlags {
  workers?: number | 'auto';
  redis?: string;
}

export interface ScannedPipeline {
  declaration: Declaration;
  /** The first stage's pool size when the text says it. */
  poolSize: number | undefined;
}

/**
 * The pipeline REF names, read from its text, without running it. Undefined when that is not certain
 * (the file is only found by evaluating others, or the text is not plain literals).
 */
export function scanPipelineRef(ref: string, cwd: string): ScannedPipeline | undefined {
  let file = path.resolve(cwd, ref);
  const byPath = isFile(file);
  if (!byPath) {
    // `run NAME`: the file named NAME in ./pipelines/, when its `name` is NAME (else the loader looks further).
    if (isPipelinePath(ref)) return undefined;
    const byName = listPipelineFiles(path.join(cwd, 'pipelines')).find((f) => path.basename(f).replace(/\.(m?ts|m?js)$/, '') === ref);
    if (byName === undefined) return undefined;
    file = byName;
  }
  let source: string;
  try { source = readFileSync(file, 'utf8'); } catch { return undefined; }
  const scanned = scanPipeline(file, source);
  return scanned && (byPath || scanned.declaration.name === ref) ? scanned : undefined;
}

/**
 * How many workers to start ahead for a run: what its first pool will start with (see Engine.poolSize),
 * undefined when unknown or distributed (those pools are not local worker pools).
 */
export function prestartCount(flags: PoolFlags | undefined, setting: WorkersSetting | undefined): number | undefined {
  if (!flags || flags.redis !== undefined) return undefined;
  const w = flags.workers ?? setting;
  return w === 'auto' ? 1 : typeof w === 'object' ? w.min : w;
}
