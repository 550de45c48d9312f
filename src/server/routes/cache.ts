/**
 * POST /flush_cache: drops the scheduler's prefix cache. The scheduler refuses while requests hold
 * pages, which is the client's to retry (400), as in SGLang.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';
import type { ServerContext } from '../server-context.js';
import { askScheduler } from '../scheduler-query.js';

export function registerCacheRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/flush_cache', async () => {
    const flushed = await askScheduler(ctx.client.flushCache(), 'cache flush');
    if (!flushed) throw new HttpError(400, 'cache not flushed: the scheduler refuses while requests are running or waiting; retry when idle');
    return { success: true, message: 'Cache flushed.' };
  });
}
