#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

// A run's live heap is small (ids, a window of records), but at tens of thousands of items a second V8
// lets garbage grow each heap (main thread and every worker thread) to several times that. Growing the
// heap in smaller steps and keeping the young generation small holds a 1M-row run near 300 MB instead
// of 500+, for a few percent of throughput. Set before any worker starts, so worker heaps get it too.
v8.setFlagsFromString('--heap-growing-percent=30');
v8.setFlagsFromString('--max-semi-space-size=4');

const cli = new URL('../dist/tui/cli.js', import.meta.url);
// A sandboxed child (PIPELINE_TUI_SANDBOX, set by its launcher) gets its command already parsed.
const sandboxed = process.env.PIPELINE_TUI_SANDBOX ? new URL('../dist/tui/sandboxed.js', import.meta.url) : undefined;
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('pipeline-tui is not built yet: run `npm install` (or `npm run build`) in ' + fileURLToPath(new URL('..', import.meta.url)) + '\n');
  process.exit(2);
}
if (sandboxed) {
  // Before anything holds on to the Worker class: a worker given its own execArgv would leave the sandbox.
  (await import('../dist/engine/sandbox.js')).guardWorkerThreads();
  // It starts its worker threads first: they load the pipeline while this thread loads the CLI and the engine.
  (await import('../dist/engine/worker-prestart.js')).prestartFromSandbox();
}
await import((sandboxed ?? cli).href);
