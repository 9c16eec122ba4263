// The pipeline scripting runtime as users meet it: TypeScript files anywhere, errors that point at their
// lines (syntax, run time, settings), `check` and `list`. Every run is the real CLI in a temp folder.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupProjects, jsonLines, makeProject, readJsonl, runCli, writeFile, writeJsonl, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

/** Types and interfaces above the code, so a line in the transpiled JS is not the line in the file. */
const typedPipeline = (name: string, body: string) => `import { definePipeline, PermanentError } from 'pipeline-tui';

interface Tweet {
  id: number;
  text: string;
}

type Enriched = {
  id: number;
  words: number;
  shout: string;
};

enum Mood { Calm = 'calm', Loud = 'loud' }

export default definePipeline<Tweet, Enriched & { mood: Mood }>({
  name: '${name}',
  input: 'tweets.jsonl',
  id: (t: Tweet): string => String(t.id),
  workers: 2,
  retry: { attempts: 1 },
  async process(tweet, ctx) {
${body}
  },
});
`;

/** 1-based line and column of the first `needle` in `source`. */
function locate(source: string, needle: string): { line: number; column: number } {
  const at = source.indexOf(needle);
  if (at < 0) throw new Error(`${needle} not in the source`);
  const before = source.slice(0, at).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

const countWords = `    const words: number = tweet.text.split(/\\s+/).length;
    return { id: tweet.id, words, shout: tweet.text.toUpperCase(), mood: words > 2 ? Mood.Loud : Mood.Calm };`;

describe('pipeline files', () => {
  it('runs a TypeScript pipeline with types, interfaces and an enum from a folder outside the repo, by path from another cwd', async () => {
    const project = makeProject('pt-runtime-');
    const file = writePipeline(project, 'pipelines/typed.ts', typedPipeline('typed', countWords));
    writeJsonl(project, 'tweets.jsonl', 3, (i) => ({ text: 'hello world '.repeat(i).trim() }));
    // Another folder as cwd: the input is given explicitly, 'pipeline-tui' must still resolve.
    const elsewhere = makeProject('pt-runtime-cwd-');
    const res = await runCli(['run', file, path.join(project, 'tweets.jsonl'), '--json'], { cwd: elsewhere });
    expect(res.code, res.stderr).toBe(0);
    const out = readJsonl<{ id: string; result: { words: number; shout: string; mood: string } }>(path.join(elsewhere, 'out', 'typed.jsonl'));
    expect(out.map((l) => [l.id, l.result.words, l.result.mood]).sort()).toEqual([['1', 2, 'calm'], ['2', 4, 'loud'], ['3', 6, 'loud']]);

    const check = await runCli(['check', file], { cwd: elsewhere });
    expect(check.stdout).toBe('');
    expect(check.code, check.stderr).toBe(0);
  });

  it('a syntax error exits 2 with file:line:col, the line and a caret, and no stack', async () => {
    const dir = makeProject('pt-runtime-');
    const source = typedPipeline('broken', '    const n = tweet.id +;\n    return n;');
    writePipeline(dir, 'pipelines/broken.ts', source);
    writeJsonl(dir, 'tweets.jsonl', 1);
    const res = await runCli(['run', 'pipelines/broken.ts'], { cwd: dir });
    expect(res.code).toBe(2);
    const { line, column } = locate(source, '+;');
    const caretColumn = column + 1;
    expect(res.stderr).toContain(`pipeline-tui: pipelines/broken.ts:${line}:${caretColumn}: Syntax error: Expression expected.\n`);
    expect(res.stderr).toContain(`  ${line} |     const n = tweet.id +;\n     | ${' '.repeat(caretColumn - 1)}^\n`);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(res.stderr).not.toContain('ParseError');
  });

  it('an error thrown at run time names the TypeScript line (source-mapped), in status --json too', async () => {
    const dir = makeProject('pt-runtime-');
    const source = typedPipeline('throws', `    if (tweet.id === 2) {
      throw new PermanentError('no tweet 2 please');
    }
${countWords}`);
    writePipeline(dir, 'pipelines/throws.ts', source);
    const { line } = locate(source, 'throw new');
    writeJsonl(dir, 'tweets.jsonl', 3, (i) => ({ text: `t${i}` }));
    const res = await runCli(['run', 'throws', '--json'], { cwd: dir });
    expect(res.code).toBe(1);
    const failed = jsonLines(res.stdout).find((e) => e.type === 'item' && e.status === 'failed') as { error: { message: string; file: string; line: number } } | undefined;
    expect(failed?.error).toMatchObject({ file: path.join('pipelines', 'throws.ts'), line });
    expect(failed?.error.message).toBe(`no tweet 2 please (${path.join('pipelines', 'throws.ts')}:${line})`);
    const status = await runCli(['status', 'throws', '--json'], { cwd: dir });
    const report = JSON.parse(status.stdout) as { failed: { id: string; error: { code: string; file: string; line: number } }[] };
    expect(report.failed).toEqual([expect.objectContaining({ id: '2', error: expect.objectContaining({ code: 'PERMANENT', file: path.join('pipelines', 'throws.ts'), line }) })]);
  });

  it('unknown and ill-typed fields stop the run with exit 2, each named (with "did you mean")', async () => {
    const dir = makeProject('pt-runtime-');
    writePipeline(dir, 'pipelines/fields.ts', typedPipeline('fields', countWords).replace('  workers: 2,', '  workers: -1,\n  timeout: 5_000,'));
    writeJsonl(dir, 'tweets.jsonl', 1);
    const res = await runCli(['run', 'fields'], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('pipelines/fields.ts: "workers" must be a positive integer or { min, max }, got -1 (number)');
    expect(res.stderr).toContain(`pipelines/fields.ts: unknown field "timeout" (did you mean 'timeoutMs'?)`);
    expect(res.stdout).toBe('');
  });
});

describe('check and list', () => {
  const badTypes = typedPipeline('bad-types', `    const n: number = tweet.txt;
${countWords}`).replace('  retry: { attempts: 1 },', '  retry: { attempts: 1, backof: 5 },');
  const syntax = typedPipeline('syntax', '    return { id: 1 ;');

  /** ./pipelines/ with a clean file, one with type and settings problems, one that does not parse. */
  function project() {
    const dir = makeProject('pt-check-');
    writePipeline(dir, 'pipelines/good.ts', typedPipeline('good', `    const reply = await ctx.llm('openai', { prompt: tweet.text, maxTokens: 5 });
    return { id: tweet.id, words: reply.usage.outputTokens, shout: reply.text, mood: Mood.Calm };`).replace("  retry: { attempts: 1 },", "  retry: { attempts: 1 },\n  providers: { openai: { rpm: 60 } },"));
    writePipeline(dir, 'pipelines/bad-types.ts', badTypes);
    writePipeline(dir, 'pipelines/syntax.ts', syntax);
    writeFile(dir, 'tweets.jsonl', '');
    return dir;
  }

  it('check prints file:line:col message per problem and exits 1; a clean file exits 0', async () => {
    const dir = project();
    const res = await runCli(['check'], { cwd: dir });
    expect(res.code, res.stderr).toBe(1);
    const lines = res.stdout.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^pipelines\/[a-z-]+\.ts:\d+:\d+ \S/);
    expect(res.stdout).not.toMatch(/\(\d+,\d+\)/); // never tsc's file(line,col)
    const at = (source: string, needle: string) => { const p = locate(source, needle); return `${p.line}:${p.column}`; };
    expect(lines).toContain(`pipelines/bad-types.ts:${at(badTypes, 'backof')} unknown field "retry.backof" (did you mean 'backoffMs'?)`);
    expect(lines.find((l) => l.startsWith(`pipelines/bad-types.ts:${at(badTypes, 'txt;')} `))).toContain("Property 'txt' does not exist on type 'Tweet'");
    expect(lines.find((l) => l.startsWith(`pipelines/syntax.ts:${at(syntax, ';\n  },')} `))).toContain("',' expected");
    expect(lines.some((l) => l.startsWith('pipelines/good.ts'))).toBe(false);

    const good = await runCli(['check', 'good'], { cwd: dir });
    expect(good.stdout).toBe('');
    expect(good.code, good.stderr).toBe(0);
  });

  it("check knows Node's own modules (the types ship as a dependency, not only for development)", async () => {
    const dir = makeProject('pt-check-node-');
    const usesNode = (call: string) => `import { definePipeline } from 'pipeline-tui';
import { createHash } from 'node:crypto';
import path from 'node:path';

export default definePipeline({
  name: 'hashes',
  input: 'in.jsonl',
  process: (r: { file: string }) => ({ ext: ${call}, sum: createHash('sha1').update(r.file).digest('hex') }),
});
`;
    writePipeline(dir, 'pipelines/hashes.ts', usesNode('path.extname(r.file)'));
    const ok = await runCli(['check', 'hashes'], { cwd: dir });
    expect(ok.stdout).toBe('');
    expect(ok.code, ok.stderr).toBe(0);
    writePipeline(dir, 'pipelines/hashes.ts', usesNode('path.extnam(r.file)'));
    const bad = await runCli(['check', 'hashes'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^pipelines\/hashes\.ts:8:\d+ .*Property 'extnam' does not exist/m);
  });

  it('list shows every pipeline and marks the broken one with its line', async () => {
    const dir = project();
    const res = await runCli(['list'], { cwd: dir });
    expect(res.code).toBe(0);
    const rows = res.stdout.trim().split('\n');
    expect(rows).toHaveLength(3);
    const { line, column } = locate(syntax, ';\n  },');
    expect(rows.find((r) => r.includes('pipelines/syntax.ts'))).toContain(`BROKEN: pipelines/syntax.ts:${line}:${column}: Syntax error: ',' expected.`);
    expect(rows.find((r) => r.startsWith('good '))).not.toContain('BROKEN');
  });
});
