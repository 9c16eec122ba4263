// threads.js ships types but its package.json "exports" hides them from NodeNext resolution.
// Only what we use is declared here.
declare module 'threads' {
  import type { Worker as NodeWorker, WorkerOptions } from 'node:worker_threads';
  export class Worker extends NodeWorker {
    constructor(path: string, options?: WorkerOptions);
  }
  export function spawn<T = unknown>(worker: Worker, options?: { timeout?: number }): Promise<T>;
  export const Thread: { terminate(thread: unknown): Promise<void> };
}
declare module 'threads/worker' {
  export function expose(api: Record<string, (...args: never[]) => unknown> | ((...args: never[]) => unknown)): void;
}
