/**
 * The router's Prometheus metrics. Decisions, following the node's metrics.ts: a Registry per router
 * (never prom-client's global one), names prefixed `pd_node_router_`, and the same data under
 * sgl-router's names (sgl-router-metrics.ts). Client requests are counted by
 * route and outcome: success (2xx relayed), client_error (a 4xx, the router's or a node's), failed (a
 * node's 5xx or a stream broken after it started), timeout, unavailable (no pair could be formed or
 * every attempt failed: 503), aborted (the client went away). Node gauges are read from the
 * membership at scrape time, not pushed.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RegisteredRole } from '../registry/protocol.js';
import type { UpstreamFailureKind } from './upstream-request.js';
import type { UpstreamNode } from './upstream-node.js';
import { registerSglRouterMetrics } from './sgl-router-metrics.js';

export type RouterOutcome = 'success' | 'client_error' | 'failed' | 'timeout' | 'unavailable' | 'aborted';
/** A node's failure as the router saw it: its connection's, or a 5xx answer. */
export type UpstreamErrorKind = Exclude<UpstreamFailureKind, 'cancelled'> | 'http_5xx';

// From a health probe (milliseconds) to long generations on a CPU engine (minutes).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const ROLES: readonly RegisteredRole[] = ['prefill', 'decode'];

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'outcome'>;
  private readonly retries: Counter<'route'>;
  private readonly upstreamErrors: Counter<'role' | 'kind'>;
  private readonly latency: Histogram<'route'>;

  constructor(nodes: () => readonly UpstreamNode[]) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'pd_node_router_requests_total', help: 'Client requests by route and outcome.', labelNames: ['route', 'outcome'], registers });
    this.retries = new Counter({ name: 'pd_node_router_retries_total', help: 'Attempts on a fresh pair after a failure before anything reached the client.', labelNames: ['route'], registers });
    this.upstreamErrors = new Counter({ name: 'pd_node_router_upstream_errors_total', help: 'Failed exchanges with nodes, by role and kind.', labelNames: ['role', 'kind'], registers });
    this.latency = new Histogram({ name: 'pd_node_router_request_duration_seconds', help: 'Time from a client request to the end of its response.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers });
    new Gauge({
      name: 'pd_node_router_nodes',
      help: 'Nodes known to the router, by role and state (up, down).',
      labelNames: ['role', 'state'],
      registers,
      // Every worker of a `--workers N` router sees the same membership: one worker's count, not the sum.
      aggregator: 'first',
      collect() {
        const all = nodes();
        for (const role of ROLES) {
          const ofRole = all.filter((n) => n.role === role);
          const up = ofRole.filter((n) => n.up).length;
          this.set({ role, state: 'up' }, up);
          this.set({ role, state: 'down' }, ofRole.length - up);
        }
      },
    });
    registerSglRouterMetrics(this.registry, { requests: this.requests, latency: this.latency, retries: this.retries, upstreamErrors: this.upstreamErrors }, nodes);
  }

  requestEnded(route: string, outcome: RouterOutcome, seconds: number): void {
    this.requests.inc({ route, outcome });
    this.latency.observe({ route }, seconds);
  }

  retried(route: string): void {
    this.retries.inc({ route });
  }

  upstreamError(role: RegisteredRole, kind: UpstreamErrorKind): void {
    this.upstreamErrors.inc({ role, kind });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
