/** Everything needed to start one node; the CLI and `startNode` callers both produce this. */
import { NO_ETCD_ACCESS, type EtcdAccess } from '../membership/etcd-access.js';
import { defaultTransferConfig } from '../transfer/backends.js';
import type { TransferConfig } from '../transfer/transfer-backend.js';
export type NodeRole = 'colocated' | 'prefill' | 'decode';
export type EngineKind = 'reference' | 'synthetic';

export interface NodeOptions {
  role: NodeRole;
  /** HF model directory; null uses the built-in default model (generated once and cached). */
  modelPath: string | null;
  /** Name reported by /v1/models and accepted in `model` fields; defaults to the model path. */
  servedModelName: string | null;
  host: string;
  /**
   * The address published to peers (registry record: HTTP URL, bootstrap socket, KV endpoint) when it
   * is not `host` (a wildcard bind, NAT); null: $SGLANG_HOST_IP, else chosen (src/net/published-host.ts).
   */
  advertiseHost: string | null;
  /** 0 picks a free port. */
  port: number;
  pageSize: number;
  /** KV pool size in tokens (rounded up to whole pages); null: a default per engine (actors/scheduler/pool-size.ts). */
  maxTotalTokens: number | null;
  maxRunningRequests: number;
  chunkedPrefillSize: number;
  /** Largest list accepted in one /generate call. */
  maxBatchSize: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
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
  /**
   * PD: how KV moves from prefill to decode: a backend of src/transfer/backends.ts and the settings
   * its flags produced (verbs: `--disaggregation-ib-device`), read by that backend alone.
   */
  transfer: TransferConfig;
  /** PD: membership to register with: the ZeroMQ registry (tcp://HOST:PORT) or etcd (etcd://HOST:PORT[,...]); null: none. */
  registryUrl: string | null;
  /** PD, etcd membership: credentials for etcd (src/membership/etcd-access.ts). */
  etcd: Readonly<EtcdAccess>;
  /** PD, prefill: port of the bootstrap (control) socket decode nodes connect to (SGLang's default 8998). */
  bootstrapPort: number;
  /** PD: seconds a room may wait for its peer (the decode's page list, or prefill's KV) before failing. */
  bootstrapTimeoutSecs: number;
  /** PD: seconds one transfer (a chunk's pages) may take before the room fails. */
  transferTimeoutSecs: number;
  /** PD: seconds without an answer from a peer node before its rooms fail. */
  peerTimeoutSecs: number;
  /**
   * PD: file holding the cluster secret that authenticates the control plane and KV writes
   * (src/security/cluster-secret.ts); null: `PD_NODE_CLUSTER_SECRET_FILE`, else the per-user default,
   * created on first use.
   */
  clusterSecretFile: string | null;
  /**
   * SGLang's `--api-key`: the HTTP API wants `Authorization: Bearer KEY` (except /health* and
   * /metrics*; src/server/api-key.ts); null: open.
   */
  apiKey: string | null;
}

export const DEFAULT_NODE_OPTIONS: Readonly<NodeOptions> = Object.freeze({
  role: 'colocated',
  modelPath: null,
  servedModelName: null,
  host: '127.0.0.1',
  advertiseHost: null,
  port: 30000,
  pageSize: 16,
  maxTotalTokens: null,
  maxRunningRequests: 32,
  chunkedPrefillSize: 512,
  maxBatchSize: 64,
  logLevel: 'info',
  engine: 'reference',
  modelShape: null,
  gpu: 'h100',
  kernel: 'wasm',
  transfer: defaultTransferConfig('tcp'),
  registryUrl: null,
  etcd: NO_ETCD_ACCESS,
  bootstrapPort: 8998,
  bootstrapTimeoutSecs: 30,
  transferTimeoutSecs: 30,
  peerTimeoutSecs: 1.5,
  clusterSecretFile: null,
  apiKey: null,
});
