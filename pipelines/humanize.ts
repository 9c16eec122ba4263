import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { definePipeline, PermanentError } from 'pipeline-tui';

/** One chunk of a markdown document, as `expand` makes them. */
interface Chunk { doc: string; index: number; heading: string; text: string }

const maxWords = 120;

/** Splits at headings, then at paragraphs when a section is long, so no chunk cuts a sentence. */
export function chunk(doc: { path: string; text: string }): Chunk[] {
  const chunks: Chunk[] = [];
  let heading = '';
  let buf: string[] = [];
  const flush = () => {
    const text = buf.join('\n\n').trim();
    if (text) chunks.push({ doc: doc.path, index: chunks.length, heading, text });
    buf = [];
  };
  for (const block of doc.text.split(/\n{2,}/)) {
    if (/^#{1,6}\s/.test(block)) { flush(); heading = block.trim(); buf.push(block.trim()); continue; }
    const words = buf.join(' ').split(/\s+/).length + block.split(/\s+/).length;
    if (words > maxWords && buf.some((b) => !/^#{1,6}\s/.test(b))) flush();
    buf.push(block.trim());
  }
  flush();
  return chunks;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

export default definePipeline<Chunk>({
  name: 'humanize',
  description: 'Rewrite a long markdown document chunk by chunk with an LLM, then merge the chunks in order (map-reduce)',
  input: 'samples/humanize/essay.md',
  output: 'out/humanize.jsonl',
  expand: chunk,
  id: (c) => `${c.doc}#${c.index}`,
  workers: 4,
  timeoutMs: 60_000,
  retry: { attempts: 3, backoffMs: 1_000 },
  providers: { anthropic: { rpm: 1_000, model: 'claude-3-5-haiku-latest', fallback: 'openai' }, openai: { rpm: 3_500, model: 'gpt-4o-mini' } },
  async process(c, ctx) {
    // Headings stay as written; only prose is rewritten.
    const [first, ...rest] = c.text.split('\n\n');
    const keep = first && /^#{1,6}\s/.test(first) ? first : undefined;
    const prose = (keep ? rest : [first ?? '', ...rest]).join('\n\n');
    if (!prose.trim()) return { index: c.index, doc: c.doc, text: c.text, inputWords: words(c.text), outputWords: words(c.text) };
    const res = await ctx.llm('anthropic', {
      messages: [
        { role: 'system', content: 'Rewrite the text in plain, direct English. Keep every fact. Remove filler and buzzwords. Return only the text.' },
        { role: 'user', content: prose },
      ],
      maxTokens: Math.ceil(words(prose) * 2),
      temperature: 0.4,
    });
    const out = res.text.trim();
    if (!out) throw new Error(`empty rewrite for chunk ${c.index}`); // transient: try again
    if (words(out) < words(prose) * 0.2) throw new PermanentError(`rewrite of chunk ${c.index} lost most of the text (${words(out)} of ${words(prose)} words)`);
    return { index: c.index, doc: c.doc, text: keep ? `${keep}\n\n${out}` : out, inputWords: words(c.text), outputWords: words(keep ? `${keep}\n\n${out}` : out), provider: res.provider };
  },
  // The chord: runs once every chunk is done; puts the document back together in order and checks it.
  async reduce(results, ctx) {
    const parts: { index: number; doc: string; text: string; inputWords: number; outputWords: number }[] = [];
    for await (const r of results) parts.push(r.result as (typeof parts)[number]);
    parts.sort((a, b) => a.doc.localeCompare(b.doc) || a.index - b.index);
    const have = new Set(parts.map((p) => p.index));
    const missing = Array.from({ length: Math.max(-1, ...parts.map((p) => p.index)) + 1 }, (_, i) => i).filter((i) => !have.has(i));
    const inputWords = parts.reduce((n, p) => n + p.inputWords, 0);
    const outputWords = parts.reduce((n, p) => n + p.outputWords, 0);
    const markdown = parts.map((p) => p.text).join('\n\n') + '\n';
    // The merged document sits beside the per-chunk output, which the pipeline may always write.
    const file = ctx.output.replace(/\.jsonl$/, '') + '.md';
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, markdown);
    return {
      file,
      chunks: parts.length,
      complete: missing.length === 0,
      missingChunks: missing,
      inputWords,
      outputWords,
      lengthRatio: inputWords ? Math.round((outputWords / inputWords) * 1000) / 1000 : 0,
    };
  },
});
