/**
 * GET /get_model_info (SGLang's `model_path` and `is_generation`, plus our model description) and
 * GET /get_server_info (the node options, scheduler stats, version), all snake_case.
 */
import type { FastifyInstance } from 'fastify';
import { snakeKeys } from '../snake-case.js';
import type { ServerContext } from '../server-context.js';
import { SCHEDULER_QUERY_TIMEOUT_MS, withTimeout } from '../timeout.js';
import { VERSION } from '../version.js';

export function registerServerInfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/get_model_info', async () => ({
    ...(snakeKeys(ctx.client.model) as Record<string, unknown>),
    served_model_name: ctx.servedModelName,
    is_generation: true,
  }));

  app.get('/get_server_info', async () => {
    const stats = await withTimeout(ctx.client.stats(), SCHEDULER_QUERY_TIMEOUT_MS, 'the scheduler');
    return {
      ...(snakeKeys(ctx.options) as Record<string, unknown>),
      served_model_name: ctx.servedModelName,
      scheduler_stats: snakeKeys(stats),
      version: VERSION,
    };
  });
}
