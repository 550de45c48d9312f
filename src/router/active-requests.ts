/**
 * Counts a server's requests whose response has not closed yet. A closing router waits for them
 * (bounded), then drops every connection: Node's `server.close()` only reaps idle keep-alive
 * connections, and one that a client opened without sending a request yet would hold the close until
 * the client lets go of it.
 */
import type { Server } from 'node:http';
import { withTimeout } from '../util/timeout.js';

export class ActiveRequests {
  private count = 0;
  private waiters: (() => void)[] = [];

  constructor(server: Server) {
    server.on('request', (_req, res) => {
      this.count++;
      res.once('close', () => {
        if (--this.count === 0) for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** Resolves when no request is in flight, or after `timeoutMs` (rejecting with what timed out). */
  settled(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.waiters.push(resolve)), timeoutMs, `the ${this.count} requests in flight`);
  }
}
