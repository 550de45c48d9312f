/**
 * One lane of a sender's link: an RC queue pair on one device, the writes queued for it, and the
 * accounting of its send queue.
 *
 * Decisions:
 * - Work-request ids are a per-lane sequence (1, 2, ...). RC completes a queue pair's requests in
 *   order, so a signaled completion for id s means every request up to s is done: selective
 *   signaling needs no per-request bookkeeping.
 * - Bounded send queue: at most `depth` requests are posted and not yet known complete; the rest
 *   wait in `queued`. Signaled are: every SIGNAL_EVERY-th request, the last piece a write puts on
 *   this lane (its completion settles that write's part), and the last request of each post (so the
 *   queue can always drain, whatever is posted later).
 * - A failed completion (or a refused post) is reported to the sender as its verbs status name; the
 *   sender drops the whole link, since the queue pair is in the error state from then on.
 */
import { completionStatusName, WC_STATUS, type RdmaWrite } from '../../../native/verbs/index.js';
import type { LinkQp } from './verbs-device.js';
import type { WritePiece } from './write-plan.js';

/** Signal at least every this many requests, so completions free send-queue slots steadily. */
export const SIGNAL_EVERY = 32;

/** What a lane settles: a write's share of one lane. */
export interface LanePart {
  done(): void;
}

interface Queued {
  piece: WritePiece;
  /** Set on the write's last piece on this lane. */
  part: LanePart | null;
}

export class LaneFailure extends Error {
  override name = 'LaneFailure';
}

export class SendLane {
  private readonly queued: Queued[] = [];
  /** Parts waiting for the completion of the request id they end with, oldest first. */
  private readonly waiting: { seq: number; part: LanePart }[] = [];
  private posted = 0;
  private completed = 0;

  constructor(
    readonly device: string,
    private readonly link: LinkQp,
    private readonly lkey: number,
    private readonly localAddr: bigint,
    private readonly remoteAddr: bigint,
    private readonly rkey: number,
    private readonly depth: number,
  ) {}

  /** True while requests are posted or queued. */
  get busy(): boolean {
    return this.posted > this.completed || this.queued.length > 0;
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

  /** Posts what fits in the send queue. Throws LaneFailure if the provider refuses. */
  post(): void {
    const room = this.depth - (this.posted - this.completed);
    if (room <= 0 || this.queued.length === 0) return;
    const batch = this.queued.splice(0, room);
    const writes: RdmaWrite[] = batch.map((q, i) => {
      const seq = this.posted + 1 + i;
      if (q.part) this.waiting.push({ seq, part: q.part });
      return {
        wrId: seq,
        localAddr: this.localAddr + BigInt(q.piece.src),
        length: q.piece.length,
        lkey: this.lkey,
        remoteAddr: this.remoteAddr + BigInt(q.piece.dst),
        rkey: this.rkey,
        signaled: q.part !== null || i === batch.length - 1 || seq % SIGNAL_EVERY === 0,
      };
    });
    try {
      this.link.qp.postWrites(writes);
    } catch (err) {
      throw new LaneFailure(`${this.device}: ${(err as Error).message}`);
    }
    this.posted += batch.length;
  }

  /**
   * Reads completions, settles the parts they finish and posts what now fits. Returns how many
   * completions it read; throws LaneFailure with the status name on a failed one.
   */
  poll(): number {
    const completions = this.link.cq.poll();
    for (const wc of completions) {
      if (wc.status !== WC_STATUS.IBV_WC_SUCCESS) {
        throw new LaneFailure(`${this.device}: RDMA WRITE failed with ${completionStatusName(wc.status)} (vendor error 0x${wc.vendorErr.toString(16)})`);
      }
      this.completed = wc.wrId;
      while (this.waiting.length > 0 && this.waiting[0].seq <= this.completed) this.waiting.shift()!.part.done();
    }
    if (completions.length > 0) this.post();
    return completions.length;
  }
}
