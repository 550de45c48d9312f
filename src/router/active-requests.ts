/**
 * Counts a router's requests whose response has not closed yet, on both of its HTTP paths: Fastify's
 * ('request' events of its server, `watch`) and the raw front's (which tells it, as its
 * `RequestTracker`). One count, so a closing router waits for both paths in one wait (bounded), then
 * drops every connection: Node's `server.close()` only reaps idle keep-alive connections, and one
 * that a client opened without sending a request yet would hold the close until the client lets go.
 */
import type { Server } from 'node:http';
import type { RequestTracker } from '../net/http1-front.js';
import { withTimeout } from '../util/timeout.js';

export class ActiveRequests implements RequestTracker {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Counts the requests of `server` (Fastify's) until their responses close. */
  watch(server: Server): void {
    server.on('request', (_req, res) => {
      this.started();
      res.once('close', this.finished);
    });
  }

  readonly started = (): void => {
    this.count++;
  };

  readonly finished = (): void => {
    if (--this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  };

  /** Resolves when no request is in flight, or rejects after `timeoutMs` (saying how many were left). */
  settled(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.waiters.push(resolve)), timeoutMs, `the ${this.count} requests in flight`);
  }
}
