// Reading a pipeline's declaration from its text (engine/declaration-scan.ts): what it reads must equal
// what the evaluated file declares, and anything it cannot be sure of must give undefined (the launcher
// then evaluates the file). The end-to-end side is in permissions.test.ts.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { declarationOfPipeline, sameDeclaration } from '../dist/engine/declaration.js';
import { scanDeclaration, scanPipeline } from '../dist/engine/declaration-scan.js';
import { loadPipeline } from '../dist/engine/load.js';
import { cleanupProjects, makeProject, repoRoot, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

const head = `import { definePipeline } from 'pipeline-tui';\n`;

/** Scans `source` and evaluates it, and expects both to declare the same. */
async function agrees(source: string): Promise<ReturnType<typeof scanDeclaration>> {
  const dir = makeProject('pt-decl-');
  const file = writePipeline(dir, 'p.ts', source);
  const scanned = scanDeclaration(file, source);
  expect(scanned, 'readable from the text').toBeDefined();
  const evaluated = declarationOfPipeline(await loadPipeline(file, { cwd: dir }));
  expect(scanned).toEqual(evaluated);
  expect(sameDeclaration(scanned!, evaluated)).toBe(true);
  return scanned;
}

const scan = (source: string) => scanDeclaration('/p/p.ts', source);

describe('scanDeclaration', () => {
  it('reads every pipeline in ./pipelines/ as the loader does', async () => {
    const dir = path.join(repoRoot, 'pipelines');
    for (const f of readdirSync(dir)) {
      const file = path.join(dir, f);
      const scanned = scanDeclaration(file, readFileSync(file, 'utf8'));
      expect(scanned, f).toBeDefined();
      expect(sameDeclaration(scanned!, declarationOfPipeline(await loadPipeline(file, { cwd: repoRoot }))), f).toBe(true);
    }
  });

  it('reads literals around code that looks like them: comments, regexes, templates, methods, type arguments', async () => {
    const d = await agrees(`${head}
// permissions: { read: ['/not/this'] }
/* name: 'nope' */
const re = /['"{}]/g;
interface R { id: number; text: string }
export default definePipeline<R, { n: number }>({
  name: 'tricky',
  description: \`a \${'template'} with } and { inside\`,
  input: ['a.jsonl', "b.jsonl",],
  watch: \`inbox/\`,
  output: 'out/t.csv' as const,
  id: (r) => String(r.id).replace(/}/g, ''),
  retry: { attempts: 2 },
  permissions: { read: ['/data/lexicon', 'docs/'], 'env': ['HOME'] },
  providers: { openai: { rpm: 60, model: 'gpt-4o-mini' }, 'local-llm': { baseURL: 'http://127.0.0.1:8080/v1', tpm: 1000 } },
  async process(record: R): Promise<{ n: number }> {
    const s = \`\${record.text.replace(re, '')}/\`;
    return { n: s.length / 2 };
  },
});
function helper() { return { name: 'other', permissions: { write: ['/'] } }; }
void helper;
`);
    expect(d).toMatchObject({ name: 'tricky', input: ['a.jsonl', 'b.jsonl'], watch: ['inbox/'], output: 'out/t.csv', permissions: { read: ['/data/lexicon', 'docs/'], env: ['HOME'] } });
    expect(d!.providers).toEqual([{ name: 'openai' }, { name: 'local-llm', baseURL: 'http://127.0.0.1:8080/v1' }]);
  });

  it('reads a plain object export and a const exported by name, with the default output', async () => {
    const plain = await agrees(`export default { name: 'plain', input: 'in.jsonl', process: (r: unknown) => r };\n`);
    expect(plain?.output).toBe('out/plain.jsonl');
    await agrees(`${head}const p = definePipeline({ name: 'named', input: 'in.jsonl', process: (r) => r })\nexport default p\n`);
    await agrees(`import { definePipeline as dp } from 'pipeline-tui';\nexport default dp({ name: 'aliased', process: (r) => r }) satisfies object;\n`);
  });

  it('gives undefined for anything that is not a literal it can be sure of', () => {
    const body = (fields: string) => `${head}export default definePipeline({ name: 'x', ${fields} process: (r) => r });\n`;
    expect(scan(body(''))).toBeDefined();
    expect(scan(body(`permissions: { read: [process.env.DATA!] },`))).toBeUndefined();
    expect(scan(body(`input: \`\${'in'}.jsonl\`,`))).toBeUndefined();
    expect(scan(body(`...common,`))).toBeUndefined();
    expect(scan(body(`['permissions']: { read: ['/'] },`))).toBeUndefined();
    expect(scan(body(`get permissions() { return { read: ['/'] }; },`))).toBeUndefined();
    expect(scan(body(`permissions,`))).toBeUndefined();
    expect(scan(body(`permissions: { read: ['/a'], ...more },`))).toBeUndefined();
    expect(scan(body(`providers: { openai: { baseURL: process.env.URL } },`))).toBeUndefined();
    expect(scan(body(`providers: { openai: shared },`))).toBeUndefined();
    expect(scan(body(`output: 'a.jsonl', output: 'b.jsonl',`))).toBeUndefined();
    expect(scan(body(`name: 'y',`))).toBeUndefined(); // name twice: the last one wins, not read
    // The exported value is not the literal, or can be changed before it is read.
    expect(scan(`${head}const p = definePipeline({ name: 'x', process: (r) => r });\np.permissions = { read: ['/'] };\nexport default p;\n`)).toBeUndefined();
    expect(scan(`${head}export default definePipeline({ name: 'x', process: (r) => r }).with({});\n`)).toBeUndefined();
    expect(scan(`${head}export default definePipeline({ name: 'x', process: (r) => r }) || other;\n`)).toBeUndefined();
    expect(scan(`import { definePipeline } from './mine';\nexport default definePipeline({ name: 'x', process: (r) => r });\n`)).toBeUndefined();
    expect(scan(`${head}const x = definePipeline({ name: 'x', process: (r) => r });\nexport { x as default };\n`)).toBeUndefined();
    expect(scan(`${head}export default definePipeline({ name: 'x', process: (r) => r }`)).toBeUndefined(); // syntax error
    expect(scan(`${head}export default definePipeline({ name: 'x\\1', process: (r) => r });\n`)).toBeUndefined(); // legacy octal
  });

  it('gives the first pool\'s size as a hint for starting workers early, when the text says it', () => {
    const size = (fields: string) => scanPipeline('/p/p.ts', `${head}export default definePipeline({ name: 'x', ${fields} process: (r) => r });\n`)?.poolSize;
    expect(size('')).toBe(4); // the default
    expect(size('workers: 2,')).toBe(2);
    expect(size('workers: { min: 3, max: 8 },')).toBe(3);
    expect(size('workers: Number(process.env.N),')).toBeUndefined();
    expect(size(`stages: [{ name: 'a', process: (r: unknown) => r }],`)).toBeUndefined();
    // The hint never blocks the declaration.
    expect(scanPipeline('/p/p.ts', `${head}export default definePipeline({ name: 'x', workers: n, process: (r) => r });\n`)?.declaration.name).toBe('x');
  });
});
