/**
 * The generation routes: SGLang's POST /generate and OpenAI's /v1/completions and
 * /v1/chat/completions, relayed through a prefill/decode pair (generation-proxy.ts). Decisions:
 * - The router checks only what it must: a JSON object body without bootstrap fields of its own.
 *   Everything else is the nodes' to validate; their 4xx comes back unchanged.
 * - Metrics count each request once, by its outcome, when its response ends.
 * - With --max-concurrent-requests, a request beyond the bound gets 503 + Retry-After before its
 *   body is looked at (concurrency-limit.ts); a slot is held until the response closes (sent, or
 *   the connection gone).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { performance } from 'node:perf_hooks';
import { HttpError, sendHttpError } from '../../server/errors.js';
import { refuseBootstrapFields } from '../bootstrap-fields.js';
import { ClientGone } from '../client-gone.js';
import { clientObject, logRid, type ClientBody, type ClientObject } from '../client-body.js';
import { ClientStream } from '../client-stream.js';
import { CONCURRENCY_RETRY_AFTER_SECS } from '../concurrency-limit.js';
import { proxyGeneration, type ProxyOutcome } from '../generation-proxy.js';
import type { RouterContext } from '../router-context.js';
import type { RouterOutcome } from '../router-metrics.js';

export const GENERATION_PATHS = ['/generate', '/v1/completions', '/v1/chat/completions'] as const;

export function registerGenerationRoutes(app: FastifyInstance, ctx: RouterContext): void {
  for (const path of GENERATION_PATHS) {
    app.post<{ Body: ClientBody | undefined }>(path, async (request, reply) => {
      const started = performance.now();
      const ended = (outcome: RouterOutcome): void => ctx.metrics.requestEnded(path, outcome, (performance.now() - started) / 1000);
      if (!ctx.limit.tryAcquire()) {
        ended('unavailable');
        throw new HttpError(503, `the router has --max-concurrent-requests ${ctx.limit.max} requests in flight; retry later`, null, null, CONCURRENCY_RETRY_AFTER_SECS);
      }
      reply.raw.once('close', ctx.limit.release);
      let body: ClientObject;
      try {
        body = clientObject(request.body);
        refuseBootstrapFields(body.json);
      } catch (err) {
        ended('client_error');
        throw err;
      }

      const client = new ClientGone();
      const onClose = (): void => {
        if (!reply.raw.writableEnded) client.leave();
      };
      reply.raw.on('close', onClose);
      // The socket may have closed while the body was being read, before the listener existed.
      if (request.raw.socket.destroyed) client.leave();
      const outcome = await proxyGeneration(ctx, { path, ...body, rid: logRid(body.json) }, new ClientStream(reply), client).finally(() => reply.raw.off('close', onClose));
      ended(outcomeLabel(outcome));
      return respond(reply, outcome);
    });
  }
}

function respond(reply: FastifyReply, outcome: ProxyOutcome): FastifyReply | undefined {
  switch (outcome.kind) {
    case 'answer':
      return reply.code(outcome.status).header('content-type', outcome.contentType).send(outcome.body);
    case 'error':
      return sendHttpError(reply, new HttpError(outcome.status, outcome.message, null, null, outcome.retryAfterSecs ?? null));
    case 'aborted':
      if (!reply.sent) reply.hijack();
      return undefined;
    case 'streamed':
      // The stream hijacked the reply and has ended.
      return undefined;
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
