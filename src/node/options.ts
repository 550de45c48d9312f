/** Everything needed to start one node; the CLI and `startNode` callers both produce this. */
import type { EngineChoice } from '../engine/descriptor.js';
import { NO_ETCD_ACCESS, type EtcdAccess } from '../membership/etcd-access.js';
import type { SchedulePolicy } from '../../actors/scheduler/schedule-policy.js';
export type NodeRole = 'colocated' | 'prefill' | 'decode';
export type TransferBackend = 'tcp' | 'shm' | 'verbs';

export interface NodeOptions {
  role: NodeRole;
  /**
   * HF model directory, or a hub id (`org/name`) found in the local Hugging Face cache
   * (src/model/hf-cache.ts); null uses the built-in default model (generated once and cached).
   */
  modelPath: string | null;
  /** Hub ids: the branch, tag or commit of the cached snapshot (SGLang's --revision); null: main. */
  revision: string | null;
  /** Tokenizer directory or hub id when it is not the model's (SGLang's --tokenizer-path); null: the model's. */
  tokenizerPath: string | null;
  /** Context length below the model's own (SGLang's --context-length); null: the model's. */
  contextLength: number | null;
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
  /** Largest list accepted in one /generate call. */
  maxBatchSize: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * The engine and its own settings (src/engine/engines.ts): a built-in one by name, e.g.
   * `{ name: 'synthetic', config: { modelShape: 'llama-3.1-8b' } }`, or an embedder's module.
   */
  engine: EngineChoice;
  /** PD: how KV moves from prefill to decode. */
  transferBackend: TransferBackend;
  /** PD, verbs: RDMA devices to use (`--disaggregation-ib-device`); null: the ACTIVE ports of the top rate. */
  ibDevices: string[] | null;
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
  revision: null,
  tokenizerPath: null,
  contextLength: null,
  servedModelName: null,
  host: '127.0.0.1',
  advertiseHost: null,
  port: 30000,
  pageSize: 16,
  maxTotalTokens: null,
  memFractionStatic: null,
  maxRunningRequests: 32,
  chunkedPrefillSize: 512,
  // SGLang's default.
  maxPrefillTokens: 16384,
  schedulePolicy: 'fcfs',
  randomSeed: null,
  maxBatchSize: 64,
  logLevel: 'info',
  engine: Object.freeze({ name: 'reference' }),
  transferBackend: 'tcp',
  ibDevices: null,
  registryUrl: null,
  etcd: NO_ETCD_ACCESS,
  bootstrapPort: 8998,
  bootstrapTimeoutSecs: 30,
  transferTimeoutSecs: 30,
  peerTimeoutSecs: 1.5,
  clusterSecretFile: null,
  apiKey: null,
});
