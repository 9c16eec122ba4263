import type { InputRecord } from './inputs.js';
import type { PipelineDefinition } from './types.js';

/**
 * Applies a pipeline's `expand`: one input record (a document) becomes several items (its chunks),
 * each remembering the file and its part number, so chunks are processed in parallel and resumed
 * one by one. Without `expand` the source passes through untouched.
 */
export async function* expandRecords(source: AsyncIterable<InputRecord[]>, expand: PipelineDefinition['expand']): AsyncGenerator<InputRecord[]> {
  if (!expand) { yield* source; return; }
  for await (const batch of source) {
    const out: InputRecord[] = [];
    for (const rec of batch) {
      if (rec.error !== undefined) { out.push(rec); continue; }
      let parts: unknown[];
      try {
        parts = [...(expand(rec.record) as Iterable<unknown>)];
      } catch (e) {
        const line = 'line' in rec.source ? rec.source.line : 0;
        out.push({ error: `${rec.source.file}: expand() threw: ${(e as Error)?.message ?? String(e)}`, source: { file: rec.source.file, line } });
        continue;
      }
      parts.forEach((record, i) => out.push({ record, source: { file: rec.source.file, part: i + 1 } }));
    }
    if (out.length > 0) yield out;
  }
}
