/**
 * A response on the raw HTTP/1.1 server (http1-front.ts). Its methods are the part of Node's
 * `ServerResponse` a relay needs (`writeHead`, `write`, `end`, `writableEnded`, `destroyed`,
 * `once('close')`), so code that answers a request works on either (`ResponseWriter`). Decisions:
 * - Nothing is written before the body's first bytes: a response answered whole goes out as one
 *   `write` (head and body, with Content-Length); one written in parts is chunked (HTTP/1.1), or
 *   runs to the connection's close (HTTP/1.0), and its head travels with its first part.
 * - The head carries Date (cached per second, as Node does), and Connection / Keep-Alive from the
 *   connection's state; a caller's own Connection, Content-Length or Transfer-Encoding is ignored:
 *   framing is this class's.
 * - 'close' fires once: when the response ends (its bytes are queued on the socket), or when the
 *   connection closes before it did (the client left).
 */
import { STATUS_CODES } from 'node:http';

/** What a handler needs of a response: Node's ServerResponse and Http1Response both fit. */
export interface ResponseWriter {
  writeHead(status: number, headers: Readonly<Record<string, string>>): unknown;
  write(chunk: string): unknown;
  end(chunk?: string): unknown;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  /** The head went out (a stream is under way): an error can no longer be answered, only the connection cut. */
  readonly headersSent: boolean;
  once(event: 'close', listener: () => void): unknown;
  /** Cuts the connection (the client sees a broken response, never a short one taken for whole). */
  destroy(): unknown;
}

/** The connection a response is written on. */
export interface ResponseConnection {
  readonly destroyed: boolean;
  /** Seconds an idle keep-alive connection is kept, for the Keep-Alive header. */
  readonly keepAliveSecs: number;
  send(text: string): void;
  destroy(): void;
  /** The response ended; `keepAlive` false: the connection closes after it. */
  responseEnded(keepAlive: boolean): void;
}

/** Headers whose values the framing decides. */
const FRAMING_HEADERS = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'date']);

let dateSecond = -1;
let dateText = '';

/** The Date header's value, formatted once per second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

export class Http1Response implements ResponseWriter {
  writableEnded = false;
  private status = 200;
  private headers: Readonly<Record<string, string>> | null = null;
  private headSent = false;
  private closed = false;
  private listeners: (() => void)[] | null = null;

  constructor(
    private readonly conn: ResponseConnection,
    /** The client allows keep-alive; cleared for an HTTP/1.0 body that runs to the close. */
    private keepAlive: boolean,
    /** HTTP/1.1: a body written in parts is chunked. */
    private readonly chunked: boolean,
  ) {}

  get destroyed(): boolean {
    return this.conn.destroyed;
  }

  get headersSent(): boolean {
    return this.headSent;
  }

  destroy(): void {
    this.conn.destroy();
  }

  writeHead(status: number, headers: Readonly<Record<string, string>>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  /** One part of a body of unknown length; the head goes with the first. */
  write(chunk: string): boolean {
    if (this.writableEnded || this.conn.destroyed) return false;
    // An empty chunk would end a chunked body.
    if (chunk === '') return true;
    const part = this.chunked ? `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n` : chunk;
    if (this.headSent) {
      this.conn.send(part);
    } else {
      if (!this.chunked) this.keepAlive = false;
      this.conn.send(this.head(this.chunked ? 'transfer-encoding: chunked\r\n' : '') + part);
    }
    return true;
  }

  /** Ends the response: whole (head and body in one write) if nothing was written yet. */
  end(chunk = ''): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    if (!this.conn.destroyed) {
      if (!this.headSent) this.conn.send(`${this.head(`content-length: ${Buffer.byteLength(chunk)}\r\n`)}${chunk}`);
      else if (!this.chunked) this.conn.send(chunk);
      else this.conn.send(chunk === '' ? '0\r\n\r\n' : `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
      this.conn.responseEnded(this.keepAlive);
    }
    this.close();
    return this;
  }

  once(_event: 'close', listener: () => void): this {
    if (this.closed) queueMicrotask(listener);
    else (this.listeners ??= []).push(listener);
    return this;
  }

  /** The connection closed: the response is over whether or not it ended. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners !== null) for (const listener of listeners) listener();
  }

  private head(framing: string): string {
    this.headSent = true;
    return responseHead(this.status, this.headers, framing, this.keepAlive ? this.conn.keepAliveSecs : null);
  }
}

/**
 * A response head: status line, the caller's headers (framing ones dropped), `framing` (its
 * Content-Length or Transfer-Encoding line), Date, and Connection: keep-alive for `keepAliveSecs`,
 * or close when null.
 */
export function responseHead(status: number, headers: Readonly<Record<string, string>> | null, framing: string, keepAliveSecs: number | null): string {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  if (headers !== null) for (const name in headers) if (!FRAMING_HEADERS.has(name)) text += `${name}: ${headers[name]}\r\n`;
  const connection = keepAliveSecs === null ? 'connection: close\r\n' : `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSecs}\r\n`;
  return `${text}${framing}date: ${httpDate()}\r\n${connection}\r\n`;
}
