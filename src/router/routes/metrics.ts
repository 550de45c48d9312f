/**
 * GET /metrics: Prometheus text of the router's own registry (node gauges refreshed at scrape time);
 * with several workers, of every worker's, summed (cluster-metrics.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { RouterContext } from '../router-context.js';

export function registerMetricsRoute(app: FastifyInstance, ctx: RouterContext): void {
  app.get('/metrics', async (_request, reply) => reply.type(ctx.metrics.contentType).send(await ctx.renderMetrics()));
}
