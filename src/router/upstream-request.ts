/**
 * One HTTP exchange with a node, bounded and cancellable, on the router's raw-socket HTTP/1.1 client
 * (src/net/http1-pool.ts: a keep-alive pool per node). Decisions:
 * - Our own client rather than node:http or fetch: node:http cost 50-90 us of CPU per exchange and a
 *   routed request makes two (bench/README.md, pd-bench router); the client also bounds the TCP
 *   connect separately, and cancelling destroys the connection so the node sees the disconnect at
 *   once (nodes abort a request whose client went away and free its pages).
 * - Two bounds: connect (the pool's timer, for a new connection; a reused keep-alive one skips it)
 *   and the whole exchange (from start, including a wait for a free connection, to the last byte).
 *   The whole exchange's is a deadline the owner's sweep checks (`expireIfDue`: router-context.ts),
 *   not a timer per exchange: a timer set and cleared twice per routed request cost more than the
 *   sweep, which lets an exchange outlive its bound by at most one sweep interval.
 * - Every failure is an `UpstreamError` whose `kind` drives the router's reaction: `connect` (nothing
 *   reached the node: refused, unreachable), `connect_timeout` (nor did it: the connect went
 *   unanswered within its bound), `reset` (the connection broke after it
 *   was made), `protocol` (the node's answer was not valid HTTP/1.1: that request fails, as a broken
 *   connection does), `timeout`, `cancelled` (the router gave up on it). The first failure wins.
 * - The body is collected as it arrives, whether or not anyone reads it yet, as text: decoded
 *   straight out of the pool's shared read buffer, its one copy on the way to the client (a
 *   StringDecoder only once a read ends inside a multi-byte character); `text()` joins it,
 *   `chunks()` drains it.
 * - `failed` never rejects, so it can be raced without unhandled rejections. The promises are made
 *   only when asked for, and the router's accounting hears of each exchange through an
 *   `UpstreamWatcher`'s plain calls (a routed request makes two exchanges: every promise counts).
 */
import { StringDecoder } from 'node:string_decoder';
import type { Http1Error, Http1Exchange, Http1Origin, Http1Pool, ExchangeHandler } from '../net/http1-pool.js';
import type { ResponseHead } from '../net/http1-parser.js';
import { bearer } from '../server/api-key.js';
import type { UpstreamNode } from './upstream-node.js';

export type UpstreamFailureKind = 'connect' | 'connect_timeout' | 'reset' | 'protocol' | 'timeout' | 'cancelled';

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
  /** The node a generation exchange counts against (its load, health, errors); null for control calls. */
  node: UpstreamNode | null;
  watcher: UpstreamWatcher;
}

/**
 * Told synchronously how each exchange goes (the router's in-flight set, node load, health and
 * metrics): plain calls rather than reactions on the exchange's promises, which cost several
 * promises per exchange on the router's hottest path.
 */
export interface UpstreamWatcher {
  /** The response head arrived. */
  answered(req: UpstreamRequest, head: ResponseHead): void;
  /** The exchange is over: `error` is null when the response was read to its end. */
  over(req: UpstreamRequest, error: UpstreamError | null): void;
}

const ACCEPT = 'accept: application/json, text/event-stream\r\n';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: UpstreamError) => void;
}

export class UpstreamRequest implements ExchangeHandler {
  private head: ResponseHead | null = null;
  private error: UpstreamError | null = null;
  private over = false;
  private readonly exchange: Http1Exchange;
  /** performance.now() past which the exchange fails as `timeout`. */
  private readonly deadline: number;
  /** Body text received and not yet taken by `chunks()`. */
  private parts: string[] = [];
  /** Made once a read ends inside a multi-byte character, and used from then on; null: none needed yet. */
  private decoder: StringDecoder | null = null;
  /** Wakes a reader waiting in `chunks()`. */
  private wake: (() => void) | null = null;
  // Made only when asked for: most exchanges need `response` and `text()`, few `failed`.
  private responsePromise: Promise<ResponseHead> | null = null;
  private headWaiter: Waiter<ResponseHead> | null = null;
  private textWaiter: Waiter<string> | null = null;
  private failedPromise: Promise<UpstreamError> | null = null;
  private resolveFailed: ((err: UpstreamError) => void) | null = null;

  /** The node's answer count when this exchange began (router-context.ts: a connect timeout with answers since is a busy node). */
  readonly nodeAnswersAtStart: number;

  constructor(readonly call: UpstreamCall) {
    this.nodeAnswersAtStart = call.node === null ? 0 : call.node.answers;
    const { method, path, pool } = call;
    this.deadline = performance.now() + call.timeoutMs;
    const headerLines = call.apiKey === null ? ACCEPT : `${ACCEPT}authorization: ${bearer(call.apiKey)}\r\n`;
    this.exchange = pool.request({ method, path, headerLines, body: call.body, connectTimeoutMs: call.connectTimeoutMs }, this);
  }

  /** The response head; rejects with an UpstreamError if the exchange fails before it. */
  get response(): Promise<ResponseHead> {
    if (this.responsePromise === null) {
      if (this.head !== null) this.responsePromise = Promise.resolve(this.head);
      else if (this.error !== null) this.responsePromise = Promise.reject(this.error);
      else this.responsePromise = new Promise((resolve, reject) => (this.headWaiter = { resolve, reject }));
    }
    return this.responsePromise;
  }

  /** Resolves with the failure if the exchange fails at any stage; never settles on success. */
  get failed(): Promise<UpstreamError> {
    if (this.failedPromise === null) {
      if (this.error !== null) this.failedPromise = Promise.resolve(this.error);
      else this.failedPromise = new Promise((resolve) => (this.resolveFailed = resolve));
    }
    return this.failedPromise;
  }

  /** Gives up on the exchange: destroys the connection, so the node sees the client go away. */
  cancel(reason: string): void {
    this.fail(new UpstreamError('cancelled', reason));
  }

  /** The response head once it arrived (always, once `text()` resolved); null before. */
  get headNow(): ResponseHead | null {
    return this.head;
  }

  /** The whole response body as text; rejects with the exchange's UpstreamError. */
  text(): Promise<string> {
    if (this.error !== null) return Promise.reject(this.error);
    if (this.over) return Promise.resolve(this.joined());
    return new Promise((resolve, reject) => (this.textWaiter = { resolve, reject }));
  }

  /** The response body's text as it arrives; throws the exchange's UpstreamError if it breaks off. */
  async *chunks(): AsyncGenerator<string> {
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

  /** Fails the exchange as `timeout` if it is still going at `now` (performance.now()) past its deadline. */
  expireIfDue(now: number): void {
    if (this.over || now < this.deadline) return;
    const { method, pool, path, timeoutMs } = this.call;
    this.fail(new UpstreamError('timeout', `${method} ${pool.origin.url}${path} timed out after ${timeoutMs / 1000} s`));
  }

  // ExchangeHandler: called by the pool's connection.

  onHead(head: ResponseHead): void {
    this.head = head;
    this.headWaiter?.resolve(head);
    this.headWaiter = null;
    this.call.watcher.answered(this, head);
  }

  onData(chunk: Buffer): void {
    // A read that ends on an ASCII byte ends no character halfway (nor began one, without a decoder).
    if (this.decoder === null && chunk[chunk.length - 1] < 0x80) this.parts.push(chunk.toString('utf8'));
    else this.parts.push((this.decoder ??= new StringDecoder('utf8')).write(chunk));
    this.wakeReader();
  }

  onEnd(): void {
    if (this.over) return;
    this.over = true;
    const tail = this.decoder?.end() ?? '';
    if (tail !== '') this.parts.push(tail);
    this.textWaiter?.resolve(this.joined());
    this.textWaiter = null;
    this.wakeReader();
    this.call.watcher.over(this, null);
  }

  onError(err: Http1Error): void {
    this.fail(new UpstreamError(err.kind, err.message));
  }

  private joined(): string {
    const parts = this.parts;
    this.parts = [];
    return parts.length === 1 ? parts[0] : parts.join('');
  }

  private fail(err: UpstreamError): void {
    if (this.over) return;
    this.over = true;
    this.error = err;
    this.parts = [];
    this.exchange?.abort();
    this.headWaiter?.reject(err);
    this.headWaiter = null;
    this.textWaiter?.reject(err);
    this.textWaiter = null;
    this.resolveFailed?.(err);
    this.wakeReader();
    this.call.watcher.over(this, err);
  }

  private wakeReader(): void {
    const wake = this.wake;
    if (wake === null) return;
    this.wake = null;
    wake();
  }
}
