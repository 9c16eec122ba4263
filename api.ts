// What pipeline files import as 'pipeline-tui'. Kept free of the engine so a worker thread loading a
// pipeline does not also load the worker pool, the checkpoint store and threads.js.
export { definePipeline } from './engine/define.js';
export { PermanentError } from './engine/errors.js';
export type {
  PipelineDefinition, ProcessContext, ProcessFn, StageDefinition, RetryOptions, ProviderLimits, Permissions,
  ItemSource, ReduceContext, WorkersSetting,
} from './engine/types.js';
