/**
 * One HTTP exchange with a node, bounded and cancellable. Decisions:
 * - node:http rather than fetch: the router must bound the TCP connect separately from the whole
 *   exchange, and cancelling must destroy the socket so the node sees the disconnect at once (nodes
 *   abort a request whose client went away and free its pages).
 * - Two timers: connect (from start until the socket connects; a reused keep-alive socket skips it)
 *   and the whole exchange (from start until the response's last byte).
 * - Every failure is an `UpstreamError` whose `kind` drives the router's reaction: `connect` (nothing
 *   reached the node: refused, unreachable, connect timeout), `reset` (the connection broke after it
 *   was made), `timeout`, `cancelled` (the router gave up on it). The first failure wins; later ones
 *   (e.g. the socket error that our own destroy causes) are ignored.
 * - `failed` and `finished` never reject, so watchers can race them without unhandled rejections.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { bearer } from '../server/api-key.js';

export type UpstreamFailureKind = 'connect' | 'reset' | 'timeout' | 'cancelled';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** Keep-alive agents shared by a router's requests; destroyed when the router closes. */
export interface UpstreamAgents {
  http: http.Agent;
  https: https.Agent;
}

export function createUpstreamAgents(): UpstreamAgents {
  return { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
}

/** Where a node listens, parsed once per node (upstream-node.ts), not once per request. */
export interface UpstreamOrigin {
  /** Normalized base URL, for messages. */
  url: string;
  secure: boolean;
  /** Without IPv6 brackets, as node:http wants it. */
  hostname: string;
  port: number;
  /** host[:port] as in the URL, for messages. */
  host: string;
}

export function upstreamOrigin(baseUrl: string): UpstreamOrigin {
  const url = new URL(baseUrl);
  const secure = url.protocol === 'https:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return { url: baseUrl, secure, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, host: url.host };
}

export interface UpstreamCall {
  method: 'GET' | 'POST';
  origin: UpstreamOrigin;
  /** The route, e.g. /generate. */
  path: string;
  /** JSON text; sent with its exact bytes. */
  body?: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Sent as `Authorization: Bearer KEY` (the nodes' --api-key); null: none. */
  apiKey: string | null;
}

export class UpstreamRequest {
  /** The response head; rejects with an UpstreamError if the exchange fails before it. */
  readonly response: Promise<IncomingMessage>;
  /** Resolves with the failure if the exchange fails at any stage; never settles on success. */
  readonly failed: Promise<UpstreamError>;
  /** Resolves once the exchange is over: response read to the end, or failed. */
  readonly finished: Promise<void>;
  private error: UpstreamError | null = null;
  private over = false;
  private readonly req: http.ClientRequest;
  private res: IncomingMessage | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private resolveFailed!: (err: UpstreamError) => void;
  private resolveFinished!: () => void;
  private rejectResponse!: (err: UpstreamError) => void;

  constructor(agents: UpstreamAgents, call: UpstreamCall) {
    this.failed = new Promise((resolve) => (this.resolveFailed = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    let resolveResponse!: (res: IncomingMessage) => void;
    this.response = new Promise((resolve, reject) => {
      resolveResponse = resolve;
      this.rejectResponse = reject;
    });
    // Consumers may never ask for the response (e.g. a cancelled side); its failure is still reported via `failed`.
    this.response.catch(() => undefined);

    const { origin } = call;
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json, text/event-stream' };
    if (call.apiKey !== null) headers.authorization = bearer(call.apiKey);
    if (call.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(call.body);
    }
    const agent = origin.secure ? agents.https : agents.http;
    this.req = (origin.secure ? https : http).request({ hostname: origin.hostname, port: origin.port, path: call.path, method: call.method, headers, agent });
    let connected = false;
    this.later(call.timeoutMs, () => new UpstreamError('timeout', `${call.method} ${origin.url}${call.path} timed out after ${call.timeoutMs / 1000} s`));
    this.req.on('socket', (socket) => {
      if (!socket.connecting) {
        connected = true;
        return;
      }
      const timer = this.later(call.connectTimeoutMs, () => new UpstreamError('connect', `connecting to ${origin.host} timed out after ${call.connectTimeoutMs / 1000} s`));
      socket.once('connect', () => {
        connected = true;
        clearTimeout(timer);
      });
    });
    this.req.on('error', (err: NodeJS.ErrnoException) => {
      const what = err.code ?? err.message;
      this.fail(connected ? new UpstreamError('reset', `connection to ${origin.host} broke: ${what}`) : new UpstreamError('connect', `cannot connect to ${origin.host}: ${what}`));
    });
    this.req.on('response', (res) => {
      this.res = res;
      resolveResponse(res);
      res.on('end', () => this.end());
      res.on('error', () => this.fail(new UpstreamError('reset', `connection to ${origin.host} broke during the response`)));
      res.on('close', () => {
        if (!res.complete) this.fail(new UpstreamError('reset', `connection to ${origin.host} closed before the response ended`));
      });
    });
    this.req.end(call.body);
  }

  /** Gives up on the exchange: destroys the connection, so the node sees the client go away. */
  cancel(reason: string): void {
    this.fail(new UpstreamError('cancelled', reason));
  }

  /**
   * The whole response body as text; rejects with the exchange's UpstreamError. Read with plain
   * `data` events: every answer that is not a stream comes this way, and a stream's async iterator
   * costs several promises and listeners per answer.
   */
  async text(): Promise<string> {
    const res = await this.response;
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => (this.error === null ? resolve(Buffer.concat(parts).toString('utf8')) : reject(this.error)));
      void this.failed.then(reject);
    });
  }

  /** The response body as it arrives; throws the exchange's UpstreamError if it breaks off. */
  async *chunks(): AsyncGenerator<Buffer> {
    const res = await this.response;
    try {
      for await (const chunk of res) yield chunk as Buffer;
    } catch (err) {
      throw this.error ?? err;
    }
    if (this.error !== null) throw this.error;
  }

  private later(ms: number, error: () => UpstreamError): NodeJS.Timeout {
    const timer = setTimeout(() => this.fail(error()), ms);
    this.timers.push(timer);
    return timer;
  }

  private fail(err: UpstreamError): void {
    if (this.over) return;
    this.error = err;
    this.rejectResponse(err);
    this.resolveFailed(err);
    this.req.destroy(err);
    this.res?.destroy(err);
    this.end();
  }

  private end(): void {
    this.over = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.resolveFinished();
  }
}
