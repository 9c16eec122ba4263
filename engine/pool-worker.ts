import type { Worker } from './threads.js';
import { encodeBatch, PoolMailbox } from './mailbox.js';
import type { BatchMessage, WakeMessage, WireError, WireItem, WireResult } from './wire.js';

/**
 * One worker thread as its pool sees it: the batches it holds and the two ways they reach it (the
 * mailbox, or a message when the mailbox cannot carry one). The pool decides who gets what and
 * supervises; this keeps the books that make a batch's items findable when results, a crash or a
 * take-back come.
 */
export class PoolWorker<T> {
  thread: { stages(): Promise<number> } | undefined;
  /** Items given and not reported, by dispatch number (`s`). */
  readonly outstanding = new Map<number, T>();
  retiring = false;
  dead = false;
  crash: WireError | undefined;
  /** ctx.llm calls in flight for this worker, aborted if it dies. */
  readonly calls = new Map<number, AbortController>();
  /** Item counts of the batches given and not reported, oldest (the running one) first. */
  private readonly sizes: number[] = [];
  private nextSeq = 0;
  private readonly mailbox: PoolMailbox;
  /** The worker has finished a batch, so it watches its mailbox from now on (see worker-entry.ts). */
  private mailReady = false;
  /** The batch last put in the mailbox, until it is reported or taken back (the worker may have started it). */
  private mail: { items: T[]; first: number } | undefined;

  constructor(readonly id: number, readonly slot: number, readonly native: InstanceType<typeof Worker>, mailbox: SharedArrayBuffer) {
    this.mailbox = new PoolMailbox(mailbox, () => native.postMessage({ __pt: 'wake' } satisfies WakeMessage));
  }

  get batches(): number { return this.sizes.length; }

  /** Items of batches given but not started (all but the oldest batch). */
  get queued(): number {
    let n = 0;
    for (let i = 1; i < this.sizes.length; i++) n += this.sizes[i]!;
    return n;
  }

  /**
   * Whether a next batch may be given while one runs: only if nothing else is unstarted (the mailbox's
   * ordering invariant) and, when `reclaimableOnly`, only into the mailbox, where it can be taken back.
   */
  mayQueue(reclaimableOnly: boolean): boolean {
    if (this.mailbox.unstarted > 0) return false;
    return !reclaimableOnly || (this.mailReady && this.mailbox.empty);
  }

  send(items: T[], toWire: (item: T, s: number) => WireItem, stage: number): void {
    const wire = new Array<WireItem>(items.length);
    const first = this.nextSeq;
    for (let i = 0; i < items.length; i++) {
      const s = this.nextSeq++;
      this.outstanding.set(s, items[i]!);
      wire[i] = toWire(items[i]!, s);
    }
    this.sizes.push(items.length);
    if (this.mailReady) {
      // undefined: values JSON cannot carry exactly; put() false: too large for the slot. Both go by message.
      const json = encodeBatch(wire);
      if (json !== undefined && this.mailbox.put(json)) { this.mail = { items, first }; return; }
    }
    const message: BatchMessage = { __pt: 'batch', stage, items: wire };
    this.mailbox.posting();
    this.native.postMessage(message);
    this.mailbox.wake(false);
  }

  /** The batch in the mailbox if the worker has not started it: no longer outstanding, its items to give back. */
  reclaim(): T[] | undefined {
    const mail = this.mail;
    if (!mail || this.dead) return undefined;
    this.mail = undefined;
    if (!this.mailbox.reclaim()) return undefined;
    for (let i = 0; i < mail.items.length; i++) this.outstanding.delete(mail.first + i);
    this.sizes.pop(); // the unstarted batch is always the newest
    return mail.items;
  }

  /** The items `results` (one batch, the oldest) report, in order; they are no longer outstanding. */
  settle(results: WireResult[]): T[] {
    this.sizes.shift();
    this.mailReady = true;
    if (this.mail && this.mail.first === results[0]?.s) this.mail = undefined;
    const items = new Array<T>(results.length);
    for (let i = 0; i < results.length; i++) {
      const s = results[i]!.s;
      items[i] = this.outstanding.get(s)!;
      this.outstanding.delete(s);
    }
    return items;
  }
}
