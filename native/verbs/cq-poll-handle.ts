/**
 * A completion queue and its completion channel driven by raw handles from a thread other than the
 * one that made them: a device's completion poller (src/transfer/verbs/poller/). The owning thread keeps the
 * `CompletionQueue` / `CompletionChannel` objects (and destroys them); this side only polls, arms,
 * takes and acknowledges events.
 *
 * Decisions:
 * - Handles are plain numbers and BigInts, so they cross `workerData`; the inline verbs are read from
 *   the context's ops table again on this thread (ContextOps), since koffi functions are per thread.
 * - `poll` leaves the completions in `view` (one `struct ibv_wc` per WC_BYTES) instead of decoding
 *   them into objects: the poller copies the members it forwards, and allocates nothing per poll.
 * - `takeEvent` checks the event is for this CQ: a device's channel serves exactly one CQ.
 */
import koffi from 'koffi';
import { ContextOps } from './context-ops.js';
import { VerbsError } from './errors.js';
import { verbs } from './library.js';
import { Scratch } from './scratch.js';
import { WC_BYTES } from './work-completions.js';

/** What another thread needs to drive a CQ and its channel. */
export interface CqHandles {
  deviceName: string;
  context: bigint;
  cq: bigint;
  channel: bigint;
  channelFd: number;
}

export class CqPollHandle {
  readonly view: DataView;
  private readonly ops: ContextOps;
  private readonly wc: Uint8Array;
  private readonly cqOut = new BigUint64Array(1);
  private readonly cqContextOut = new BigUint64Array(1);

  /** `batch`: the most completions one `poll` reads. */
  constructor(readonly handles: CqHandles, readonly batch: number) {
    this.ops = new ContextOps(handles.context);
    const scratch = new Scratch(batch * WC_BYTES);
    this.wc = scratch.bytes;
    this.view = scratch.view;
  }

  /** `ibv_poll_cq` for up to min(max, batch) completions; returns how many are now in `view`. */
  poll(max: number): number {
    const n = this.ops.pollCq(this.handles.cq, Math.min(max, this.batch), this.wc);
    if (n < 0) throw new VerbsError('ibv_poll_cq', 0, `ibv_poll_cq(${this.handles.deviceName}) failed (returned ${n})`);
    return n;
  }

  /** `ibv_req_notify_cq(cq, 0)`: the channel gets an event at the next completion. */
  arm(): void {
    const rc = this.ops.reqNotifyCq(this.handles.cq, 0);
    if (rc !== 0) throw new VerbsError(`ibv_req_notify_cq(${this.handles.deviceName})`, rc);
  }

  /** `ibv_get_cq_event`: takes one event (blocks unless the channel fd is readable). */
  takeEvent(): void {
    const rc = verbs().ibv_get_cq_event(this.handles.channel, this.cqOut, this.cqContextOut);
    if (rc !== 0) throw new VerbsError(`ibv_get_cq_event(${this.handles.deviceName})`, koffi.errno());
    if (this.cqOut[0] !== this.handles.cq) throw new Error(`ibv_get_cq_event(${this.handles.deviceName}) returned another CQ (0x${this.cqOut[0].toString(16)})`);
  }

  /** `ibv_ack_cq_events` for `count` taken events. */
  ack(count: number): void {
    verbs().ibv_ack_cq_events(this.handles.cq, count);
  }
}
