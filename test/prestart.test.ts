// Worker threads started before their pool (engine/worker-prestart.ts): the pool adopts them, starts
// what is missing, stops what is left over, and hears what they said while loading. The CLI paths
// (a sandboxed child from bin/, `run -A`) are covered by the CLI tests; here, the engine in-process.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, loadPipeline } from '../dist/index.js';
import type { EngineEvent } from '../dist/index.js';
import { pipelineLoaded, prestartWorkers } from '../dist/engine/worker-prestart.js';
import { cleanupProjects, makeProject, readJsonl, sleep, waitFor, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

/**
 * Every thread that loads this pipeline appends its id to `loaded`, says hello through the pool's log
 * channel, and appends a heartbeat to `beats` every 20 ms for as long as it lives.
 */
function project() {
  const dir = makeProject('pt-prestart-');
  const loaded = path.join(dir, 'loaded.txt');
  const beats = path.join(dir, 'beats.txt');
  const file = writePipeline(dir, 'pipe.ts', `
import { definePipeline } from 'pipeline-tui';
import { appendFileSync } from 'node:fs';
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
if (!isMainThread) {
  appendFileSync(${JSON.stringify(loaded)}, threadId + '\\n');
  parentPort!.postMessage({ __pt: 'log', id: null, message: 'hello from thread ' + threadId });
  setInterval(() => appendFileSync(${JSON.stringify(beats)}, '.'), 20);
}
export default definePipeline({
  name: 'pre',
  id: (r: { id: number }) => String(r.id),
  process: (r: { id: number }) => ({ id: r.id, thread: threadId }),
});
`);
  const input = writeJsonl(dir, 'in.jsonl', 40);
  return { dir, file, input, loaded, beats };
}

const threadsIn = (file: string) => new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
const size = (file: string) => { try { return statSync(file).size; } catch { return 0; } };

async function run(p: ReturnType<typeof project>, workers: number, before: () => Promise<void> = async () => {}) {
  const pipeline = await loadPipeline(p.file, { cwd: p.dir });
  pipelineLoaded(p.file);
  await before();
  const engine = createEngine(pipeline, { cwd: p.dir, workers });
  const events: EngineEvent[] = [];
  engine.on('event', (e) => events.push(e));
  const summary = await engine.run([p.input]);
  const out = readJsonl<{ id: string; result: { thread: number } }>(path.join(p.dir, 'out', 'pre.jsonl'));
  return { summary, events, out, logs: events.flatMap((e) => (e.type === 'log' ? [e.message] : [])) };
}

describe('prestarted workers', () => {
  it('are adopted by the pool, which hears what they said before, and the ones left over are stopped', async () => {
    const p = project();
    prestartWorkers(p.file, 3);
    // All three load the pipeline (told to by pipelineLoaded) before the pool exists; one runs every item.
    const r = await run(p, 1, () => waitFor(() => size(p.loaded) > 0 && threadsIn(p.loaded).size === 3, 20_000, 'three workers loading the pipeline'));
    expect(r.summary.totals.done).toBe(40);
    expect(r.out).toHaveLength(40);
    const loaded = threadsIn(p.loaded);
    const ran = new Set(r.out.map((l) => String(l.result.thread)));
    expect(ran.size).toBe(1);
    expect(loaded).toContain([...ran][0]);
    // Its hello was posted before the pool listened; the other two were never the pool's.
    expect(r.logs.filter((m) => m.startsWith('hello from thread '))).toEqual([`hello from thread ${[...ran][0]}`]);
    // No thread lives on: the heartbeats stop.
    await sleep(100);
    const before = size(p.beats);
    await sleep(200);
    expect(size(p.beats)).toBe(before);
  });

  it('fewer than the pool needs: it starts the rest; another file\'s are not taken', async () => {
    const p = project();
    const other = project();
    prestartWorkers(other.file, 1);
    prestartWorkers(p.file, 1);
    const r = await run(p, 3);
    expect(r.summary.totals.done).toBe(40);
    expect(threadsIn(p.loaded).size).toBe(3);
    expect(r.logs.filter((m) => m.startsWith('hello from thread '))).toHaveLength(3);
    // The other pipeline's worker never loaded it (it waits for its own pipelineLoaded) and was stopped.
    expect(size(other.loaded)).toBe(0);
  });
});
