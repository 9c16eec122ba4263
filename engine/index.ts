export { createEngine, Engine } from './engine.js';
export type { EngineOptions } from './engine.js';
export { loadPipeline, resolvePipelineFile, importPipelineModule, pipelineExtensions } from './load.js';
export { validatePipeline } from './validate.js';
export { PermanentError, PipelineTuiError, ErrorCode, messages } from './errors.js';
export type * from './types.js';
