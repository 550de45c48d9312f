/**
 * The router's Prometheus metrics. Decisions, following the node's metrics.ts: a Registry per router
 * (never prom-client's global one), names prefixed `pd_node_router_`, and the same data under
 * sgl-router's names (sgl-router-metrics.ts). Client requests are counted by
 * route and outcome: success (2xx relayed), client_error (a 4xx, the router's or a node's), failed (a
 * node's 5xx or a stream broken after it started), timeout, unavailable (no pair could be formed or
 * every attempt failed: 503), aborted (the client went away). Node gauges are read from the
 * membership at scrape time, not pushed.
 * - Nothing allocates per request: the counters and the histogram are scrape-instruments (typed
 *   arrays, exposition built when scraped), every label value is known up front (routes, outcomes,
 *   roles, error kinds), and the slot of each series is resolved once, here, at construction.
 */
import { Gauge, Registry } from 'prom-client';
import type { RegisteredRole } from '../registry/protocol.js';
import { ScrapeCounter, ScrapeHistogram } from '../server/scrape-instruments.js';
import { GENERATION_PATHS, type GenerationPath } from './routes/generation.js';
import type { UpstreamFailureKind } from './upstream-request.js';
import type { UpstreamNode } from './upstream-node.js';
import { registerSglRouterMetrics } from './sgl-router-metrics.js';

export type RouterOutcome = 'success' | 'client_error' | 'failed' | 'timeout' | 'unavailable' | 'aborted';
/** A node's failure as the router saw it: its connection's, or a 5xx answer. */
export type UpstreamErrorKind = Exclude<UpstreamFailureKind, 'cancelled'> | 'http_5xx';

// Every label value, as records so the compiler checks that none is missing.
const OUTCOMES = Object.keys({ success: 0, client_error: 0, failed: 0, timeout: 0, unavailable: 0, aborted: 0 } satisfies Record<RouterOutcome, 0>) as RouterOutcome[];
const ERROR_KINDS = Object.keys({ connect: 0, connect_timeout: 0, reset: 0, protocol: 0, timeout: 0, http_5xx: 0 } satisfies Record<UpstreamErrorKind, 0>) as UpstreamErrorKind[];
const ROLES: readonly RegisteredRole[] = ['prefill', 'decode'];

// From a health probe (milliseconds) to long generations on a CPU engine (minutes).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The slots one route's requests update. */
interface RouteSlots {
  readonly requests: Readonly<Record<RouterOutcome, number>>;
  readonly latency: number;
  readonly retries: number;
}

/** The slot of each key's series: `slotOf(key)` for every key. */
function slots<K extends string, V>(keys: readonly K[], slotOf: (key: K) => V): Readonly<Record<K, V>> {
  return Object.fromEntries(keys.map((k) => [k, slotOf(k)])) as Record<K, V>;
}

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: ScrapeCounter;
  private readonly retries: ScrapeCounter;
  private readonly upstreamErrors: ScrapeCounter;
  private readonly latency: ScrapeHistogram;
  private readonly routes: Readonly<Record<GenerationPath, RouteSlots>>;
  private readonly errors: Readonly<Record<RegisteredRole, Readonly<Record<UpstreamErrorKind, number>>>>;

  constructor(nodes: () => readonly UpstreamNode[]) {
    const r = this.registry;
    const route = { name: 'route', values: GENERATION_PATHS };
    this.requests = new ScrapeCounter(r, 'pd_node_router_requests_total', 'Client requests by route and outcome.', route, { name: 'outcome', values: OUTCOMES });
    this.retries = new ScrapeCounter(r, 'pd_node_router_retries_total', 'Attempts on a fresh pair after a failure before anything reached the client.', route);
    this.upstreamErrors = new ScrapeCounter(r, 'pd_node_router_upstream_errors_total', 'Failed exchanges with nodes, by role and kind.', { name: 'role', values: ROLES }, { name: 'kind', values: ERROR_KINDS });
    this.latency = new ScrapeHistogram(r, 'pd_node_router_request_duration_seconds', 'Time from a client request to the end of its response.', LATENCY_BUCKETS, route);
    this.routes = slots(GENERATION_PATHS, (path) => ({
      requests: slots(OUTCOMES, (outcome) => this.requests.slot([path, outcome])),
      latency: this.latency.slot([path]),
      retries: this.retries.slot([path]),
    }));
    this.errors = slots(ROLES, (role) => slots(ERROR_KINDS, (kind) => this.upstreamErrors.slot([role, kind])));
    new Gauge({
      name: 'pd_node_router_nodes',
      help: 'Nodes known to the router, by role and state (up, down).',
      labelNames: ['role', 'state'],
      registers: [r],
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
    registerSglRouterMetrics(r, { requests: this.requests, latency: this.latency, retries: this.retries, upstreamErrors: this.upstreamErrors }, nodes);
  }

  requestEnded(route: GenerationPath, outcome: RouterOutcome, seconds: number): void {
    const at = this.routes[route];
    this.requests.incAt(at.requests[outcome]);
    this.latency.observeAt(at.latency, seconds);
  }

  retried(route: GenerationPath): void {
    this.retries.incAt(this.routes[route].retries);
  }

  upstreamError(role: RegisteredRole, kind: UpstreamErrorKind): void {
    this.upstreamErrors.incAt(this.errors[role][kind]);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
