/**
 * One lane of a sender's link: an RC queue pair on one device, the writes queued for it, and the
 * accounting of its send queue.
 *
 * Decisions:
 * - Work-request ids are the lane's id (from the device's poller) in the high word and a per-lane
 *   sequence (1, 2, ...) in the low word. RC completes a queue pair's requests in order, so a
 *   signaled completion for sequence s means every request up to s is done: selective signaling
 *   needs no per-request bookkeeping. The low word wraps; a completion is placed by its distance
 *   from the last one (always less than the send queue's depth).
 * - Bounded send queue: at most `depth` requests are posted and not yet known complete; the rest
 *   wait in `queued`. Signaled are: every SIGNAL_EVERY-th request, the last piece a write puts on
 *   this lane (its completion settles that write's part), and the last request of each post (so the
 *   queue can always drain, whatever is posted later).
 * - Completions arrive from the device's poller worker (src/transfer/verbs/poller/) through `complete`;
 *   this thread never polls. A failed completion, a refused post or a lost poller is reported to
 *   the sender once (`onFailure`, with the verbs status name); the sender drops the whole link,
 *   since the queue pair is in the error state from then on.
 */
import type { LaneHandler } from './poller/device-poller.js';
import { completionStatusName, WC_STATUS, type RdmaWrite } from '../../../native/verbs/index.js';
import type { LinkQp, VerbsDevice } from './verbs-device.js';
import type { WritePiece } from './stripe-plan.js';

/** Signal at least every this many requests, so completions free send-queue slots steadily. */
export const SIGNAL_EVERY = 32;
const WORD = 2 ** 32;

/** What a lane settles: a write's share of one lane. */
export interface LanePart {
  done(): void;
}

interface Queued {
  piece: WritePiece;
  /** Set on the write's last piece on this lane. */
  part: LanePart | null;
}

export class SendLane implements LaneHandler {
  private readonly queued: Queued[] = [];
  /** Parts waiting for the completion of the request sequence they end with, oldest first. */
  private readonly waiting: { seq: number; part: LanePart }[] = [];
  private readonly id: number;
  private posted = 0;
  private completed = 0;
  private failed = false;

  constructor(
    private readonly device: VerbsDevice,
    private readonly link: LinkQp,
    private readonly remoteAddr: bigint,
    private readonly rkey: number,
    private readonly onFailure: (reason: string) => void,
  ) {
    this.id = device.poller.register(this);
  }

  private get depth(): number {
    return this.link.qp.capabilities.maxSendWr;
  }

  /** Queues a write's pieces for this lane; `part` is done once they all completed. */
  enqueue(pieces: readonly WritePiece[], part: LanePart): void {
    if (pieces.length === 0) {
      part.done();
      return;
    }
    pieces.forEach((piece, i) => this.queued.push({ piece, part: i === pieces.length - 1 ? part : null }));
    this.post();
  }

  /** Posts what fits in the send queue. */
  private post(): void {
    const room = this.depth - (this.posted - this.completed);
    if (this.failed || room <= 0 || this.queued.length === 0) return;
    const batch = this.queued.splice(0, room);
    const region = this.device.region;
    const writes: RdmaWrite[] = batch.map((q, i) => {
      const seq = this.posted + 1 + i;
      if (q.part) this.waiting.push({ seq, part: q.part });
      return {
        wrId: this.id * WORD + (seq % WORD),
        localAddr: region.addr + BigInt(q.piece.src),
        length: q.piece.length,
        lkey: region.lkey,
        remoteAddr: this.remoteAddr + BigInt(q.piece.dst),
        rkey: this.rkey,
        signaled: q.part !== null || i === batch.length - 1 || seq % SIGNAL_EVERY === 0,
      };
    });
    try {
      this.link.qp.postWrites(writes);
    } catch (err) {
      this.fail(`${this.device.name}: ${(err as Error).message}`);
      return;
    }
    this.posted += batch.length;
  }

  /** A completion from the poller: settles the parts it finishes and posts what now fits. */
  complete(seqLow: number, status: number, vendorErr: number): void {
    if (this.failed) return;
    if (status !== WC_STATUS.IBV_WC_SUCCESS) {
      this.fail(`${this.device.name}: RDMA WRITE failed with ${completionStatusName(status)} (vendor error 0x${vendorErr.toString(16)})`);
      return;
    }
    this.completed += (seqLow - (this.completed % WORD)) >>> 0;
    while (this.waiting.length > 0 && this.waiting[0].seq <= this.completed) this.waiting.shift()!.part.done();
    this.post();
  }

  lost(reason: string): void {
    this.fail(reason);
  }

  /** Stops taking completions (the link is being destroyed). */
  close(): void {
    this.failed = true;
    this.device.poller.unregister(this.id);
  }

  private fail(reason: string): void {
    if (this.failed) return;
    this.close();
    this.onFailure(reason);
  }
}
