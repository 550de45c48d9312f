/**
 * Everything needed to start one node; the CLI and `startNode` callers both produce this. Each part
 * the node starts declares the fields it reads (scheduler actor, PD plane, HTTP server); this adds
 * the ones only the composition root reads.
 */
import type { SchedulerOptions } from '../../actors/scheduler/scheduler-options.js';
import { NO_ETCD_ACCESS } from '../membership/etcd-access.js';
import type { LoadFormat } from '../model/model-files.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../net/payload-limit.js';
import type { PdOptions } from '../pd/pd-options.js';
import type { ServerOptions } from '../server/server-options.js';
import { defaultTransferConfig } from '../transfer/backends.js';

export interface NodeOptions extends SchedulerOptions, PdOptions, ServerOptions {
  /**
   * The address published to peers (registry record: HTTP URL, bootstrap socket, KV endpoint) when it
   * is not `host` (a wildcard bind, NAT); null: $SGLANG_HOST_IP, else chosen (src/net/published-host.ts).
   */
  advertiseHost: string | null;
  /** Hub ids: the branch, tag or commit of the cached snapshot (SGLang's --revision); null: main. */
  revision: string | null;
  /** How --model-path stores its weights (SGLang's --load-format; src/model/model-files.ts). */
  loadFormat: LoadFormat;
  /**
   * PD: file holding the cluster secret that authenticates the control plane and KV writes
   * (src/security/cluster-secret.ts); null: `PD_NODE_CLUSTER_SECRET_FILE`, else the per-user default,
   * created on first use.
   */
  clusterSecretFile: string | null;
}

export const DEFAULT_NODE_OPTIONS: Readonly<NodeOptions> = Object.freeze({
  role: 'colocated',
  modelPath: null,
  revision: null,
  loadFormat: 'auto',
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
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  logLevel: 'info',
  engine: Object.freeze({ name: 'reference' }),
  tpSize: 1,
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
