/**
 * The scheduler actor's own configuration: the fields of `NodeOptions` its worker reads (engine,
 * pool, batch and PD room bounds). The composition root (src/node/start-node.ts) builds it from the
 * node's options, so the worker thread gets exactly these and no credential it does not use.
 */
import type { LogLevel } from '../../src/log/logger.js';

export type NodeRole = 'colocated' | 'prefill' | 'decode';
export type TransferBackend = 'tcp' | 'shm' | 'verbs';
export type EngineKind = 'reference' | 'synthetic';

export interface SchedulerOptions {
  role: NodeRole;
  /** HF model directory; null uses the built-in default model (generated once and cached). */
  modelPath: string | null;
  /** Name reported by /v1/models and accepted in `model` fields; defaults to the model path. */
  servedModelName: string | null;
  host: string;
  pageSize: number;
  /** KV pool size in tokens (rounded up to whole pages); null: a default per engine (actors/scheduler/pool-size.ts). */
  maxTotalTokens: number | null;
  maxRunningRequests: number;
  chunkedPrefillSize: number;
  logLevel: LogLevel;
  /**
   * reference: the Llama transformer of `modelPath`. synthetic: no math, the KV sizes and roofline
   * step times of `modelShape` on `gpu`, with `modelPath` (or the default model) giving the tokenizer.
   */
  engine: EngineKind;
  /** Synthetic engine: the model shape (src/engine/synthetic/model-shapes.ts); required with it. */
  modelShape: string | null;
  /** Synthetic engine: the GPU its step times model, NAME or COUNTxNAME (src/engine/synthetic/gpus.ts). */
  gpu: string;
  /** Matmul kernels of the reference engine: WASM SIMD (default) or plain JS; bit-identical. */
  kernel: 'wasm' | 'js';
  /** PD: how KV moves from prefill to decode. */
  transferBackend: TransferBackend;
  /** PD, verbs: RDMA devices to use (`--disaggregation-ib-device`); null: the ACTIVE ports of the top rate. */
  ibDevices: string[] | null;
  /** PD: seconds a room may wait for its peer (the decode's page list, or prefill's KV) before failing. */
  bootstrapTimeoutSecs: number;
  /** PD: seconds one transfer (a chunk's pages) may take before the room fails. */
  transferTimeoutSecs: number;
}
