/**
 * The sending side of a link's set-up (see tcp-sender.ts for why a link has two connections): on the
 * control connection to the receiver's published port, say HELLO with this pool's page size, a port
 * of a listener of our own and a random token; the receiver dials that port and proves with the
 * token which HELLO it answers. Resolves with that data connection and the receiver's pool size.
 *
 * Decisions:
 * - The listener binds the address the control connection leaves from (the one the receiver sees),
 *   on an OS-chosen port, accepts until the right WELCOME arrives and is closed either way.
 *   Connections with another token (or anything else) are destroyed: only the receiver we said HELLO
 *   to knows the token.
 * - A REFUSED frame on the control connection fails the set-up with the receiver's reason; so does the
 *   control connection closing first. The caller bounds the whole set-up and calls `abort` on failure.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { listenOnFreePort } from '../listen-port.js';
import { Collector } from './collector.js';
import { decodeHead, encodeWithToken, HEAD_BYTES, Kind, MAX_REFUSAL_BYTES, TOKEN_BYTES } from './wire.js';

export interface DataConnection {
  socket: Socket;
  peerPages: number;
  peerPageBytes: number;
  /** Bytes that arrived after the WELCOME in its chunk (the receiver sends none before a write). */
  rest: Buffer;
}

export class DialBack {
  private readonly token = randomBytes(TOKEN_BYTES);
  private readonly listener: Server;
  private readonly candidates = new Set<Socket>();
  private chosen: Socket | null = null;

  /** `writeQueueBytes` becomes the data socket's high-water mark (its queue holds views of the pool). */
  constructor(private readonly control: Socket, writeQueueBytes: number) {
    this.listener = createServer({ noDelay: true, highWaterMark: writeQueueBytes });
  }

  /** Resolves with the data connection, or rejects with the reason (to be prefixed with the peer). */
  async run(pageBytes: number, timeoutMs: number): Promise<DataConnection> {
    await this.connected();
    const port = await listenOnFreePort(this.listener, this.control.localAddress ?? '', timeoutMs, 'tcp KV sender dial-back listener');
    const data = new Promise<DataConnection>((resolve, reject) => {
      this.listener.on('connection', (socket) => this.candidate(socket, resolve));
      this.watchControl(reject);
    });
    this.control.write(encodeWithToken(Kind.Hello, pageBytes, port, this.token));
    try {
      return await data;
    } finally {
      this.listener.close();
      for (const s of this.candidates) if (s !== this.chosen) s.destroy();
      this.control.end();
    }
  }

  /** Tears everything down after a failed (or timed out) set-up. */
  abort(): void {
    this.listener.close();
    this.control.destroy();
    for (const s of this.candidates) s.destroy();
  }

  private connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`link failed: ${err.message}`));
      this.control.once('error', onError);
      this.control.once('connect', () => {
        this.control.off('error', onError);
        resolve();
      });
    });
  }

  private watchControl(reject: (err: Error) => void): void {
    const reader = new Collector(HEAD_BYTES);
    reader.expect(HEAD_BYTES);
    let refusal = false;
    this.control.on('data', (chunk: Buffer) => {
      for (let pos = 0; pos < chunk.length; ) {
        pos = reader.take(chunk, pos);
        if (!reader.complete) return;
        if (refusal) return reject(new Error(`the receiver refused: ${reader.bytes.toString('utf8')}`));
        try {
          const head = decodeHead(reader.bytes);
          if (head.kind !== Kind.Refused || head.a === 0 || head.a > MAX_REFUSAL_BYTES) return reject(new Error(`protocol error: unexpected frame kind ${head.kind} on the control connection`));
          refusal = true;
          reader.expect(head.a);
        } catch (err) {
          return reject(new Error(`protocol error: ${(err as Error).message}`));
        }
      }
    });
    this.control.on('error', (err) => reject(new Error(`link failed: ${err.message}`)));
    this.control.on('close', () => reject(new Error('the receiver closed the connection')));
  }

  private candidate(socket: Socket, resolve: (c: DataConnection) => void): void {
    this.candidates.add(socket);
    socket.on('error', () => {});
    const reader = new Collector(HEAD_BYTES + TOKEN_BYTES);
    reader.expect(HEAD_BYTES + TOKEN_BYTES);
    const onData = (chunk: Buffer): void => {
      const pos = reader.take(chunk, 0);
      if (!reader.complete) return;
      socket.off('data', onData);
      const frame = reader.bytes;
      let ok = false;
      try {
        ok = decodeHead(frame).kind === Kind.Welcome && frame.subarray(HEAD_BYTES).equals(this.token);
      } catch {
        // not ours
      }
      if (!ok || this.chosen) return void socket.destroy();
      this.chosen = socket;
      socket.pause();
      resolve({ socket, peerPages: frame.readUInt32LE(8), peerPageBytes: frame.readUInt32LE(12), rest: chunk.subarray(pos) });
    };
    socket.on('data', onData);
  }
}
