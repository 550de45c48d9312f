/**
 * Answers one HTTP request from its generations, whole or streamed. Shared by /generate and the
 * OpenAI routes, which differ only in their `ResponseFormat`. Decisions:
 * - One run's error fails the request: the other runs are aborted. A whole response, or a stream not
 *   yet opened, answers with the error's HTTP status; an open stream gets `data: {"error": ...}` and
 *   `[DONE]`.
 * - A stream opens (HTTP 200) only once every run is accepted, so the scheduler's rejections
 *   (e.g. a prompt longer than the context) are still real 4xx responses.
 * - If the client's socket closes before the response ended, every run still going is aborted
 *   (`client.abort(rid, 'client disconnected')`) and nothing more is written.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';
import type { GenerateRequest } from '../../actors/scheduler/protocol.js';
import { errorBody, HttpError } from './errors.js';
import { GenerationBatch, type GenerationDeps, type Run, type RunEvent } from './generation.js';
import { SseStream } from './sse.js';

export interface ResponseFormat {
  stream: boolean;
  /** Stream chunks for one event (never called for errors). */
  chunks(e: RunEvent): unknown[];
  /** Stream chunks once every run finished (e.g. OpenAI's usage chunk). */
  tail(runs: readonly Run[]): unknown[];
  /** The whole response once every run finished. */
  body(runs: readonly Run[]): unknown;
}

export async function serveGeneration(
  deps: GenerationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  requests: readonly GenerateRequest[],
  format: ResponseFormat,
): Promise<unknown> {
  const batch = new GenerationBatch(deps, requests, { observe: true, arrivedAt: performance.now() - reply.elapsedTime });
  const sse = format.stream ? new SseStream(reply) : null;
  let pending: unknown[] = [];
  let failure: { status: number; message: string; retryAfterSecs?: number } | null = null;
  let disconnected = false;

  const onClose = (): void => {
    if (reply.raw.writableEnded) return;
    disconnected = true;
    batch.abort('client disconnected');
  };
  reply.raw.on('close', onClose);

  const send = (chunks: unknown[]): void => chunks.forEach((c) => sse?.send(c));
  const started = batch.start((e) => {
    if (disconnected) return;
    if (e.type === 'error') {
      failure ??= { status: e.status, message: e.message, retryAfterSecs: e.retryAfterSecs };
      batch.abort('another prompt of the same request failed');
      if (sse?.isOpen) {
        sse.send(errorBody(e.status, e.message));
        sse.end();
      }
      return;
    }
    if (sse === null) return;
    const chunks = format.chunks(e);
    if (sse.isOpen) return send(chunks);
    pending.push(...chunks);
    if (batch.allAccepted) {
      sse.open();
      send(pending);
      pending = [];
    }
  });
  // The socket may have closed while the body was being read, before the listener existed.
  if (request.raw.socket.destroyed) onClose();
  await started;
  reply.raw.off('close', onClose);

  if (disconnected) {
    if (!reply.sent) reply.hijack();
    return undefined;
  }
  if (failure !== null) {
    const { status, message, retryAfterSecs } = failure;
    if (sse?.isOpen) return undefined;
    throw new HttpError(status, message, null, null, retryAfterSecs ?? null);
  }
  if (sse === null) return format.body(batch.runs);
  sse.open();
  send(format.tail(batch.runs));
  sse.end();
  return undefined;
}
