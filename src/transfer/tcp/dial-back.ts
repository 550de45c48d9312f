/**
 * The sending side of a link's set-up (see tcp-sender.ts for why a link has two connections): on the
 * control connection to the receiver's published port, wait for its challenge, then say HELLO with
 * this pool's page size, a port of a listener of our own, a random token, the writer token and a
 * proof of the cluster secret (link-proof.ts); the receiver dials that port and proves with the token
 * and its own proof which HELLO it answers. Resolves with that data connection and the receiver's
 * pool size.
 *
 * Decisions:
 * - The listener binds the address the control connection leaves from (the one the receiver sees),
 *   on an OS-chosen port, accepts until the right WELCOME arrives and is closed either way.
 *   Connections whose WELCOME lacks the token or the proof (or anything else) are destroyed: only the
 *   receiver we said HELLO to knows the token, and only a holder of the secret can prove it over that
 *   receiver's challenge.
 * - A REFUSED frame on the control connection fails the set-up with the receiver's reason; so does the
 *   control connection closing first. The caller bounds the whole set-up and calls `abort` on failure.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { listenOnFreePort } from '../listen-port.js';
import { Collector } from './collector.js';
import { helloProof, proofMatches, welcomeProof } from './link-proof.js';
import { CHALLENGE_BYTES, decodeHead, encodeWithBody, HEAD_BYTES, Kind, MAX_REFUSAL_BYTES, TOKEN_BYTES, WELCOME_BODY_BYTES } from './wire.js';

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
  /** The receiver's challenge, once it came. */
  private challenge: Buffer | null = null;

  /**
   * `writeQueueBytes` becomes the data socket's high-water mark (its queue holds views of the pool);
   * `key` is deriveKey(secret, 'tcp-kv'), `writer` the decode node's token for this node (wire.ts writerBytes).
   */
  constructor(private readonly control: Socket, writeQueueBytes: number, private readonly key: Buffer, private readonly writer: Buffer) {
    this.listener = createServer({ noDelay: true, highWaterMark: writeQueueBytes });
  }

  /** Resolves with the data connection, or rejects with the reason (to be prefixed with the peer). */
  async run(pageBytes: number, timeoutMs: number): Promise<DataConnection> {
    await this.connected();
    const port = await listenOnFreePort(this.listener, this.control.localAddress ?? '', timeoutMs, 'tcp KV sender dial-back listener');
    const data = new Promise<DataConnection>((resolve, reject) => {
      this.listener.on('connection', (socket) => this.candidate(socket, resolve));
      this.watchControl(reject, (challenge) => {
        this.challenge = challenge;
        const proof = helloProof(this.key, challenge, pageBytes, port, this.token, this.writer);
        this.control.write(encodeWithBody(Kind.Hello, pageBytes, port, [this.token, this.writer, proof]));
      });
    });
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

  /** Reads the receiver's CHALLENGE (then `onChallenge`), and a REFUSED frame should one come. */
  private watchControl(reject: (err: Error) => void, onChallenge: (challenge: Buffer) => void): void {
    const reader = new Collector(HEAD_BYTES);
    reader.expect(HEAD_BYTES);
    let body: 'none' | 'challenge' | 'refusal' = 'none';
    this.control.on('data', (chunk: Buffer) => {
      for (let pos = 0; pos < chunk.length; ) {
        pos = reader.take(chunk, pos);
        if (!reader.complete) return;
        if (body === 'refusal') return reject(new Error(`the receiver refused: ${reader.bytes.toString('utf8')}`));
        if (body === 'challenge') {
          body = 'none';
          onChallenge(Buffer.from(reader.bytes));
          reader.expect(HEAD_BYTES);
          continue;
        }
        try {
          const head = decodeHead(reader.bytes);
          if (head.kind === Kind.Challenge && this.challenge === null) {
            body = 'challenge';
            reader.expect(CHALLENGE_BYTES);
          } else if (head.kind === Kind.Refused && head.a > 0 && head.a <= MAX_REFUSAL_BYTES) {
            body = 'refusal';
            reader.expect(head.a);
          } else {
            return reject(new Error(`protocol error: unexpected frame kind ${head.kind} on the control connection`));
          }
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
    const reader = new Collector(HEAD_BYTES + WELCOME_BODY_BYTES);
    reader.expect(HEAD_BYTES + WELCOME_BODY_BYTES);
    const onData = (chunk: Buffer): void => {
      const pos = reader.take(chunk, 0);
      if (!reader.complete) return;
      socket.off('data', onData);
      const frame = reader.bytes;
      let ok = false;
      try {
        const head = decodeHead(frame);
        const proof = frame.subarray(HEAD_BYTES + TOKEN_BYTES);
        ok = head.kind === Kind.Welcome && this.challenge !== null && frame.subarray(HEAD_BYTES, HEAD_BYTES + TOKEN_BYTES).equals(this.token) &&
          proofMatches(proof, welcomeProof(this.key, this.challenge, head.a, head.b, this.token));
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
