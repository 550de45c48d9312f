/**
 * A completion queue (`ibv_create_cq` / `ibv_destroy_cq`), polled with the inline `ibv_poll_cq` and
 * armed with the inline `ibv_req_notify_cq` (both through `context->ops`, see context-ops.ts).
 *
 * Decisions:
 * - `poll` reuses one scratch array of `struct ibv_wc` per CQ and returns plain objects
 *   (work-completions.ts). A CQ is polled by one thread: this object's, or a poller worker that
 *   drives it through `pollHandles()` (cq-poll-handle.ts) while this thread only creates and destroys it.
 * - `entries` is the size the provider actually made (`cq->cqe`, at least what was asked).
 * - Events from the completion channel are counted here until acknowledged; `destroy` acknowledges
 *   what is left first, since `ibv_destroy_cq` would otherwise wait for them forever.
 */
import koffi from 'koffi';
import type { CompletionChannel } from './completion-channel.js';
import type { Context, Resource } from './context.js';
import type { CqHandles } from './cq-poll-handle.js';
import { VerbsError } from './errors.js';
import { verbs } from './library.js';
import { Scratch } from './scratch.js';
import { IBV_CQ } from './types.js';
import { decodeCompletions, WC_BYTES, type WorkCompletion } from './work-completions.js';

export interface CompletionQueueOptions {
  /** Minimum number of entries. */
  entries: number;
  /** Where completion events go (needed for `requestNotify`); none: poll only. */
  channel?: CompletionChannel;
  /** Completion vector (interrupt), below the context's `num_comp_vectors`; default 0. */
  compVector?: number;
}

/** Completions read per `poll()` unless told otherwise. */
const DEFAULT_POLL_BATCH = 32;

export class CompletionQueue implements Resource {
  readonly entries: number;
  private readonly scratch = new Scratch(DEFAULT_POLL_BATCH * WC_BYTES);
  private unackedEvents = 0;
  private destroyed = false;

  /** Wraps a `struct ibv_cq *` of `context`, attached to `channel` if it has one. */
  constructor(readonly context: Context, readonly handle: bigint, readonly channel: CompletionChannel | null) {
    this.entries = (koffi.decode(handle, IBV_CQ) as { cqe: number }).cqe;
    channel?.attach(this);
    context.adopt(this);
  }

  static create(context: Context, { entries, channel, compVector = 0 }: CompletionQueueOptions): CompletionQueue {
    const cq = verbs().ibv_create_cq(context.handle, entries, null, channel?.handle ?? null, compVector);
    if (cq === null) throw new VerbsError(`ibv_create_cq(${context.deviceName}, ${entries} entries)`, koffi.errno());
    return new CompletionQueue(context, cq, channel ?? null);
  }

  /** `ibv_poll_cq`: up to `max` completions, oldest first; an empty array when there are none. */
  poll(max = DEFAULT_POLL_BATCH): WorkCompletion[] {
    this.scratch.ensure(max * WC_BYTES);
    const n = this.context.ops.pollCq(this.handle, max, this.scratch.bytes);
    if (n < 0) throw new VerbsError('ibv_poll_cq', 0, `ibv_poll_cq(${this.context.deviceName}) failed (returned ${n})`);
    return decodeCompletions(this.scratch.view, n);
  }

  /** `ibv_req_notify_cq`: one event on the channel for the next completion (solicited only: the next solicited one). */
  requestNotify(solicitedOnly = false): void {
    const rc = this.context.ops.reqNotifyCq(this.handle, solicitedOnly ? 1 : 0);
    if (rc !== 0) throw new VerbsError(`ibv_req_notify_cq(${this.context.deviceName})`, rc);
  }

  /**
   * Counts events taken for this CQ and not yet acknowledged: one `CompletionChannel.waitForEvent`
   * returned, or `count` that another thread (a poller) took and could not acknowledge.
   */
  countEvent(count = 1): void {
    this.unackedEvents += count;
  }

  /** The raw handles a poller on another thread drives this CQ with (cq-poll-handle.ts); needs a channel. */
  pollHandles(): CqHandles {
    if (!this.channel) throw new Error(`this CQ of ${this.context.deviceName} has no completion channel`);
    return { deviceName: this.context.deviceName, context: this.context.handle, cq: this.handle, channel: this.channel.handle, channelFd: this.channel.fd };
  }

  /** `ibv_ack_cq_events` for every event counted so far (acknowledging in batches is cheaper). */
  ackEvents(): void {
    if (this.unackedEvents === 0) return;
    verbs().ibv_ack_cq_events(this.handle, this.unackedEvents);
    this.unackedEvents = 0;
  }

  /** Acknowledges pending events, then `ibv_destroy_cq`; idempotent. Fails (EBUSY) while a QP uses the CQ. */
  destroy(): void {
    if (this.destroyed) return;
    this.ackEvents();
    const rc = verbs().ibv_destroy_cq(this.handle);
    if (rc !== 0) throw new VerbsError(`ibv_destroy_cq(${this.context.deviceName})`, rc);
    this.destroyed = true;
    this.channel?.detach(this);
    this.context.release(this);
  }
}
