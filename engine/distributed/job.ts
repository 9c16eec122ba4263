import type { ItemSource } from '../types.js';
import type { WireError } from '../wire.js';

/** A BullMQ job's data: one attempt of one stage of one item, everything a worker on another machine needs. */
export interface JobData {
  id: string;
  stage: number;
  /** The coordinator's attempt number; a worker adds the times BullMQ restarted the job after a stall. */
  attempt: number;
  source: ItemSource;
  /** The record itself (first stage) ... */
  record?: unknown;
  /** ... or the previous stage's result as JSON. */
  rj?: string;
}

/**
 * A job's return value. The processor never throws for an item's own failure: the coordinator decides
 * retries (BullMQ attempts stay 1), so a failed attempt is a completed job whose value says so.
 */
export type JobResult =
  | { ok: true; core: string; json: string; ms: number; attempt: number; by: string }
  | { ok: false; error: WireError; ms: number; attempt: number; by: string };
