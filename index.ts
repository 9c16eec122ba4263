export { definePipeline } from './engine/define.js';
export { PermanentError, PipelineTuiError, ErrorCode } from './engine/errors.js';
export { loadPipeline } from './engine/load.js';
export { createEngine, Engine } from './engine/engine.js';
export type { EngineOptions } from './engine/engine.js';
export type {
  PipelineDefinition, LoadedPipeline, ProcessContext, ProcessFn, StageDefinition, RetryOptions, ProviderLimits,
  Permissions, ItemSource, ReduceContext, WorkersSetting, EngineEvent, EngineStats, RunSummary, RunCounts,
  AttemptError, RecentError, ErrorCategory, LatencyStats, WorkerStats, MachineStats,
} from './engine/types.js';
