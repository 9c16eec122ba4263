// threads.js installs SIGINT/SIGTERM handlers at import time that terminate every worker and call
// process.exit(0): a Ctrl-C would kill in-flight items and skip the checkpoint, and exit 0 would lie.
// We import it here, once, and take those handlers back off before anything else can be signalled.
const signals = ['SIGINT', 'SIGTERM'] as const;
const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
const threads = await import('threads');
for (const s of signals) {
  for (const listener of process.listeners(s)) if (!before.get(s)!.has(listener)) process.off(s, listener);
}

export const { spawn, Thread, Worker } = threads;
