/**
 * The receiving end of a link's control connection (the one a sender dials to the published port):
 * challenges the sender, reads its HELLO and checks the proof (link-proof.ts), checks the sender's
 * page size, and dials back to the port it names, where the data connection (receive-stream.ts)
 * answers with WELCOME, the HELLO's token and the receiver's own proof.
 *
 * Decisions:
 * - The challenge goes out on accept; the HELLO's head and body are the only bytes ever read from an
 *   unproven connection: a wrong proof is refused before anything else is looked at (the page size
 *   is not even compared), and nothing is dialed for it.
 * - A connection that has not proved itself within `handshakeMs` is destroyed: idle or HELLO-only
 *   connections cannot pile up. After the proof the dial-back has DIAL_BACK_MS, and the control
 *   connection (which carries nothing more; the sender closes it) is destroyed DIAL_BACK_MS after
 *   that, so every control connection is gone within handshakeMs + 2 * DIAL_BACK_MS.
 * - A bad first frame, a page-size mismatch, or a dial-back that fails is refused on this connection
 *   with the reason, so the sender's connect fails saying why (a firewall in front of the prefill
 *   node shows up here). The dial-back goes to the address the HELLO came from: the sender publishes
 *   nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { PoolRegion } from '../kv-transfer.js';
import { Collector } from './collector.js';
import type { GrantTable } from './grant-table.js';
import { helloProof, proofMatches, welcomeProof } from './link-proof.js';
import { ReceiveStream } from './receive-stream.js';
import { refuseConnection } from './refuse-connection.js';
import { CHALLENGE_BYTES, decodeHead, encodeWithBody, HEAD_BYTES, HELLO_BODY_BYTES, Kind, PROOF_BYTES, TOKEN_BYTES, WRITER_BYTES, type Head } from './wire.js';

/** Bound on dialing back to the sender. */
const DIAL_BACK_MS = 5000;

type State = 'head' | 'body' | 'done';

export interface HandshakeDeps {
  pool: PoolRegion;
  /** deriveKey(secret, 'tcp-kv'). */
  key: Buffer;
  grants: GrantTable;
  handshakeMs: number;
  /** Told why a connection was refused. */
  onRefuse: (reason: string) => void;
  /** Told why a write was refused (NACK; the connection stays). */
  onNack: (reason: string) => void;
  /** The sender proved the key (it no longer counts as unproven). */
  onProven: () => void;
  /** A data connection was dialed (the receiver tracks it per writer). */
  onStream: (stream: ReceiveStream) => void;
}

export class ReceiveHandshake {
  private readonly collector = new Collector(HEAD_BYTES);
  private readonly challenge = randomBytes(CHALLENGE_BYTES);
  private state: State = 'head';
  private head: Head | null = null;
  private readonly timer: NodeJS.Timeout;
  /** The writer (hex) once the HELLO is proved. */
  writer: string | null = null;

  constructor(private readonly control: Socket, private readonly deps: HandshakeDeps) {
    this.collector.expect(HEAD_BYTES);
    this.timer = setTimeout(() => this.refuse(`no valid HELLO within ${deps.handshakeMs / 1000} s`), deps.handshakeMs);
    control.once('close', () => clearTimeout(this.timer));
    control.on('data', (chunk: Buffer) => this.onData(chunk));
    control.on('error', () => {});
    control.write(encodeWithBody(Kind.Challenge, 0, 0, [this.challenge]));
  }

  /** Ends the connection now (its writer is cut). */
  cut(): void {
    this.state = 'done';
    clearTimeout(this.timer);
    this.control.destroy();
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.state !== 'done') {
      pos = this.collector.take(chunk, pos);
      if (!this.collector.complete) return;
      if (this.state === 'head') this.onHead(this.collector.bytes);
      else this.onBody(Buffer.from(this.collector.bytes));
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
    this.head = head;
    this.state = 'body';
    this.collector.expect(HELLO_BODY_BYTES);
  }

  private onBody(body: Buffer): void {
    const { a: pageBytes, b: port } = this.head!;
    const { pool, key } = this.deps;
    const token = body.subarray(0, TOKEN_BYTES);
    const writer = body.subarray(TOKEN_BYTES, TOKEN_BYTES + WRITER_BYTES);
    const proof = body.subarray(TOKEN_BYTES + WRITER_BYTES, TOKEN_BYTES + WRITER_BYTES + PROOF_BYTES);
    if (!proofMatches(proof, helloProof(key, this.challenge, pageBytes, port, token, writer))) {
      return this.refuse('HELLO proof does not match: the sender does not hold this cluster\'s secret');
    }
    this.writer = writer.toString('hex');
    this.deps.onProven();
    if (pageBytes !== pool.pageBytes) {
      return this.refuse(`page size mismatch: the sender's pages are ${pageBytes} B, this pool's are ${pool.pageBytes} B (different KV layout)`);
    }
    if (port < 1 || port > 65535) return this.refuse(`HELLO names dial-back port ${port}`);
    this.dialBack(port, token);
  }

  private dialBack(port: number, token: Buffer): void {
    this.state = 'done';
    const { pool, key } = this.deps;
    const host = this.control.remoteAddress ?? '';
    const where = `${host}:${port}`;
    const welcome = encodeWithBody(Kind.Welcome, pool.numPages, pool.pageBytes, [token, welcomeProof(key, this.challenge, pool.numPages, pool.pageBytes, token)]);
    const stream = new ReceiveStream(pool, host, port, welcome, this.writer!, this.deps.grants, (reason) => this.deps.onRefuse(`data connection: ${reason}`), this.deps.onNack);
    this.deps.onStream(stream);
    const failed = (why: string): void => {
      stream.socket.destroy();
      this.refuse(`could not connect back to the sender at ${where}: ${why} (the prefill node must accept connections from this decode node)`);
    };
    clearTimeout(this.timer);
    const timer = setTimeout(() => failed(`no connection after ${DIAL_BACK_MS / 1000} s`), DIAL_BACK_MS);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      failed(err.message);
    };
    stream.socket.once('error', onError);
    stream.socket.once('close', () => clearTimeout(timer));
    stream.socket.once('connect', () => {
      clearTimeout(timer);
      stream.socket.off('error', onError);
      // the sender closes it once the WELCOME is in (closing it first could overtake the WELCOME)
      setTimeout(() => this.control.destroy(), DIAL_BACK_MS).unref();
    });
  }

  private refuse(reason: string): void {
    this.state = 'done';
    clearTimeout(this.timer);
    this.deps.onRefuse(reason);
    refuseConnection(this.control, reason);
  }
}
