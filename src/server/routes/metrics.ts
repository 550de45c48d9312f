/**
 * GET /metrics: Prometheus text of this server's registry, with the scheduler gauges refreshed from
 * one `client.stats()` call per scrape.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';
import { askScheduler } from '../scheduler-query.js';

export function registerMetricsRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/metrics', async (_request, reply) => {
    const stats = await askScheduler(ctx.client.stats(), 'scheduler stats');
    return reply.type(ctx.metrics.contentType).send(await ctx.metrics.render(stats));
  });
}
