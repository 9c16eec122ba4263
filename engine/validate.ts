import { ErrorCode, PipelineTuiError } from './errors.js';
import type { PipelineDefinition, RetryOptions } from './types.js';

const knownFields = [
  'name', 'description', 'input', 'watch', 'expand', 'id', 'priority', 'workers', 'timeoutMs', 'retry', 'providers',
  'permissions', 'process', 'stages', 'reduce', 'output', 'order', 'sheet', 'delimiter',
] as const;
const retryFields = ['attempts', 'backoffMs', 'maxBackoffMs'] as const;
const stageFields = ['name', 'process', 'workers', 'timeoutMs', 'retry'] as const;
const permissionFields = ['read', 'write', 'net', 'env'] as const;
const providerFields = ['rpm', 'tpm', 'model', 'fallback', 'baseURL'] as const;

function describe(value: unknown): string {
  if (value === null) return 'null (null)';
  if (Array.isArray(value)) return `an array (array)`;
  if (typeof value === 'function') return 'a function (function)';
  if (typeof value === 'object') return 'an object (object)';
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (string)`;
  return `${String(value)} (${typeof value})`;
}

/** Damerau-free Levenshtein: enough to catch `timeout` for `timeoutMs` and `worker` for `workers`. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const lower = word.toLowerCase();
    const score = c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase()) ? 1 : distance(word, c);
    if (score < bestScore) { best = c; bestScore = score; }
  }
  return bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Collects every problem instead of stopping at the first, so one `check` run shows them all. */
class Problems {
  readonly list: string[] = [];
  add(field: string, expected: string, value: unknown): void {
    this.list.push(`"${field}" must be ${expected}, got ${describe(value)}`);
  }
  unknown(where: string, key: string, valid: readonly string[]): void {
    const hint = closest(key, valid);
    this.list.push(`unknown field "${where}${key}"${hint ? ` (did you mean '${hint}'?)` : ''}`);
  }
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isStringList = (v: unknown): boolean => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'));

function checkRetry(p: Problems, field: string, retry: unknown): void {
  if (retry === undefined) return;
  if (typeof retry !== 'object' || retry === null || Array.isArray(retry)) return p.add(field, 'an object', retry);
  const r = retry as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!(retryFields as readonly string[]).includes(k)) p.unknown(`${field}.`, k, retryFields);
  if (r.attempts !== undefined && !isPositiveInt(r.attempts)) p.add(`${field}.attempts`, 'a positive integer', r.attempts);
  for (const k of ['backoffMs', 'maxBackoffMs'] as const) {
    const v = r[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) p.add(`${field}.${k}`, 'a number >= 0', v);
  }
}

function checkWorkers(p: Problems, field: string, w: unknown, allowRange: boolean): void {
  if (w === undefined) return;
  if (isPositiveInt(w)) return;
  if (allowRange && typeof w === 'object' && w !== null && !Array.isArray(w)) {
    const { min, max } = w as { min?: unknown; max?: unknown };
    if (!isPositiveInt(min)) p.add(`${field}.min`, 'a positive integer', min);
    if (!isPositiveInt(max)) p.add(`${field}.max`, 'a positive integer', max);
    if (isPositiveInt(min) && isPositiveInt(max) && min > max) p.add(`${field}.max`, `>= min (${min})`, max);
    return;
  }
  p.add(field, allowRange ? 'a positive integer or { min, max }' : 'a positive integer', w);
}

/** Returns every problem with the definition; empty when it is valid. */
export function validatePipeline(def: unknown): string[] {
  const p = new Problems();
  if (typeof def !== 'object' || def === null || Array.isArray(def)) {
    p.list.push(`the default export must be definePipeline({...}), got ${describe(def)}`);
    return p.list;
  }
  const d = def as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!(knownFields as readonly string[]).includes(k)) p.unknown('', k, knownFields);
  if (typeof d.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(d.name)) p.add('name', 'lowercase letters, digits and dashes (like "my-pipeline")', d.name);
  if (d.description !== undefined && typeof d.description !== 'string') p.add('description', 'a string', d.description);
  for (const k of ['input', 'watch'] as const) if (d[k] !== undefined && !isStringList(d[k])) p.add(k, 'a string or an array of strings', d[k]);
  for (const k of ['expand', 'id', 'priority', 'process', 'reduce'] as const) if (d[k] !== undefined && typeof d[k] !== 'function') p.add(k, 'a function', d[k]);
  checkWorkers(p, 'workers', d.workers, true);
  if (d.timeoutMs !== undefined && !isPositiveInt(d.timeoutMs)) p.add('timeoutMs', 'a positive integer (milliseconds)', d.timeoutMs);
  checkRetry(p, 'retry', d.retry);
  if (d.output !== undefined && (typeof d.output !== 'string' || !/\.(jsonl|json|csv|xlsx)$/i.test(d.output))) p.add('output', 'a path ending in .jsonl, .json, .csv or .xlsx', d.output);
  if (d.order !== undefined && d.order !== 'completion' && d.order !== 'input') p.add('order', `'completion' or 'input'`, d.order);
  if (d.sheet !== undefined && typeof d.sheet !== 'string') p.add('sheet', 'a string', d.sheet);
  if (d.delimiter !== undefined && !(typeof d.delimiter === 'string' && d.delimiter.length === 1 && !/["\r\n]/.test(d.delimiter))) p.add('delimiter', 'one character (like ";" or "\\t")', d.delimiter);
  if (d.permissions !== undefined) {
    if (typeof d.permissions !== 'object' || d.permissions === null || Array.isArray(d.permissions)) p.add('permissions', 'an object', d.permissions);
    else for (const [k, v] of Object.entries(d.permissions)) {
      if (!(permissionFields as readonly string[]).includes(k)) p.unknown('permissions.', k, permissionFields);
      else if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) p.add(`permissions.${k}`, 'an array of strings', v);
    }
  }
  if (d.providers !== undefined) {
    if (typeof d.providers !== 'object' || d.providers === null || Array.isArray(d.providers)) p.add('providers', 'an object', d.providers);
    else for (const [name, cfg] of Object.entries(d.providers)) {
      if (typeof cfg !== 'object' || cfg === null) { p.add(`providers.${name}`, 'an object', cfg); continue; }
      for (const [k, v] of Object.entries(cfg)) {
        if (!(providerFields as readonly string[]).includes(k)) p.unknown(`providers.${name}.`, k, providerFields);
        else if ((k === 'rpm' || k === 'tpm') && !isPositiveInt(v)) p.add(`providers.${name}.${k}`, 'a positive integer', v);
        else if ((k === 'model' || k === 'fallback' || k === 'baseURL') && typeof v !== 'string') p.add(`providers.${name}.${k}`, 'a string', v);
      }
    }
  }
  if (d.process !== undefined && d.stages !== undefined) p.list.push('give either "process" or "stages", not both');
  if (d.process === undefined && d.stages === undefined) p.list.push('"process" is required (or "stages" for a multi-stage pipeline)');
  if (d.stages !== undefined) {
    if (!Array.isArray(d.stages) || d.stages.length === 0) p.add('stages', 'a non-empty array', d.stages);
    else d.stages.forEach((s: unknown, i: number) => {
      const f = `stages[${i}]`;
      if (typeof s !== 'object' || s === null) return p.add(f, 'an object', s);
      const st = s as Record<string, unknown>;
      for (const k of Object.keys(st)) if (!(stageFields as readonly string[]).includes(k)) p.unknown(`${f}.`, k, stageFields);
      if (typeof st.name !== 'string' || st.name === '') p.add(`${f}.name`, 'a non-empty string', st.name);
      if (typeof st.process !== 'function') p.add(`${f}.process`, 'a function', st.process);
      checkWorkers(p, `${f}.workers`, st.workers, false);
      if (st.timeoutMs !== undefined && !isPositiveInt(st.timeoutMs)) p.add(`${f}.timeoutMs`, 'a positive integer (milliseconds)', st.timeoutMs);
      checkRetry(p, `${f}.retry`, st.retry);
    });
  }
  return p.list;
}

export function assertValidPipeline(def: unknown, file: string): asserts def is PipelineDefinition {
  const problems = validatePipeline(def);
  if (problems.length > 0) {
    throw new PipelineTuiError(ErrorCode.PipelineInvalid, problems.map((m) => `${file}: ${m}`).join('\n'));
  }
}

export const retryDefaults: Required<RetryOptions> = { attempts: 3, backoffMs: 1_000, maxBackoffMs: 60_000 };
/** A pipeline's pool size when it sets no `workers`. */
export const defaultWorkers = 4;
