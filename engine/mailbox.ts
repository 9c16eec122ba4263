import type { WireItem } from './wire.js';

/**
 * A one-batch slot in shared memory between the pool and one worker, beside the message channel.
 *
 * Why: waking an idle worker with postMessage costs a structured clone, a write to the worker's event
 * fd, a turn of its event loop and the JS event dispatch; an idle worker blocked in Atomics.wait and
 * woken by Atomics.notify starts in about half that time (measured here: 27-50 µs against 70-110 µs,
 * payload aside). And a batch waiting here, unlike one
 * posted, can be taken back before it starts (tail balancing, pause, stop, retire), so a worker can hold
 * its next batch ready even when items are slow.
 *
 * Invariants the pool keeps (they make ordering exact without batch numbers):
 * - at most one batch is unstarted at a time: in the slot (FULL) or posted and not yet received;
 * - the worker runs a received message batch before taking the slot, so the older batch always goes first.
 */

// Int32 words of the control block.
const WAKE = 0; // the futex word: bumped by the pool after it gives work, waited on by a parked worker
const STATE = 1; // AWAKE, PARKED (in or about to enter Atomics.wait) or ASLEEP (idle on its event loop)
const SLOT = 2; // EMPTY, FULL (written, not taken) or READING (taken, being decoded)
const LENGTH = 3; // bytes of JSON in the slot
const POSTED = 4; // batch messages the pool has posted
const RECEIVED = 5; // batch messages the worker has received
const words = 8;
const headerBytes = words * 4;

const EMPTY = 0;
const FULL = 1;
const READING = 2;

// An awake worker looks at the slot before it parks or sleeps; a parked one needs a notify; an asleep
// one a message, as it no longer looks at the slot at all.
const AWAKE = 0;
const PARKED = 1;
const ASLEEP = 2;

/**
 * Room for one batch. Batches are sized to a few ms of work, so a batch of small records (512 at most)
 * fits many times over; a larger one goes by message, which copies any size.
 */
export const mailboxBytes = 256 * 1024;

/**
 * How long an idle worker blocks before it gives its event loop a turn. While it blocks, only its own
 * timers and I/O wait (a parked worker has no item in flight); batches and terminate() get through at once.
 */
export const parkMs = 20;

/**
 * After this long without work a worker stops parking and idles on its event loop (woken by a message,
 * as before the mailbox): each turn between parks costs it ~0.1 ms of CPU (measured: 4 parked workers
 * used 2.4% of a core, against 0.1% idle on their event loops), which is worth paying only while work
 * is likely to come soon.
 */
export const sleepAfterMs = 1_000;

export function createMailbox(bytes = mailboxBytes): SharedArrayBuffer {
  return new SharedArrayBuffer(headerBytes + bytes);
}

/**
 * Buffer#utf8Write and #utf8Slice are what Buffer#write and #toString call once they have normalised
 * their arguments. On a worker that has just woken (cold caches) the normalising costs more than the
 * copy: measured about 4 µs against 17 µs for each call. They are not in Node's documentation, so
 * anything without them gets the documented methods.
 */
interface RawUtf8 { utf8Write?(s: string, offset: number): number; utf8Slice?(start: number, end: number): string }
const raw = Buffer.prototype as RawUtf8;
const writeUtf8: (b: Buffer, s: string) => number = typeof raw.utf8Write === 'function' ? (b, s) => (b as RawUtf8).utf8Write!(s, 0) : (b, s) => b.write(s, 0, 'utf8');
const readUtf8: (b: Buffer, n: number) => string = typeof raw.utf8Slice === 'function' ? (b, n) => (b as RawUtf8).utf8Slice!(0, n) : (b, n) => b.toString('utf8', 0, n);

class Shared {
  protected readonly ctl: Int32Array;
  protected readonly bytes: Buffer;
  constructor(sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, words);
    this.bytes = Buffer.from(sab, headerBytes);
  }
}

/** The pool's side. `wakeByMessage` reaches a worker asleep on its event loop. */
export class PoolMailbox extends Shared {
  constructor(sab: SharedArrayBuffer, private readonly wakeByMessage: () => void) {
    super(sab);
  }

  /** Batches given and not started: in the slot, or posted and not yet received. */
  get unstarted(): number {
    return (Atomics.load(this.ctl, SLOT) === FULL ? 1 : 0) + Atomics.load(this.ctl, POSTED) - Atomics.load(this.ctl, RECEIVED);
  }

  get empty(): boolean { return Atomics.load(this.ctl, SLOT) === EMPTY; }

  /** Writes a batch (JSON from `encodeBatch`) and wakes the worker; false if the slot is taken or too small. */
  put(json: string): boolean {
    if (Atomics.load(this.ctl, SLOT) !== EMPTY) return false;
    const cap = this.bytes.length;
    // A UTF-16 unit is at most 3 UTF-8 bytes: only long strings need the exact count.
    if (json.length > cap || (json.length * 3 > cap && Buffer.byteLength(json) > cap)) return false;
    const n = writeUtf8(this.bytes, json);
    Atomics.store(this.ctl, LENGTH, n);
    Atomics.store(this.ctl, SLOT, FULL);
    this.wake(true);
    return true;
  }

  /** Takes back a batch the worker has not started; false if it already has. */
  reclaim(): boolean {
    return Atomics.compareExchange(this.ctl, SLOT, FULL, EMPTY) === FULL;
  }

  /** Call before posting a batch message, then `wake(false)`: a parked worker must not sleep on a message it cannot see. */
  posting(): void {
    Atomics.add(this.ctl, POSTED, 1);
  }

  /** After giving work (the futex word changes first, so a worker about to wait does not). `slot`: a message did not. */
  wake(slot: boolean): void {
    Atomics.add(this.ctl, WAKE, 1);
    const state = Atomics.load(this.ctl, STATE);
    if (state === PARKED) Atomics.notify(this.ctl, WAKE);
    else if (state === ASLEEP && slot) this.wakeByMessage();
  }
}

/** The worker's side. */
export class WorkerMailbox extends Shared {
  /** Counts a batch message as it arrives. */
  received(): void {
    Atomics.add(this.ctl, RECEIVED, 1);
  }

  /** A message came: the worker looks at the slot again before it next parks or sleeps. */
  awake(): void {
    Atomics.store(this.ctl, STATE, AWAKE);
  }

  /**
   * Stops looking at the slot until a message comes. False if work came first: the state is published
   * before the slot is checked, and the pool puts before it reads the state, so one of them sees the other.
   */
  sleep(): boolean {
    Atomics.store(this.ctl, STATE, ASLEEP);
    if (Atomics.load(this.ctl, SLOT) !== FULL && !this.messageComing) return true;
    Atomics.store(this.ctl, STATE, AWAKE);
    return false;
  }

  /** A batch message is posted but not received: only the event loop can deliver it. */
  get messageComing(): boolean {
    return Atomics.load(this.ctl, POSTED) !== Atomics.load(this.ctl, RECEIVED);
  }

  /** The slot's batch, if there is one; the slot is free again when this returns. */
  take(): WireItem[] | undefined {
    if (Atomics.compareExchange(this.ctl, SLOT, FULL, READING) !== FULL) return undefined;
    try {
      return fromRows(JSON.parse(readUtf8(this.bytes, Atomics.load(this.ctl, LENGTH))) as SlotRow[]);
    } finally {
      Atomics.store(this.ctl, SLOT, EMPTY);
    }
  }

  /**
   * Blocks until the pool gives work or `ms` pass. Only for a worker with nothing in flight: while it
   * blocks, its event loop (timers, I/O, promise callbacks) stands still. True if there may be work.
   */
  park(ms: number): boolean {
    Atomics.store(this.ctl, STATE, PARKED);
    try {
      // Read the futex word before checking for work: a batch given after the check changes it, so the
      // wait returns at once instead of sleeping through the notify.
      const seen = Atomics.load(this.ctl, WAKE);
      if (Atomics.load(this.ctl, SLOT) === FULL || this.messageComing) return true;
      return Atomics.wait(this.ctl, WAKE, seen, ms) !== 'timed-out';
    } finally {
      Atomics.store(this.ctl, STATE, AWAKE);
    }
  }
}

/**
 * A batch as JSON for the slot, or undefined when JSON would not carry it exactly (structured clone, the
 * message channel's encoding, keeps Dates, Maps, undefined, NaN, -0, cycles...; JSON would change them).
 * Records from the built-in readers are always JSON; values an `expand` or a custom source makes may not be.
 */
export function encodeBatch(items: WireItem[]): string | undefined {
  const rows = new Array<SlotRow>(items.length);
  for (let i = 0; i < items.length; i++) {
    const w = items[i]!;
    // A wire item's own fields are strings and numbers; an absent record (undefined) stays absent.
    if (!jsonExact(w.source, 0) || (w.record !== undefined && !jsonExact(w.record, 0))) return undefined;
    rows[i] = w.rj !== undefined ? [w.s, w.id, w.attempt, w.source, null, w.rj] : w.record === undefined ? [w.s, w.id, w.attempt, w.source] : [w.s, w.id, w.attempt, w.source, w.record];
  }
  return JSON.stringify(rows);
}

/**
 * A wire item in the slot: an array, because JSON without keys is quicker both ways on a cold worker
 * (measured ~8 µs of ~25 for parsing a one-item batch). Four long: no record; five: the record; six: `rj`.
 */
type SlotRow = [s: number, id: string, attempt: number, source: WireItem['source'], record?: unknown, rj?: string];

function fromRows(rows: SlotRow[]): WireItem[] {
  const items = new Array<WireItem>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    items[i] = r.length === 6 ? { s: r[0], id: r[1], attempt: r[2], source: r[3], rj: r[5]! } : { s: r[0], id: r[1], attempt: r[2], source: r[3], record: r[4] };
  }
  return items;
}

// Deeper than any record in practice, and a cycle (which JSON cannot carry) ends here too.
const maxDepth = 64;

/**
 * Whether JSON.parse(JSON.stringify(v)) gives what a structured clone of v would. One difference is not
 * checked, for speed: extra non-index properties on an array (a clone keeps them, JSON drops them).
 */
export function jsonExact(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (depth >= maxDepth) return false;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (Array.isArray(v)) {
        if (proto !== Array.prototype) return false;
        // A hole or an undefined element would come back as null.
        for (let i = 0; i < v.length; i++) if (v[i] === undefined || !jsonExact(v[i], depth + 1)) return false;
        return true;
      }
      // Dates, Maps, typed arrays, class instances: a structured clone keeps what JSON would flatten.
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in v) {
        const value = (v as Record<string, unknown>)[key];
        if (value === undefined || !jsonExact(value, depth + 1)) return false;
      }
      return true;
    }
    default:
      // undefined inside a value, bigint, symbol, function: JSON drops, throws on or mangles them.
      return false;
  }
}
