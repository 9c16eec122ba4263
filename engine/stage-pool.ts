import type { PoolHooks, PoolOptions, PoolSource } from './worker-pool.js';

/**
 * Where the engine's items go for one stage: the local supervised pool of worker threads (WorkerPool),
 * or a BullMQ queue served by many machines (distributed/dispatcher.ts). The engine owns ordering,
 * retries and the checkpoint; a stage pool only runs what it takes and reports back through the hooks.
 */
export interface StagePool<T> {
  readonly stage: number;
  start(): Promise<void>;
  /** Offers work: the pool takes from its source what it has room for. */
  kick(): void;
  /** Local worker threads; growing is immediate, shrinking waits for running items. */
  resize(n: number): void;
  /** Stops everything; returns the items still held, which the caller checkpoints as pending. */
  stop(): Promise<T[]>;
  /** Live workers (on every machine, for a distributed stage). */
  readonly size: number;
  readonly targetSize: number;
  readonly busy: number;
  /** Items taken and not yet reported: the engine's run is not finished while any are. */
  readonly inFlight: number;
  /** Of `inFlight`, items handed on but not started yet (jobs waiting in Redis); running = inFlight - queued. @default 0 */
  readonly queued?: number;
  readonly crashes: number;
  readonly timeouts: number;
  readonly replacements: number;
  readonly maxSize: number;
  /**
   * Dispatch changes: `paused` (running items finish, nothing new starts, everywhere), `running` again,
   * or `stopping` (a graceful stop: work handed on but not started comes back through `lost` as innocent).
   */
  setDispatch?(state: 'running' | 'paused' | 'stopping'): void;
}

export type StagePoolFactory<T> = (options: PoolOptions, source: PoolSource<T>, hooks: PoolHooks<T>) => StagePool<T>;
