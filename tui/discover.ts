import { importPipelineModule } from '../engine/load.js';
import { listPipelineFiles } from '../engine/pipeline-files.js';
import { validatePipeline } from '../engine/validate.js';

/** Pipeline files in a folder, as `pipeline-tui list` and the picker find them (no `.d.ts`, no `_private`). */
export const pipelineFilesIn = listPipelineFiles;

export interface PipelineFileInfo { name: string | null; description: string; problem: string | null }

/** Loads one pipeline file for its name and description; a broken file is described, never thrown. */
export async function describePipelineFile(file: string): Promise<PipelineFileInfo> {
  try {
    const def = (await importPipelineModule(file)) as { name?: unknown; description?: unknown } | null;
    const problems = validatePipeline(def);
    return {
      name: typeof def?.name === 'string' ? def.name : null,
      description: typeof def?.description === 'string' ? def.description : '',
      problem: problems.length > 0 ? problems.join('; ') : null,
    };
  } catch (e) {
    return { name: null, description: '', problem: (e as Error).message };
  }
}
