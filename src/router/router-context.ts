/**
 * What the router's routes share: options, membership, health, policies, metrics, and the factory of
 * upstream exchanges. Decisions:
 * - Generation exchanges count toward a node's load while in flight, report its health (an answer
 *   below 500 means up, a failed connect means down) and count upstream errors. Control calls (info,
 *   flush, probes) do none of that and are bounded by the control timeout.
 * - Every exchange in flight is tracked, so `close()` can cancel them all: a closing router ends its
 *   clients' requests (503 or an SSE error) instead of waiting up to the request timeout; and one
 *   sweep over them every TIMEOUT_SWEEP_MS at most (a quarter of the shortest timeout when that is
 *   less) ends those past their timeout, instead of a timer per exchange.
 * - One keep-alive connection pool per node (src/net/http1-pool.ts), made on the node's first
 *   exchange and closed when the node leaves the membership, at most MAX_CONNECTIONS_PER_NODE.
 */
import type { Logger } from '../log/logger.js';
import type { RegisteredRole } from '../registry/protocol.js';
import { clusterMetricsRenderer } from './cluster-metrics.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { NodeHealth } from './node-health.js';
import { NodePool } from './node-pool.js';
import type { RouterOptions } from './options.js';
import { createPairPolicy, type PairPolicy } from './policies.js';
import { RouterMetrics } from './router-metrics.js';
import { Http1Pool } from '../net/http1-pool.js';
import { UpstreamError, UpstreamRequest, type UpstreamCall, type UpstreamWatcher } from './upstream-request.js';
import type { UpstreamNode } from './upstream-node.js';

/**
 * Connections the router keeps to one node at most: far above the requests a node serves at once
 * (its running batch plus its queue), so the bound only stops a runaway from exhausting file
 * descriptors; beyond it, exchanges wait for a free connection within their own timeout.
 */
export const MAX_CONNECTIONS_PER_NODE = 1024;

/** Longest interval between sweeps for exchanges past their timeout: a timeout fires at most this late (or a quarter of itself). */
const TIMEOUT_SWEEP_MS = 1_000;

export interface NodePair {
  prefill: UpstreamNode;
  decode: UpstreamNode;
}

export interface ControlAnswer {
  status: number;
  contentType: string;
  body: string;
}

export class RouterContext {
  readonly pool: NodePool;
  readonly health: NodeHealth;
  readonly metrics: RouterMetrics;
  /** Prometheus text of the whole router (every worker's, with --workers N), for /metrics and --prometheus-port. */
  readonly renderMetrics: () => Promise<string>;
  /** --max-concurrent-requests: generation requests in flight through the router. */
  readonly limit: ConcurrencyLimit;
  private readonly pools = new Map<string, Http1Pool>();
  /** Nodes that left the membership: a late call to one (a status poll under way) gets a pool that is not kept. */
  private readonly removed = new WeakSet<UpstreamNode>();
  private readonly inFlight = new Set<UpstreamRequest>();
  private readonly policy: PairPolicy;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly options: Readonly<RouterOptions>,
    readonly log: Logger,
  ) {
    this.health = new NodeHealth(options.downBackoffSecs * 1000, (node) => this.probe(node), log);
    this.pool = new NodePool({
      prefill: options.prefill,
      decode: options.decode,
      source: options.nodeSource,
      pollMs: options.registryPollMs,
      pollTimeoutMs: options.controlTimeoutSecs * 1000,
      onRemoved: (node) => {
        this.removed.add(node);
        this.health.forget(node);
        this.pools.get(node.url)?.close();
        this.pools.delete(node.url);
      },
      probe: (node) => this.probe(node),
      log,
    });
    this.metrics = new RouterMetrics(() => this.pool.nodes());
    this.renderMetrics = options.workers > 1 ? clusterMetricsRenderer(this.metrics.registry, options.controlTimeoutSecs * 1000) : () => this.metrics.render();
    this.limit = new ConcurrencyLimit(options.maxConcurrentRequests);
    this.policy = createPairPolicy({ prefill: options.prefillPolicy ?? options.policy, decode: options.decodePolicy ?? options.policy });
    const sweepMs = Math.min(TIMEOUT_SWEEP_MS, (Math.min(options.requestTimeoutSecs, options.controlTimeoutSecs) * 1000) / 4);
    this.sweeper = setInterval(() => this.expireOverdue(), sweepMs).unref();
  }

  /** One prefill and one decode node by policy, avoiding `exclude`; a string says why there is none. */
  pickPair(exclude: ReadonlySet<UpstreamNode>): NodePair | string {
    if (this.closed) return 'the router is shutting down';
    const prefill = this.candidates('prefill', exclude);
    if (typeof prefill === 'string') return prefill;
    const decode = this.candidates('decode', exclude);
    if (typeof decode === 'string') return decode;
    return this.policy.pick(prefill, decode);
  }

  /** A generation exchange: counted in the node's load, reporting its health and errors. */
  generation(node: UpstreamNode, path: string, body: string): UpstreamRequest {
    node.load++;
    return this.start({ method: 'POST', pool: this.poolOf(node), path, body, timeoutMs: this.options.requestTimeoutSecs * 1000, connectTimeoutMs: this.options.connectTimeoutSecs * 1000, apiKey: this.options.apiKey, node, watcher: this.watcher });
  }

  /** A bounded non-generation call; rejects with an UpstreamError. */
  async control(node: UpstreamNode, method: 'GET' | 'POST', path: string): Promise<ControlAnswer> {
    const timeoutMs = this.options.controlTimeoutSecs * 1000;
    const req = this.start({ method, pool: this.poolOf(node), path, timeoutMs, connectTimeoutMs: Math.min(timeoutMs, this.options.connectTimeoutSecs * 1000), apiKey: this.options.apiKey, node: null, watcher: this.watcher });
    const res = await req.response;
    const body = await req.text();
    return { status: res.status, contentType: res.headers['content-type'] ?? 'application/json', body };
  }

  /** Cancels every exchange in flight and stops polling, probing and keep-alive sockets. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.pool.close();
    this.health.close();
    for (const req of this.inFlight) req.cancel('the router is shutting down');
    for (const pool of this.pools.values()) pool.close();
  }

  private expireOverdue(): void {
    const now = performance.now();
    for (const req of this.inFlight) req.expireIfDue(now);
  }

  private poolOf(node: UpstreamNode): Http1Pool {
    let pool = this.pools.get(node.url);
    if (pool === undefined) {
      pool = new Http1Pool(node.target, MAX_CONNECTIONS_PER_NODE);
      if (this.closed) pool.close();
      // Kept only for members; an unkept pool closes its connection once idle and is then garbage.
      else if (!this.removed.has(node)) this.pools.set(node.url, pool);
    }
    return pool;
  }

  private start(call: UpstreamCall): UpstreamRequest {
    // The pool reports nothing before `request` returns, so the exchange is tracked before it can end.
    const req = new UpstreamRequest(call);
    this.inFlight.add(req);
    return req;
  }

  /** Every exchange's accounting; generation exchanges (with a node) also count load, health and errors. */
  private readonly watcher: UpstreamWatcher = {
    answered: (req, { status }) => {
      const { node } = req.call;
      if (node === null) return;
      node.answers++;
      if (status >= 500) this.metrics.upstreamError(node.role, 'http_5xx');
      else this.health.up(node);
    },
    over: (req, err) => {
      this.inFlight.delete(req);
      const { node } = req.call;
      if (node === null) return;
      node.load--;
      if (err === null || err.kind === 'cancelled') return;
      this.metrics.upstreamError(node.role, err.kind);
      if (err.kind === 'connect') this.health.down(node, err.message);
      // A connect left unanswered while the node answered other exchanges: its accept queue is
      // full (a burst), not a dead host; the attempt is retried elsewhere, the node stays up.
      else if (err.kind === 'connect_timeout' && node.answers === req.nodeAnswersAtStart) this.health.down(node, err.message);
    },
  };

  /** The role's candidates (never empty), or why there are none. */
  private candidates(role: RegisteredRole, exclude: ReadonlySet<UpstreamNode>): readonly UpstreamNode[] | string {
    const candidates = this.pool.candidates(role, exclude);
    if (candidates.length > 0) return candidates;
    const known = this.pool.nodes(role);
    if (known.length === 0) return `no ${role} node is known`;
    const why = known.map((n) => `${n.url} (${exclude.has(n) ? 'failed this request' : `down: ${n.downReason}`})`);
    return `no ${role} node is available: ${why.join(', ')}`;
  }

  private async probe(node: UpstreamNode): Promise<string | null> {
    try {
      const { status } = await this.control(node, 'GET', '/health');
      return status === 200 ? null : `/health answered ${status}`;
    } catch (err) {
      return err instanceof UpstreamError ? err.message : String(err);
    }
  }
}
