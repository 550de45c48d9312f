/**
 * The transfer actor's requests in arrival order, read off its port as they queue, and the rule for
 * when the replies made so far leave before the turn ends.
 *
 * Decisions:
 * - Requests queued behind the one that woke the thread are read (receiveMessageOnPort) before each
 *   is started, so one turn handles them all in order, those that arrive while it copies included.
 * - The replies of a turn normally leave together at its end (src/util/actor/reply-batch.ts). A
 *   client that keeps several writes in flight can then refill only after the turn, and the actor
 *   idles for that round trip (two cross-thread wake-ups, 50-70 us on the reference VM, where a
 *   1 MiB copy takes 16-32 us). So before a write of at least EARLY_REPLY_BYTES starts, with at most
 *   REFILL_BYTES of writes queued from it on, the replies made so far leave: the client refills
 *   while the actor copies the rest. Measured (bench/README.md, shm, 4 writes in flight): 256 KiB
 *   0.43 -> 0.66-0.71 x Buffer.copy, 1 MiB 0.89-0.96 -> 1.25-1.28; a bound of 4 MiB (a reply per
 *   1 MiB write) gave 0.94-1.06 at 1 MiB, no bound at all 1.02-1.03. With the other core taken by
 *   a CPU hog, a reply per 256 KiB write costs a little more than it saves (0.46-0.48 -> 0.41).
 * - Smaller writes keep one reply message per turn: their copies are too short to hide the post
 *   and the wake-up it costs (the reason replies are batched).
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { ReplyBatch } from '../../src/util/actor/reply-batch.js';
import type { TransferReply, TransferRequest } from './protocol.js';

/** A write this large takes long enough to copy (4 us at 65 GB/s) to hide much of a reply's post. */
export const EARLY_REPLY_BYTES = 256 << 10;
/** The replies leave once this little work (the write about to start and those behind it) is left. */
export const REFILL_BYTES = 1 << 20;

export class RequestQueue {
  private readonly requests: TransferRequest[] = [];
  /** Bytes of the writes in `requests`. */
  private bytes = 0;

  constructor(
    private readonly port: MessagePort,
    private readonly pageBytes: number,
    private readonly replies: ReplyBatch<TransferReply>,
  ) {}

  /** One turn: starts `first` (which woke the thread) and every request queued behind it, in order, with `serve`. */
  turn(first: TransferRequest, serve: (req: TransferRequest) => void): void {
    this.push(first);
    for (let req = this.next(); req; req = this.next()) {
      if (this.replies.waiting > 0 && this.refillDue(req)) this.replies.flush();
      serve(req);
    }
  }

  private push(req: TransferRequest): void {
    this.requests.push(req);
    this.bytes += this.bytesOf(req);
  }

  /** The next request to start (reading what has queued on the port first), or undefined. */
  private next(): TransferRequest | undefined {
    for (let queued = receiveMessageOnPort(this.port); queued; queued = receiveMessageOnPort(this.port)) this.push(queued.message as TransferRequest);
    const req = this.requests.shift();
    if (req) this.bytes -= this.bytesOf(req);
    return req;
  }

  /** Whether the replies waiting should leave before `req` (just taken by `next`) starts. */
  private refillDue(req: TransferRequest): boolean {
    const bytes = this.bytesOf(req);
    return bytes >= EARLY_REPLY_BYTES && bytes + this.bytes <= REFILL_BYTES;
  }

  private bytesOf(req: TransferRequest): number {
    if (req.type !== 'write') return 0;
    let pages = 0;
    for (const r of req.runs) if (r.count > 0) pages += r.count; // a bad run fails its write later, not this sum
    return pages * this.pageBytes;
  }
}
