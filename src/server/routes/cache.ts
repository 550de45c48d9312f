/**
 * POST /flush_cache: drops the scheduler's prefix cache. The scheduler refuses while requests hold
 * pages, which is the client's to retry (400), as in SGLang.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';
import type { ServerContext } from '../server-context.js';
import { SCHEDULER_QUERY_TIMEOUT_MS, withTimeout } from '../timeout.js';

export function registerCacheRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/flush_cache', async () => {
    const flushed = await withTimeout(ctx.client.flushCache(), SCHEDULER_QUERY_TIMEOUT_MS, 'the scheduler');
    if (!flushed) throw new HttpError(400, 'cache not flushed: the scheduler refuses while requests are running or waiting; retry when idle');
    return { success: true, message: 'Cache flushed.' };
  });
}
