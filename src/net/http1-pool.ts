/**
 * An HTTP/1.1 client on raw sockets: a keep-alive connection pool per origin, one request in flight
 * per connection. It exists because node:http costs 50-90 us of CPU per exchange and the router makes
 * two upstream exchanges per request (bench/README.md, "Where a routed request's CPU goes"); this one
 * writes a request with one `write` and parses the answer with http1-parser.ts. Decisions:
 * - No pipelining: a cancelled or slow request would hold up or reset every request behind it.
 * - A connection is reused only when its response was read to the end, the server allowed it
 *   (HTTP/1.1 without `Connection: close`), the request was fully written before the response began
 *   (a server that answers before reading the body may still be reading it), and no byte followed
 *   the response. Otherwise it is destroyed. Bytes arriving on an idle connection destroy it too.
 *   What no HTTP/1.1 client can detect is an unsolicited second answer that arrives after the next
 *   request was written on the connection; a server doing that is broken beyond this client's reach.
 * - Every failure belongs to its exchange only and ends its connection: `connect` (no connection:
 *   refused, unreachable, or `connectTimeoutMs` passed), `reset` (the connection broke or closed
 *   before the response ended), `protocol` (a malformed response). `abort()` destroys the connection,
 *   so the server sees the client go away at once.
 * - At most `maxConnections` per origin; beyond, exchanges wait in FIFO order for a connection (the
 *   caller's own timeout bounds the wait). Idle connections are kept LIFO (the warmest first) and
 *   closed after IDLE_CLOSE_MS, before a server's keep-alive timeout would close them under a request.
 * - Callbacks, not promises or streams: an exchange allocates its head string, its parser and the
 *   slices of body it hands on. The caller builds its promises on top (router's upstream-request.ts).
 * - Plain TCP connections read into one buffer shared by every connection (net's `onread`): no
 *   64 KiB buffer allocated per read and no stream machinery ('data' events) between the socket and
 *   the parser; a read is parsed before the next one can land, so the bytes handed on are valid only
 *   during `onData` (a handler that keeps them copies them). TLS sockets read as streams (`onread`
 *   is a plain socket's option) and hand on the same way.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Http1ProtocolError, Http1ResponseParser, type ResponseHead } from './http1-parser.js';

/**
 * An idle connection is closed after this long: below Node's default server keep-alive timeout
 * (5 s), so the server never closes a connection the pool is about to send on.
 */
export const IDLE_CLOSE_MS = 4_000;
/** How often idle connections are checked against their idle limit. */
const IDLE_SWEEP_MS = 1_000;
/** Size of the read buffer shared by plain connections: libuv's own read size, so a read is never split further. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Reads of every plain connection land here; each is parsed (and copied by whoever keeps it) before the next read. */
const sharedReadBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/** `connect`: refused, unreachable or closed while connecting; `connect_timeout`: no answer to the connect within its bound. */
export type Http1FailureKind = 'connect' | 'connect_timeout' | 'reset' | 'protocol';

export class Http1Error extends Error {
  constructor(
    readonly kind: Http1FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'Http1Error';
  }
}

export interface Http1Origin {
  /** Base URL, for messages. */
  url: string;
  secure: boolean;
  /** Without IPv6 brackets. */
  hostname: string;
  port: number;
  /** host[:port] as in the URL: the Host header. */
  host: string;
}

export interface ExchangeHandler {
  /** The final response head. */
  onHead(head: ResponseHead): void;
  /** Body bytes as they arrive: a view of a read buffer, valid only during the call (copy to keep). */
  onData(chunk: Buffer): void;
  /** The response was read to its end. */
  onEnd(): void;
  /** The exchange failed; nothing else is called after. */
  onError(err: Http1Error): void;
}

export interface Http1Request {
  method: 'GET' | 'POST';
  path: string;
  /** Extra header lines, each ending with CRLF (e.g. `authorization: Bearer x\r\n`). */
  headerLines: string;
  /** UTF-8 JSON text; sent with `content-type: application/json`. */
  body?: string;
  connectTimeoutMs: number;
}

/** One request/response on a pooled connection; `abort()` ends it (and its connection) at once. */
export class Http1Exchange {
  /** Set while the exchange waits for or uses a connection. */
  conn: Connection | null = null;
  over = false;

  constructor(
    readonly pool: Http1Pool,
    readonly request: Http1Request,
    readonly handler: ExchangeHandler,
  ) {}

  abort(): void {
    if (this.over) return;
    this.over = true;
    if (this.conn !== null) this.conn.destroy();
    else this.pool.unqueue(this);
  }
}

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly waiting: Http1Exchange[] = [];
  private open = 0;
  private closed = false;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    readonly origin: Http1Origin,
    /** Bound on connections to the origin (open or connecting). */
    readonly maxConnections: number,
    /** How long a connection may stay idle before it is closed. */
    private readonly idleCloseMs = IDLE_CLOSE_MS,
  ) {}

  /** Starts an exchange; the handler hears how it goes, never before this returns. */
  request(request: Http1Request, handler: ExchangeHandler): Http1Exchange {
    const ex = new Http1Exchange(this, request, handler);
    if (this.closed) {
      ex.over = true;
      queueMicrotask(() => handler.onError(new Http1Error('connect', 'the client is closed')));
      return ex;
    }
    const conn = this.takeIdle();
    if (conn !== null) conn.send(ex);
    else if (this.open < this.maxConnections) this.connect(ex);
    else this.waiting.push(ex);
    return ex;
  }

  /** Destroys every connection; exchanges in flight or waiting fail with `reset`/`connect`. */
  close(): void {
    this.closed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    for (const ex of this.waiting.splice(0)) {
      ex.over = true;
      ex.handler.onError(new Http1Error('connect', 'the client is closed'));
    }
    for (const conn of this.idle.splice(0)) conn.destroy();
  }

  /** A waiting exchange was aborted. */
  unqueue(ex: Http1Exchange): void {
    const i = this.waiting.indexOf(ex);
    if (i !== -1) this.waiting.splice(i, 1);
  }

  /** A connection finished an exchange and may carry another. */
  release(conn: Connection): void {
    const next = this.waiting.shift();
    if (next !== undefined) {
      conn.send(next);
      return;
    }
    if (this.closed) {
      conn.destroy();
      return;
    }
    conn.idleSince = performance.now();
    this.idle.push(conn);
    this.sweeper ??= setInterval(() => this.sweep(), IDLE_SWEEP_MS).unref();
  }

  /** A connection is gone (its exchange already told): room for a waiting exchange. */
  gone(conn: Connection): void {
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    const next = this.waiting.shift();
    if (next !== undefined) this.connect(next);
  }

  private connect(ex: Http1Exchange): void {
    this.open++;
    new Connection(this, ex);
  }

  private takeIdle(): Connection | null {
    const now = performance.now();
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      if (now - conn.idleSince < this.idleCloseMs) return conn;
      conn.destroy();
    }
    return null;
  }

  private sweep(): void {
    const now = performance.now();
    // Oldest first: the stack's bottom.
    while (this.idle.length > 0 && now - this.idle[0].idleSince >= this.idleCloseMs) this.idle[0].destroy();
    if (this.idle.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

/** One socket to the origin; carries one exchange at a time. */
class Connection {
  idleSince = 0;
  private readonly socket: net.Socket;
  private ex: Http1Exchange | null = null;
  private parser: Http1ResponseParser | null = null;
  private connected = false;
  private written = false;
  private dead = false;
  private connectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Http1Pool,
    first: Http1Exchange,
  ) {
    const { origin } = pool;
    if (origin.secure) {
      this.socket = tls.connect({ host: origin.hostname, port: origin.port, servername: net.isIP(origin.hostname) === 0 ? origin.hostname : undefined });
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    } else {
      const onread = {
        buffer: sharedReadBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          this.onData((buf as Buffer).subarray(0, n));
          return true; // keep reading
        },
      };
      this.socket = net.connect({ host: origin.hostname, port: origin.port, onread });
    }
    this.socket.setNoDelay(true);
    this.socket.once(origin.secure ? 'secureConnect' : 'connect', () => this.onConnect());
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.connected ? 'reset' : 'connect', `${this.connected ? `connection to ${origin.host} broke` : `cannot connect to ${origin.host}`}: ${err.code ?? err.message}`));
    this.socket.on('close', () => this.fail(this.connected ? 'reset' : 'connect', this.connected ? `connection to ${origin.host} closed before the response ended` : `connection to ${origin.host} closed while connecting`));
    const timeoutMs = first.request.connectTimeoutMs;
    this.connectTimer = setTimeout(() => this.fail('connect_timeout', `connecting to ${origin.host} timed out after ${timeoutMs / 1000} s`), timeoutMs);
    this.send(first);
  }

  send(ex: Http1Exchange): void {
    this.ex = ex;
    ex.conn = this;
    this.written = false;
    this.parser = new Http1ResponseParser(ex.handler);
    const { method, path, headerLines, body } = ex.request;
    const head = `${method} ${path} HTTP/1.1\r\nhost: ${this.pool.origin.host}\r\n${headerLines}`;
    const text = body === undefined ? `${head}\r\n` : `${head}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    this.socket.write(text, this.onWritten);
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.socket.destroy();
    this.pool.gone(this);
  }

  private readonly onWritten = (err?: Error | null): void => {
    if (err == null) this.written = true;
  };

  private onConnect(): void {
    this.connected = true;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private onData(chunk: Buffer): void {
    const ex = this.ex;
    const parser = this.parser;
    if (ex === null || parser === null) {
      // Nothing was asked: an unsolicited answer. The connection cannot be trusted with the next request.
      this.destroy();
      return;
    }
    let end: number;
    try {
      end = parser.feed(chunk);
    } catch (err) {
      this.fail('protocol', `malformed response from ${this.pool.origin.host}: ${(err as Http1ProtocolError).message}`);
      return;
    }
    if (end === -1 || ex.over) return;
    // The request must have been written before the answer began, else the server may still be reading it.
    const reusable = parser.reusable && end === chunk.length && this.written;
    this.finish(ex, reusable);
  }

  private onEnd(): void {
    const ex = this.ex;
    if (ex !== null && this.parser?.eof() === true && !ex.over) {
      this.finish(ex, false);
      return;
    }
    this.fail('reset', this.parser?.started === true ? `connection to ${this.pool.origin.host} closed before the response ended` : `connection to ${this.pool.origin.host} closed before a response`);
  }

  private finish(ex: Http1Exchange, reusable: boolean): void {
    this.ex = null;
    this.parser = null;
    ex.conn = null;
    ex.over = true;
    if (reusable) this.pool.release(this);
    else this.destroy();
    ex.handler.onEnd();
  }

  /** The exchange in flight (if any) fails with this; the connection is destroyed either way. */
  private fail(kind: Http1FailureKind, message: string): void {
    const ex = this.ex;
    this.ex = null;
    this.parser = null;
    this.destroy();
    if (ex !== null && !ex.over) {
      ex.over = true;
      ex.conn = null;
      ex.handler.onError(new Http1Error(kind, message));
    }
  }
}
