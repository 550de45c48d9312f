/**
 * The tcp backend's sender: one link to one decode node's receiver (see wire.ts for frames).
 *
 * Decisions:
 * - Two connections per link. The sender dials the receiver's published port (control), the receiver
 *   dials back to a port the sender names (data; dial-back.ts), and all KV bytes and ACKs travel on
 *   the data connection. Why: Node lets a socket read into a caller's buffer (`onread`) only on
 *   sockets it dials, and that is what lets the receiver put bytes straight into its pool instead of
 *   copying every socket chunk (receive-stream.ts). The cost: the prefill node must accept
 *   connections from its decode nodes (on an OS-chosen port of the address it dials them from).
 * - `connect` proves the cluster secret and presents the writer token the decode node gave this node
 *   (dial-back.ts); the receiver takes a write only into pages it granted that writer for the write's
 *   room (the room travels in every WRITE). A write it does not take (no grant, outside the grant,
 *   the room released while it was read) is answered with NACK: that one write rejects with a plain
 *   Error naming its room and the receiver's reason, and the link and the other writes carry on (a
 *   cancelled room is routine, it must not fail the rooms sharing the link).
 * - `connect` resolves only after the receiver's WELCOME, which carries its pool size and page size:
 *   runs are then checked on both sides before any byte is sent, so a bad run is a clear local error
 *   and the link stays usable; a page-size mismatch is refused at connect.
 * - Run bytes go to the socket as views of the local pool (no copy on this side), corked per pump so
 *   the head and the runs of the queued writes leave in one writev. A run is only read when it is
 *   handed to the socket, so the caller must not change `runs` or the source pages until the write
 *   settles (the scheduler's pages are pinned until then anyway).
 * - The data socket's send buffer is sized once the link is up (send-buffer.ts: a small fixed one
 *   keeps the bytes in cache on one host, 1.3-2.2 x the autotuned throughput on loopback).
 * - Writes are pipelined: sent whole and in order without waiting for ACKs, which are cumulative (one
 *   settles every write up to its id, oldest first; a NACKed write has already left the queue, since
 *   the receiver answers writes in order and sends any ACK due before a NACK). Backpressure: after `socket.write` returns false,
 *   nothing more is queued until 'drain'; the high-water mark is large since the queue only holds views.
 * - A write that times out breaks the link, failing every pending write: its bytes could still
 *   land later, into pages the decode side may have freed and reused for another request. A socket
 *   error, close or protocol violation (REFUSED included: the receiver closes the connection after it)
 *   does the same; the sender is then dead (connect again), and every such failure is a KvLinkError.
 *   A bad run and a NACK are plain Errors and leave the link alone.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { withTimeout } from '../../util/timeout.js';
import type { KvSender, PageRun, PoolRegion, WriteResult } from '../kv-transfer.js';
import { KvLinkError } from '../link-error.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';
import { checkRuns } from '../run-bounds.js';
import { Collector } from './collector.js';
import { DialBack, type DataConnection } from './dial-back.js';
import { sizeSendBuffer, type SendBuffer } from './send-buffer.js';
import { decodeHead, encodeWrite, HEAD_BYTES, Kind, MAX_REFUSAL_BYTES, writerBytes } from './wire.js';

/** The data socket's high-water mark: its queue holds views of the pool, not copies. */
const WRITE_QUEUE_BYTES = 64 << 20;

/** The receiver refused one write (NACK): that write failed, the link is fine. */
class WriteRefused extends Error {
  override name = 'WriteRefused';
}

/** What the bytes the reader is collecting are: a frame head, or the text after a REFUSED or a NACK. */
type Reading = 'head' | 'refusal' | 'nack';

interface PendingWrite {
  id: number;
  room: string;
  head: Buffer;
  runs: readonly PageRun[];
  /** Next piece to hand to the socket: -1 the head, else a run index and a byte offset in that run. */
  next: number;
  at: number;
  bytes: number;
  start: number;
  resolve: (r: WriteResult) => void;
  reject: (err: Error) => void;
}

export class TcpKvSender implements KvSender {
  /** Writes not yet acknowledged, oldest first. */
  private readonly queue: PendingWrite[] = [];
  /** Index in `queue` of the first write not yet wholly handed to the socket. */
  private sending = 0;
  private draining = false;
  private nextId = 0;
  private broken: string | null = null;
  private readonly reader = new Collector(HEAD_BYTES);
  private reading: Reading = 'head';
  /** The write a NACK being read refuses. */
  private nackId = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly pool: PoolRegion,
    private readonly peerPages: number,
    private readonly peer: string,
    /** What the data socket's send buffer became (send-buffer.ts); null: left to the kernel. */
    readonly sendBuffer: SendBuffer | null,
  ) {
    this.reader.expect(HEAD_BYTES);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.draining = false;
      this.pump();
    });
    socket.on('error', (err) => this.fail(`link failed: ${err.message}`));
    socket.on('close', () => this.fail('the receiver closed the connection'));
  }

  /** Sets up the link (dial-back.ts); resolves once the receiver welcomed this pool's page size. */
  static async connect(host: string, port: number, pool: PoolRegion, timeoutMs: number, key: Buffer, writer: string, sendBufferBytes: number): Promise<TcpKvSender> {
    const peer = `${host}:${port}`;
    const writerId = writerBytes(writer); // a bad token fails before anything is dialed
    const setup = new DialBack(connect({ host, port, noDelay: true }), WRITE_QUEUE_BYTES, key, writerId);
    let data: DataConnection;
    try {
      data = await withTimeout(setup.run(pool.pageBytes, timeoutMs), timeoutMs, `tcp KV connect to ${peer}`);
    } catch (err) {
      setup.abort();
      throw new KvLinkError(`tcp KV link to ${peer}: ${(err as Error).message}`);
    }
    if (data.peerPageBytes !== pool.pageBytes) {
      data.socket.destroy();
      throw new KvLinkError(`tcp KV link to ${peer}: page size mismatch: the receiver's pages are ${data.peerPageBytes} B, ours ${pool.pageBytes} B`);
    }
    const sender = new TcpKvSender(data.socket, pool, data.peerPages, peer, sizeSendBuffer(data.socket, sendBufferBytes));
    if (data.rest.length > 0) sender.onData(data.rest);
    data.socket.resume();
    return sender;
  }

  write(runs: readonly PageRun[], timeoutMs: number, room: string): Promise<WriteResult> {
    if (this.broken) return Promise.reject(this.error(this.broken));
    let pages: number;
    let head: Buffer;
    const id = this.nextId;
    try {
      pages = checkRuns(runs, this.pool.numPages, this.peerPages);
      head = encodeWrite(id, room, runs);
    } catch (err) {
      return Promise.reject(err);
    }
    this.nextId = (id + 1) >>> 0;
    const bytes = pages * this.pool.pageBytes;
    const done = new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ id, room, head, runs, next: -1, at: 0, bytes, start: performance.now(), resolve, reject });
    });
    if (!this.draining) this.pump();
    return withTimeout(done, timeoutMs, `write ${id} (${pages} pages)`).catch((err: Error) => {
      if (err instanceof KvLinkError || err instanceof WriteRefused) throw err;
      this.fail(err.message);
      throw this.error(err.message);
    });
  }

  async close(): Promise<void> {
    this.fail('the sender was closed');
  }

  /** Hands whole writes to the socket in order until it asks to wait for 'drain'. */
  private pump(): void {
    this.socket.cork();
    try {
      while (!this.broken && this.sending < this.queue.length) {
        const w = this.queue[this.sending];
        while (w.next < w.runs.length) {
          if (!this.socket.write(this.nextPiece(w))) {
            this.draining = true;
            return;
          }
        }
        this.sending++;
      }
    } finally {
      this.socket.uncork();
    }
  }

  /** The head, then each run as views of the pool (one per run, or per MAX_VIEW_BYTES of it). */
  private nextPiece(w: PendingWrite): Buffer {
    if (w.next < 0) {
      w.next = 0;
      return w.head;
    }
    const pageBytes = this.pool.pageBytes;
    const run = w.runs[w.next];
    const left = run.count * pageBytes - w.at;
    const bytes = Math.min(MAX_VIEW_BYTES, left);
    const piece = Buffer.from(this.pool.buffer, run.src * pageBytes + w.at, bytes);
    if (bytes === left) {
      w.next++;
      w.at = 0;
    } else {
      w.at += bytes;
    }
    return piece;
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && !this.broken) {
      pos = this.reader.take(chunk, pos);
      if (this.reader.complete) this.onFrame(this.reader.bytes);
    }
  }

  private onFrame(bytes: Buffer): void {
    if (this.reading === 'refusal') return this.fail(`the receiver refused: ${bytes.toString('utf8')}`);
    if (this.reading === 'nack') {
      const reason = bytes.toString('utf8');
      this.reading = 'head';
      this.reader.expect(HEAD_BYTES);
      return this.onNack(this.nackId, reason);
    }
    let kind: Kind, a: number, b: number;
    try {
      ({ kind, a, b } = decodeHead(bytes));
    } catch (err) {
      return this.fail(`protocol error: ${(err as Error).message}`);
    }
    this.reader.expect(HEAD_BYTES);
    if (kind === Kind.Ack) return this.onAck(a);
    if (kind === Kind.Nack && b > 0 && b <= MAX_REFUSAL_BYTES) {
      this.reading = 'nack';
      this.nackId = a;
      return this.reader.expect(b);
    }
    if (kind === Kind.Refused && a > 0 && a <= MAX_REFUSAL_BYTES) {
      this.reading = 'refusal';
      return this.reader.expect(a);
    }
    this.fail(`protocol error: unexpected frame kind ${kind}`);
  }

  /** Rejects write `id` alone: it must be the oldest unsettled write, and wholly sent. */
  private onNack(id: number, reason: string): void {
    const first = this.queue[0];
    if (!first || first.id !== id || this.sending === 0) return this.fail(`protocol error: NACK for write ${id}, expected ${first && this.sending > 0 ? first.id : 'none'}`);
    this.queue.shift();
    this.sending--;
    first.reject(new WriteRefused(`tcp KV link to ${this.peer}: write ${id} of room ${first.room} refused: ${reason}`));
  }

  /** Settles every write sent up to and including `id`, oldest first. */
  private onAck(id: number): void {
    const first = this.queue[0];
    const settles = first ? ((id - first.id) >>> 0) + 1 : 0;
    if (settles === 0 || settles > this.sending) return this.fail(`protocol error: ACK for write ${id}, expected ${first ? `${first.id} to ${(first.id + this.sending - 1) >>> 0}` : 'none'}`);
    const now = performance.now();
    for (const w of this.queue.splice(0, settles)) w.resolve({ bytes: w.bytes, runs: w.runs.length, ms: now - w.start });
    this.sending -= settles;
  }

  /** Breaks the connection for good: every pending write (and a pending connect) rejects with `reason`. */
  private fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    this.socket.destroy();
    for (const w of this.queue.splice(0)) w.reject(this.error(reason));
    this.sending = 0;
  }

  private error(reason: string): KvLinkError {
    return new KvLinkError(`tcp KV link to ${this.peer}: ${reason}`);
  }
}
