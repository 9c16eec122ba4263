// `pipeline-tui worker PIPELINE --redis URL`: serve distributed runs of PIPELINE from this machine until
// SIGINT/SIGTERM. Loaded only when used (it pulls in BullMQ and the engine's pool).
import { WorkerService, type WorkerEvent } from '../engine/distributed/worker-service.js';
import { messages } from '../engine/errors.js';
import { loadPipeline } from '../engine/load.js';
import { machineMetrics, serveMetrics } from '../engine/metrics.js';
import type { RunFlags } from './commands.js';
import { runSandboxed, sandboxWanted } from './sandbox.js';

export type WorkerFlags = RunFlags & { redis?: string; metricsPort?: number };

function line(name: string, e: WorkerEvent): string | undefined {
  switch (e.type) {
    case 'waiting': return `[${name}] waiting for a run on ${e.redis}`;
    case 'serving': return `[${name}] serving run ${e.run} (coordinator ${e.coordinator}) as ${e.machine} | workers ${e.workers}`;
    case 'progress': return `[${name}] run ${e.run} | done ${e.done} | failed ${e.failed} | ${e.rate.toFixed(1)}/s | busy ${e.busy}/${e.workers} | Redis: ${e.redis}`;
    case 'ended': return `[${name}] run ${e.run} ${e.reason === 'completed' ? 'ended' : 'left'}: done ${e.done}, failed ${e.failed} here`;
    case 'redis': return `[${name}] Redis: ${e.status}`;
    case 'warning': return `[${name}] ${e.message}`;
    case 'log': return `[${name}]${e.id ? ` ${e.id}:` : ''} ${e.message}`;
  }
}

export async function workerCommand(ref: string, flags: WorkerFlags): Promise<number> {
  if (!flags.redis) throw messages.usage('Expected --redis URL: the worker serves the runs of that Redis', 'pipeline-tui worker PIPELINE --redis redis://host:6379');
  if (flags.json && flags.plain) throw messages.usage('Expected one of --json or --plain, got both');
  if (flags.workers === 0) throw messages.usage('Expected --workers to be a positive integer or "auto", got 0');
  const pipeline = await loadPipeline(ref);
  // Pipeline code runs here as in `run`: in the same sandbox, unless -A.
  if (sandboxWanted(flags)) return runSandboxed(pipeline, { inputs: [], stateDir: flags.state, flags });
  const service = await WorkerService.create({ url: flags.redis, pipeline, ...(flags.workers === undefined ? {} : { workers: flags.workers }), simulate: flags.simulate === true });
  const out = process.stdout;
  const err = process.stderr;
  let lastProgress = 0;
  service.on('event', (e) => {
    if (flags.json) {
      (e.type === 'log' || e.type === 'warning' ? err : out).write(`${JSON.stringify({ ...e, type: e.type === 'progress' || e.type === 'log' || e.type === 'warning' ? e.type : `worker-${e.type}` })}\n`);
      return;
    }
    // Progress at most once a second, like `run --plain`.
    if (e.type === 'progress') { const now = Date.now(); if (now - lastProgress < 1_000) return; lastProgress = now; }
    const text = line(pipeline.name, e);
    if (text) (e.type === 'log' || e.type === 'warning' ? err : out).write(`${text}\n`);
  });
  const metrics = flags.metricsPort === undefined ? undefined : await serveMetrics(flags.metricsPort, () => machineMetrics(pipeline.name, [service.machineStats()]));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      err.write(`\n[${pipeline.name}] ${sig}: stopping; jobs already taken finish (up to their timeout). ${sig === 'SIGINT' ? 'Ctrl-C again' : 'Signal again'} to stop at once (other machines then take them over).\n`);
      service.stop();
    } else {
      service.stop({ force: true });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await service.serve();
    return 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await metrics?.close();
  }
}
