import { readFileSync } from 'node:fs';
import { distance } from 'fastest-levenshtein';
import { definePipeline } from 'pipeline-tui';

/** A row of the purchasing export (samples/suppliers/Frs.xlsx), keyed by its header. */
interface OrderRow { Row: number; Supplier: string; City?: string; Amount?: number; Ordered?: string }
interface Reference { id: string; name: string; city: string }

// Legal forms say nothing about who the supplier is; they differ between exports of the same company.
const legalForms = /\b(gmbh|ag|sarl|sas|sa|ab|spa|s p a|bv|b v|sp z o o|sl|s l|lda|s r o|sro|ltd|inc|llc|co)\b/g;

export function normalise(name: string): string {
  return name
    .normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/ß/g, 'ss').replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, ' ')
    .replace(legalForms, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Edit similarity blended with token overlap: robust to typos and to dropped or reordered words. */
export function similarity(a: string, b: string): number {
  if (!a || !b) return 0;
  const edit = 1 - distance(a, b) / Math.max(a.length, b.length);
  const ta = new Set(a.split(' '));
  const tb = new Set(b.split(' '));
  const shared = [...ta].filter((t) => tb.has(t)).length;
  const jaccard = shared / (ta.size + tb.size - shared);
  return 0.6 * edit + 0.4 * jaccard;
}

// Loaded once per worker thread, not per row.
let reference: (Reference & { key: string; cityKey: string })[] | undefined;
function referenceList(): NonNullable<typeof reference> {
  reference ??= (JSON.parse(readFileSync('samples/suppliers/reference.json', 'utf8')) as Reference[])
    .map((r) => ({ ...r, key: normalise(r.name), cityKey: normalise(r.city) }));
  return reference;
}

export const threshold = 0.72;

export default definePipeline<OrderRow>({
  name: 'suppliers',
  description: 'Match supplier rows from an xlsx export against the reference list; write the matches back to xlsx',
  input: 'samples/suppliers/Frs.xlsx',
  output: 'out/suppliers.xlsx',
  order: 'input',
  id: (r) => `row-${r.Row}`,
  workers: 2,
  // The reference list is not an input: reading it is a permission the pipeline declares.
  permissions: { read: ['samples/suppliers/'] },
  process(row) {
    const key = normalise(String(row.Supplier ?? ''));
    const city = normalise(String(row.City ?? ''));
    let best: { ref: Reference; score: number } | undefined;
    for (const ref of referenceList()) {
      // Same city is evidence, not proof: a supplier may ship from another site.
      const score = Math.min(1, similarity(key, ref.key) + (city && city === ref.cityKey ? 0.08 : 0));
      if (!best || score > best.score) best = { ref, score };
    }
    const matched = best !== undefined && best.score >= threshold;
    return {
      MatchedId: matched ? best!.ref.id : null,
      MatchedName: matched ? best!.ref.name : null,
      Score: Math.round((best?.score ?? 0) * 1000) / 1000,
      SameCity: matched ? normalise(best!.ref.city) === city : null,
    };
  },
});
