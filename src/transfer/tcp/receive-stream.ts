/**
 * The receiving end of one link's data connection: the receiver dialed it (see tcp-sender.ts), so it
 * can read with `onread`, and reads the bytes of large runs straight into the pool; it parses the
 * frames (see wire.ts) and acknowledges writes.
 *
 * Decisions:
 * - Each read goes either straight into the pool (a view of the rest of the current run, when at
 *   least DIRECT_MIN_BYTES of it are still to come) or into one reusable staging buffer (heads, run
 *   tables, and the bytes of small runs, copied into the pool from there: one syscall per small run
 *   would cost more than the copy). A direct read never passes the run's end, so the next frame is
 *   always read through staging. Nothing is allocated per read but one pool view per direct read or
 *   per run piece copied from staging.
 * - After a write that was read straight into the pool, the next head is read through a small
 *   window of staging (SMALL_READ_BYTES): a full staging read would take (and copy) the first 256 KiB
 *   of the next large write too. After a write of small runs the whole staging buffer is used, so
 *   a stream of small writes is still read many at a time.
 * - The whole run table is checked against the pool before any byte of the write is taken: a run
 *   outside the pool (or a bad frame) is a broken or hostile peer, and refuses the connection
 *   (refuse-connection.ts).
 * - A write the grants do not allow (grant-table.ts: every page granted to the write's room, the
 *   room to this connection's writer) fails alone: its bytes are read into staging and dropped,
 *   never into the pool, then it is answered with NACK and the next frame is read. A refused write
 *   is the normal end of a cancelled room (decode released it before prefill heard), so it must not
 *   touch the other rooms in flight on the link. Reading the bytes keeps the stream in step (the
 *   sender has already sent them); a direct read only starts once the table passed both checks.
 * - `stopRoom` (a release while a write of that room is being read) switches the rest of that write
 *   to the same discard path and NACKs it. Reads run on this thread, so they cannot interleave with
 *   the release, with one catch: Node picks the buffer of a read right after the previous read
 *   (onread's `buffer` function), so when the release comes the next read may already be aimed at a
 *   view of the pool. stopRoom then returns a promise that resolves once that one read has landed
 *   (or the connection closed): every read after it goes to staging, so from then on no byte of the
 *   write lands. The sender is mid-write, so that read normally comes at once; the receiver bounds
 *   the wait (tcp-receiver.ts). Node offers no public way to swap a pending read buffer.
 * - `cut` destroys the connection at once (a lost writer): once it returns no byte read from this
 *   connection lands any more.
 * - ACKs are cumulative over the writes that were taken, sent once per read for the last write it
 *   completed: pipelined small writes cost one ACK per read, not one per write, and a write is never
 *   acknowledged before its last byte is in the pool. A pending ACK goes out before a NACK, so the
 *   sender always sees its writes settled oldest first.
 * - Nothing throws out of here: one bad peer never takes the receiver down. Writes are handled
 *   strictly in order.
 */
import { connect, type Socket } from 'node:net';
import type { PoolRegion } from '../kv-transfer.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';
import { runProblem } from '../run-bounds.js';
import { Collector } from './collector.js';
import { refuseConnection } from './refuse-connection.js';
import type { GrantTable } from './grant-table.js';
import { decodeHead, encodeHead, encodeNack, HEAD_BYTES, Kind, ROOM_BYTES, RUN_BYTES } from './wire.js';

/** Runs with less than this left are read through staging. */
const DIRECT_MIN_BYTES = 64 * 1024;
const STAGING_BYTES = 256 * 1024;
/** The staging window for the head of a write that follows a large one. */
const SMALL_READ_BYTES = 4096;

type State = 'head' | 'runs' | 'data' | 'closed';

export class ReceiveStream {
  readonly socket: Socket;
  private readonly buffer: ArrayBuffer | SharedArrayBuffer;
  private readonly numPages: number;
  private readonly pageBytes: number;
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  private readonly smallStaging = this.staging.subarray(0, SMALL_READ_BYTES);
  /** Whether part of the current write was read straight into the pool. */
  private readDirect = false;
  /** Whether the last write finished was (so the next head is read through the small window). */
  private lastReadDirect = false;
  private readonly collector = new Collector(HEAD_BYTES);
  private state: State = 'head';
  /** Whether the read under way goes straight into the pool (else into staging). */
  private direct = false;
  private writeId = 0;
  /** The room of the write being read (valid in 'data'). */
  private room = 0n;
  private runCount = 0;
  /** Per run of the current write: pool byte offset and byte length (reused, grown as needed). */
  private offsets = new Float64Array(16);
  private lengths = new Float64Array(16);
  private run = 0;
  /** Bytes of the current run already in the pool. */
  private done = 0;
  /** The last write completed and not yet acknowledged, or -1. */
  private ackDue = -1;
  /** Why the write being read is refused (its bytes are dropped, it is NACKed), or null. */
  private refusal: string | null = null;
  /** Told once the read already aimed at the pool when the write was stopped has landed. */
  private stopped: (() => void) | null = null;

  /**
   * Dials the sender at `host:port` and sends `welcome` (WELCOME, token, proof) as the first frame;
   * takes writes of `writer` (hex) that `grants` allow.
   */
  constructor(
    pool: PoolRegion,
    host: string,
    port: number,
    welcome: Buffer,
    readonly writer: string,
    private readonly grants: GrantTable,
    private readonly onRefuse: (reason: string) => void,
    private readonly onNack: (reason: string) => void,
  ) {
    this.buffer = pool.buffer;
    this.numPages = pool.numPages;
    this.pageBytes = pool.pageBytes;
    this.collector.expect(HEAD_BYTES);
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: () => this.nextBuffer(), callback: (n) => this.onRead(n) },
    });
    this.socket.write(welcome);
    // a sender that dies resets the connection: nothing to do but let it close
    this.socket.on('error', () => {});
    this.socket.once('close', () => this.readLanded());
  }

  /**
   * The room's grant was dropped: if a write of `room` is being read, the rest of its bytes are
   * dropped and it is NACKed. Returns null if no byte of it can land any more, else a promise that
   * resolves once the read already aimed at the pool has landed (see the header). (A write whose run
   * table is still coming is checked against the grant when the table is complete.)
   */
  stopRoom(room: bigint): Promise<void> | null {
    if (this.state !== 'data' || this.room !== room || this.refusal !== null) return null;
    this.refusal = `room ${room} was released while this write was being read`;
    if (!this.direct) return null;
    return new Promise((resolve) => (this.stopped = resolve));
  }

  /** Destroys the connection now: no further byte of it lands. */
  cut(): void {
    this.state = 'closed';
    this.socket.destroy();
  }

  /** Where the next read goes. */
  private nextBuffer(): Uint8Array {
    if (this.state === 'data' && this.refusal === null) {
      const left = this.lengths[this.run] - this.done;
      if (left >= DIRECT_MIN_BYTES) {
        this.direct = true;
        this.readDirect = true;
        return new Uint8Array(this.buffer, this.offsets[this.run] + this.done, Math.min(left, MAX_VIEW_BYTES));
      }
    }
    this.direct = false;
    return this.state === 'head' && this.lastReadDirect ? this.smallStaging : this.staging;
  }

  private onRead(n: number): boolean {
    if (this.direct) this.advance(n);
    else this.parse(n);
    this.sendAck();
    this.readLanded();
    return true;
  }

  private readLanded(): void {
    const stopped = this.stopped;
    this.stopped = null;
    stopped?.();
  }

  private sendAck(): void {
    if (this.ackDue >= 0 && this.state !== 'closed') {
      this.socket.write(encodeHead(Kind.Ack, this.ackDue, 0));
      this.ackDue = -1;
    }
  }

  /** `n` bytes of the current run were taken (into the pool, or dropped for a refused write). */
  private advance(n: number): void {
    this.done += n;
    if (this.done < this.lengths[this.run]) return;
    this.done = 0;
    if (++this.run === this.runCount) this.finishWrite();
  }

  /** Takes the `n` bytes read into staging. */
  private parse(n: number): void {
    let pos = 0;
    while (pos < n && this.state !== 'closed') {
      if (this.state === 'data') {
        pos = this.takeStaged(pos, n);
        continue;
      }
      pos = this.collector.take(this.staging, pos, n);
      if (this.collector.complete) this.onPiece(this.collector.bytes);
    }
  }

  /**
   * Copies what staging holds of the current run into the pool (drops it if the write is refused);
   * returns the new position.
   */
  private takeStaged(pos: number, end: number): number {
    const n = Math.min(end - pos, this.lengths[this.run] - this.done, MAX_VIEW_BYTES);
    if (this.refusal === null) this.staging.copy(new Uint8Array(this.buffer, this.offsets[this.run] + this.done, n), 0, pos, pos + n);
    this.advance(n);
    return pos + n;
  }

  private onPiece(bytes: Buffer): void {
    try {
      if (this.state === 'runs') return this.onRuns(bytes);
      const head = decodeHead(bytes);
      this.onWriteHead(head.kind, head.a, head.b);
    } catch (err) {
      this.refuse((err as Error).message);
    }
  }

  private onWriteHead(kind: Kind, id: number, runCount: number): void {
    if (kind !== Kind.Write) return this.refuse(`expected WRITE, got frame kind ${kind}`);
    if (runCount > this.numPages) return this.refuse(`write ${id} has ${runCount} runs, more than the pool's ${this.numPages} pages`);
    this.writeId = id;
    this.runCount = runCount;
    if (runCount > this.offsets.length) {
      this.offsets = new Float64Array(runCount);
      this.lengths = new Float64Array(runCount);
    }
    this.state = 'runs';
    this.collector.expect(ROOM_BYTES + runCount * RUN_BYTES);
  }

  private onRuns(table: Buffer): void {
    this.room = table.readBigUInt64LE(0);
    this.refusal = this.grants.roomProblem(this.room, this.writer);
    for (let i = 0, at = ROOM_BYTES; i < this.runCount; i++, at += RUN_BYTES) {
      const dst = table.readUInt32LE(at);
      const count = table.readUInt32LE(at + 4);
      const problem = runProblem(dst, count, this.numPages);
      if (problem) return this.refuse(`write ${this.writeId}, run ${i}: ${problem}`);
      if (this.refusal === null) {
        const denied = this.grants.runProblem(this.room, dst, count);
        if (denied) this.refusal = `run ${i}: ${denied}`;
      }
      this.offsets[i] = dst * this.pageBytes;
      this.lengths[i] = count * this.pageBytes;
    }
    if (this.runCount === 0) return this.finishWrite();
    this.run = 0;
    this.done = 0;
    this.state = 'data';
  }

  private finishWrite(): void {
    this.lastReadDirect = this.readDirect;
    this.readDirect = false;
    if (this.refusal === null) {
      this.ackDue = this.writeId;
    } else {
      this.sendAck();
      this.socket.write(encodeNack(this.writeId, this.refusal));
      this.onNack(`write ${this.writeId}: ${this.refusal}`);
      this.refusal = null;
    }
    this.state = 'head';
    this.collector.expect(HEAD_BYTES);
  }

  private refuse(reason: string): void {
    this.state = 'closed';
    this.onRefuse(reason);
    refuseConnection(this.socket, reason);
  }
}
