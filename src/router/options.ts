/**
 * Everything needed to start a PD router; the CLI (`parseRouterFlags`) and `startRouter` callers both
 * produce this. Decisions:
 * - Every wait the router makes has a bound here, in seconds (as SGLang's router flags are): a
 *   generation exchange (`requestTimeoutSecs`, SGLang's 600 s), TCP connect (`connectTimeoutSecs`),
 *   and every non-generation call (`controlTimeoutSecs`: node /health probes, info and flush calls,
 *   registry polls).
 * - A prefill node's bootstrap port may be unknown (`null`: sgl-router's `--prefill URL none`, or no
 *   port given): the node's own, which the router takes from the registry's record of the node when
 *   there is one, else 8998, SGLang's default `--disaggregation-bootstrap-port`.
 * - `policy` applies to both roles unless `prefillPolicy`/`decodePolicy` name another, as in
 *   sgl-router.
 * - `maxConcurrentRequests` bounds the generation requests the router has in flight; beyond it a
 *   client gets 503 with Retry-After at once (null: no bound, sgl-router's -1).
 * - Static nodes (from flags) are permanent; nodes from `nodeSource` come and go with each poll.
 */
import type { LogLevel } from '../log/logger.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../net/payload-limit.js';
import { NO_ETCD_ACCESS, type EtcdAccess } from '../membership/etcd-access.js';
import type { NodeSource } from '../membership/node-source.js';

export const POLICIES = ['random', 'round_robin', 'power_of_two', 'least_load'] as const;
export type PolicyName = (typeof POLICIES)[number];

export const DEFAULT_BOOTSTRAP_PORT = 8998;

/** More router processes than this gains nothing on any host we know (each is a full Node process, ~50 MB) and is likely a typo. */
export const MAX_WORKERS = 256;

/** Where registry nodes come from: a registry this process hosts, or membership kept elsewhere (a registry at tcp://, etcd at etcd://). */
/** `advertiseHost`: the host of the registry URL printed for nodes (src/registry/published-url.ts); absent: chosen. */
export type RegistrySetting = { kind: 'host'; port: number; advertiseHost?: string } | { kind: 'remote'; url: string };

export interface PrefillSpec {
  /** HTTP base URL, e.g. http://10.0.0.1:30000 */
  url: string;
  /** null: the node's own (see above). */
  bootstrapPort: number | null;
}

export interface DecodeSpec {
  url: string;
}

export interface RouterOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  prefill: PrefillSpec[];
  decode: DecodeSpec[];
  policy: PolicyName;
  /** Prefill nodes' policy when not `policy` (sgl-router's --prefill-policy); null: `policy`. */
  prefillPolicy: PolicyName | null;
  /** Decode nodes' policy when not `policy` (sgl-router's --decode-policy); null: `policy`. */
  decodePolicy: PolicyName | null;
  /** Generation requests in flight through this router at most; more get 503 + Retry-After. null: no bound. */
  maxConcurrentRequests: number | null;
  /** sgl-router's --max-payload-size: the largest request body read (bytes); a larger one gets 413. */
  maxPayloadBytes: number;
  /** sgl-router's --prometheus-port/--prometheus-host: GET /metrics also here (host null: `host`); null: only on `port`. */
  prometheus: { host: string | null; port: number } | null;
  /** Further attempts on a fresh pair after a failure before anything reached the client (a full node's 503 does not count). */
  maxRetries: number;
  /**
   * sgl-router's --queue-timeout-secs: how long a request may wait for room while every node it can
   * use answers full (503 + Retry-After), coming back after each Retry-After; then the client gets 503.
   */
  queueTimeoutSecs: number;
  /** Bound on one generation exchange with a node, from sending to the response's last byte. */
  requestTimeoutSecs: number;
  /** Bound on establishing a TCP connection to a node. */
  connectTimeoutSecs: number;
  /** Bound on every non-generation call: /health probes, info and flush calls, registry polls. */
  controlTimeoutSecs: number;
  /** A node that refused a connection is skipped this long, then probed (GET /health) at this interval until it answers. */
  downBackoffSecs: number;
  /** Dynamic membership (the registry); polled every `registryPollMs`. */
  nodeSource?: NodeSource;
  registryPollMs: number;
  /** The cluster secret's file, for the registry this router hosts or reads; null: the default (cluster-secret.ts). */
  clusterSecretFile: string | null;
  /** etcd membership (--registry-url etcd://...): credentials for etcd (src/membership/etcd-access.ts). */
  etcd: Readonly<EtcdAccess>;
  logLevel: LogLevel;
  /**
   * SGLang's `--api-key`: clients must send `Authorization: Bearer KEY` (except /health* and
   * /metrics*), and the router sends the same header to every node, whose `--api-key` is then the
   * same key. null: the router's API is open and it presents no key.
   */
  apiKey: string | null;
  /**
   * Router processes serving the port (`--workers`, our extension: sgl-router has none), as nginx's
   * worker_processes (router-cluster.ts). 1: this process serves alone. More only inside a worker that
   * router-cluster.ts forked, where /metrics sums every worker's.
   */
  workers: number;
}

export const DEFAULT_ROUTER_OPTIONS: Readonly<RouterOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 8000,
  prefill: [],
  decode: [],
  policy: 'round_robin',
  prefillPolicy: null,
  decodePolicy: null,
  maxConcurrentRequests: null,
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  prometheus: null,
  maxRetries: 2,
  // sgl-router's default.
  queueTimeoutSecs: 60,
  requestTimeoutSecs: 600,
  connectTimeoutSecs: 5,
  controlTimeoutSecs: 5,
  downBackoffSecs: 2,
  registryPollMs: 500,
  clusterSecretFile: null,
  etcd: NO_ETCD_ACCESS,
  logLevel: 'info',
  apiKey: null,
  workers: 1,
});
