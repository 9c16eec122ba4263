// Finding pipeline files, apart from loading them (engine/load.ts, which brings jiti): the sandbox
// launcher looks for the file without loading it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const pipelineExtensions = ['.ts', '.mts', '.js', '.mjs'] as const;

/** False for a path this process may not even look at (in a sandbox, existsSync throws for those). */
export function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

export function isPipelinePath(ref: string): boolean {
  return pipelineExtensions.some((ext) => ref.endsWith(ext)) || ref.includes('/') || ref.includes(path.sep);
}

export function listPipelineFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => pipelineExtensions.some((ext) => f.endsWith(ext)) && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .sort()
    .map((f) => path.join(dir, f));
}
