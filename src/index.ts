/**
 * pd-node as a library. `startNode` runs a node (colocated, prefill or decode) in-process,
 * `startRouter` / `startRouterWithRegistry` a PD router, `startRegistry` a registry (with
 * `curveKeys(loadClusterSecret(file).key)`, as registry clients); the rest are the
 * typed building blocks (model files, KV layout, engine, transfer and protocol types) for programs
 * that embed or extend it.
 */
export { startNode, type NodeHandle } from './node/start-node.js';
export { DEFAULT_NODE_OPTIONS, type NodeOptions } from './node/options.js';
export type { NodeRole } from '../actors/scheduler/scheduler-options.js';
export type { SchedulerClient, GenerateEvent } from '../actors/scheduler/scheduler-client.js';
export type { GenerateRequest, PromptInput, ModelInfo, SchedulerStats } from '../actors/scheduler/protocol.js';
export type { FinishMeta, FinishReason, TokenLogprob } from './generation/output.js';
export { DEFAULT_SAMPLING, type SamplingParams } from './sampling/params.js';
export type { Engine, ForwardItem, ForwardOutput } from './engine/engine.js';
export type { EngineChoice, EngineConfig, EngineContext, EngineDescriptor, EngineFlag, EngineIdentity, LoadedEngine } from './engine/descriptor.js';
export { ENGINES, ENGINE_NAMES } from './engine/engines.js';
export { SyntheticEngine, type SyntheticEngineOptions } from './engine/synthetic/synthetic-engine.js';
export { MODEL_SHAPE_NAMES, findModelShape, shapeLayout, activeParams, type ModelShape } from './engine/synthetic/model-shapes.js';
export { GPU_NAMES, parseGpu, type GpuSpec } from './engine/synthetic/gpus.js';
export { Roofline, type StepCost } from './engine/synthetic/roofline.js';
export { type KvLayout, type KvDtype, gqaLayout, mlaLayout, pageBytes, bytesPerToken, sameLayout } from './kv/layout.js';
export { KvPool } from './kv/pool.js';
export type { LlamaConfig, ModelWeights, TextTokenizer, ChatMessage } from './model/types.js';
export { genModel } from './model/gen-model.js';
export { ensureDefaultModel } from './model/default-model.js';
export { loadModel } from './model/load-model.js';
export { startRouter, type RouterHandle } from './router/start-router.js';
export { startRouterWithRegistry, type RouterWithRegistry } from './router/start-router-with-registry.js';
export { DEFAULT_ROUTER_OPTIONS, POLICIES, type RouterOptions, type PolicyName, type PrefillSpec, type DecodeSpec } from './router/options.js';
export type { NodeSource } from './membership/node-source.js';
export { startRegistry, type RegistryServer } from './registry/registry-server.js';
export { RegistryClient } from './registry/registry-client.js';
export { loadClusterSecret, type ClusterSecret } from './security/cluster-secret.js';
export { curveKeys, type CurveKeys } from './security/curve-keys.js';
export type { NodeRecord, RegisteredRole, ModelIdentity } from './registry/protocol.js';
export { type KvEndpoint, type KvManager, type KvSender, type KvReceiver, type PageRun, type PoolRegion, coalescePages } from './transfer/kv-transfer.js';
export { createKvManager, TRANSFER_BACKENDS, type TransferBackendName } from './transfer/backends.js';
export type { TransferBackend, TransferConfig } from './transfer/transfer-backend.js';
