import type { ItemSource } from '../types.js';

/** One record read from an input, or a line/row that could not be parsed (it becomes a failed item). */
export type InputRecord =
  | { record: unknown; source: ItemSource; error?: undefined }
  | { error: string; source: { file: string; line: number }; record?: undefined };

/** Per-pipeline reading options. */
export interface ReadOptions {
  /** Sheet of a workbook input. @default the first sheet */
  sheet?: string | undefined;
  /** Field delimiter of csv inputs. @default sniffed from the header line (`,` `;` tab `|`); tab for `.tsv` */
  delimiter?: string | undefined;
}

/**
 * A table input (csv, xlsx) opened again by position, to write results back beside the input's own
 * columns. Positions are asked for in ascending order.
 */
export interface InputTable {
  /** Column names as the reader keys records by. */
  readonly header: string[];
  /** csv: the dialect found, so a csv output can be written the same way. */
  readonly dialect?: CsvDialect;
  /** xlsx: the sheet read, so an xlsx output can keep its name. */
  readonly sheetName?: string;
  /** The record at `pos` (csv: line, xlsx: row) exactly as `read` produced it, and its cells for writing back. */
  at(pos: number): Promise<{ record: Record<string, unknown>; cells: unknown[] } | undefined>;
  close(): void;
}

export interface CsvDialect {
  delimiter: string;
  bom: boolean;
  eol: '\n' | '\r\n';
}

/** A format reader: a small interface so new formats plug in without touching the engine. */
export interface InputReader {
  readonly extensions: readonly string[];
  /** Cheap estimate of the record count, for progress before the file is fully read. */
  estimate(file: string, options: ReadOptions): Promise<number>;
  /**
   * Throws a PipelineTuiError (exit 2, naming the file and the fix) when the file cannot be read at all.
   * Runs for every input before anything is processed; formats parsed whole (json, xlsx) parse here.
   */
  check?(file: string, display: string, options: ReadOptions): Promise<void>;
  /** Records in batches: per-record async iteration costs more than parsing a small record. */
  read(file: string, display: string, options: ReadOptions): AsyncIterable<InputRecord[]>;
  /** Table formats only: reopen the file to look rows up by position. */
  table?(file: string, options: ReadOptions): Promise<InputTable>;
}

/** What a record source may ask of the run it feeds. */
export interface SourceRun {
  /** Whether item `id` has its final outcome (done, or dead-lettered) in the checkpoint. */
  isSettled(id: string): boolean;
}

/** Batches of records from somewhere other than input files read once: watch mode's never-ending source. */
export interface RecordSource extends AsyncIterable<InputRecord[]> {
  /** Called by the engine when its run starts, before the first batch is asked for. */
  attach?(run: SourceRun): void;
  /** Where an input file read earlier is now, if it moved since it was read (watch --move-done). */
  locate?(file: string): string | undefined;
}
