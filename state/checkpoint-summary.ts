import { existsSync } from 'node:fs';
import { CheckpointStore, type RunRecord } from './checkpoint.js';
import { statePaths } from './paths.js';

/** What the picker and the resume prompt say about a pipeline's checkpoint. */
export interface CheckpointSummary {
  done: number;
  failed: number;
  /** Items known to be left (part-way through stages, or unread by a run that knew its total); `null` when unknown. */
  left: number | null;
  lastRun: RunRecord | null;
  /** The last run did not complete (stopped, killed or crashed), or items are part-way through stages. */
  unfinished: boolean;
  /** When the last run ended, else when it started. */
  at: string | null;
}

/**
 * Reads a pipeline's checkpoint without locking or changing it; `null` when the pipeline never ran.
 * Throws the store's own error (naming the file and `--fresh`) when the state is unreadable.
 */
export async function readCheckpointSummary(stateRoot: string, pipeline: string): Promise<CheckpointSummary | null> {
  // Opening creates the state folder; a pipeline that never ran must not get one just from being looked at.
  if (!existsSync(statePaths(stateRoot, pipeline).doc)) return null;
  const store = await CheckpointStore.open(stateRoot, pipeline, '', { readOnly: true });
  try {
    const lastRun = store.doc.runs.at(-1) ?? null;
    const done = store.done.size;
    const failed = store.failed.size;
    const unread = lastRun?.total === undefined ? null : Math.max(0, lastRun.total - done - failed);
    // Items part-way through stages are among the unread ones when the total is known.
    const left = unread ?? (store.stages.size > 0 ? store.stages.size : null);
    return {
      done,
      failed,
      left,
      lastRun,
      unfinished: (lastRun !== null && lastRun.status !== 'completed') || store.stages.size > 0,
      at: lastRun?.endedAt ?? lastRun?.startedAt ?? null,
    };
  } finally {
    store.close();
  }
}
