/**
 * One HTTP exchange with a node, bounded and cancellable, on the router's raw-socket HTTP/1.1 client
 * (src/net/http1-pool.ts: a keep-alive pool per node). Decisions:
 * - Our own client rather than node:http or fetch: node:http cost 50-90 us of CPU per exchange and a
 *   routed request makes two (bench/README.md, pd-bench router); the client also bounds the TCP
 *   connect separately, and cancelling destroys the connection so the node sees the disconnect at
 *   once (nodes abort a request whose client went away and free its pages).
 * - Two timers: connect (the pool's, for a new connection; a reused keep-alive one skips it) and the
 *   whole exchange (here, from start, including a wait for a free connection, to the last byte).
 * - Every failure is an `UpstreamError` whose `kind` drives the router's reaction: `connect` (nothing
 *   reached the node: refused, unreachable, connect timeout), `reset` (the connection broke after it
 *   was made), `protocol` (the node's answer was not valid HTTP/1.1: that request fails, as a broken
 *   connection does), `timeout`, `cancelled` (the router gave up on it). The first failure wins.
 * - The body is collected as it arrives, whether or not anyone reads it yet (the slices of the
 *   connection's reads are fresh buffers, kept without a copy); `text()` joins it, `chunks()` drains it.
 * - `failed` and `finished` never reject, so watchers can race them without unhandled rejections.
 */
import type { Http1Error, Http1Exchange, Http1Origin, Http1Pool, ExchangeHandler } from '../net/http1-pool.js';
import type { ResponseHead } from '../net/http1-parser.js';
import { bearer } from '../server/api-key.js';

export type UpstreamFailureKind = 'connect' | 'reset' | 'protocol' | 'timeout' | 'cancelled';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** Where a node listens, parsed once per node (upstream-node.ts), not once per request. */
export type UpstreamOrigin = Http1Origin;

export function upstreamOrigin(baseUrl: string): UpstreamOrigin {
  const url = new URL(baseUrl);
  const secure = url.protocol === 'https:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return { url: baseUrl, secure, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, host: url.host };
}

export interface UpstreamCall {
  method: 'GET' | 'POST';
  /** The node's connection pool. */
  pool: Http1Pool;
  /** The route, e.g. /generate. */
  path: string;
  /** JSON text; sent with its exact bytes. */
  body?: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Sent as `Authorization: Bearer KEY` (the nodes' --api-key); null: none. */
  apiKey: string | null;
}

const ACCEPT = 'accept: application/json, text/event-stream\r\n';

export class UpstreamRequest implements ExchangeHandler {
  /** The response head; rejects with an UpstreamError if the exchange fails before it. */
  readonly response: Promise<ResponseHead>;
  /** Resolves with the failure if the exchange fails at any stage; never settles on success. */
  readonly failed: Promise<UpstreamError>;
  /** Resolves once the exchange is over: response read to the end, or failed. */
  readonly finished: Promise<void>;
  private error: UpstreamError | null = null;
  private over = false;
  private readonly exchange: Http1Exchange;
  private readonly timer: NodeJS.Timeout;
  /** Body bytes received and not yet taken by `chunks()`. */
  private parts: Buffer[] = [];
  /** Wakes a reader waiting in `text()` or `chunks()`. */
  private wake: (() => void) | null = null;
  private resolveFailed!: (err: UpstreamError) => void;
  private resolveFinished!: () => void;
  private resolveResponse!: (head: ResponseHead) => void;
  private rejectResponse!: (err: UpstreamError) => void;

  constructor(call: UpstreamCall) {
    this.failed = new Promise((resolve) => (this.resolveFailed = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.response = new Promise((resolve, reject) => {
      this.resolveResponse = resolve;
      this.rejectResponse = reject;
    });
    // Consumers may never ask for the response (e.g. a cancelled side); its failure is still reported via `failed`.
    this.response.catch(() => undefined);
    const { method, path, pool, timeoutMs } = call;
    this.timer = setTimeout(() => this.fail(new UpstreamError('timeout', `${method} ${pool.origin.url}${path} timed out after ${timeoutMs / 1000} s`)), timeoutMs);
    const headerLines = call.apiKey === null ? ACCEPT : `${ACCEPT}authorization: ${bearer(call.apiKey)}\r\n`;
    this.exchange = pool.request({ method, path, headerLines, body: call.body, connectTimeoutMs: call.connectTimeoutMs }, this);
  }

  /** Gives up on the exchange: destroys the connection, so the node sees the client go away. */
  cancel(reason: string): void {
    this.fail(new UpstreamError('cancelled', reason));
  }

  /** The whole response body as text; rejects with the exchange's UpstreamError. */
  async text(): Promise<string> {
    await this.response;
    while (!this.over) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.error !== null) throw this.error;
    const parts = this.parts;
    this.parts = [];
    return (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8');
  }

  /** The response body as it arrives; throws the exchange's UpstreamError if it breaks off. */
  async *chunks(): AsyncGenerator<Buffer> {
    await this.response;
    for (;;) {
      const parts = this.parts;
      this.parts = [];
      for (const part of parts) yield part;
      if (this.error !== null) throw this.error;
      if (this.over && this.parts.length === 0) return;
      if (this.parts.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  // ExchangeHandler: called by the pool's connection.

  onHead(head: ResponseHead): void {
    this.resolveResponse(head);
  }

  onData(chunk: Buffer): void {
    this.parts.push(chunk);
    this.wakeReader();
  }

  onEnd(): void {
    this.settle();
  }

  onError(err: Http1Error): void {
    this.fail(new UpstreamError(err.kind, err.message));
  }

  private fail(err: UpstreamError): void {
    if (this.over) return;
    this.error = err;
    this.parts = [];
    this.rejectResponse(err);
    this.resolveFailed(err);
    this.exchange?.abort();
    this.settle();
  }

  private settle(): void {
    this.over = true;
    clearTimeout(this.timer);
    this.resolveFinished();
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.wake;
    if (wake === null) return;
    this.wake = null;
    wake();
  }
}
