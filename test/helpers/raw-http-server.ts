/**
 * A raw TCP server that speaks just enough HTTP/1.1 to misbehave on purpose, for the tests of the
 * router's raw-socket client (src/net/http1-pool.ts): it parses requests (head and Content-Length
 * body, several per keep-alive connection) and hands each to a behaviour that writes whatever bytes
 * it likes on the socket (a truncated body, a bad chunk size, two responses, ...). It records the
 * connections it accepted and which of them the client closed, so tests can prove reuse and
 * destruction without timing.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The connection's number, from 0 in accept order. */
  connection: number;
}

/**
 * Handles one request. `peek` mode (see RawServerOptions) calls it after the head and the body's
 * first bytes only; otherwise after the whole body.
 */
export type RawBehavior = (req: RawRequest, socket: net.Socket) => void;

export interface RawServerOptions {
  /** Call the behaviour once this many body bytes arrived, without reading the rest (an early answer). */
  peekBytes?: number;
}

export class RawHttpServer {
  /** Connections accepted so far. */
  connections = 0;
  /** Requests parsed so far. */
  readonly requests: RawRequest[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly closedWaiters = new Map<number, (() => void)[]>();
  private readonly closed = new Set<number>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(behavior: RawBehavior, options: RawServerOptions = {}): Promise<RawHttpServer> {
    let raw!: RawHttpServer;
    const server = net.createServer((socket) => raw.accept(socket, behavior, options));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    raw = new RawHttpServer(server, (server.address() as AddressInfo).port);
    return raw;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once connection `n` has closed (from either side). */
  closedConnection(n: number): Promise<void> {
    if (this.closed.has(n)) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.set(n, [...(this.closedWaiters.get(n) ?? []), resolve]));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket, behavior: RawBehavior, options: RawServerOptions): void {
    const n = this.connections++;
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.closed.add(n);
      for (const wake of this.closedWaiters.get(n) ?? []) wake();
      this.closedWaiters.delete(n);
    });
    let pending = Buffer.alloc(0);
    let peeked = false;
    socket.on('data', (chunk: Buffer) => {
      if (peeked) return; // an early answer was given: the rest of that body is never read
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const [requestLine, ...lines] = pending.toString('latin1', 0, headEnd).split('\r\n');
        const [method, path] = requestLine.split(' ');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        const have = pending.length - headEnd - 4;
        if (options.peekBytes !== undefined && have >= Math.min(options.peekBytes, length) && have < length) {
          peeked = true;
          const req = { method, path, headers, body: pending.toString('utf8', headEnd + 4), connection: n };
          this.requests.push(req);
          behavior(req, socket);
          return;
        }
        if (have < length) return;
        const req = { method, path, headers, body: pending.toString('utf8', headEnd + 4, headEnd + 4 + length), connection: n };
        pending = pending.subarray(headEnd + 4 + length);
        this.requests.push(req);
        behavior(req, socket);
      }
    });
  }
}

/** A complete JSON response with Content-Length, keep-alive. */
export function jsonResponse(body: unknown, status = 200): string {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}
