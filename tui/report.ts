import type { Engine } from '../engine/engine.js';
import type { EngineEvent, RunCounts, RunSummary } from '../engine/types.js';

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '--';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `[tweets] 1200/5000 24.0% | 312.4/s | ETA 12s | ok 1190 | failed 3 | workers 4`, as the contract shows. */
export function progressLine(name: string, c: RunCounts, rate: number, etaMs: number | null, workers: number): string {
  const processed = c.done + c.failed + c.skipped;
  const total = Math.max(c.total, processed);
  const pct = total > 0 ? ((processed / total) * 100).toFixed(1) : '0.0';
  return `[${name}] ${processed}/${total}${c.totalKnown ? '' : '+'} ${pct}% | ${rate.toFixed(1)}/s | ETA ${formatDuration(etaMs)} | ok ${c.done} | failed ${c.failed} | workers ${workers}`;
}

export function summaryLines(s: RunSummary, statusHint: string): string[] {
  const lines = [
    `${s.status === 'stopped' ? 'Stopped' : 'Finished'} ${s.pipeline}${s.simulated ? ' (SIMULATED providers)' : ''} in ${formatDuration(s.durationMs)}: ok ${s.totals.done}, failed ${s.totals.failed}` +
      `${s.totals.skipped ? `, skipped ${s.totals.skipped} repeated ids` : ''} (this run: ${s.totals.doneThisRun} ok, ${s.totals.failedThisRun} failed, ${s.throughput.itemsPerSecond}/s)`,
    `Output: ${s.output}   Summary: ${s.output}.summary.json`,
  ];
  if (s.totals.failed > 0) lines.push(`${s.totals.failed} item(s) in the dead-letter list: see \`${statusHint}\`, re-run them with \`pipeline-tui retry ${s.pipeline}\``);
  if (s.status === 'stopped') lines.push(`Checkpoint saved: run the same command again to continue where it stopped.`);
  return lines;
}

/** Plain progress off a TTY: one line at most once a second, and one at the end. No escape codes. */
export function attachPlainReporter(engine: Engine, out: NodeJS.WritableStream, err: NodeJS.WritableStream, statusHint: string): void {
  let last = 0;
  engine.on('event', (e: EngineEvent) => {
    switch (e.type) {
      case 'progress': {
        const now = Date.now();
        if (now - last < 1000) return;
        last = now;
        out.write(`${progressLine(engine.pipeline.name, e.counts, e.rate, e.etaMs, e.workers)}\n`);
        break;
      }
      case 'log': err.write(`[${engine.pipeline.name}]${e.id ? ` ${e.id}:` : ''} ${e.message}\n`); break;
      case 'worker': if (e.status === 'crashed' || e.status === 'timeout') err.write(`[${engine.pipeline.name}] worker ${e.worker} ${e.status}: ${e.reason ?? ''}; replaced\n`); break;
      case 'end': {
        const s = engine.stats();
        const counts = e.summary.status === 'completed' ? { ...s.counts, total: e.summary.totals.total, totalKnown: true } : s.counts;
        out.write(`${progressLine(engine.pipeline.name, counts, e.summary.throughput.itemsPerSecond, null, e.summary.workers.final)}\n`);
        for (const l of summaryLines(e.summary, statusHint)) out.write(`${l}\n`);
        break;
      }
      default: break;
    }
  });
}

/** `--json`: one object per line on stdout (start, item, progress, end); everything else goes to stderr. */
export function attachJsonReporter(engine: Engine, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void {
  engine.on('event', (e: EngineEvent) => {
    switch (e.type) {
      case 'start': case 'item': case 'end': out.write(`${JSON.stringify(e)}\n`); break;
      case 'progress': out.write(`${JSON.stringify({ type: 'progress', ...e.counts, rate: Math.round(e.rate * 10) / 10, etaMs: e.etaMs, workers: e.workers })}\n`); break;
      case 'log': err.write(`${JSON.stringify(e)}\n`); break;
      default: break;
    }
  });
}
