// The part of a pipeline that its sandbox is planned from: where it reads, writes and connects, as the
// pipeline declares it. The launcher reads it from the file's text when it can (engine/declaration-scan.ts)
// and the sandboxed process checks it against the evaluated pipeline before running anything.
import type { LoadedPipeline, Permissions, PipelineDefinition } from './types.js';

export interface Declaration {
  /** Absolute path of the pipeline file. */
  file: string;
  name: string;
  input: string[];
  watch: string[];
  /** As declared; the default (`out/<name>.jsonl`) when absent. */
  output: string;
  permissions: Permissions;
  /** Provider names in declaration order, each with its `baseURL` when it has one (the host its calls go to). */
  providers: { name: string; baseURL?: string }[];
}

const permissionKinds = ['read', 'write', 'net', 'env'] as const;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? [...v] : [v]);

/** The declaration of a definition (unvalidated fields are taken as they are: the caller validated). */
export function declarationOf(file: string, def: Pick<PipelineDefinition, 'name' | 'input' | 'watch' | 'output' | 'permissions' | 'providers'>): Declaration {
  const permissions: Permissions = {};
  for (const kind of permissionKinds) {
    const granted = def.permissions?.[kind];
    if (granted !== undefined) permissions[kind] = [...granted];
  }
  return {
    file,
    name: def.name,
    input: list(def.input),
    watch: list(def.watch),
    output: def.output ?? `out/${def.name}.jsonl`,
    permissions,
    providers: Object.entries(def.providers ?? {}).map(([name, config]) => (config?.baseURL === undefined ? { name } : { name, baseURL: config.baseURL })),
  };
}

export function declarationOfPipeline(p: LoadedPipeline): Declaration {
  return declarationOf(p.file, p.definition);
}

/** Field by field, in a fixed order: two declarations that grant the same are equal. */
function canonical(d: Declaration): string {
  const permissions = permissionKinds.map((k) => d.permissions[k] ?? null);
  return JSON.stringify([d.file, d.name, d.input, d.watch, d.output, permissions, d.providers.map((p) => [p.name, p.baseURL ?? null])]);
}

export function sameDeclaration(a: Declaration, b: Declaration): boolean {
  return canonical(a) === canonical(b);
}
