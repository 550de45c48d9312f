/**
 * A raw HTTP/1.1 front on a Node `http.Server`: the requests it claims (the router's generation
 * routes) are parsed and answered on the socket directly; any other request hands its connection to
 * the http.Server (Fastify's) for the rest of that connection's life. It exists because Node's HTTP
 * server and Fastify cost ~20 % of the router's CPU per request (bench/README.md, pd-bench router).
 * Decisions:
 * - The http.Server keeps owning the port: the front takes the server's 'connection' listeners and
 *   calls them on a handover (after `unshift`ing every byte of the request it read), so listen,
 *   address, `--workers` (cluster), close and Node's own timeouts stay as they were for handed-over
 *   connections, and no second parser of requests exists: heads and bodies are read by
 *   http1-parser.ts, the same core as the upstream client's.
 * - A handover is decided on the head (method and path), before any body byte is read, and is for
 *   good: Node's parser cannot hand a connection back. So the app behind must serve the claimed
 *   routes too (the router registers the same handler there); a client that asks /v1/models first
 *   on a connection then generates through the slower path on it, and still gets its answers.
 * - Requests on a connection are answered in order: a pipelined request is parsed only once the
 *   response before it has ended; bytes that arrive meanwhile are kept (at most one request's worth,
 *   MAX_PIPELINED_BYTES; beyond that the socket is paused until the response ends).
 * - Bounds, each answered as Node's server would: a head over `maxHeadBytes` is 431, a body over
 *   `maxBodyBytes` 413 (at once from Content-Length), bad framing (both Content-Length and
 *   Transfer-Encoding, bad lengths or chunk sizes) 400, an unknown Transfer-Encoding 501, a head not
 *   whole within `headTimeoutMs` of its first byte (slowloris) or a body not whole within
 *   `bodyTimeoutMs` of its head 408. After such an answer the connection is closed (its framing is
 *   lost): our side is ended and the rest the client sends is read and dropped for LINGER_MS, so the
 *   client reads its answer rather than a reset. An idle keep-alive connection is closed after
 *   `keepAliveTimeoutMs`.
 * - Timeouts are checked by one sweep over the connections (as Node's server does), not a timer per
 *   request: a request costs no timer and one clock read per phase.
 * - The front keeps no count of its requests in flight: it tells the app's `RequestTracker` when one
 *   starts and ends, so an app with other paths (Fastify's) has one count and one wait when closing.
 * - `Expect: 100-continue` is answered with 100 Continue when the head is claimed (or by Node after
 *   a handover); a Content-Length over the bound is refused before it.
 * - A client that closes its side (FIN) or resets closes the connection: a response in flight
 *   'close's unended, which is how a handler learns the client left (as with Node's server, which
 *   does not keep half-open connections by default).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Http1ProtocolError, Http1RequestParser, MAX_HEAD_BYTES, type RequestHead, type RequestSink } from './http1-parser.js';
import { Http1Response, responseHead, type ResponseConnection } from './http1-response.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './payload-limit.js';

/** Told when a request starts and ends being answered (the app's count of requests in flight, on all its paths). */
export interface RequestTracker {
  started(): void;
  finished(): void;
}

export interface Http1FrontOptions {
  maxHeadBytes: number;
  maxBodyBytes: number;
  /** What raises `maxBodyBytes` (e.g. a CLI flag), named in the 413 answer; null: nothing named. */
  maxBodyBytesSetBy: string | null;
  headTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** The JSON text of an error answer (the app's error shape). */
  errorBody(status: number, message: string): string;
  requests: RequestTracker;
}

export const DEFAULT_FRONT_LIMITS = {
  /** Node's default head limit. */
  maxHeadBytes: MAX_HEAD_BYTES,
  /** The default body limit (--max-payload-size). */
  maxBodyBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  /** Node's headersTimeout and nginx's client_header_timeout. */
  headTimeoutMs: 60_000,
  /** nginx's client_body_timeout; Node bounds head and body together by 300 s. */
  bodyTimeoutMs: 60_000,
  /** Fastify's keepAliveTimeout (72 s, above common load balancers' 60 s idle), which the router's clients had before this front. */
  keepAliveTimeoutMs: 72_000,
} as const;

/** The head of the front's own answers: refusals and a handler's exception (the app's JSON error shape). */
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/** How long the rest of a refused request is read and dropped before the connection is destroyed. */
const LINGER_MS = 2_000;
/** Longest interval between timeout sweeps: a timeout fires at most this late. */
const MAX_SWEEP_MS = 1_000;

export interface Http1FrontRequest {
  head: RequestHead;
  /** The whole body (empty when none). */
  body: Buffer;
}

export type Http1Handler = (req: Http1FrontRequest, res: Http1Response) => void;

/** An answer to a head the front gives at once, without reading the body (the connection then closes). */
export interface Http1Refusal {
  readonly status: number;
  /** The JSON text of the answer. */
  readonly body: string;
}

/**
 * The handler for a head the front serves itself, a refusal (a request refused on its head alone:
 * no body byte is read, no 100 Continue sent), or null: the connection goes to the http.Server.
 */
export type Http1Claim = (head: RequestHead) => Http1Handler | Http1Refusal | null;

type Phase = 'idle' | 'head' | 'body' | 'busy' | 'closing';

export class Http1Front {
  private readonly connections = new Set<Connection>();
  private readonly handOverTo: ((socket: Socket) => void)[];
  private readonly sweeper: NodeJS.Timeout;
  private stopping = false;
  readonly maxPipelinedBytes: number;
  readonly keepAliveSecs: number;

  constructor(
    server: Server,
    readonly claim: Http1Claim,
    readonly options: Http1FrontOptions,
    /** Told of an exception a handler threw (the request is answered 500). */
    readonly onHandlerError: (err: unknown, head: RequestHead) => void,
  ) {
    const listeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    this.handOverTo = listeners.map((l) => l.bind(server));
    server.on('connection', (socket: Socket) => this.connections.add(new Connection(this, socket)));
    this.maxPipelinedBytes = options.maxHeadBytes + options.maxBodyBytes;
    this.keepAliveSecs = Math.round(options.keepAliveTimeoutMs / 1000);
    const sweepMs = Math.min(MAX_SWEEP_MS, options.headTimeoutMs / 2, options.bodyTimeoutMs / 2, options.keepAliveTimeoutMs / 2);
    this.sweeper = setInterval(() => this.sweep(), sweepMs).unref();
  }

  /** Whether the front is closing: a connection closes after its response. */
  get closing(): boolean {
    return this.stopping;
  }

  /** Stops keeping connections: idle ones close now, busy ones after their response. */
  startClosing(): void {
    this.stopping = true;
    for (const conn of this.connections) if (conn.phase !== 'busy') conn.destroy();
  }

  /** Destroys every connection the front still holds and stops its sweeps. */
  destroyAll(): void {
    clearInterval(this.sweeper);
    for (const conn of this.connections) conn.destroy();
  }

  // For its connections: a connection closed or is handed over.

  forget(conn: Connection): void {
    this.connections.delete(conn);
  }

  handOver(conn: Connection, socket: Socket, bytes: Buffer): void {
    this.connections.delete(conn);
    socket.pause();
    socket.unshift(bytes);
    for (const listener of this.handOverTo) listener(socket);
    socket.resume();
  }

  private sweep(): void {
    const now = performance.now();
    const o = this.options;
    for (const conn of this.connections) {
      const age = now - conn.since;
      switch (conn.phase) {
        case 'idle':
          if (age > o.keepAliveTimeoutMs) conn.destroy();
          break;
        case 'head':
          if (age > o.headTimeoutMs) conn.refuse(new Http1ProtocolError(`request head not received within ${o.headTimeoutMs / 1000} s`, 408));
          break;
        case 'body':
          if (age > o.bodyTimeoutMs) conn.refuse(new Http1ProtocolError(`request body not received within ${o.bodyTimeoutMs / 1000} s`, 408));
          break;
        case 'closing':
          if (age > LINGER_MS) conn.destroy();
          break;
        case 'busy':
          break;
      }
    }
  }
}

/** One client connection while the front serves it. */
class Connection implements RequestSink, ResponseConnection {
  phase: Phase = 'idle';
  /** When the phase began (performance.now()). */
  since = performance.now();
  private parser: Http1RequestParser | null = null;
  private head: RequestHead | null = null;
  private handler: Http1Handler | null = null;
  /** The head was not claimed: the connection goes to the http.Server. */
  private handingOver = false;
  /** Reads of the current request's head before the one being parsed (a head split across reads). */
  private readonly headParts: Buffer[] = [];
  private bodyParts: Buffer[] = [];
  /**
   * Bytes that arrived while a response was being made (pipelined requests), in order: a list joined
   * once when the response ends, not a buffer grown per read (quadratic in the bytes that queue up).
   */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private res: Http1Response | null = null;

  constructor(
    private readonly front: Http1Front,
    private readonly socket: Socket,
  ) {
    socket.on('data', this.onRead);
    socket.on('end', this.onEnd);
    socket.on('error', onSocketError);
    socket.on('close', this.onClose);
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get keepAliveSecs(): number {
    return this.front.keepAliveSecs;
  }

  send(text: string): void {
    this.socket.write(text);
  }

  responseEnded(keepAlive: boolean): void {
    this.res = null;
    this.front.options.requests.finished();
    if (!keepAlive || this.front.closing) {
      this.linger();
      return;
    }
    this.enter('idle');
    if (this.pending.length > 0) {
      const pending = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      this.dropPending();
      if (this.socket.isPaused()) this.socket.resume();
      // After the handler's own code that ended the response has run.
      queueMicrotask(() => this.parse(pending));
    }
  }

  // RequestSink: called by the parser.

  onHead(head: RequestHead): void {
    const handler = this.front.claim(head);
    if (handler === null) {
      this.handingOver = true;
      return;
    }
    if (typeof handler !== 'function') {
      this.answerAndClose(handler.status, handler.body);
      return;
    }
    this.head = head;
    this.handler = handler;
    this.enter('body');
    if (head.expectContinue && head.hasBody) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  onData(chunk: Buffer): void {
    if (!this.handingOver && this.phase === 'body') this.bodyParts.push(chunk);
  }

  /** Answers a fault with its status and closes the connection. */
  refuse(err: Http1ProtocolError): void {
    this.answerAndClose(err.status, this.front.options.errorBody(err.status, err.message));
  }

  private answerAndClose(status: number, body: string): void {
    if (this.destroyed || this.phase === 'closing') return;
    this.socket.write(responseHead(status, JSON_HEADERS, `content-length: ${Buffer.byteLength(body)}\r\n`, null) + body);
    this.linger();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private readonly onRead = (chunk: Buffer): void => {
    if (this.phase === 'closing') return; // the rest of a refused request
    if (this.phase === 'busy') {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes > this.front.maxPipelinedBytes) this.socket.pause();
      return;
    }
    this.parse(chunk);
  };

  /** The client closed its side: a response in flight is abandoned; otherwise ours is ended after what is queued. */
  private readonly onEnd = (): void => {
    if (this.phase === 'busy') this.destroy();
    else this.socket.end();
  };

  private readonly onClose = (): void => {
    this.front.forget(this);
    const res = this.res;
    if (res !== null) {
      this.res = null;
      this.front.options.requests.finished();
      res.close();
    }
  };

  private parse(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.phase !== 'idle' && this.phase !== 'head' && this.phase !== 'body') break;
      if (this.parser === null) {
        const o = this.front.options;
        this.parser = new Http1RequestParser(this, o.maxHeadBytes, o.maxBodyBytes, o.maxBodyBytesSetBy);
        this.enter('head');
      }
      const part = pos === 0 ? chunk : chunk.subarray(pos);
      let end: number;
      try {
        end = this.parser.feed(part);
      } catch (err) {
        if (this.handingOver) this.handOver(part);
        else this.refuse(err instanceof Http1ProtocolError ? err : new Http1ProtocolError(String(err)));
        return;
      }
      if (this.handingOver) {
        this.handOver(part);
        return;
      }
      if ((this.phase as Phase) === 'closing') return; // refused on its head (onHead ran inside feed)
      if (end === -1) {
        if (!this.parser.inBody) this.headParts.push(part);
        return;
      }
      pos += end;
      this.dispatch();
    }
    if (pos < chunk.length) {
      this.pending.push(chunk.subarray(pos));
      this.pendingBytes += chunk.length - pos;
    }
  }

  private dispatch(): void {
    const head = this.head!;
    const handler = this.handler!;
    const parts = this.bodyParts;
    const body = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.parser = null;
    this.head = null;
    this.handler = null;
    this.headParts.length = 0;
    this.bodyParts = [];
    this.enter('busy');
    this.front.options.requests.started();
    const res = new Http1Response(this, head.keepAlive, head.minor === 1);
    this.res = res;
    try {
      handler({ head, body }, res);
    } catch (err) {
      this.front.onHandlerError(err, head);
      if (!res.writableEnded) res.writeHead(500, JSON_HEADERS).end(this.front.options.errorBody(500, 'internal server error'));
    }
  }

  private handOver(part: Buffer): void {
    this.socket.off('data', this.onRead);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', onSocketError);
    this.socket.off('close', this.onClose);
    const bytes = this.headParts.length === 0 ? part : Buffer.concat([...this.headParts, part]);
    this.front.handOver(this, this.socket, bytes);
  }

  /** Ends our side and drops what the client still sends, for LINGER_MS at most. */
  private linger(): void {
    this.enter('closing');
    this.dropPending();
    if (this.socket.isPaused()) this.socket.resume();
    this.socket.end();
  }

  private dropPending(): void {
    this.pending.length = 0;
    this.pendingBytes = 0;
  }

  private enter(phase: Phase): void {
    this.phase = phase;
    this.since = performance.now();
  }
}

const EMPTY = Buffer.alloc(0);

/** A socket error is followed by 'close', where the connection's end is handled. */
function onSocketError(): void {}
