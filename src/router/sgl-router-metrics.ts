/**
 * sgl-router's metric names beside the router's own (DESIGN.md section 9: SGLang's dashboards and
 * alerts keep working when pd-node replaces sgl-router). Decisions:
 * - Nothing on the request path: a request is counted once, in the `pd_node_router_*` metrics, and
 *   the `sgl_router_*` series are that same data under sgl-router's names, made at scrape time
 *   (`renamed`), or read from the membership at scrape time (the node gauges).
 * - Only names whose meaning matches exactly: requests, request duration, retries, errors, worker
 *   count, health and load. sgl-router's per-worker counters (`processed_requests_total`,
 *   `pd_prefill_requests_total`, ...) would need a count per node on the request path; its cache-
 *   aware and circuit-breaker series have no counterpart here. docs/compatibility.md lists both.
 * - Labels: sgl-router's where they carry the same meaning (`route`, `worker`, `error_type`); ours
 *   stay beside them (`outcome`, `role`), so a dashboard summing by sgl-router's labels sees the same
 *   totals. The duration histogram keeps the router's buckets (a quantile reads any buckets).
 * - With `--workers N`, counters and histograms are summed over the workers and the node gauges that
 *   describe the shared membership are taken from one worker, as the router's own metrics are
 *   (cluster-metrics.ts); per-worker load is summed, each worker holding its own requests.
 */
import { Gauge, type Metric, type Registry } from 'prom-client';
import type { Exposition } from '../server/scrape-instruments.js';
import type { UpstreamNode } from './upstream-node.js';

/** What `renamed` reads of a router metric (a scrape-instrument): its values as the registry renders them. */
interface Readable {
  get(): Promise<Exposition>;
}

/** A metric that shows another one's values under a new name and with some labels renamed. */
function renamed(source: Readable, name: string, help: string, labelNames: Readonly<Record<string, string>>): Metric {
  const view = {
    name,
    help,
    async get(): Promise<Exposition> {
      const from = await source.get();
      return {
        ...from,
        name,
        help,
        values: from.values.map((v) => {
          const labels: Record<string, string | number> = {};
          for (const [k, value] of Object.entries(v.labels)) labels[labelNames[k] ?? k] = value;
          // A histogram's values are named `<name>_bucket`, `_sum`, `_count`.
          return { ...v, labels, ...(v.metricName === undefined ? {} : { metricName: name + v.metricName.slice(from.name.length) }) };
        }),
      };
    },
    reset(): void {},
  };
  // The registry needs only `name` and `get` of a metric (prom-client's Registry.registerMetric, metrics, getMetricsAsJSON).
  return view as unknown as Metric;
}

export interface RouterSourceMetrics {
  readonly requests: Readable;
  readonly latency: Readable;
  readonly retries: Readable;
  readonly upstreamErrors: Readable;
}

export function registerSglRouterMetrics(registry: Registry, source: RouterSourceMetrics, nodes: () => readonly UpstreamNode[]): void {
  registry.registerMetric(renamed(source.requests, 'sgl_router_requests_total', 'Total number of requests by route (and outcome).', {}));
  registry.registerMetric(renamed(source.latency, 'sgl_router_request_duration_seconds', 'Request duration in seconds by route.', {}));
  registry.registerMetric(renamed(source.retries, 'sgl_router_retries_total', 'Total number of request retries by route.', {}));
  registry.registerMetric(renamed(source.upstreamErrors, 'sgl_router_pd_errors_total', 'Failed exchanges with prefill and decode nodes by error type (and role).', { kind: 'error_type' }));
  const registers = [registry];
  new Gauge({
    name: 'sgl_router_active_workers',
    help: 'Number of workers (prefill and decode nodes) currently up.',
    registers,
    aggregator: 'first',
    collect() {
      this.set(nodes().filter((n) => n.up).length);
    },
  });
  new Gauge({
    name: 'sgl_router_worker_health',
    help: 'Worker health status (1=healthy, 0=unhealthy).',
    labelNames: ['worker', 'role'],
    registers,
    aggregator: 'first',
    collect() {
      this.reset(); // a node that left the membership leaves the series
      for (const n of nodes()) this.set({ worker: n.url, role: n.role }, n.up ? 1 : 0);
    },
  });
  for (const name of ['sgl_router_worker_load', 'sgl_router_running_requests']) {
    new Gauge({
      name,
      help: 'Requests the router has in flight to each worker.',
      labelNames: ['worker', 'role'],
      registers,
      aggregator: 'sum',
      collect() {
        this.reset();
        for (const n of nodes()) this.set({ worker: n.url, role: n.role }, n.load);
      },
    });
  }
}
