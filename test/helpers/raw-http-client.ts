/**
 * A raw TCP client that speaks HTTP/1.1 by hand, for the tests of the router's raw front
 * (src/net/http1-front.ts): it writes whatever bytes a test gives it (partial heads, bad framing,
 * several requests in one write) and reads the answers in order with the router's own response
 * parser (src/net/http1-parser.ts), keeping the raw text too (to see a 100 Continue).
 */
import net from 'node:net';
import { Http1ResponseParser, type ResponseHead } from '../../src/net/http1-parser.js';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawClient {
  /** Every byte received, as latin1 text. */
  received = '';
  readonly closed: Promise<void>;
  private readonly answers: RawAnswer[] = [];
  private readonly waiters: (() => void)[] = [];
  private parser: Http1ResponseParser;
  private head: ResponseHead | null = null;
  private parts: Buffer[] = [];
  private ended = false;

  private constructor(private readonly socket: net.Socket) {
    this.parser = this.fresh();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        if (this.parser.started && this.parser.eof()) this.answered();
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Resets the connection (the client leaves). */
  destroy(): void {
    this.socket.destroy();
  }

  /** The next complete answer on the connection; rejects if the connection closes first. */
  async next(): Promise<RawAnswer> {
    while (this.answers.length === 0) {
      if (this.ended) throw new Error(`connection closed before an answer; received ${JSON.stringify(this.received.slice(0, 300))}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.answers.shift()!;
  }

  /** Resolves once `text` was received (rejects if the connection closes first). */
  async waitFor(text: string): Promise<void> {
    while (!this.received.includes(text)) {
      if (this.ended) throw new Error(`connection closed before ${JSON.stringify(text)}; received ${JSON.stringify(this.received.slice(0, 300))}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private fresh(): Http1ResponseParser {
    return new Http1ResponseParser({ onHead: (head) => (this.head = head), onData: (chunk) => this.parts.push(chunk) });
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.toString('latin1');
    let rest = chunk;
    while (rest.length > 0) {
      const end = this.parser.feed(rest);
      if (end === -1) break;
      this.answered();
      rest = rest.subarray(end);
    }
    this.wake();
  }

  private answered(): void {
    this.answers.push({ status: this.head!.status, headers: this.head!.headers, body: Buffer.concat(this.parts).toString('utf8') });
    this.head = null;
    this.parts = [];
    this.parser = this.fresh();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** A POST with a JSON body, as one string. */
export function postText(path: string, body: string, extraHeaders = ''): string {
  return `POST ${path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;
}
