/**
 * pd-node as a library. `startNode` runs a node in-process; the rest are the typed building blocks
 * (model files, KV layout, engine and protocol types) for programs that embed or extend it.
 */
export { startNode, type NodeHandle } from './node/start-node.js';
export { DEFAULT_NODE_OPTIONS, type NodeOptions, type NodeRole } from './node/options.js';
export type { SchedulerClient, GenerateEvent } from './node/scheduler-client.js';
export type {
  GenerateRequest,
  PromptInput,
  FinishMeta,
  FinishReason,
  TokenLogprob,
  ModelInfo,
  SchedulerStats,
} from '../actors/protocol/scheduler.js';
export { DEFAULT_SAMPLING, type SamplingParams } from './sampling/params.js';
export type { Engine, ForwardItem, ForwardOutput } from './engine/engine.js';
export { type KvLayout, type KvDtype, gqaLayout, mlaLayout, pageBytes, bytesPerToken, sameLayout } from './kv/layout.js';
export { KvPool } from './kv/pool.js';
export type { LlamaConfig, ModelWeights, TextTokenizer, ChatMessage } from './model/types.js';
export { genModel } from './model/gen-model.js';
export { ensureDefaultModel } from './model/default-model.js';
export { loadModel } from './model/load-model.js';
