/**
 * GET /metrics: Prometheus text of the router's own registry (node gauges refreshed at scrape time);
 * with several workers, of every worker's, summed (cluster-metrics.ts).
 */
import type { FastifyInstance } from 'fastify';
import { clusterMetricsRenderer } from '../cluster-metrics.js';
import type { RouterContext } from '../router-context.js';

export function registerMetricsRoute(app: FastifyInstance, ctx: RouterContext): void {
  const render = ctx.options.workers > 1 ? clusterMetricsRenderer(ctx.metrics.registry, ctx.options.controlTimeoutSecs * 1000) : () => ctx.metrics.render();
  app.get('/metrics', async (_request, reply) => reply.type(ctx.metrics.contentType).send(await render()));
}
