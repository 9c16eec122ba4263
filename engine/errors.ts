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
  ProviderRateLimited: 'PROVIDER_RATE_LIMITED',
  ProviderError: 'PROVIDER_ERROR',
  ProviderRejected: 'PROVIDER_REJECTED',
  // run level
  Usage: 'USAGE',
  PipelineNotFound: 'PIPELINE_NOT_FOUND',
  PipelineLoad: 'PIPELINE_LOAD',
  PipelineInvalid: 'PIPELINE_INVALID',
  InputNotFound: 'INPUT_NOT_FOUND',
  InputInvalid: 'INPUT_INVALID',
  InputEmpty: 'INPUT_EMPTY',
  InputUnsupported: 'INPUT_UNSUPPORTED',
  InputUnreadable: 'INPUT_UNREADABLE',
  StateCorrupt: 'STATE_CORRUPT',
  StateLocked: 'STATE_LOCKED',
  WorkerStart: 'WORKER_START',
  RedisUnavailable: 'REDIS_UNAVAILABLE',
  RedisConfig: 'REDIS_CONFIG',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const categoryByCode: Record<string, ErrorCategory> = {
  [ErrorCode.Permanent]: 'permanent',
  [ErrorCode.NotSerializable]: 'permanent',
  [ErrorCode.Timeout]: 'timeout',
  [ErrorCode.WorkerCrashed]: 'crash',
  [ErrorCode.ParseError]: 'parse',
  [ErrorCode.PermissionDenied]: 'permission',
  [ErrorCode.ProviderRateLimited]: 'provider',
  [ErrorCode.ProviderError]: 'provider',
  [ErrorCode.ProviderRejected]: 'permanent',
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

/** What a sandboxed pipeline asked for and was refused; `run` is a child process (only -A allows those). */
export type PermissionKind = 'read' | 'write' | 'net' | 'env' | 'run';

/** `Requires read access to "/etc/passwd"; run again with --allow-read=/etc/passwd`: the flag to add, ready to paste. */
export function permissionMessage(kind: PermissionKind, resource: string, flagValue = resource): string {
  const flag = kind === 'run' ? '-A' : `--allow-${kind}${flagValue === '' ? '' : `=${flagValue}`}`;
  return `Requires ${kind} access${resource === '' ? '' : ` to "${resource}"`}; run again with ${flag}`;
}

/** A sandbox denial. Fails the item at once: running it again without the flag cannot succeed. */
export class PermissionDeniedError extends Error {
  readonly code: string = ErrorCode.PermissionDenied;
  constructor(readonly kind: PermissionKind, readonly resource: string, flagValue?: string) {
    super(permissionMessage(kind, resource, flagValue));
    this.name = 'PermissionDeniedError';
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
  // Input problems read "Input <file>: <what> — <what to do>", on one line, so a log grep shows the fix too.
  inputNotFound: (pattern: string, kind: 'path' | 'glob' | 'folder' = 'path') =>
    new PipelineTuiError(ErrorCode.InputNotFound, `Input ${pattern}: ${kind === 'glob' ? 'the pattern matched no file' : kind === 'folder' ? 'the folder holds no file of a supported type' : 'no such file or folder'} — check the path (relative to the current directory) or pass inputs after the pipeline name`),
  inputInvalid: (file: string, detail: string, todo: string) =>
    new PipelineTuiError(ErrorCode.InputInvalid, `Input ${file}: ${detail} — ${todo}`),
  inputEmpty: (file: string) =>
    new PipelineTuiError(ErrorCode.InputEmpty, `Input ${file}: the file is empty — add records to it or leave it out of the inputs`),
  inputUnsupported: (file: string, ext: string, supported: string) =>
    new PipelineTuiError(ErrorCode.InputUnsupported, `Input ${file}: unknown file type "${ext || '(none)'}" — convert it to one of ${supported}, or leave it out of the inputs`),
  inputUnreadable: (file: string, detail: string, todo: string) =>
    new PipelineTuiError(ErrorCode.InputUnreadable, `Input ${file}: ${detail} — ${todo}`),
  watchFolderMissing: (dir: string) =>
    new PipelineTuiError(ErrorCode.InputNotFound, `Watch folder ${dir}: no such folder — create it, or pass the folders to watch after the pipeline name`),
  noInput: (pipeline: string) =>
    new PipelineTuiError(ErrorCode.Usage, `Pipeline "${pipeline}" declares no input and none was given`, {
      hint: `Pass files, folders or globs: pipeline-tui run ${pipeline} data/*.jsonl`,
    }),
  usage: (detail: string, hint?: string) => new PipelineTuiError(ErrorCode.Usage, detail, hint === undefined ? undefined : { hint }),
  workerStart: (detail: string) =>
    new PipelineTuiError(ErrorCode.WorkerStart, `A worker thread could not start: ${detail}`),
  redisUnavailable: (url: string, detail: string) =>
    new PipelineTuiError(ErrorCode.RedisUnavailable, `Cannot reach Redis at ${url}: ${detail}`, {
      hint: 'Check the --redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS) and that the server is running.',
    }),
  redisConfig: (url: string, detail: string, hint: string) =>
    new PipelineTuiError(ErrorCode.RedisConfig, `Redis at ${url} ${detail}`, { hint }),
  coordinatorBusy: (pipeline: string, url: string, holder: string, expiresInMs: number) =>
    new PipelineTuiError(ErrorCode.StateLocked, `Pipeline "${pipeline}" already has a coordinator on ${url}: ${holder}`, {
      hint: `One run of a pipeline at a time per Redis: stop that one first, or use another Redis. A coordinator that died releases its claim within ${Math.max(1, Math.ceil(expiresInMs / 1000))} s.`,
    }),
};

/** Turns anything thrown into the plain fields an item error needs. */
export function describeThrown(thrown: unknown): { name: string; message: string; code: string | undefined; stack: string | undefined; status: number | undefined; retryAfterMs: number | undefined } {
  if (thrown instanceof Error || (typeof thrown === 'object' && thrown !== null && 'message' in thrown)) {
    const e = thrown as Error & { code?: unknown; status?: unknown; statusCode?: unknown; retryAfterMs?: unknown };
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: String(e.message),
      code: typeof e.code === 'string' ? e.code : undefined,
      stack: typeof e.stack === 'string' ? e.stack : undefined,
      status,
      retryAfterMs: typeof e.retryAfterMs === 'number' && Number.isFinite(e.retryAfterMs) && e.retryAfterMs > 0 ? e.retryAfterMs : undefined,
    };
  }
  return { name: 'Error', message: String(thrown), code: undefined, stack: undefined, status: undefined, retryAfterMs: undefined };
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
