/**
 * The scheduler actor's own configuration: the fields of `NodeOptions` its worker reads (engine,
 * pool, batch and PD room bounds). The composition root (src/node/start-node.ts) builds it from the
 * node's options, so the worker thread gets exactly these and no credential it does not use.
 */
import type { EngineChoice } from '../../src/engine/descriptor.js';
import type { LogLevel } from '../../src/log/logger.js';
import type { TransferConfig } from '../../src/transfer/transfer-backend.js';
import type { SchedulePolicy } from './schedule-policy.js';

export type NodeRole = 'colocated' | 'prefill' | 'decode';

export interface SchedulerOptions {
  role: NodeRole;
  /**
   * HF model directory, or a hub id (`org/name`) found in the local Hugging Face cache
   * (src/model/hf-cache.ts; startNode resolves it before the worker starts); null uses the built-in
   * default model (generated once and cached).
   */
  modelPath: string | null;
  /** Tokenizer directory or hub id when it is not the model's (SGLang's --tokenizer-path); null: the model's. */
  tokenizerPath: string | null;
  /** Context length below the model's own (SGLang's --context-length); null: the model's. */
  contextLength: number | null;
  /** Name reported by /v1/models and accepted in `model` fields; defaults to the model path. */
  servedModelName: string | null;
  host: string;
  pageSize: number;
  /** KV pool size in tokens (rounded up to whole pages); null: the engine's default (its descriptor's `poolDefault`). */
  maxTotalTokens: number | null;
  /**
   * KV pool from memory (SGLang's --mem-fraction-static): this fraction of the host's memory holds the
   * weights and the KV pool (actors/scheduler/pool-size.ts); null: the per-engine default size.
   */
  memFractionStatic: number | null;
  maxRunningRequests: number;
  chunkedPrefillSize: number;
  /** Most prompt tokens one step prefills over all its sequences (SGLang's --max-prefill-tokens). */
  maxPrefillTokens: number;
  /** Which waiting request is admitted next (SGLang's --schedule-policy). */
  schedulePolicy: SchedulePolicy;
  /**
   * Mixed into the sampling seed of requests that bring none (SGLang's --random-seed), so a run is
   * reproducible and differs from a run with another seed; null: the request id alone seeds them.
   */
  randomSeed: number | null;
  logLevel: LogLevel;
  /**
   * The engine and its own settings (src/engine/engines.ts): a built-in one by name, e.g.
   * `{ name: 'synthetic', config: { modelShape: 'llama-3.1-8b' } }`, or an embedder's module.
   */
  engine: EngineChoice;
  /**
   * SGLang's `--tp`: reference engine, this many rank threads each holding 1/N of the heads and MLP
   * columns (bit-identical results); synthetic engine, N GPUs in the roofline.
   */
  tpSize: number;
  /**
   * PD: how KV moves from prefill to decode: a backend of src/transfer/backends.ts and the settings
   * its flags produced (verbs: `--disaggregation-ib-device`), read by that backend alone.
   */
  transfer: TransferConfig;
  /** PD: seconds a room may wait for its peer (the decode's page list, or prefill's KV) before failing. */
  bootstrapTimeoutSecs: number;
  /** PD: seconds one transfer (a chunk's pages) may take before the room fails. */
  transferTimeoutSecs: number;
}
