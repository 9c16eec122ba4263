// Runs inside every worker thread. Loads the pipeline once, then runs the batches the pool gives it.
import { parentPort, workerData } from 'node:worker_threads';
import { expose } from 'threads/worker';
import { describeThrown, ErrorCode, isPermanent } from './errors.js';
import { importPipelineModule } from './load.js';
import { asPermissionDenied } from './permissions.js';
import { installWorkerSandbox } from './sandbox.js';
import { locateInPipeline } from './stack.js';
import { trace } from './trace.js';
import type { ProcessContext, ProcessFn, PipelineDefinition } from './types.js';
import type { LlmRequest, LlmResponse } from './providers/adapters.js';
import { parkMs, sleepAfterMs, WorkerMailbox } from './mailbox.js';
import type { BatchMessage, LlmReply, PrestartData, PrestartMessage, WakeMessage, WireError, WireItem, WireResult, WorkerInit, WorkerSideMessage } from './wire.js';

process.setSourceMapsEnabled(true);
trace('worker modules loaded');
// A prestarted worker (engine/worker-prestart.ts) knows only its file at first: it loads its modules
// while the main thread loads the pipeline, the pipeline when told to, and gets the rest of its init
// when its pool adopts it (messages listened for from the start: none may pass unheard).
const early = workerData as WorkerInit | PrestartData;
const file = early.file;
let loadAllowed: (() => void) | undefined;
const mayLoad = 'prestarted' in early ? new Promise<void>((resolve) => { loadAllowed = resolve; }) : undefined;
const initMessage = 'prestarted' in early ? new Promise<WorkerInit>((resolve) => {
  const onMessage = (m: PrestartMessage) => {
    if (m?.__pt === 'load' || m?.__pt === 'init') loadAllowed!();
    if (m?.__pt === 'init') { parentPort!.off('message', onMessage); resolve(m.init); }
  };
  parentPort!.on('message', onMessage);
}) : undefined;
const post = (m: WorkerSideMessage) => parentPort!.postMessage(m);

function toWireError(thrown: unknown, fallbackCode: string): WireError {
  // A sandbox denial (Node's ERR_ACCESS_DENIED, or ours, possibly as the `cause` of a "fetch failed")
  // becomes PERMISSION_DENIED naming the flag; the line is still the pipeline's line that asked.
  const denied = asPermissionDenied(thrown);
  const d = describeThrown(denied ?? thrown);
  const code = d.code && /^[A-Z][A-Z0-9_]*$/.test(d.code) ? d.code : fallbackCode;
  const where = locateInPipeline(describeThrown(thrown).stack, file) ?? (denied ? locateInPipeline(d.stack, file) : undefined);
  return {
    name: d.name,
    message: where ? `${d.message} (${where.file}:${where.line})` : d.message,
    code: d.name === 'PermanentError' && code === fallbackCode ? ErrorCode.Permanent : code,
    permanent: isPermanent({ ...d, code }),
    ...(d.status === undefined ? {} : { status: d.status }),
    ...(d.retryAfterMs === undefined ? {} : { retryAfterMs: d.retryAfterMs }),
    ...(where ? { file: where.file, line: where.line, column: where.column } : {}),
  };
}

// threads.js keeps a worker alive after an uncaught error and reports it 250 ms later; we want the
// opposite: the state of a thread that threw outside any item is unknown, so it must be replaced.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) process.removeAllListeners(event);
const die = (thrown: unknown) => {
  try { post({ __pt: 'crash', error: toWireError(thrown, ErrorCode.WorkerCrashed) }); } finally { process.exit(70); }
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

// Before any pipeline code runs: the network guard, the child-process guard, hints for hidden variables.
installWorkerSandbox((message) => post({ __pt: 'log', id: null, message }));
await mayLoad;
const def = (await importPipelineModule(file)) as PipelineDefinition;
trace('worker pipeline loaded');
const init = initMessage ? await initMessage : (early as WorkerInit);
const seqView = new Int32Array(init.progressSeq);
const timeView = new Float64Array(init.progressTime);
const mailbox = new WorkerMailbox(init.mailbox);
const processors: ProcessFn[] = def.stages ? def.stages.map((s) => s.process) : [def.process!];

/** Throws on values JSON would drop or mangle silently: a function result must not become `{}`. */
function strictReplacer(_key: string, value: unknown): unknown {
  const t = typeof value;
  if (t === 'function' || t === 'symbol') throw new TypeError(`a ${t} is not JSON-serialisable`);
  return value;
}

// ctx.llm runs in the main thread, where the limiter is shared by every worker.
const llmCalls = new Map<number, { resolve: (v: LlmResponse) => void; reject: (e: Error) => void }>();
let nextCall = 1;

function onLlmReply(m: LlmReply): void {
  const pending = llmCalls.get(m.call);
  if (!pending) return;
  llmCalls.delete(m.call);
  if (m.ok) pending.resolve(m.value);
  else {
    const { name, code, status, retryAfterMs } = m.error;
    pending.reject(Object.assign(new Error(m.error.message), { name, code, ...(status === undefined ? {} : { status }), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }));
  }
}

function llm(provider: string, request: LlmRequest, signal: AbortSignal): Promise<LlmResponse> {
  if (typeof provider !== 'string') return Promise.reject(new TypeError(`Expected ctx.llm's provider to be a string, got ${typeof provider}`));
  return new Promise((resolve, reject) => {
    const call = nextCall++;
    llmCalls.set(call, { resolve, reject });
    post({ __pt: 'llm', call, provider, request: { ...request } });
    signal.addEventListener('abort', () => post({ __pt: 'llm-abort', call }), { once: true });
  });
}

class TimeoutSignal extends Error {
  override name = 'TimeoutError';
  readonly code = ErrorCode.Timeout;
}

function succeeded(item: WireItem, value: unknown, started: number): WireResult {
  let json: string | undefined;
  try {
    json = JSON.stringify(value === undefined ? null : value, strictReplacer);
  } catch (e) {
    const d = describeThrown(e);
    return { s: item.s, ok: false, ms: performance.now() - started, error: { name: 'TypeError', message: `Result is not JSON-serialisable: ${d.message}`, code: ErrorCode.NotSerializable, permanent: true } };
  }
  const core = `"id":${JSON.stringify(item.id)},"result":${json},"source":${JSON.stringify(item.source)}}`;
  return { s: item.s, ok: true, core, json: json!, ms: performance.now() - started };
}

function failed(item: WireItem, thrown: unknown, started: number): WireResult {
  return { s: item.s, ok: false, ms: performance.now() - started, error: toWireError(thrown, ErrorCode.Transient) };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Runs one item. Synchronous when process() is: the time from a batch arriving to its first item
 * starting is dispatch latency, so nothing is set up there that a synchronous item does not need.
 * The AbortController is made when ctx.signal or ctx.llm first asks for it, and the timeout timer only
 * for a process() that returned a promise (it covers the whole attempt, its synchronous part included;
 * a synchronous process() cannot be interrupted by a timer anyway, only by the pool's watchdog).
 */
function runOne(stage: number, item: WireItem): WireResult | Promise<WireResult> {
  const fn = processors[stage]!;
  let controller: AbortController | undefined;
  const control = () => (controller ??= new AbortController());
  const ctx: ProcessContext = {
    id: item.id,
    attempt: item.attempt,
    get signal() { return control().signal; },
    source: item.source,
    stage,
    log: (message: string) => post({ __pt: 'log', id: item.id, message: String(message) }),
    llm: (provider, request) => llm(provider, request, control().signal),
  };
  timeView[init.slot] = Date.now();
  Atomics.store(seqView, init.slot, item.s);
  const started = performance.now();
  let value: unknown;
  try {
    value = fn(item.rj === undefined ? item.record : JSON.parse(item.rj), ctx);
  } catch (thrown) {
    Atomics.store(seqView, init.slot, -1);
    return failed(item, thrown, started);
  }
  if (isThenable(value)) return settle(stage, item, value, started, control);
  try {
    return succeeded(item, value, started);
  } finally {
    Atomics.store(seqView, init.slot, -1);
  }
}

async function settle(stage: number, item: WireItem, pending: PromiseLike<unknown>, started: number, control: () => AbortController): Promise<WireResult> {
  const timeoutMs = init.timeouts[stage]!;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TimeoutSignal(`Timed out after ${timeoutMs} ms (attempt ${item.attempt})`);
      control().abort(err);
      reject(err);
    }, Math.max(0, timeoutMs - (performance.now() - started)));
  });
  try {
    return succeeded(item, await Promise.race([pending, timedOut]), started);
  } catch (thrown) {
    return failed(item, thrown, started);
  } finally {
    clearTimeout(timer);
    Atomics.store(seqView, init.slot, -1);
  }
}

// Batches come by message or through the mailbox (see mailbox.ts); they run one after another, oldest
// first, items within a batch in order. `received` holds message batches not started yet (at most one
// while the pool keeps its invariant, but a queue costs nothing and never loses one).
const received: WireItem[][] = [];
let draining = false;
// An idle worker parks only once it has run a batch: before that, threads.js's start-up call may still come.
let mayPark = false;
let idleSince = -1;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function drain(first: WireItem[]): Promise<void> {
  draining = true;
  try {
    let batch: WireItem[] | undefined = first;
    while (batch) {
      const out: WireResult[] = new Array(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const r = runOne(init.stage, batch[i]!);
        out[i] = r instanceof Promise ? await r : r;
      }
      // Take the next batch before reporting this one: the pool then finds the slot free when the
      // results arrive and refills it, so a busy worker always has its next batch at hand.
      batch = received.shift() ?? mailbox.take();
      post({ __pt: 'results', results: out });
      // Timers, I/O and stdout get a turn between batches, as they did when every batch was a message.
      if (batch) await nextTurn();
    }
  } finally {
    draining = false;
  }
  mayPark = true;
  setImmediate(idle);
}

/**
 * With nothing to run: start what has come, else wait for the pool in Atomics.wait, a bounded time
 * and then a turn of the event loop, over and over; after `sleepAfterMs` of that, on the event loop only.
 */
function idle(): void {
  for (;;) {
    if (draining) return;
    const batch = received.shift() ?? mailbox.take();
    if (batch) { idleSince = -1; void drain(batch); return; }
    if (!mayPark || mailbox.messageComing) return; // the event loop delivers it
    if (idleSince < 0) idleSince = performance.now();
    if (performance.now() - idleSince > sleepAfterMs) {
      if (mailbox.sleep()) return; // a 'wake' message comes with the next batch
    } else if (!mailbox.park(parkMs)) {
      setImmediate(idle);
      return;
    }
  }
}

parentPort!.on('message', (m: BatchMessage | WakeMessage | LlmReply) => {
  if (m?.__pt === 'batch') {
    mailbox.received();
    mailbox.awake();
    received.push(m.items);
    if (!draining) idle();
  } else if (m?.__pt === 'wake') {
    mailbox.awake();
    idleSince = -1;
    if (!draining) idle();
  } else if (m?.__pt === 'llm-done') onLlmReply(m);
});

expose({
  /** Which stages this worker can run; the pool checks it against the main thread's view of the file. */
  stages: () => processors.length,
});
