/**
 * An actor's replies, posted together: every reply made during one turn of the actor's event loop
 * leaves in one message (an array, in the order they were made), right after that turn.
 *
 * Decisions:
 * - Why: a message to a thread that sleeps wakes it (an eventfd write, then a context switch, and
 *   on a host with few cores the woken thread often takes the poster's core), and that wake-up, not
 *   the copy of a small reply, is what a reply costs. An actor that handled four writes in one turn
 *   (their requests were queued together) wakes its client once instead of four times.
 * - The turn ends at setImmediate: after the poll phase that delivered the requests and the I/O
 *   completions, and after every microtask they started, so replies of requests handled in one
 *   drain leave together, and none waits for more than the rest of the turn it was made in.
 * - Requests are not batched on the client's side: a message posted to an actor that is awake
 *   costs no wake-up (the port's wake-up is already pending), and a client that deferred its
 *   requests to the end of its own turn would hold them through whatever synchronous work follows
 *   (a scheduler's forward step).
 * - `flush` posts at once what is waiting: an actor about to close its port answers its last
 *   requests first, and one with long work still queued lets its client refill meanwhile
 *   (actors/transfer/request-queue.ts).
 */
import type { MessagePort } from 'node:worker_threads';

export class ReplyBatch<Reply> {
  private batch: Reply[] = [];
  private scheduled = false;

  constructor(private readonly port: MessagePort) {}

  /** Replies made and not yet posted. */
  get waiting(): number {
    return this.batch.length;
  }

  /** Queues `reply`; it leaves with the others of this turn. */
  post(reply: Reply): void {
    this.batch.push(reply);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Posts the replies waiting now, as one message (nothing when none is). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.port.postMessage(batch);
  };
}
