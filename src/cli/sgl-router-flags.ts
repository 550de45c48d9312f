/**
 * sgl-router's command line (`python -m sglang_router.launch_router`, read from its router_args.py)
 * as far as pd-node's router does not implement it: the flags it accepts with no effect, and
 * sgl-router's policy names pd-node has no policy for. Decisions:
 * - A flag a PD user may type that has no meaning here is accepted (so the command line starts
 *   unchanged) and listed once at start-up with the reason; its value is not interpreted.
 * - `--worker-urls` (sgl-router's non-PD mode) is refused: pd-node's router only routes to
 *   prefill/decode pairs, and ignoring the workers would route nothing.
 * - `cache_aware` routes by a prefix tree of prompts per worker, which pays off only when a worker
 *   keeps a prefix cache; pd-node's nodes have none (every prompt is computed in full). sgl-router's
 *   cache-aware policy sends a request to the least loaded worker whenever the loads drift apart, and
 *   that is what is left without a cache: it is accepted and runs as `least_load`, with one warning
 *   at start-up. sgl-router's prefill-only `bucket` policy (prompt-length buckets per worker, also
 *   tuned for cache reuse) likewise runs as `least_load`.
 */
import type { PolicyName } from '../router/options.js';
import type { NoEffectFlag } from './no-effect-flag.js';


const SERVICE_DISCOVERY = "pd-node's membership is its registry or etcd (--registry-url), not Kubernetes pods";
const CACHE_TUNING = 'tunes cache_aware routing, which pd-node runs as least_load (no prefix cache)';
const RETRY_BACKOFF = 'a failed attempt is retried at once on a fresh pair; a full node\'s Retry-After is honoured';
const BREAKER = 'a node whose connection fails is taken out at once and probed every --down-backoff-secs until /health answers';
const HEALTH = 'nodes are judged by their answers; a down node is probed (GET /health) every --down-backoff-secs';
const QUEUE = 'beyond --max-concurrent-requests a request gets 503 + Retry-After at once, no queue';
const GATEWAY = 'the router relays requests as they are; the nodes tokenize and parse';

export const NO_EFFECT_FLAGS: readonly NoEffectFlag[] = [
  { name: 'mini-lb', arity: 'switch', why: "pd-node's router is the PD load balancer either way" },
  { name: 'worker-startup-timeout-secs', arity: 'value', why: 'the router does not wait for nodes at start-up: it routes to a node as soon as it answers' },
  { name: 'worker-startup-check-interval', arity: 'value', why: 'the router does not wait for nodes at start-up' },
  { name: 'cache-threshold', arity: 'value', why: CACHE_TUNING },
  { name: 'balance-abs-threshold', arity: 'value', why: CACHE_TUNING },
  { name: 'balance-rel-threshold', arity: 'value', why: CACHE_TUNING },
  { name: 'eviction-interval-secs', arity: 'value', why: CACHE_TUNING },
  { name: 'eviction-interval', arity: 'value', why: CACHE_TUNING },
  { name: 'max-tree-size', arity: 'value', why: CACHE_TUNING },
  { name: 'bucket-adjust-interval-secs', arity: 'value', why: 'tunes the bucket policy, which pd-node runs as least_load' },
  { name: 'dp-aware', arity: 'switch', why: 'pd-node nodes have no data-parallel ranks to address' },
  { name: 'enable-igw', arity: 'switch', why: 'one model per router' },
  { name: 'log-dir', arity: 'value', why: 'logs go to stderr as JSON lines' },
  { name: 'service-discovery', arity: 'switch', why: SERVICE_DISCOVERY },
  { name: 'selector', arity: 'list', why: SERVICE_DISCOVERY },
  { name: 'service-discovery-port', arity: 'value', why: SERVICE_DISCOVERY },
  { name: 'service-discovery-namespace', arity: 'value', why: SERVICE_DISCOVERY },
  { name: 'prefill-selector', arity: 'list', why: SERVICE_DISCOVERY },
  { name: 'decode-selector', arity: 'list', why: SERVICE_DISCOVERY },
  { name: 'bootstrap-port-annotation', arity: 'value', why: SERVICE_DISCOVERY },
  { name: 'request-id-headers', arity: 'list', why: 'the request id is the body\'s rid, as the nodes read it' },
  { name: 'retry-initial-backoff-ms', arity: 'value', why: RETRY_BACKOFF },
  { name: 'retry-max-backoff-ms', arity: 'value', why: RETRY_BACKOFF },
  { name: 'retry-backoff-multiplier', arity: 'value', why: RETRY_BACKOFF },
  { name: 'retry-jitter-factor', arity: 'value', why: RETRY_BACKOFF },
  { name: 'cb-failure-threshold', arity: 'value', why: BREAKER },
  { name: 'cb-success-threshold', arity: 'value', why: BREAKER },
  { name: 'cb-timeout-duration-secs', arity: 'value', why: BREAKER },
  { name: 'cb-window-duration-secs', arity: 'value', why: BREAKER },
  { name: 'disable-circuit-breaker', arity: 'switch', why: BREAKER },
  { name: 'health-failure-threshold', arity: 'value', why: HEALTH },
  { name: 'health-success-threshold', arity: 'value', why: HEALTH },
  { name: 'health-check-interval-secs', arity: 'value', why: HEALTH },
  { name: 'health-check-endpoint', arity: 'value', why: 'nodes are probed at /health' },
  { name: 'queue-size', arity: 'value', why: QUEUE },
  { name: 'rate-limit-tokens-per-second', arity: 'value', why: QUEUE },
  { name: 'cors-allowed-origins', arity: 'list', why: 'the router answers API clients, not browsers' },
  { name: 'model-path', arity: 'value', why: GATEWAY },
  { name: 'tokenizer-path', arity: 'value', why: GATEWAY },
  { name: 'chat-template', arity: 'value', why: GATEWAY },
  { name: 'reasoning-parser', arity: 'value', why: GATEWAY },
  { name: 'tool-call-parser', arity: 'value', why: GATEWAY },
  { name: 'backend', arity: 'value', why: 'the nodes are pd-node nodes' },
  { name: 'client-cert-path', arity: 'value', why: 'the router talks to nodes over plain HTTP(S) without client certificates' },
  { name: 'client-key-path', arity: 'value', why: 'the router talks to nodes over plain HTTP(S) without client certificates' },
  { name: 'ca-cert-paths', arity: 'list', why: "HTTPS nodes are verified against Node.js's CA store" },
  { name: 'enable-trace', arity: 'switch', why: 'no OpenTelemetry export; pino logs carry rid and room' },
  { name: 'otlp-traces-endpoint', arity: 'value', why: 'no OpenTelemetry export' },
];

/** sgl-router's policy names: pd-node's own, and those it runs as another (see above). */
export const POLICY_FALLBACKS: Readonly<Record<string, PolicyName>> = Object.freeze({ cache_aware: 'least_load', bucket: 'least_load' });
