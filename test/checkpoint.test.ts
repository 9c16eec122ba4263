// The checkpoint store on its own: replaying a journal after a crash (done ids read off the bytes, every
// line still checked), corruption reported with the file and the line, state.json written and read
// without a million-string array yet in the very format JSON.stringify gives, and the output tail.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, loadPipeline } from '../dist/index.js';
import { openOutput } from '../dist/engine/outputs/index.js';
import { CheckpointStore } from '../dist/state/checkpoint.js';
import { journalLine, type DeadLetter } from '../dist/state/journal.js';
import { cleanupProjects, makeProject, readJsonl, writeFile, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

const core = (id: string, n: number) => `"id":${JSON.stringify(id)},"result":{"n":${n}},"source":{"file":"in.jsonl","line":${n + 1}}}`;
const deadLetter = (id: string): DeadLetter => ({ id, source: { file: 'in.jsonl', line: 1 }, attempts: 3, stage: 0, errors: [], at: '2026-01-01T00:00:00.000Z' });

/** A state whose process "crashed": everything is in the journal, nothing compacted. */
async function crashedState(lines: string[]): Promise<{ root: string; journal: string }> {
  const root = path.join(makeProject(), 'state');
  const store = await CheckpointStore.open(root, 'p', 'p.ts');
  store.append(lines.join(''));
  store.close();
  return { root, journal: path.join(root, 'p', 'journal.jsonl') };
}

const odd = ['plain', 'é', '日本', '🙂', 'a\ud800', 'with "quotes"', 'back\\slash', 'new\nline', ''];

describe('journal replay', () => {
  it('rebuilds done, dead letters and stages as the journal says, whatever the ids hold', async () => {
    const { root } = await crashedState([
      journalLine.failed(deadLetter('f1')),
      journalLine.failed(deadLetter('f2')),
      journalLine.stage('s1', 0, '{"x":1}'),
      journalLine.stage('s2', 0, '{"x":2}'),
      ...odd.map((id, n) => journalLine.done(n, core(id, n))),
      journalLine.done(100, core('f1', 100)), // a dead letter retried and done
      journalLine.done(101, core('s1', 101)), // a staged item finished
      journalLine.cleared('f2'),
      journalLine.output(10),
    ]);
    const store = await CheckpointStore.open(root, 'p', 'p.ts');
    try {
      expect([...store.done].sort()).toEqual([...odd, 'f1', 's1'].sort());
      for (const id of odd) expect(store.done.has(id)).toBe(true);
      expect([...store.failed.keys()]).toEqual([]);
      expect([...store.stages.keys()]).toEqual(['s2']);
      expect(store.outputTail.committedBytes).toBe(10);
    } finally {
      store.close();
    }
  });

  it('a corrupt line before the last is reported naming the journal, the line and --fresh; a torn last line is dropped', async () => {
    const good = (n: number) => journalLine.done(n, core(`i${n}`, n));
    const cut = good(1).slice(0, 40); // a done line cut in its result
    for (const bad of [`${cut}\n`, `${good(1).slice(0, -3)}x}\n`, 'garbage\n', `${good(1).slice(0, -1)}}\n`]) {
      const { root, journal } = await crashedState([good(0), bad, good(2)]);
      const before = readFileSync(journal, 'utf8');
      const err = await CheckpointStore.open(root, 'p', 'p.ts').then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(/journal\.jsonl is unreadable: line 2: not JSON/);
      expect((err as { hint?: string }).hint).toMatch(/--fresh/);
      expect(readFileSync(journal, 'utf8')).toBe(before);
    }
    // The same bad line last: an append in progress when the process died.
    const { root } = await crashedState([good(0), good(2), `${cut}\n`]);
    const store = await CheckpointStore.open(root, 'p', 'p.ts');
    expect([...store.done]).toEqual(['i0', 'i2']);
    store.close();
  });

  it('a done entry without a string id, or a line that is no entry, is corruption', async () => {
    for (const line of ['{"k":"d","id":7,"result":1,"source":{}}\n', '[1,2]\n']) {
      const { root } = await crashedState([line, journalLine.output(0)]);
      await expect(CheckpointStore.open(root, 'p', 'p.ts')).rejects.toThrow(/journal\.jsonl is unreadable: line 1/);
    }
  });
});

describe('state.json', () => {
  it('is written as JSON.stringify(doc, null, 2) would write it, and read back with every id', async () => {
    const { root } = await crashedState(odd.map((id, n) => journalLine.done(n, core(id, n))));
    const store = await CheckpointStore.open(root, 'p', 'p.ts');
    await store.compact();
    store.close();
    const file = path.join(root, 'p', 'state.json');
    const text = readFileSync(file, 'utf8');
    const doc = JSON.parse(text) as { done: string[] };
    expect(text).toBe(JSON.stringify(doc, null, 2));
    expect(doc.done).toEqual(odd);
    const again = await CheckpointStore.open(root, 'p', 'p.ts');
    expect([...again.done]).toEqual(odd);
    expect(again.doc.done).toEqual([]); // the ids live in the set, not twice
    again.close();
    // Laid out some other way (by hand, by another tool): still read, by JSON.parse.
    writeFileSync(file, JSON.stringify({ ...doc, done: [...doc.done].reverse() }));
    const compact = await CheckpointStore.open(root, 'p', 'p.ts');
    expect([...compact.done]).toEqual([...odd].reverse());
    compact.close();
  });

  it('a done list that is not all strings, or a broken file, is corrupt state (exit 2 material), never rewritten', async () => {
    const { root } = await crashedState([journalLine.done(0, core('a', 0))]);
    const store = await CheckpointStore.open(root, 'p', 'p.ts');
    await store.compact();
    store.close();
    const file = path.join(root, 'p', 'state.json');
    const text = readFileSync(file, 'utf8');
    for (const broken of [text.replace('"a"', '7'), text.replace('"a"', '"a",'), text.replace('"a"', '"a'), text.slice(0, -5)]) {
      writeFileSync(file, broken);
      await expect(CheckpointStore.open(root, 'p', 'p.ts')).rejects.toThrow(/state\.json is unreadable/);
      expect(readFileSync(file, 'utf8')).toBe(broken);
    }
  });

  it('a "done" list nested deeper than the top level is not taken for the done ids', async () => {
    const { root } = await crashedState([journalLine.done(0, core('top', 0))]);
    const store = await CheckpointStore.open(root, 'p', 'p.ts');
    await store.compact();
    store.close();
    const file = path.join(root, 'p', 'state.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    // A key that sorts first and holds a lookalike list, indented as a top-level one would be.
    const text = `{\n  "note": {\n  "done": [\n    "not-an-id"\n  ]},${JSON.stringify(doc, null, 2).slice(1)}`;
    writeFileSync(file, text);
    const again = await CheckpointStore.open(root, 'p', 'p.ts');
    expect([...again.done]).toEqual(['top']);
    again.close();
  });
});

describe('output tail', () => {
  it('after a crash the jsonl output gets the items the journal committed but the output lacks, each once', async () => {
    const dir = makeProject();
    const root = path.join(dir, 'state');
    const outFile = path.join(dir, 'out', 'p.jsonl');
    const store = await CheckpointStore.open(root, 'p', 'p.ts');
    const out = await openOutput(outFile, store, { order: 'completion', definition: {} }, { cwd: dir });
    await store.compact({ output: { path: outFile, bytes: 0 } });
    // Three groups as the engine commits them: done lines, then the output size they bring it to.
    let bytes = 0;
    const group = (ids: number[], writeOutput: boolean) => {
      const text = ids.map((n) => `{${core(`i${n}`, n)}\n`).join('');
      bytes += Buffer.byteLength(text);
      store.append(`${ids.map((n) => journalLine.done(n, core(`i${n}`, n))).join('')}${journalLine.output(bytes)}`);
      if (writeOutput) out.append(text);
    };
    group([0, 1], true);
    group([2, 3], true);
    group([4, 5], false); // killed between the journal write and the output write
    store.append(journalLine.done(6, core('i6', 6))); // and a done line after the last output checkpoint
    out.close();
    store.close();
    // A torn output write of the last group: half a line.
    appendFileSync(outFile, `{${core('i4', 4)}`.slice(0, 20));
    const again = await CheckpointStore.open(root, 'p', 'p.ts');
    const reopened = await openOutput(outFile, again, { order: 'completion', definition: {} }, { cwd: dir });
    reopened.close();
    again.close();
    expect(readJsonl<{ id: string }>(outFile).map((r) => r.id)).toEqual(['i0', 'i1', 'i2', 'i3', 'i4', 'i5', 'i6']);
    expect(readFileSync(outFile, 'utf8')).toBe(['i0', 'i1', 'i2', 'i3', 'i4', 'i5', 'i6'].map((id, n) => `{${core(id, n)}\n`).join(''));
  });
});

describe('resume', () => {
  it('done ids and the ids seen in this run share one index yet stay apart: a repeat is skipped once per run, a done id silently', async () => {
    const dir = makeProject();
    const file = writePipeline(dir, 'p.ts', `
import { definePipeline } from 'pipeline-tui';
export default definePipeline({ name: 'p', id: (r: any) => String(r.key), workers: 1, process: (r: any) => ({ key: r.key }) });
`);
    const lines = (keys: number[]) => keys.map((key) => JSON.stringify({ key })).join('\n') + '\n';
    writeFile(dir, 'a.jsonl', lines([1, 2, 3, 4, 5]));
    writeFile(dir, 'b.jsonl', lines([1, 2, 3, 4, 5, 1, 2, 6, 6]));
    const run = async (input: string) => createEngine(await loadPipeline(file, { cwd: dir }), { cwd: dir }).run([input]);
    const first = await run('a.jsonl');
    expect([first.totals.doneThisRun, first.totals.skipped]).toEqual([5, 0]);
    const second = await run('b.jsonl');
    expect([second.totals.doneThisRun, second.totals.skipped, second.totals.done]).toEqual([1, 3, 6]);
    const third = await run('b.jsonl');
    expect([third.totals.doneThisRun, third.totals.skipped, third.totals.done]).toEqual([0, 3, 6]);
    expect(readJsonl<{ id: string }>(path.join(dir, 'out', 'p.jsonl')).map((r) => r.id)).toEqual(['1', '2', '3', '4', '5', '6']);
    const doc = JSON.parse(readFileSync(path.join(dir, '.pipeline-tui', 'p', 'state.json'), 'utf8')) as { done: string[] };
    expect([...doc.done].sort()).toEqual(['1', '2', '3', '4', '5', '6']);
  });
});
