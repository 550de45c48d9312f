/**
 * A completion channel (`ibv_create_comp_channel`): a file descriptor that becomes readable when a CQ
 * that asked for notification (`CompletionQueue.requestNotify`) gets a completion.
 *
 * Decisions:
 * - `waitForEvent` (`ibv_get_cq_event`) blocks the calling thread: it is meant for a device's poller
 *   worker, never the main event loop. `fd` is exposed so a caller can wait on it without blocking
 *   (O_NONBLOCK + poll) instead.
 * - The channel knows the CQs attached to it, so an event comes back as the `CompletionQueue`
 *   object; the event is counted on that CQ until acknowledged (`CompletionQueue.ackEvents`), because
 *   `ibv_destroy_cq` waits for every event of the CQ to be acknowledged and would hang otherwise.
 */
import koffi from 'koffi';
import type { CompletionQueue } from './completion-queue.js';
import type { Context, Resource } from './context.js';
import { VerbsError } from './errors.js';
import { verbs } from './library.js';
import { IBV_COMP_CHANNEL } from './types.js';

export class CompletionChannel implements Resource {
  readonly fd: number;
  private readonly queues = new Map<bigint, CompletionQueue>();
  /** `ibv_get_cq_event`'s out-pointers: the CQ and its cq_context (unused: the map finds the CQ). */
  private readonly cqOut = new BigUint64Array(1);
  private readonly cqContextOut = new BigUint64Array(1);
  private destroyed = false;

  /** Wraps a `struct ibv_comp_channel *` of `context`. */
  constructor(readonly context: Context, readonly handle: bigint) {
    this.fd = (koffi.decode(handle, IBV_COMP_CHANNEL) as { fd: number }).fd;
    context.adopt(this);
  }

  static create(context: Context): CompletionChannel {
    const channel = verbs().ibv_create_comp_channel(context.handle);
    if (channel === null) throw new VerbsError(`ibv_create_comp_channel(${context.deviceName})`, koffi.errno());
    return new CompletionChannel(context, channel);
  }

  /** Called by a CQ created on this channel, and when it is destroyed. */
  attach(cq: CompletionQueue): void {
    this.queues.set(cq.handle, cq);
  }

  detach(cq: CompletionQueue): void {
    this.queues.delete(cq.handle);
  }

  /** `ibv_get_cq_event`: blocks until a notified CQ has a completion; returns that CQ. */
  waitForEvent(): CompletionQueue {
    const rc = verbs().ibv_get_cq_event(this.handle, this.cqOut, this.cqContextOut);
    if (rc !== 0) throw new VerbsError(`ibv_get_cq_event(${this.context.deviceName})`, koffi.errno());
    const cq = this.queues.get(this.cqOut[0]);
    if (!cq) throw new Error(`ibv_get_cq_event returned a CQ not attached to this channel (0x${this.cqOut[0].toString(16)})`);
    cq.countEvent();
    return cq;
  }

  /** `ibv_destroy_comp_channel`; idempotent. Fails (EBUSY) while CQs use the channel. */
  destroy(): void {
    if (this.destroyed) return;
    const rc = verbs().ibv_destroy_comp_channel(this.handle);
    if (rc !== 0) throw new VerbsError(`ibv_destroy_comp_channel(${this.context.deviceName})`, rc);
    this.destroyed = true;
    this.context.release(this);
  }
}
