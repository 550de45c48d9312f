/**
 * The generation routes: SGLang's POST /generate and OpenAI's /v1/completions and
 * /v1/chat/completions, relayed through a prefill/decode pair (generation-proxy.ts). They are served
 * by the raw HTTP/1.1 front (src/net/http1-front.ts, claimed in router-server.ts) and, on a
 * connection already handed to Fastify, by the same handler as a Fastify route: both write to a
 * `ResponseWriter`. Decisions:
 * - The router checks only what it must: a JSON object body without bootstrap fields of its own.
 *   Everything else is the nodes' to validate; their 4xx comes back unchanged. Invalid JSON is a 400
 *   before anything else, as Fastify's content-type parser answered it (client-body.ts).
 * - Metrics count each request once, by its outcome, when its response ends.
 * - With --max-concurrent-requests, a request beyond the bound gets 503 + Retry-After before its
 *   body is looked at (concurrency-limit.ts); a slot is held until the response closes (sent, or
 *   the connection gone).
 * - An exception is logged and answered 500 (as the Fastify error handler does for other routes).
 */
import type { FastifyInstance } from 'fastify';
import { performance } from 'node:perf_hooks';
import type { ResponseWriter } from '../../net/http1-response.js';
import { errorAnswer, HttpError } from '../../server/errors.js';
import { refuseBootstrapFields } from '../bootstrap-fields.js';
import { ClientGone } from '../client-gone.js';
import { clientObject, logRid, type ClientBody, type ClientObject } from '../client-body.js';
import { ClientStream } from '../client-stream.js';
import { CONCURRENCY_RETRY_AFTER_SECS } from '../concurrency-limit.js';
import { proxyGeneration, type ProxyOutcome } from '../generation-proxy.js';
import type { RouterContext } from '../router-context.js';
import type { RouterOutcome } from '../router-metrics.js';

export const GENERATION_PATHS = ['/generate', '/v1/completions', '/v1/chat/completions'] as const;
export type GenerationPath = (typeof GENERATION_PATHS)[number];

/** The same handler as Fastify routes, for connections the raw front handed over. */
export function registerGenerationRoutes(app: FastifyInstance, ctx: RouterContext): void {
  for (const path of GENERATION_PATHS) {
    app.post<{ Body: ClientBody | undefined }>(path, (request, reply) => {
      reply.hijack();
      serveGeneration(ctx, path, request.body, reply.raw, request.raw.socket.destroyed);
    });
  }
}

/**
 * Serves one generation request whose body was read and parsed; `gone`: the client's connection
 * closed while its body was read. Never throws: failures are answered.
 */
export function serveGeneration(ctx: RouterContext, path: GenerationPath, parsed: ClientBody | undefined, res: ResponseWriter, gone: boolean): void {
  proxied(ctx, path, parsed, res, gone).catch((err: unknown) => {
    ctx.log.error({ err, method: 'POST', url: path }, 'unexpected error in a route');
    if (res.writableEnded) return;
    // A stream under way cannot turn into an error answer: cut it, so no client takes it for whole.
    if (res.headersSent) res.destroy();
    else writeError(res, new HttpError(500, 'internal server error'));
  });
}

/** Answers `err` as Fastify's error handler does (errors.ts `errorAnswer`), on either path's response. */
export function writeError(res: ResponseWriter, err: HttpError): void {
  const answer = errorAnswer(err);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

async function proxied(ctx: RouterContext, path: GenerationPath, parsed: ClientBody | undefined, res: ResponseWriter, gone: boolean): Promise<void> {
  const started = performance.now();
  if (!ctx.limit.tryAcquire()) {
    ctx.metrics.requestEnded(path, 'unavailable', secondsSince(started));
    writeError(res, new HttpError(503, `the router has --max-concurrent-requests ${ctx.limit.max} requests in flight; retry later`, null, null, CONCURRENCY_RETRY_AFTER_SECS));
    return;
  }
  const client = new ClientGone();
  res.once('close', () => {
    ctx.limit.release();
    if (!res.writableEnded) client.leave();
  });
  if (gone) client.leave();
  let body: ClientObject;
  try {
    body = clientObject(parsed);
    refuseBootstrapFields(body.json);
  } catch (err) {
    ctx.metrics.requestEnded(path, 'client_error', secondsSince(started));
    if (!(err instanceof HttpError)) throw err;
    writeError(res, err);
    return;
  }
  const outcome = await proxyGeneration(ctx, { path, ...body, rid: logRid(body.json) }, new ClientStream(res), client);
  ctx.metrics.requestEnded(path, outcomeLabel(outcome), secondsSince(started));
  respond(res, outcome);
}

function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}

function respond(res: ResponseWriter, outcome: ProxyOutcome): void {
  switch (outcome.kind) {
    case 'answer':
      res.writeHead(outcome.status, { 'content-type': outcome.contentType });
      res.end(outcome.body);
      return;
    case 'error':
      writeError(res, new HttpError(outcome.status, outcome.message, null, null, outcome.retryAfterSecs ?? null));
      return;
    case 'aborted':
    case 'streamed':
      // The client is gone, or the stream has ended.
      return;
  }
}

function outcomeLabel(outcome: ProxyOutcome): RouterOutcome {
  switch (outcome.kind) {
    case 'answer':
      return outcome.status < 400 ? 'success' : outcome.status < 500 ? 'client_error' : 'failed';
    case 'error':
      return outcome.status === 504 ? 'timeout' : 'unavailable';
    case 'aborted':
      return 'aborted';
    case 'streamed':
      // A stream cut by the client ends as 'aborted' above; `cancelled` here means the router closed.
      return outcome.broken === null ? 'success' : outcome.broken === 'timeout' ? 'timeout' : 'failed';
  }
}
