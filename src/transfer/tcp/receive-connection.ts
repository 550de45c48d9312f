/**
 * One sender's connection on the receiving side: parses its frames (see wire.ts) and copies each
 * write's bytes straight from the socket's chunks into the pool at the destination offsets.
 *
 * Decisions:
 * - No staging buffer: a chunk is copied (Buffer.copy) into a view of the current run, split at run
 *   boundaries; one view per run (see pool-views.ts), nothing allocated per chunk. Only heads and run
 *   tables go through the reusable Collector.
 * - The whole run table is checked against the pool before the first byte of the write is taken: a
 *   bad write is refused with nothing written.
 * - Any bad frame refuses the connection: a REFUSED frame with the reason, then the connection closes
 *   (forcibly after a short grace, so a peer that keeps sending cannot hold it). Nothing throws out of
 *   here: one bad peer never takes the receiver down.
 * - Writes on one connection are handled strictly in order, so ACKs leave in order.
 */
import type { Socket } from 'node:net';
import type { PoolRegion } from '../kv-transfer.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';
import { runProblem } from '../run-bounds.js';
import { Collector } from './collector.js';
import { decodeHead, encodeHead, encodeRefused, HEAD_BYTES, Kind, RUN_BYTES } from './wire.js';

/** How long a refused peer may take to read the REFUSED frame before the connection is destroyed. */
const REFUSE_GRACE_MS = 1000;

type State = 'hello' | 'head' | 'runs' | 'data' | 'closed';

const NOTHING: Buffer = Buffer.alloc(0);

export class ReceiveConnection {
  private readonly buffer: ArrayBuffer | SharedArrayBuffer;
  private readonly numPages: number;
  private readonly pageBytes: number;
  private readonly collector = new Collector(HEAD_BYTES);
  private state: State = 'hello';
  private writeId = 0;
  private runCount = 0;
  /** Per run of the current write: pool byte offset and byte length (reused, grown as needed). */
  private offsets = new Float64Array(16);
  private lengths = new Float64Array(16);
  private run = 0;
  /** Bytes of the current run already in the pool. */
  private done = 0;
  /** The view of the current run being filled (one per run, or per MAX_VIEW_BYTES of it). */
  private target: Buffer = NOTHING;
  private targetAt = 0;

  constructor(private readonly socket: Socket, pool: PoolRegion, private readonly onRefuse: (reason: string) => void) {
    this.buffer = pool.buffer;
    this.numPages = pool.numPages;
    this.pageBytes = pool.pageBytes;
    this.collector.expect(HEAD_BYTES);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // a sender that dies resets the connection: nothing to do but let it close
    socket.on('error', () => {});
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.state !== 'closed') {
      if (this.state === 'data') {
        pos = this.copy(chunk, pos);
        continue;
      }
      pos = this.collector.take(chunk, pos);
      if (this.collector.complete) this.onPiece(this.collector.bytes);
    }
  }

  /** Copies what `chunk` holds of the current run into the pool; returns the new position. */
  private copy(chunk: Buffer, pos: number): number {
    if (this.targetAt === this.target.length) {
      const bytes = Math.min(MAX_VIEW_BYTES, this.lengths[this.run] - this.done);
      this.target = Buffer.from(this.buffer, this.offsets[this.run] + this.done, bytes);
      this.targetAt = 0;
    }
    const n = chunk.copy(this.target, this.targetAt, pos);
    this.targetAt += n;
    this.done += n;
    if (this.done === this.lengths[this.run]) {
      this.done = 0;
      this.target = NOTHING;
      this.targetAt = 0;
      if (++this.run === this.runCount) this.finishWrite();
    }
    return pos + n;
  }

  private onPiece(bytes: Buffer): void {
    try {
      if (this.state === 'runs') return this.onRuns(bytes);
      const head = decodeHead(bytes);
      if (this.state === 'hello') return this.onHello(head.kind, head.a);
      this.onWriteHead(head.kind, head.a, head.b);
    } catch (err) {
      this.refuse((err as Error).message);
    }
  }

  private onHello(kind: Kind, pageBytes: number): void {
    if (kind !== Kind.Hello) return this.refuse(`expected HELLO, got frame kind ${kind}`);
    if (pageBytes !== this.pageBytes) {
      return this.refuse(`page size mismatch: the sender's pages are ${pageBytes} B, this pool's are ${this.pageBytes} B (different KV layout)`);
    }
    this.socket.write(encodeHead(Kind.Welcome, this.numPages, this.pageBytes));
    this.expectHead();
  }

  private onWriteHead(kind: Kind, id: number, runCount: number): void {
    if (kind !== Kind.Write) return this.refuse(`expected WRITE, got frame kind ${kind}`);
    if (runCount > this.numPages) return this.refuse(`write ${id} has ${runCount} runs, more than the pool's ${this.numPages} pages`);
    this.writeId = id;
    this.runCount = runCount;
    if (runCount === 0) return this.finishWrite();
    if (runCount > this.offsets.length) {
      this.offsets = new Float64Array(runCount);
      this.lengths = new Float64Array(runCount);
    }
    this.state = 'runs';
    this.collector.expect(runCount * RUN_BYTES);
  }

  private onRuns(table: Buffer): void {
    for (let i = 0, at = 0; i < this.runCount; i++, at += RUN_BYTES) {
      const dst = table.readUInt32LE(at);
      const count = table.readUInt32LE(at + 4);
      const problem = runProblem(dst, count, this.numPages);
      if (problem) return this.refuse(`write ${this.writeId}, run ${i}: ${problem}`);
      this.offsets[i] = dst * this.pageBytes;
      this.lengths[i] = count * this.pageBytes;
    }
    this.run = 0;
    this.done = 0;
    this.state = 'data';
  }

  private finishWrite(): void {
    this.socket.write(encodeHead(Kind.Ack, this.writeId, 0));
    this.expectHead();
  }

  private expectHead(): void {
    this.state = 'head';
    this.collector.expect(HEAD_BYTES);
  }

  private refuse(reason: string): void {
    this.state = 'closed';
    this.onRefuse(reason);
    this.socket.end(encodeRefused(reason));
    setTimeout(() => this.socket.destroy(), REFUSE_GRACE_MS).unref();
  }
}
