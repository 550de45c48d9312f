/**
 * The receiving end of a link's control connection (the one a sender dials to the published port):
 * reads the HELLO, checks the sender's page size, and dials back to the port it names, where the
 * data connection (receive-stream.ts) answers with WELCOME and the HELLO's token.
 *
 * Decisions: a bad first frame, a page-size mismatch, or a dial-back that fails or takes longer than
 * DIAL_BACK_MS is refused on this connection with the reason, so the sender's connect fails saying
 * why (a firewall in front of the prefill node shows up here). The dial-back goes to the address the
 * HELLO came from: the sender publishes nothing. After the dial-back the control connection carries
 * nothing more; the sender closes it.
 */
import type { Socket } from 'node:net';
import type { PoolRegion } from '../kv-transfer.js';
import { Collector } from './collector.js';
import { ReceiveStream } from './receive-stream.js';
import { refuseConnection } from './refuse-connection.js';
import { decodeHead, encodeWithToken, HEAD_BYTES, Kind, TOKEN_BYTES, type Head } from './wire.js';

/** Bound on dialing back to the sender. */
const DIAL_BACK_MS = 5000;

type State = 'head' | 'token' | 'done';

export class ReceiveHandshake {
  private readonly collector = new Collector(HEAD_BYTES);
  private state: State = 'head';
  private dialPort = 0;

  /** `track` is told the data connection's socket (the receiver closes it on shutdown). */
  constructor(
    private readonly control: Socket,
    private readonly pool: PoolRegion,
    private readonly onRefuse: (reason: string) => void,
    private readonly track: (data: Socket) => void,
  ) {
    this.collector.expect(HEAD_BYTES);
    control.on('data', (chunk: Buffer) => this.onData(chunk));
    control.on('error', () => {});
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.state !== 'done') {
      pos = this.collector.take(chunk, pos);
      if (!this.collector.complete) return;
      if (this.state === 'head') this.onHead(this.collector.bytes);
      else this.dialBack(Buffer.from(this.collector.bytes));
    }
  }

  private onHead(bytes: Buffer): void {
    let head: Head;
    try {
      head = decodeHead(bytes);
    } catch (err) {
      return this.refuse((err as Error).message);
    }
    if (head.kind !== Kind.Hello) return this.refuse(`expected HELLO, got frame kind ${head.kind}`);
    if (head.a !== this.pool.pageBytes) {
      return this.refuse(`page size mismatch: the sender's pages are ${head.a} B, this pool's are ${this.pool.pageBytes} B (different KV layout)`);
    }
    if (head.b < 1 || head.b > 65535) return this.refuse(`HELLO names dial-back port ${head.b}`);
    this.dialPort = head.b;
    this.state = 'token';
    this.collector.expect(TOKEN_BYTES);
  }

  private dialBack(token: Buffer): void {
    this.state = 'done';
    const host = this.control.remoteAddress ?? '';
    const where = `${host}:${this.dialPort}`;
    const welcome = encodeWithToken(Kind.Welcome, this.pool.numPages, this.pool.pageBytes, token);
    const stream = new ReceiveStream(this.pool, host, this.dialPort, welcome, (reason) => this.onRefuse(`data connection: ${reason}`));
    this.track(stream.socket);
    const failed = (why: string): void => {
      stream.socket.destroy();
      this.refuse(`could not connect back to the sender at ${where}: ${why} (the prefill node must accept connections from this decode node)`);
    };
    const timer = setTimeout(() => failed(`no connection after ${DIAL_BACK_MS / 1000} s`), DIAL_BACK_MS);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      failed(err.message);
    };
    stream.socket.once('error', onError);
    stream.socket.once('connect', () => {
      clearTimeout(timer);
      stream.socket.off('error', onError);
    });
  }

  private refuse(reason: string): void {
    this.state = 'done';
    this.onRefuse(reason);
    refuseConnection(this.control, reason);
  }
}
