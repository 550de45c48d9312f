/**
 * The router's HTTP front end: a raw HTTP/1.1 front (src/net/http1-front.ts) for the generation
 * routes, on the port of a Fastify app that serves everything else (metrics, health, info, admin)
 * and the generation routes of connections handed to it. Returned not listening. Decisions:
 * - Only POST on a generation path is claimed (the hot path: bench/README.md, pd-bench router);
 *   any other request, including other methods on those paths, goes to Fastify, which answers as it
 *   always did (404 naming the method and path, HEAD included).
 * - As in the node's http-server.ts: Fastify logs through our pino instance with its per-request
 *   lines off (request lines come from `requestLogger`); every error is the JSON error body of
 *   errors.ts; unknown routes are 404; unexpected exceptions are logged and answered with 500,
 *   never a crash. Bodies are kept as text beside their parsed form (client-body.ts), whatever the
 *   content type, on both paths.
 * - With `--api-key`, clients need the key as nodes' clients do (api-key.ts), on both paths; a
 *   refusal on the front comes before the body is read, as Fastify's onRequest hook does it.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { DEFAULT_FRONT_LIMITS, Http1Front, type Http1Claim, type Http1Handler } from '../net/http1-front.js';
import { MAX_PAYLOAD_FLAG, payloadTooLarge } from '../net/payload-limit.js';
import { apiKeyRefusal, requireApiKey } from '../server/api-key.js';
import { errorBody, HttpError, sendHttpError } from '../server/errors.js';
import type { ActiveRequests } from './active-requests.js';
import { parseClientBody, type ClientBody } from './client-body.js';
import type { RouterContext } from './router-context.js';
import { registerFlushCacheRoute } from './routes/flush-cache.js';
import { GENERATION_PATHS, registerGenerationRoutes, serveGeneration, writeError, type GenerationPath } from './routes/generation.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerInfoRoutes } from './routes/info.js';
import { registerMetricsRoute } from './routes/metrics.js';

export interface RouterServer {
  app: FastifyInstance;
  front: Http1Front;
}

/** `active` counts the requests in flight on both paths. */
export function createRouterServer(ctx: RouterContext, active: ActiveRequests): RouterServer {
  const app = Fastify({
    // Typed as Fastify's base logger so the instance is the plain FastifyInstance.
    loggerInstance: ctx.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // The front's bound holds on Fastify's side too.
    bodyLimit: ctx.options.maxPayloadBytes,
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
    if (status < 500) return reply.code(status).send(errorBody(status, status === 413 ? payloadTooLarge(ctx.options.maxPayloadBytes) : err.message));
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

  active.watch(app.server);
  const frontOptions = { ...DEFAULT_FRONT_LIMITS, maxBodyBytes: ctx.options.maxPayloadBytes, maxBodyBytesSetBy: MAX_PAYLOAD_FLAG, errorBody: (status: number, message: string) => JSON.stringify(errorBody(status, message)), requests: active };
  const front = new Http1Front(app.server, frontClaim(ctx), frontOptions, (err, head) => ctx.log.error({ err, method: head.method, url: head.target }, 'unexpected error in a route'));
  return { app, front };
}

/** The front's claim: POST on a generation path; with a key set, one without it is refused on its head (401, no body read). */
function frontClaim(ctx: RouterContext): Http1Claim {
  const handlers = new Map<string, Http1Handler>(GENERATION_PATHS.map((path) => [path, generationHandler(ctx, path)]));
  const refusal = ctx.options.apiKey === null ? null : apiKeyRefusal(ctx.options.apiKey);
  return (head) => {
    if (head.method !== 'POST') return null;
    const handler = handlers.get(head.path);
    if (handler === undefined || refusal === null) return handler ?? null;
    const refused = refusal(head.headers.authorization);
    return refused === null ? handler : { status: 401, body: JSON.stringify(refused) };
  };
}

function generationHandler(ctx: RouterContext, path: GenerationPath): Http1Handler {
  return (req, res) => {
    let parsed: ClientBody | undefined;
    try {
      parsed = parseClientBody(req.body.toString('utf8'));
    } catch (err) {
      writeError(res, err as HttpError);
      return;
    }
    serveGeneration(ctx, path, parsed, res, false);
  };
}
