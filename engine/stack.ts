import path from 'node:path';

/**
 * Finds the first stack frame inside the pipeline's own folder and returns it relative to the cwd.
 * Frames inside node_modules and our engine are skipped: users want the line they wrote.
 */
export function locateInPipeline(stack: string | undefined, pipelineFile: string): { file: string; line: number; column: number } | undefined {
  if (!stack) return undefined;
  const dir = path.dirname(pipelineFile);
  for (const raw of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(raw);
    if (!m) continue;
    const file = m[1]!.replace(/^file:\/\//, '');
    if (!file.startsWith(dir + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    return { file: path.relative(process.cwd(), file) || file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}
