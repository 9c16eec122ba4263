// `list` and `status`: read-only looks at the pipelines folder and the checkpoints. Loaded on use.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { messages } from '../engine/errors.js';
import { importPipelineModule, pipelineExtensions } from '../engine/load.js';
import { validatePipeline } from '../engine/validate.js';
import { CheckpointStore, lockOwner } from '../state/checkpoint.js';
import { statePaths } from '../state/paths.js';

function pipelineFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => pipelineExtensions.some((e) => f.endsWith(e)) && !f.endsWith('.d.ts') && !f.startsWith('_')).sort().map((f) => path.join(dir, f));
}

export async function listCommand(flags: { json?: boolean }): Promise<number> {
  const rows: { name: string | null; file: string; description: string; error?: string }[] = [];
  for (const file of pipelineFiles(path.resolve('pipelines'))) {
    const rel = path.relative(process.cwd(), file);
    try {
      const def = await importPipelineModule(file);
      const problems = validatePipeline(def);
      const d = def as { name?: unknown; description?: unknown } | null;
      rows.push({ name: typeof d?.name === 'string' ? d.name : null, file: rel, description: typeof d?.description === 'string' ? d.description : '', ...(problems.length ? { error: problems.join('; ') } : {}) });
    } catch (e) {
      // The first line only: a syntax error's code frame follows it (`run` and `check` show it).
      rows.push({ name: null, file: rel, description: '', error: (e as Error).message.split('\n')[0]!.replace(`${rel}: `, '') });
    }
  }
  if (flags.json) { process.stdout.write(`${JSON.stringify(rows)}\n`); return 0; }
  if (rows.length === 0) { process.stdout.write('No pipelines in ./pipelines/\n'); return 0; }
  const w = Math.max(4, ...rows.map((r) => (r.name ?? '?').length));
  const fw = Math.max(4, ...rows.map((r) => r.file.length));
  for (const r of rows) {
    process.stdout.write(`${(r.name ?? '?').padEnd(w)}  ${r.file.padEnd(fw)}  ${r.error ? `BROKEN: ${r.error}` : r.description}\n`);
  }
  return 0;
}

export async function statusCommand(ref: string | undefined, flags: { state: string; json?: boolean; redis?: string }): Promise<number> {
  const root = path.resolve(flags.state);
  const names = ref ? [ref.replace(/\.(m?ts|m?js)$/, '').split(/[\\/]/).pop()!] : existsSync(root) ? readdirSync(root).filter((d) => existsSync(statePaths(root, d).doc)) : [];
  if (ref && !existsSync(statePaths(root, names[0]!).doc)) {
    throw messages.usage(`No checkpoint for "${names[0]}" in ${root}`, 'Run the pipeline first, or pass --state DIR if it ran with another state directory.');
  }
  const reports = [];
  for (const name of names) {
    const store = await CheckpointStore.open(root, name, '', { readOnly: true });
    try {
      const recorded = store.doc.runs.at(-1) ?? null;
      // A run marked running whose process is gone was killed (kill -9, power loss) mid-run.
      const lastRun = recorded?.status === 'running' && lockOwner(store.paths) === undefined ? { ...recorded, status: 'crashed' as const } : recorded;
      const failed = [...store.failed.values()].map((d) => {
        const e = d.errors.at(-1);
        return { id: d.id, source: d.source, attempts: d.attempts, error: e ? { code: e.code, message: e.message, category: e.category, ...(e.file ? { file: e.file } : {}), ...(e.line ? { line: e.line } : {}) } : null };
      });
      const pending = store.stages.size + Math.max(0, (lastRun?.total ?? 0) - store.done.size - store.failed.size);
      // A distributed run: the machines serving it (loaded only then: it needs BullMQ).
      const distributed = flags.redis !== undefined || existsSync(path.join(store.paths.dir, 'distributed.json'))
        ? await (await import('../engine/distributed/status.js')).distributedStatus(store.paths.dir, name, flags.redis) : undefined;
      reports.push({ pipeline: name, state: store.paths.dir, counts: { done: store.done.size, failed: store.failed.size, pending }, failed, lastRun, ...(distributed ? { distributed } : {}) });
    } finally {
      store.close();
    }
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(ref ? reports[0] : reports, null, 2)}\n`);
    return 0;
  }
  if (reports.length === 0) process.stdout.write(`No checkpoints in ${root}\n`);
  for (const r of reports) {
    process.stdout.write(`${r.pipeline}: done ${r.counts.done}, failed ${r.counts.failed}, pending ${r.counts.pending}   (${r.state})\n`);
    if (r.lastRun) process.stdout.write(`  last run: ${r.lastRun.status}, started ${r.lastRun.startedAt}${r.lastRun.endedAt ? `, ended ${r.lastRun.endedAt}` : ''}\n`);
    const d = 'distributed' in r ? r.distributed : undefined;
    if (d) {
      process.stdout.write(`  distributed run ${d.run ?? '(none active)'} on ${d.redis}: ${d.error ?? `${d.machines.length} machine(s)`}\n`);
      for (const m of d.machines) process.stdout.write(`    ${m.host}  pid ${m.pid}  ${m.role}  busy ${m.busy}/${m.workers}  done ${m.done}  failed ${m.failed}\n`);
    }
    for (const f of r.failed.slice(0, 50)) {
      const where = 'line' in f.source ? `${f.source.file}:${f.source.line}` : 'row' in f.source ? `${f.source.file} row ${f.source.row}` : f.source.file;
      process.stdout.write(`  ✗ ${f.id}  (${where}, ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}) ${f.error ? `${f.error.code}: ${f.error.message}` : ''}\n`);
    }
    if (r.failed.length > 50) process.stdout.write(`  … and ${r.failed.length - 50} more (use --json for all)\n`);
  }
  return 0;
}
