import type { PipelineDefinition } from './types.js';

/**
 * Identity at run time; exists for the types, so `record` and `ctx` are checked in the user's editor
 * and by `pipeline-tui check`.
 */
export function definePipeline<In = any, Out = unknown>(definition: PipelineDefinition<In, Out>): PipelineDefinition<In, Out> {
  return definition;
}
