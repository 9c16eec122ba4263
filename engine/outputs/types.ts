import type { ReadOptions } from '../readers/types.js';

/**
 * Where results go, chosen by the output path's extension. A streaming writer gets each group of
 * finished items as jsonl text (`append`) and the engine journals its size (`bytes`), so a crash is
 * reconciled exactly; the other formats are rebuilt whole from the journal (`rewrite`), atomically.
 */
export interface OutputWriter {
  readonly file: string;
  readonly streaming: boolean;
  /** Size the journal vouches for (streaming writers; 0 for the others). */
  readonly bytes: number;
  /** Streaming writers only. */
  append(text: string): void;
  /** Brings the file up to date with the journal; a no-op for streaming writers, which are always current. */
  rewrite(): Promise<void>;
  close(): void;
}

export interface OutputOptions {
  /** Start a new output; the old one is kept beside it as a backup. @default false */
  fresh?: boolean;
  /** Base of relative input paths in the journal. @default process.cwd() */
  cwd?: string;
  /** Where an input file is now if it moved after it was read (watch --move-done). @default where it was read */
  locate?: ((file: string) => string | undefined) | undefined;
  /** Rewrites of whole-file formats during a run, at most this often. @default 30000 */
  checkpointMs?: number;
}

/** What a whole-file format needs from the pipeline. */
export interface OutputPipeline {
  order: 'completion' | 'input';
  definition: { id?: ((record: any) => unknown) | undefined; sheet?: string | undefined; delimiter?: string | undefined };
}

export type { ReadOptions };
