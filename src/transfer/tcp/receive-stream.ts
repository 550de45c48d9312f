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
 * - The whole run table is checked against the pool and against the room's grant (grant-table.ts:
 *   every page granted to the write's room, the room to this connection's writer) before any byte of
 *   the write is taken, and a direct read only starts once it is: a bad write is refused with nothing
 *   written.
 * - `cut` destroys the connection at once: reads are synchronous on this thread, so once it returns
 *   no byte read from this connection lands any more (how a release or a lost writer stops a write
 *   that is under way).
 * - ACKs are cumulative and sent once per read, for the last write it completed: pipelined small
 *   writes cost one ACK per read, not one per write, and a write is never acknowledged before its
 *   last byte is in the pool.
 * - Any bad frame refuses the connection (refuse-connection.ts). Nothing throws out of here: one bad
 *   peer never takes the receiver down. Writes are handled strictly in order.
 */
import { connect, type Socket } from 'node:net';
import type { PoolRegion } from '../kv-transfer.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';
import { runProblem } from '../run-bounds.js';
import { Collector } from './collector.js';
import { refuseConnection } from './refuse-connection.js';
import type { GrantTable } from './grant-table.js';
import { decodeHead, encodeHead, HEAD_BYTES, Kind, ROOM_BYTES, RUN_BYTES } from './wire.js';

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
  /** The room of the write being read (valid in 'runs' and 'data'). */
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
  }

  /** Whether a write of `room` is being read (its run table or its bytes). */
  writing(room: bigint): boolean {
    return (this.state === 'runs' || this.state === 'data') && this.room === room;
  }

  /** Destroys the connection now: no further byte of it lands. */
  cut(): void {
    this.state = 'closed';
    this.socket.destroy();
  }

  /** Where the next read goes. */
  private nextBuffer(): Uint8Array {
    if (this.state === 'data') {
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
    if (this.direct) this.landed(n);
    else this.parse(n);
    if (this.ackDue >= 0 && this.state !== 'closed') {
      this.socket.write(encodeHead(Kind.Ack, this.ackDue, 0));
      this.ackDue = -1;
    }
    return true;
  }

  /** `n` bytes of the current run arrived in the pool. */
  private landed(n: number): void {
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
        pos = this.copyStaged(pos, n);
        continue;
      }
      pos = this.collector.take(this.staging, pos, n);
      if (this.collector.complete) this.onPiece(this.collector.bytes);
    }
  }

  /** Copies what staging holds of the current run into the pool; returns the new position. */
  private copyStaged(pos: number, end: number): number {
    const n = Math.min(end - pos, this.lengths[this.run] - this.done, MAX_VIEW_BYTES);
    this.staging.copy(new Uint8Array(this.buffer, this.offsets[this.run] + this.done, n), 0, pos, pos + n);
    this.landed(n);
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
    const denied = this.grants.roomProblem(this.room, this.writer);
    if (denied) return this.refuse(`write ${this.writeId}: ${denied}`);
    for (let i = 0, at = ROOM_BYTES; i < this.runCount; i++, at += RUN_BYTES) {
      const dst = table.readUInt32LE(at);
      const count = table.readUInt32LE(at + 4);
      const problem = runProblem(dst, count, this.numPages) ?? this.grants.runProblem(this.room, dst, count);
      if (problem) return this.refuse(`write ${this.writeId}, run ${i}: ${problem}`);
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
    this.ackDue = this.writeId;
    this.state = 'head';
    this.collector.expect(HEAD_BYTES);
  }

  private refuse(reason: string): void {
    this.state = 'closed';
    this.onRefuse(reason);
    refuseConnection(this.socket, reason);
  }
}
