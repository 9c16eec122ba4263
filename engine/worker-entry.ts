// Runs inside every worker thread. Loads the pipeline once, then runs batches the pool sends.
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
import type { BatchMessage, LlmReply, PrestartData, PrestartMessage, WireError, WireItem, WireResult, WorkerInit, WorkerSideMessage } from './wire.js';

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
parentPort!.on('message', (m: LlmReply) => {
  if (m?.__pt !== 'llm-done') return;
  const pending = llmCalls.get(m.call);
  if (!pending) return;
  llmCalls.delete(m.call);
  if (m.ok) pending.resolve(m.value);
  else pending.reject(Object.assign(new Error(m.error.message), { name: m.error.name, code: m.error.code, ...(m.error.status === undefined ? {} : { status: m.error.status }) }));
});

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

async function runOne(stage: number, item: WireItem): Promise<WireResult> {
  const fn = processors[stage]!;
  const timeoutMs = init.timeouts[stage]!;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TimeoutSignal(`Timed out after ${timeoutMs} ms (attempt ${item.attempt})`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  const ctx: ProcessContext = {
    id: item.id,
    attempt: item.attempt,
    signal: controller.signal,
    source: item.source,
    stage,
    log: (message: string) => post({ __pt: 'log', id: item.id, message: String(message) }),
    llm: (provider, request) => llm(provider, request, controller.signal),
  };
  const started = performance.now();
  timeView[init.slot] = Date.now();
  Atomics.store(seqView, init.slot, item.s);
  try {
    const record = item.rj === undefined ? item.record : JSON.parse(item.rj);
    const value = await Promise.race([fn(record, ctx), timedOut]);
    let json: string | undefined;
    try {
      json = JSON.stringify(value === undefined ? null : value, strictReplacer);
    } catch (e) {
      const d = describeThrown(e);
      return { s: item.s, ok: false, ms: performance.now() - started, error: { name: 'TypeError', message: `Result is not JSON-serialisable: ${d.message}`, code: ErrorCode.NotSerializable, permanent: true } };
    }
    const core = `"id":${JSON.stringify(item.id)},"result":${json},"source":${JSON.stringify(item.source)}}`;
    return { s: item.s, ok: true, core, json: json!, ms: performance.now() - started };
  } catch (thrown) {
    return { s: item.s, ok: false, ms: performance.now() - started, error: toWireError(thrown, ErrorCode.Transient) };
  } finally {
    clearTimeout(timer);
    Atomics.store(seqView, init.slot, -1);
  }
}

// Batches run one after another, in arrival order, items within a batch in order.
let chain: Promise<void> = Promise.resolve();
parentPort!.on('message', (m: BatchMessage) => {
  if (m?.__pt !== 'batch') return;
  chain = chain.then(async () => {
    const out: WireResult[] = new Array(m.items.length);
    for (let i = 0; i < m.items.length; i++) out[i] = await runOne(m.stage, m.items[i]!);
    post({ __pt: 'results', results: out });
  });
});

expose({
  /** Which stages this worker can run; the pool checks it against the main thread's view of the file. */
  stages: () => processors.length,
});
