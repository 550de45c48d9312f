/**
 * GET /get_model_info (SGLang's `model_path` and `is_generation`, plus our model description) and
 * GET /get_server_info (the node options, scheduler stats, version), all snake_case. Options are
 * reported as in effect: the bound port (not 0), the loaded model's path, the served name.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { snakeKeys } from '../snake-case.js';
import type { ServerContext } from '../server-context.js';
import { askScheduler } from '../scheduler-query.js';
import { VERSION } from '../version.js';

export function registerServerInfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/get_model_info', async () => ({
    ...(snakeKeys(ctx.client.model) as Record<string, unknown>),
    served_model_name: ctx.servedModelName,
    is_generation: true,
  }));

  app.get('/get_server_info', async () => {
    const stats = await askScheduler(ctx.client.stats(), 'scheduler stats');
    return {
      ...(snakeKeys(ctx.options) as Record<string, unknown>),
      model_path: ctx.client.model.modelPath,
      served_model_name: ctx.servedModelName,
      // The engine's name and settings with their defaults, not the option (what was given, or a module URL).
      engine: ctx.client.model.engine,
      engine_config: snakeKeys(ctx.client.model.engineConfig),
      port: boundPort(app) ?? ctx.options.port,
      scheduler_stats: snakeKeys(stats),
      version: VERSION,
    };
  });
}

function boundPort(app: FastifyInstance): number | null {
  const address = app.server.address() as AddressInfo | string | null;
  return address !== null && typeof address === 'object' ? address.port : null;
}
