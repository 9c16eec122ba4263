import path from 'node:path';

/** Every file of a pipeline's state, named in one place. */
export interface StatePaths {
  dir: string;
  /** lowdb document: the compacted index (done ids, dead letters, runs). */
  doc: string;
  /** Append-only journal: every completion since the start, results included; the doc records how much of it it has folded in. */
  journal: string;
  log: string;
  lock: string;
}

export function statePaths(stateRoot: string, pipeline: string): StatePaths {
  const dir = path.resolve(stateRoot, pipeline);
  return {
    dir,
    doc: path.join(dir, 'state.json'),
    journal: path.join(dir, 'journal.jsonl'),
    log: path.join(dir, 'log.jsonl'),
    lock: path.join(dir, 'lock'),
  };
}

export function backupName(p: string, now = new Date()): string {
  return `${p}.backup-${now.toISOString().replace(/[:.]/g, '-')}`;
}
