import type { LlmRequest, LlmResponse } from './providers/adapters.js';
import type { ItemSource } from './types.js';

/**
 * Messages between the pool (main thread) and a worker thread. Kept flat and small because
 * 100k tiny items means 100k of these crossing threads.
 */
export interface WireItem {
  /** Per-worker dispatch number; how the pool matches results and how the watchdog knows the running item. */
  s: number;
  id: string;
  attempt: number;
  source: ItemSource;
  /** The record itself (first stage) ... */
  record?: unknown;
  /** ... or its JSON (later stages), parsed in the worker so the main thread never parses it. */
  rj?: string;
}

export type WireResult =
  | {
      s: number;
      ok: true;
      /** `"id":…,"result":…,"source":…}`: the tail of the output line, built in the worker so the main thread only concatenates. */
      core: string;
      /** JSON of the result, for stages whose output feeds the next stage. */
      json: string;
      ms: number;
    }
  | { s: number; ok: false; error: WireError; ms: number };

export interface WireError {
  name: string;
  message: string;
  code: string;
  permanent: boolean;
  status?: number;
  /**
   * The soonest a retry can help (ms from the failure): a provider's Retry-After, passed on by ctx.llm,
   * or set on an error by the pipeline. The item's next try waits at least this long (up to maxBackoffMs).
   */
  retryAfterMs?: number;
  file?: string;
  line?: number;
  column?: number;
}

/**
 * A prestarted worker's workerData (engine/worker-prestart.ts): the file only, so it can load the
 * pipeline before its pool exists; the pool then sends the WorkerInit in an InitMessage.
 */
export interface PrestartData { file: string; prestarted: true }
/**
 * To a prestarted worker: `load` once the main thread has loaded the pipeline (so the transpile cache is
 * warm: workers that transpiled too would each load the transpiler); `init` once its pool adopts it (implies load).
 */
export type PrestartMessage = { __pt: 'load' } | { __pt: 'init'; init: WorkerInit };

export interface WorkerInit {
  file: string;
  /** The stage this worker's pool runs. */
  stage: number;
  /** Index of this worker's slot in the shared progress buffers. */
  slot: number;
  progressSeq: SharedArrayBuffer;
  progressTime: SharedArrayBuffer;
  timeouts: number[];
  /** This worker's batch slot and wake-up words (mailbox.ts). */
  mailbox: SharedArrayBuffer;
}

/**
 * Batches travel through the worker's mailbox (shared memory, mailbox.ts) or as single tagged messages,
 * both beside threads.js's protocol: a threads.js call costs three messages (run, running, result) and a
 * listener per call, which at 100k items is the cost. threads.js still spawns the worker, checks its
 * start-up and exposes its control API.
 */
export interface BatchMessage { __pt: 'batch'; stage: number; items: WireItem[] }

/** A batch is in the mailbox of a worker that stopped watching it (idle for a while, see mailbox.ts). */
export interface WakeMessage { __pt: 'wake' }

/** Raw messages a worker posts outside threads.js's request/response protocol. */
export type WorkerSideMessage =
  | { __pt: 'results'; results: WireResult[] }
  | { __pt: 'log'; id: string | null; message: string }
  | { __pt: 'crash'; error: WireError }
  | { __pt: 'llm'; call: number; provider: string; request: LlmRequest }
  | { __pt: 'llm-abort'; call: number };

/** The main thread's answer to a worker's ctx.llm call. */
export type LlmReply =
  | { __pt: 'llm-done'; call: number; ok: true; value: LlmResponse }
  | { __pt: 'llm-done'; call: number; ok: false; error: { name: string; code: string; message: string; status?: number; retryAfterMs?: number } };
