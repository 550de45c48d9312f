/**
 * The client's side of a relayed SSE stream, on the raw front's response or on Node's (a connection
 * handed to Fastify): both are a `ResponseWriter`. Decisions: the head is the node's (`SSE_HEADERS`
 * of sse.ts) and the error/[DONE] framing is the node's `SseStream`'s (the same wire format whether
 * a client talks to a node or to the router); the decode node's events are written as the exact text
 * received, so its own `[DONE]` ends a good stream and the router adds nothing. The head goes out
 * with the first event (one write on the raw front). Nothing is written once the client has gone.
 */
import type { ResponseWriter } from '../net/http1-response.js';
import { errorBody } from '../server/errors.js';
import { SSE_DONE, SSE_HEADERS, sseEvent } from '../server/sse.js';

export class ClientStream {
  private opened = false;

  constructor(private readonly res: ResponseWriter) {}

  /** Sends the 200 and the SSE headers: from here on, failures can only be reported in the stream. */
  open(): void {
    this.opened = true;
    this.res.writeHead(200, SSE_HEADERS);
  }

  /** One event, exactly as the decode node sent it. */
  write(event: string): void {
    if (this.writable) this.res.write(event);
  }

  /** Ends the stream with `data: {"error": ...}` and `data: [DONE]`. */
  fail(status: number, message: string): void {
    if (this.opened && this.writable) this.res.end(sseEvent(errorBody(status, message)) + SSE_DONE);
  }

  /** Ends the stream after the decode node's own last event. */
  close(): void {
    if (this.writable) this.res.end();
  }

  private get writable(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }
}
