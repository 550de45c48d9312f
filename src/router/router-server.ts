/**
 * The router's HTTP front end (Fastify), returned with routes registered, not listening. Decisions,
 * as in the node's http-server.ts: Fastify logs through our pino instance with its per-request lines
 * off (request lines come from `requestLogger`); every error is the JSON error body of errors.ts;
 * unknown routes are 404; unexpected exceptions are logged and answered with 500, never a crash.
 * With `--api-key`, clients need the key as nodes' clients do (api-key.ts). Bodies are kept as text beside their parsed form (client-body.ts), whatever the content type.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { requireApiKey } from '../server/api-key.js';
import { errorBody, HttpError, sendHttpError } from '../server/errors.js';
import { parseClientBody } from './client-body.js';
import type { RouterContext } from './router-context.js';
import { registerFlushCacheRoute } from './routes/flush-cache.js';
import { registerGenerationRoutes } from './routes/generation.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerInfoRoutes } from './routes/info.js';
import { registerMetricsRoute } from './routes/metrics.js';

export function createRouterServer(ctx: RouterContext): FastifyInstance {
  const app = Fastify({
    // Typed as Fastify's base logger so the instance is the plain FastifyInstance.
    loggerInstance: ctx.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseClientBody(body as string)); // parseAs: 'string'
    } catch (err) {
      done(err as HttpError, undefined);
    }
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof HttpError) return sendHttpError(reply, err);
    const status = err.statusCode ?? 500;
    if (status < 500) return reply.code(status).send(errorBody(status, err.message));
    ctx.log.error({ err, method: request.method, url: request.url }, 'unexpected error in a route');
    return reply.code(500).send(errorBody(500, 'internal server error'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(404, `no route for ${request.method} ${request.url}`)));
  requireApiKey(app, ctx.options.apiKey);

  registerGenerationRoutes(app, ctx);
  registerHealthRoutes(app, ctx);
  registerInfoRoutes(app, ctx);
  registerFlushCacheRoute(app, ctx);
  registerMetricsRoute(app, ctx);
  return app;
}
