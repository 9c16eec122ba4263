import type { ErrorCategory } from './types.js';

/**
 * Stable codes. Users grep logs and `status --json` for these, so they never change meaning.
 * Item-level codes end up in the dead-letter list; run-level codes end the run with exit 2.
 */
export const ErrorCode = {
  // item level
  Permanent: 'PERMANENT',
  Transient: 'TRANSIENT',
  Timeout: 'TIMEOUT',
  WorkerCrashed: 'WORKER_CRASHED',
  NotSerializable: 'NOT_SERIALIZABLE',
  ParseError: 'PARSE_ERROR',
  PermissionDenied: 'PERMISSION_DENIED',
  // run level
  Usage: 'USAGE',
  PipelineNotFound: 'PIPELINE_NOT_FOUND',
  PipelineLoad: 'PIPELINE_LOAD',
  PipelineInvalid: 'PIPELINE_INVALID',
  InputNotFound: 'INPUT_NOT_FOUND',
  InputInvalid: 'INPUT_INVALID',
  StateCorrupt: 'STATE_CORRUPT',
  StateLocked: 'STATE_LOCKED',
  WorkerStart: 'WORKER_START',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const categoryByCode: Record<string, ErrorCategory> = {
  [ErrorCode.Permanent]: 'permanent',
  [ErrorCode.NotSerializable]: 'permanent',
  [ErrorCode.Timeout]: 'timeout',
  [ErrorCode.WorkerCrashed]: 'crash',
  [ErrorCode.ParseError]: 'parse',
  [ErrorCode.PermissionDenied]: 'permission',
};

export function categoryOf(code: string): ErrorCategory {
  return categoryByCode[code] ?? 'transient';
}

/**
 * Thrown by pipeline code to fail an item at once, without retries.
 * Recognised by `name`/`code`, not `instanceof`: the class a pipeline imports may come from
 * another copy of this module (a worker thread, a different install).
 */
export class PermanentError extends Error {
  readonly code: string = ErrorCode.Permanent;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
    if (options?.code) this.code = options.code;
  }
}

/** A run-level failure: the CLI prints `message` (never a stack) and exits with `exitCode`. */
export class PipelineTuiError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PipelineTuiError';
    this.code = code;
    this.exitCode = options?.exitCode ?? 2;
    this.hint = options?.hint;
  }
}

/** Messages for run-level errors are made here, so wording stays consistent across commands. */
export const messages = {
  stateCorrupt: (file: string, detail: string) =>
    new PipelineTuiError(ErrorCode.StateCorrupt, `State file ${file} is unreadable: ${detail}`, {
      hint: 'Run again with --fresh to start over (the old state is kept as a backup), or restore the file.',
    }),
  stateLocked: (dir: string, pid: number) =>
    new PipelineTuiError(ErrorCode.StateLocked, `State ${dir} is in use by another pipeline-tui process (pid ${pid})`, {
      hint: 'Wait for it to finish or stop it; use --state DIR to run separately.',
    }),
  inputNotFound: (pattern: string) =>
    new PipelineTuiError(ErrorCode.InputNotFound, `Input ${pattern} matched no file`, {
      hint: 'Check the path (relative to the current directory) or pass inputs after the pipeline name.',
    }),
  inputInvalid: (file: string, detail: string, hint?: string) =>
    new PipelineTuiError(ErrorCode.InputInvalid, `Input ${file}: ${detail}`, hint === undefined ? undefined : { hint }),
  noInput: (pipeline: string) =>
    new PipelineTuiError(ErrorCode.Usage, `Pipeline "${pipeline}" declares no input and none was given`, {
      hint: `Pass files, folders or globs: pipeline-tui run ${pipeline} data/*.jsonl`,
    }),
  usage: (detail: string, hint?: string) => new PipelineTuiError(ErrorCode.Usage, detail, hint === undefined ? undefined : { hint }),
  workerStart: (detail: string) =>
    new PipelineTuiError(ErrorCode.WorkerStart, `A worker thread could not start: ${detail}`),
};

/** Turns anything thrown into the plain fields an item error needs. */
export function describeThrown(thrown: unknown): { name: string; message: string; code: string | undefined; stack: string | undefined; status: number | undefined } {
  if (thrown instanceof Error || (typeof thrown === 'object' && thrown !== null && 'message' in thrown)) {
    const e = thrown as Error & { code?: unknown; status?: unknown; statusCode?: unknown };
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: String(e.message),
      code: typeof e.code === 'string' ? e.code : undefined,
      stack: typeof e.stack === 'string' ? e.stack : undefined,
      status,
    };
  }
  return { name: 'Error', message: String(thrown), code: undefined, stack: undefined, status: undefined };
}

/**
 * Permanent means retrying cannot help: the pipeline said so, or a provider answered with a 4xx
 * that is not about timing (408 timeout, 409 conflict, 429 rate limit are worth another try).
 */
export function isPermanent(d: { name: string; code: string | undefined; status: number | undefined }): boolean {
  if (d.name === 'PermanentError' || d.code === ErrorCode.Permanent || d.code === ErrorCode.PermissionDenied) return true;
  if (d.code === ErrorCode.NotSerializable) return true;
  if (d.status !== undefined && d.status >= 400 && d.status < 500) return d.status !== 408 && d.status !== 409 && d.status !== 429;
  return false;
}
