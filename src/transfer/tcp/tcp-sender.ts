/**
 * The tcp backend's sender: one connection to one decode node's receiver (see wire.ts for frames).
 *
 * Decisions:
 * - `connect` resolves only after the receiver's WELCOME, which carries its pool size and page size:
 *   runs are then checked on both sides before any byte is sent, so a bad run is a clear local error
 *   and the connection stays usable; a page-size mismatch is refused at connect.
 * - Run bytes go to the socket as views of the local pool (Buffer.from over the pool's
 *   SharedArrayBuffer or external ArrayBuffer: no copy on this side). A run is only read when it is
 *   handed to the socket, so the caller must not change `runs` or the source pages until the write
 *   settles (the scheduler's pages are pinned until then anyway).
 * - Backpressure: after `socket.write` returns false, nothing more is queued until 'drain'; writes are
 *   sent whole and in order, and ACKs (in order) settle them oldest first.
 * - A write that times out breaks the connection, failing every pending write: its bytes could still
 *   land later, into pages the decode side may have freed and reused for another request. A socket
 *   error, close or protocol violation does the same; the sender is then dead (connect again), and
 *   every such failure is a KvLinkError. A bad run is a plain Error and leaves the link alone.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { withTimeout } from '../../node/timeout.js';
import type { KvSender, PageRun, PoolRegion, WriteResult } from '../kv-transfer.js';
import { KvLinkError } from '../link-error.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';
import { checkRuns } from '../run-bounds.js';
import { Collector } from './collector.js';
import { decodeHead, encodeHead, encodeWrite, HEAD_BYTES, Kind, MAX_REFUSAL_BYTES } from './wire.js';

interface PendingWrite {
  id: number;
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
  private peerPages = 0;
  private welcomedOnce = false;
  private broken: string | null = null;
  private readonly reader = new Collector(HEAD_BYTES);
  private readingRefusal = false;
  private welcomed!: { resolve: () => void; reject: (err: Error) => void };

  private constructor(private readonly socket: Socket, private readonly pool: PoolRegion, private readonly peer: string) {
    this.reader.expect(HEAD_BYTES);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.draining = false;
      this.pump();
    });
    socket.on('error', (err) => this.fail(`link failed: ${err.message}`));
    socket.on('close', () => this.fail('the receiver closed the connection'));
  }

  /** Connects and says HELLO; resolves once the receiver welcomed this pool's page size. */
  static async connect(host: string, port: number, pool: PoolRegion, timeoutMs: number): Promise<TcpKvSender> {
    const socket = connect({ host, port, noDelay: true });
    const sender = new TcpKvSender(socket, pool, `${host}:${port}`);
    const welcomed = new Promise<void>((resolve, reject) => (sender.welcomed = { resolve, reject }));
    socket.write(encodeHead(Kind.Hello, pool.pageBytes, 0));
    try {
      await withTimeout(welcomed, timeoutMs, `tcp KV connect to ${host}:${port}`);
    } catch (err) {
      sender.fail((err as Error).message);
      throw err;
    }
    return sender;
  }

  write(runs: readonly PageRun[], timeoutMs: number): Promise<WriteResult> {
    if (this.broken) return Promise.reject(this.error(this.broken));
    let pages: number;
    try {
      pages = checkRuns(runs, this.pool.numPages, this.peerPages);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.nextId;
    this.nextId = (id + 1) >>> 0;
    const head = encodeWrite(id, runs);
    const bytes = pages * this.pool.pageBytes;
    const done = new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ id, head, runs, next: -1, at: 0, bytes, start: performance.now(), resolve, reject });
    });
    if (!this.draining) this.pump();
    return withTimeout(done, timeoutMs, `write ${id} (${pages} pages)`).catch((err: Error) => {
      if (err instanceof KvLinkError) throw err;
      this.fail(err.message);
      throw this.error(err.message);
    });
  }

  async close(): Promise<void> {
    this.fail('the sender was closed');
  }

  /** Hands whole writes to the socket in order until it asks to wait for 'drain'. */
  private pump(): void {
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
    if (this.readingRefusal) return this.fail(`the receiver refused: ${bytes.toString('utf8')}`);
    let kind: Kind, a: number, b: number;
    try {
      ({ kind, a, b } = decodeHead(bytes));
    } catch (err) {
      return this.fail(`protocol error: ${(err as Error).message}`);
    }
    this.reader.expect(HEAD_BYTES);
    if (kind === Kind.Ack) return this.onAck(a);
    if (kind === Kind.Welcome && !this.welcomedOnce) return this.onWelcome(a, b);
    if (kind === Kind.Refused && a > 0 && a <= MAX_REFUSAL_BYTES) {
      this.readingRefusal = true;
      return this.reader.expect(a);
    }
    this.fail(`protocol error: unexpected frame kind ${kind}`);
  }

  private onWelcome(numPages: number, pageBytes: number): void {
    if (pageBytes !== this.pool.pageBytes) return this.fail(`page size mismatch: the receiver's pages are ${pageBytes} B, ours ${this.pool.pageBytes} B`);
    this.welcomedOnce = true;
    this.peerPages = numPages;
    this.welcomed.resolve();
  }

  private onAck(id: number): void {
    const w = this.queue[0];
    if (!w || w.id !== id || this.sending === 0) return this.fail(`protocol error: ACK for write ${id}, expected ${w ? w.id : 'none'}`);
    this.queue.shift();
    this.sending--;
    w.resolve({ bytes: w.bytes, runs: w.runs.length, ms: performance.now() - w.start });
  }

  /** Breaks the connection for good: every pending write (and a pending connect) rejects with `reason`. */
  private fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    this.socket.destroy();
    this.welcomed.reject(this.error(reason));
    for (const w of this.queue.splice(0)) w.reject(this.error(reason));
    this.sending = 0;
  }

  private error(reason: string): KvLinkError {
    return new KvLinkError(`tcp KV link to ${this.peer}: ${reason}`);
  }
}
