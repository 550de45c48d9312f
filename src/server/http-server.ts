/**
 * The node's HTTP front end: SGLang's native routes, the OpenAI-compatible routes, health, info and
 * Prometheus metrics, over one `SchedulerClient`. Returned with routes registered, not listening
 * (`startNode` listens). Decisions:
 * - Fastify logs through our pino instance, with its per-request lines off: request lines come
 *   from `requestLogger`, so each carries the request id (and the bootstrap room in PD mode).
 * - ajv never coerces, fills defaults or drops fields: a wrong type or an unknown field is a 400
 *   naming the field, never a silent reinterpretation.
 * - Bodies are parsed as JSON whatever their content type (or none): `curl -d` sends
 *   form-urlencoded, fetch sends text/plain, and SGLang accepts both.
 * - With `--api-key`, every route but /health* and /metrics* wants the key (api-key.ts).
 * - Every error is JSON `{ error: { message, type, param, code } }` (see errors.ts); unknown routes
 *   are 404; unexpected exceptions are logged and answered with 500, never a crash.
 */
import { quoteBootstrapRooms } from './pd-fields.js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import type { SchedulerClient } from '../../actors/scheduler/scheduler-client.js';
import { requireApiKey } from './api-key.js';
import { errorBody, HttpError, sendHttpError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { InFlightIds } from './request-ids.js';
import { registerCacheRoutes } from './routes/cache.js';
import { registerGenerateRoute } from './routes/generate.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerChatRoute } from './routes/openai-chat.js';
import { registerCompletionsRoute } from './routes/openai-completions.js';
import { registerModelsRoutes } from './routes/openai-models.js';
import { registerServerInfoRoutes } from './routes/server-info.js';
import type { ServerContext } from './server-context.js';
import type { ServerOptions } from './server-options.js';
import { describeValidationError } from './validation-error.js';
import { payloadTooLarge } from '../net/payload-limit.js';

export interface HttpServerDeps {
  client: SchedulerClient;
  options: ServerOptions;
  logger: Logger;
  /** Metrics registry to serve (callers add their own metrics to it); a fresh one by default. */
  metrics?: ServerMetrics;
}

export async function createHttpServer({ client, options, logger, metrics: given }: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as Fastify's base logger so the instance is the plain FastifyInstance that startNode expects.
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxPayloadBytes,
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
  });

  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    // An empty body is no body: routes that take none (POST /flush_cache) accept it, the others say
    // the body must be an object.
    const text = body as string; // parseAs: 'string'
    if (text === '') done(null, undefined);
    else parseJson(request, quoteBootstrapRooms(text), done);
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof HttpError) return sendHttpError(reply, err);
    if (err.validation) {
      const { message, param } = describeValidationError(err.validation);
      return reply.code(400).send(errorBody(400, message, param));
    }
    const status = err.statusCode ?? 500;
    if (status < 500) return reply.code(status).send(errorBody(status, clientErrorMessage(err, options.maxPayloadBytes)));
    logger.error({ err, method: request.method, url: request.url }, 'unexpected error in a route');
    return reply.code(500).send(errorBody(500, 'internal server error'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(404, `no route for ${request.method} ${request.url}`)));
  requireApiKey(app, options.apiKey);

  const servedModelName = options.servedModelName ?? client.model.servedModelName;
  const metrics = given ?? new ServerMetrics(servedModelName);
  const ctx: ServerContext = {
    client,
    options,
    log: logger,
    servedModelName,
    metrics,
    generation: { client, ids: new InFlightIds(), metrics, log: logger },
  };
  registerGenerateRoute(app, ctx);
  registerCompletionsRoute(app, ctx);
  registerChatRoute(app, ctx);
  registerModelsRoutes(app, ctx);
  registerHealthRoutes(app, ctx);
  registerServerInfoRoutes(app, ctx);
  registerCacheRoutes(app, ctx);
  registerMetricsRoute(app, ctx);
  return app;
}

/** Fastify's body errors speak of content types; say what the client must fix. */
function clientErrorMessage(err: FastifyError, maxPayloadBytes: number): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'request body is not valid JSON';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return payloadTooLarge(maxPayloadBytes);
    default:
      return err.message;
  }
}
