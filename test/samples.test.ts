// Every shipped pipeline, end to end on its shipped sample data, through the CLI as a user runs it
// (LLM steps answered by the simulator), with checks on what the outputs say.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as XLSX from 'xlsx';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(root, 'bin', 'pipeline-tui.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pt-samples-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(pipeline: string, out: string, extra: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  for (const k of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_GENERATIVE_AI_API_KEY']) delete env[k];
  const r = spawnSync(process.execPath, [cli, 'run', pipeline, '--state', path.join(tmp, 'state'), '--out', out, '--plain', ...extra], { cwd: root, env, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; result: Record<string, unknown> });

describe('shipped pipelines on their samples', () => {
  it('tweets: types, priorities, language, sentiment and a routed LLM summary per tweet (no API key: simulated)', () => {
    const out = path.join(tmp, 'tweets.jsonl');
    const r = run('tweets', out);
    expect(r.stderr + r.stdout).toMatch(/SIMULATED/);
    expect(r.code).toBe(0);
    const rows = lines(out);
    const input = readFileSync(path.join(root, 'samples/tweets.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text: string; media?: unknown[] });
    expect(new Set(rows.map((r) => r.id)).size).toBe(input.length);
    const byId = new Map(rows.map((r) => [r.id, r.result]));
    const expectType = (pred: (t: { text: string; media?: unknown[] }) => boolean, type: string) => {
      const known = input.filter(pred);
      expect(known.length).toBeGreaterThan(10);
      for (const t of known) expect(byId.get(t.id)?.type, t.text).toBe(type);
    };
    expectType((t) => t.text.includes('github.com/'), 'github');
    expectType((t) => t.text.includes('arxiv.org/'), 'paper');
    expectType((t) => t.text.startsWith('🧵'), 'thread');
    expectType((t) => Array.isArray(t.media), 'multimedia');
    const spanish = input.find((t) => t.text.startsWith('El nuevo'))!;
    expect(byId.get(spanish.id)?.language).toBe('spa');
    const french = input.find((t) => t.text.startsWith('Le support'))!;
    expect(byId.get(french.id)?.language).toBe('fra');
    const happy = input.find((t) => /is (love|great|amazing|excellent|brilliant|fantastic) today/.test(t.text))!;
    expect((byId.get(happy.id)?.sentiment as { label: string }).label).toBe('positive');
    const paper = input.find((t) => t.text.includes('arxiv.org/'))!;
    const summary = byId.get(paper.id)?.summary as { provider: string; text: string };
    expect(summary.provider).toBe('anthropic'); // papers are routed to anthropic
    expect(summary.text).toContain('[simulated]');
    const report = JSON.parse(readFileSync(`${out}.summary.json`, 'utf8')) as { simulated: boolean; providers: Record<string, { requests: number }>; simulator?: { violations: number } };
    expect(report.simulated).toBe(true);
    expect(Object.values(report.providers).reduce((n, p) => n + p.requests, 0)).toBeGreaterThanOrEqual(input.length);
    expect(report.simulator?.violations).toBe(0);
  }, 240_000);

  it('documents: classified, fields extracted, the invalid ones dead-lettered with the reason', () => {
    const out = path.join(tmp, 'documents.jsonl');
    const r = run('documents', out);
    expect(r.code).toBe(1); // some documents are invalid on purpose
    const byId = new Map(lines(out).map((l) => [l.id, l.result]));
    const invoice = byId.get('samples/documents/001-invoice.md') as { type: string; fields: { invoiceNumber: string; total: number; currency: string } };
    expect(invoice.type).toBe('invoice');
    expect(invoice.fields).toMatchObject({ invoiceNumber: 'INV-20260001', total: 513, currency: 'EUR' });
    expect((byId.get('samples/documents/002-contract.txt') as { type: string }).type).toBe('contract');
    const status = spawnSync(process.execPath, [cli, 'status', 'documents', '--state', path.join(tmp, 'state'), '--json'], { cwd: root, encoding: 'utf8' });
    const s = JSON.parse(status.stdout) as { counts: { done: number; failed: number }; failed: { id: string; error: { code: string; message: string } }[] };
    expect(s.counts.done + s.counts.failed).toBe(120);
    expect(s.failed.map((f) => f.id).sort()).toEqual(['samples/documents/051-resume.md', 'samples/documents/068-contract.txt', 'samples/documents/085-invoice.md', 'samples/documents/102-invoice.txt']);
    expect(s.failed.find((f) => f.id.includes('085'))?.error.message).toMatch(/missing required field\(s\): invoiceNumber/);
  }, 120_000);

  it('humanize: chunks rewritten in parallel, merged back in order by reduce, coverage verified', () => {
    const out = path.join(tmp, 'humanize.jsonl');
    const r = run('humanize', out);
    expect(r.code).toBe(0);
    const summary = JSON.parse(readFileSync(`${out}.summary.json`, 'utf8')) as { reduce: { chunks: number; complete: boolean; missingChunks: number[]; file: string } };
    const essay = readFileSync(path.join(root, 'samples/humanize/essay.md'), 'utf8');
    const headings = essay.match(/^#{1,6} .+$/gm)!;
    expect(summary.reduce.complete).toBe(true);
    expect(summary.reduce.chunks).toBe(lines(out).length);
    expect(summary.reduce.chunks).toBeGreaterThanOrEqual(headings.length);
    const merged = readFileSync(path.resolve(root, summary.reduce.file), 'utf8');
    // Every heading survives, in the original order.
    const positions = headings.map((h) => merged.indexOf(h));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  }, 120_000);

  it('suppliers: rows matched against the reference list and written back to xlsx with score and id', () => {
    const out = path.join(tmp, 'suppliers.xlsx');
    const r = run('suppliers', out);
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const wb = XLSX.read(readFileSync(out));
    const rows = XLSX.utils.sheet_to_json<Record<string, unknown>>(wb.Sheets[wb.SheetNames[0]!]!);
    const input = XLSX.utils.sheet_to_json<Record<string, unknown>>((() => { const w = XLSX.read(readFileSync(path.join(root, 'samples/suppliers/Frs.xlsx'))); return w.Sheets[w.SheetNames[0]!]!; })());
    expect(rows).toHaveLength(input.length);
    // The input's columns are kept, in input order, and the match columns are added.
    expect(rows.map((r) => r.Row)).toEqual(input.map((r) => r.Row));
    for (const col of ['Supplier', 'City', 'Amount', 'MatchedId', 'Score']) expect(Object.keys(rows[0]!)).toContain(col);
    const reference = JSON.parse(readFileSync(path.join(root, 'samples/suppliers/reference.json'), 'utf8')) as { id: string; name: string }[];
    for (const ref of reference) {
      const exact = rows.filter((r) => r.Supplier === ref.name || r.Supplier === ref.name.toUpperCase());
      for (const row of exact) expect(row.MatchedId, String(row.Supplier)).toBe(ref.id);
    }
    const unknown = rows.filter((r) => ['Unknown Trading Co', 'Zeta Imports', 'Blue Ocean Supply', 'Northwind Traders'].includes(String(r.Supplier)));
    expect(unknown.length).toBeGreaterThan(5);
    for (const row of unknown) expect(row.MatchedId ?? null, String(row.Supplier)).toBeNull();
  }, 120_000);
});
