/**
 * Starts a PD router in this process: membership (static nodes, then a first poll of the node
 * source), health, policies and the HTTP server. Used by the CLI and by programs embedding pd-node.
 * Decisions:
 * - Options are validated here too (not only by the CLI), so embedders get the same clear errors.
 * - A router with no nodes at all starts anyway when it has a node source: nodes may register later.
 * - `close()` cancels every exchange in flight first (clients get 503 or an SSE error event at once),
 *   waits for those answers (bounded by the control timeout), then closes the server and every
 *   connection (Fastify's and the raw front's: router-server.ts); it is idempotent.
 */
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../log/logger.js';
import { ActiveRequests } from './active-requests.js';
import { DEFAULT_ROUTER_OPTIONS, MAX_WORKERS, POLICIES, type RouterOptions } from './options.js';
import { RouterContext } from './router-context.js';
import { listenForMetrics, type MetricsListener } from './metrics-listener.js';
import { createRouterServer } from './router-server.js';
import { httpUrl } from './upstream-node.js';
import { httpUrlOf } from '../server/http-url.js';

export interface RouterHandle {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  readonly url: string;
  readonly port: number;
  /** The port of --prometheus-port's listener (0 there picks one); null without it. */
  readonly prometheusPort: number | null;
  close(): Promise<void>;
}

export async function startRouter(opts: Partial<RouterOptions> = {}): Promise<RouterHandle> {
  const options: RouterOptions = { ...DEFAULT_ROUTER_OPTIONS, ...opts };
  validate(options);
  const log = createLogger(options.logLevel, 'pd-node-router');
  const ctx = new RouterContext(options, log);
  const active = new ActiveRequests();
  const { app, front } = createRouterServer(ctx, active);
  let metricsListener: MetricsListener | null = null;
  try {
    await ctx.pool.start();
    await app.listen({ host: options.host, port: options.port });
    if (options.prometheus !== null) metricsListener = await listenForMetrics(ctx.renderMetrics, ctx.metrics.contentType, options.prometheus.host ?? options.host, options.prometheus.port);
  } catch (err) {
    ctx.close();
    front.destroyAll();
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const url = httpUrlOf(options.host, port);
  log.info({ url, prometheusPort: metricsListener?.port, policy: options.policy, prefillPolicy: options.prefillPolicy, decodePolicy: options.decodePolicy, prefill: ctx.pool.nodes('prefill').map((n) => n.url), decode: ctx.pool.nodes('decode').map((n) => n.url) }, 'router listening');
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    prometheusPort: metricsListener?.port ?? null,
    close() {
      closing ??= (async () => {
        ctx.close();
        await metricsListener?.close();
        const closed = app.close();
        front.startClosing();
        // Cancelled above, the requests in flight are being answered; a grace bounds the wait.
        await active.settled(options.controlTimeoutSecs * 1000).catch((err: Error) => log.warn({ problem: err.message }, 'closing with requests still in flight'));
        app.server.closeAllConnections();
        front.destroyAll();
        await closed;
      })();
      return closing;
    },
  };
}

function validate(o: RouterOptions): void {
  const fail = (message: string): never => {
    throw new Error(`startRouter: ${message}`);
  };
  for (const spec of [...o.prefill, ...o.decode]) if (httpUrl(spec.url) === null) fail(`"${spec.url}" is not an http(s) URL`);
  for (const { url, bootstrapPort: port } of o.prefill) if (port !== null && (!Number.isInteger(port) || port < 1 || port > 65535)) fail(`bootstrap port of ${url} must be null (the node's own) or from 1 to 65535 (got ${port})`);
  if (o.prefill.length + o.decode.length === 0 && o.nodeSource === undefined) fail('no prefill or decode node and no node source: nothing to route to');
  for (const key of ['policy', 'prefillPolicy', 'decodePolicy'] as const) {
    const name = o[key];
    if ((key === 'policy' || name !== null) && !(POLICIES as readonly (string | null)[]).includes(name)) fail(`${key} must be one of ${POLICIES.join(', ')} (got "${name}")`);
  }
  const limit = o.maxConcurrentRequests;
  if (limit !== null && !(Number.isInteger(limit) && limit > 0)) fail(`maxConcurrentRequests must be null (no bound) or a positive integer (got ${limit})`);
  if (!Number.isInteger(o.maxRetries) || o.maxRetries < 0) fail(`maxRetries must be a non-negative integer (got ${o.maxRetries})`);
  for (const key of ['requestTimeoutSecs', 'connectTimeoutSecs', 'controlTimeoutSecs', 'downBackoffSecs'] as const) {
    if (!(o[key] > 0 && Number.isFinite(o[key]))) fail(`${key} must be a positive number of seconds (got ${o[key]})`);
  }
  if (!(Number.isInteger(o.registryPollMs) && o.registryPollMs > 0)) fail(`registryPollMs must be a positive integer (got ${o.registryPollMs})`);
  if (!(Number.isInteger(o.workers) && o.workers >= 1 && o.workers <= MAX_WORKERS)) fail(`workers must be an integer from 1 to ${MAX_WORKERS} (got ${o.workers})`);
  if (o.workers > 1 && !cluster.isWorker) fail('workers > 1 is served by router-cluster.ts (pd-node --role router --workers N), which starts one router per worker process');
}
