/**
 * Counts a router's requests whose response has not closed yet, on both of its HTTP paths: Fastify's
 * ('request' events of its server) and the raw front's (http1-front.ts counts its own). A closing
 * router waits for them (bounded), then drops every connection: Node's `server.close()` only reaps
 * idle keep-alive connections, and one that a client opened without sending a request yet would
 * hold the close until the client lets go of it.
 */
import type { Server } from 'node:http';
import type { Http1Front } from '../net/http1-front.js';
import { withTimeout } from '../util/timeout.js';

export class ActiveRequests {
  private count = 0;
  private waiters: (() => void)[] = [];

  constructor(
    server: Server,
    private readonly front: Http1Front,
  ) {
    server.on('request', (_req, res) => {
      this.count++;
      res.once('close', () => {
        if (--this.count === 0) for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** Resolves when no request is in flight, or after `timeoutMs` (rejecting with what timed out). */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const fastify = this.count === 0 ? Promise.resolve() : withTimeout(new Promise<void>((resolve) => this.waiters.push(resolve)), timeoutMs, `the ${this.count} requests in flight`);
    await fastify;
    await this.front.settled(Math.max(1, deadline - performance.now()));
  }
}
