import type { LlmRequest, LlmResponse } from './providers/adapters.js';
export type { LlmRequest, LlmResponse };

/** Where a record came from, so errors and outputs can point back at the input. */
export type ItemSource =
  | { file: string; line: number }
  | { file: string; row: number }
  /** The n-th item a pipeline's `expand` made of one record (1-based). */
  | { file: string; part: number }
  | { file: string };

export interface RetryOptions {
  /** Every try counts, the first included. @default 3 */
  attempts?: number;
  /** Base of the exponential backoff (full jitter). @default 1000 */
  backoffMs?: number;
  /** Cap of one backoff wait. @default 60000 */
  maxBackoffMs?: number;
}

export interface ProviderLimits {
  rpm?: number;
  tpm?: number;
  model?: string;
  fallback?: string;
  baseURL?: string;
}

export interface Permissions {
  read?: string[];
  write?: string[];
  net?: string[];
  env?: string[];
}

export interface ProcessContext {
  /** The item's stable id. */
  id: string;
  /** 1-based number of this try. */
  attempt: number;
  /** Aborted on timeout or stop. */
  signal: AbortSignal;
  source: ItemSource;
  /** Index of the running stage (0 for single-stage pipelines). */
  stage: number;
  log(message: string): void;
  /**
   * Calls an AI provider declared in `providers`, under its global limits (every worker, every
   * machine), with 429/5xx retries and the provider's `fallback`.
   */
  llm(provider: string, request: LlmRequest): Promise<LlmResponse>;
}

export type ProcessFn<In = any, Out = unknown> = (record: In, ctx: ProcessContext) => Out | Promise<Out>;

export interface ReduceContext {
  pipeline: string;
  /** The run's output path (absolute), so a reduce can write its result beside it. */
  output: string;
  log(message: string): void;
}

export interface StageDefinition<In = any, Out = unknown> {
  name: string;
  process: ProcessFn<In, Out>;
  workers?: number;
  timeoutMs?: number;
  retry?: RetryOptions;
}

export type WorkersSetting = number | { min: number; max: number };

export interface PipelineDefinition<In = any, Out = unknown> {
  name: string;
  description?: string;
  input?: string | string[];
  watch?: string | string[];
  /**
   * Splits one input record into several items (a document into chunks), processed in parallel and
   * checkpointed one by one. Not in the base contract; `reduce` can put the parts back together.
   */
  expand?: (record: any) => Iterable<In>;
  id?: (record: In) => string;
  priority?: (record: In) => number;
  /** @default 4 */
  workers?: WorkersSetting;
  /** Per attempt. @default 60000 */
  timeoutMs?: number;
  retry?: RetryOptions;
  providers?: Record<string, ProviderLimits>;
  permissions?: Permissions;
  process?: ProcessFn<In, Out>;
  stages?: StageDefinition[];
  reduce?: (results: AsyncIterable<{ id: string; result: Out }>, ctx: ReduceContext) => unknown;
  /** @default `out/<name>.jsonl` */
  output?: string;
  /** @default 'completion' */
  order?: 'completion' | 'input';
  /** Sheet of workbook inputs. @default the first sheet */
  sheet?: string;
  /** Field delimiter of csv inputs. @default sniffed from the header line; tab for `.tsv` */
  delimiter?: string;
}

/** A pipeline after loading and validation: every default filled in once. */
export interface LoadedPipeline {
  readonly file: string;
  readonly definition: PipelineDefinition;
  readonly name: string;
  readonly description: string;
  readonly input: string[];
  readonly watch: string[];
  readonly output: string;
  readonly order: 'completion' | 'input';
  readonly stages: ResolvedStage[];
  readonly workers: WorkersSetting;
  readonly hasReduce: boolean;
}

export interface ResolvedStage {
  readonly name: string;
  readonly index: number;
  readonly timeoutMs: number;
  readonly retry: Required<RetryOptions>;
  readonly workers: number | undefined;
}

export type ErrorCategory = 'permanent' | 'transient' | 'timeout' | 'crash' | 'parse' | 'permission' | 'provider';

/** One failed attempt, as stored in the dead-letter list and printed by `status`. */
export interface AttemptError {
  code: string;
  message: string;
  category: ErrorCategory;
  attempt: number;
  stage: number;
  at: string;
  file?: string;
  line?: number;
}

/** A failed attempt as the dashboard lists it: which item, and how it failed. */
export type RecentError = AttemptError & { id: string };

export interface LatencyStats {
  min: number;
  avg: number;
  p50: number;
  p95: number;
  max: number;
}

export interface RunCounts {
  total: number;
  /** `total` is a lower bound until every input has been read. */
  totalKnown: boolean;
  done: number;
  failed: number;
  /** Already done in an earlier run, or a repeated id in this one. */
  skipped: number;
  pending: number;
  running: number;
  retrying: number;
}

export interface WorkerStats {
  size: number;
  target: number;
  busy: number;
  crashes: number;
  timeouts: number;
  replacements: number;
  perStage: { name: string; size: number; busy: number; queued: number }[];
}

export interface EngineStats {
  pipeline: string;
  state: 'idle' | 'running' | 'paused' | 'draining' | 'done';
  startedAt: number;
  elapsedMs: number;
  counts: RunCounts;
  /** Items finished per second over the last few seconds. */
  rate: number;
  etaMs: number | null;
  byPriority: Record<string, number>;
  workers: WorkerStats;
  /** `recent`: the last 20 failed attempts, oldest first, each with the id of its item. */
  errors: { byCategory: Record<string, number>; byCode: Record<string, number>; recent: RecentError[] };
  processingMs: LatencyStats;
  /** Per-provider usage; empty when the pipeline declares no providers. */
  providers: Record<string, ProviderUsage>;
  simulated: boolean;
  /** Distributed runs (`--redis`) only: the connection, shown as "Redis: connected" / "Redis: reconnecting". */
  redis?: { url: string; status: 'connected' | 'connecting' | 'reconnecting' | 'closed' };
  /** Distributed runs only: every machine serving the run (this one included), with its throughput. */
  machines?: MachineStats[];
}

/** One machine of a distributed run, as the dashboard, `status` and the metrics show it. */
export interface MachineStats {
  /** `<host>:<pid>` */
  id: string;
  host: string;
  pid: number;
  role: 'coordinator' | 'worker';
  /** Announced itself in the last few seconds; a killed machine stays listed as gone (false). */
  up: boolean;
  workers: number;
  busy: number;
  /** Attempts of this run it finished, counted by the coordinator from the results it collected. */
  done: number;
  failed: number;
  /** Items per second over the last ~10 s. */
  rate: number;
}

export interface ProviderUsage {
  simulated: boolean;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  rateLimited: number;
  retries: number;
  fallbacks: number;
  errors: Record<string, number>;
  latencyP50: number;
  latencyP95: number;
  currentRpm: number;
  limitRpm: number | null;
  limitTpm: number | null;
}

export interface RunSummary {
  pipeline: string;
  file: string;
  simulated: boolean;
  status: 'completed' | 'stopped';
  exitCode: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  totals: { total: number; done: number; failed: number; skipped: number; doneThisRun: number; failedThisRun: number; attempts: number; retries: number };
  processingMs: LatencyStats;
  throughput: { itemsPerSecond: number };
  errors: { byCategory: Record<string, number>; byCode: Record<string, number> };
  providers: Record<string, ProviderUsage>;
  /** What the simulator's server saw, when providers were simulated (violations: only where it was given an rpm). */
  simulator?: {
    requests: number; violations: number; maxPerSecond: number; rateLimited: number;
    /** Each simulated provider's own count at the server: compare maxPerSecond with its rpm/60. */
    providers: Record<string, { requests: number; violations: number; maxPerSecond: number }>;
  };
  workers: { initial: number; final: number; max: number; crashes: number; timeouts: number; replacements: number };
  output: string;
  stateDir: string;
  reduce?: unknown;
}

/** The engine's typed event stream: what `--json` prints and the dashboard reads. */
export type EngineEvent =
  | { type: 'start'; pipeline: string; file: string; workers: number; resumed: { done: number; failed: number }; time: string }
  | { type: 'item-started'; id: string; stage: number; attempt: number; worker: number }
  | { type: 'item'; id: string; status: 'done'; stage: number; attempts: number; ms: number; source: ItemSource }
  | { type: 'item'; id: string; status: 'failed'; stage: number; attempts: number; error: AttemptError; source: ItemSource }
  | { type: 'retrying'; id: string; stage: number; attempt: number; delayMs: number; error: AttemptError }
  | { type: 'worker'; status: 'up' | 'down' | 'crashed' | 'timeout'; worker: number; stage: number; reason?: string }
  | { type: 'queue'; pending: number; running: number; retrying: number }
  | { type: 'paused' } | { type: 'resumed' }
  | { type: 'resized'; stage: number; from: number; to: number }
  | { type: 'checkpointed'; done: number; failed: number; journalBytes: number }
  | { type: 'log'; id: string | null; worker: number | null; message: string; time: string }
  | { type: 'progress'; counts: RunCounts; rate: number; etaMs: number | null; workers: number }
  | { type: 'end'; summary: RunSummary };
