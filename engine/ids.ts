import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` get the same id. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = (value as Record<string, unknown>)[keys[i]!];
    if (v === undefined || typeof v === 'function') continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(keys[i])}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** Default item id: 16 hex chars of the SHA-1 of the canonical JSON (collisions need ~4 billion items). */
export function defaultId(record: unknown): string {
  // Hex of the first 8 bytes, not a slice of the 40-char hex: V8 keeps a slice as a view that pins
  // its parent, and a million ids held in the checkpoint's Sets would pin a million parents (~50 MB).
  return createHash('sha1').update(canonicalJson(record)).digest().toString('hex', 0, 8);
}

/** The id the engine gives a record: the pipeline's `id(record)`, else the content hash. Throws what `id` throws. */
export function recordId(def: { id?: ((record: any) => unknown) | undefined }, record: unknown): string {
  return def.id ? String(def.id(record)) : defaultId(record);
}
