/**
 * The client's side of a relayed SSE stream. Decisions: headers and the error/[DONE] framing come from
 * the node's `SseStream` (the same wire format whether a client talks to a node or to the router);
 * the decode node's events are written as the exact text received, so its own `[DONE]` ends a good
 * stream and the router adds nothing. Nothing is written once the client has gone.
 */
import type { FastifyReply } from 'fastify';
import { errorBody } from '../server/errors.js';
import { SseStream } from '../server/sse.js';

export class ClientStream {
  private readonly sse: SseStream;

  constructor(private readonly reply: FastifyReply) {
    this.sse = new SseStream(reply);
  }

  /** Sends the 200 and the SSE headers: from here on, failures can only be reported in the stream. */
  open(): void {
    this.sse.open();
  }

  /** One event, exactly as the decode node sent it. */
  write(event: string): void {
    const res = this.reply.raw;
    if (!res.writableEnded && !res.destroyed) res.write(event);
  }

  /** Ends the stream with `data: {"error": ...}` and `data: [DONE]`. */
  fail(status: number, message: string): void {
    this.sse.send(errorBody(status, message));
    this.sse.end();
  }

  /** Ends the stream after the decode node's own last event. */
  close(): void {
    const res = this.reply.raw;
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}
