/**
 * The tcp backend's receiver: a net.Server on the decode node; each sender's connection to it is a
 * link's control connection (receive-handshake.ts), from which the receiver dials back the data
 * connection that writes into the pool (receive-stream.ts).
 *
 * Decisions: the port is chosen by the OS (it is published through the registry, so nobody needs it
 * in advance); TCP_NODELAY so ACKs leave at once; `close` destroys open connections, control and data
 * (a sender mid-write sees its write fail) instead of waiting for senders to hang up, and is bounded
 * by a timeout.
 */
import { listenOnFreePort } from '../listen-port.js';
import { createServer, type Server, type Socket } from 'node:net';
import { withTimeout } from '../../node/timeout.js';
import type { KvEndpoint, KvReceiver, PoolRegion } from '../kv-transfer.js';
import { advertisedHost } from './advertised-host.js';
import { ReceiveHandshake } from './receive-handshake.js';

/** Bounds binding the port and closing. */
const TIMEOUT_MS = 5000;

export class TcpKvReceiver implements KvReceiver {
  private constructor(private readonly server: Server, private readonly sockets: Set<Socket>, readonly endpoint: KvEndpoint) {}

  /** Listens on `host` (an OS-chosen port) and serves writes into `pool`. */
  static async listen(pool: PoolRegion, host: string, onRefuse: (reason: string) => void): Promise<TcpKvReceiver> {
    const sockets = new Set<Socket>();
    const track = (socket: Socket): void => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    const server = createServer({ noDelay: true }, (socket) => {
      track(socket);
      new ReceiveHandshake(socket, pool, (reason) => onRefuse(`refused KV sender ${socket.remoteAddress}:${socket.remotePort}: ${reason}`), track);
    });
    const port = await listenOnFreePort(server, host, TIMEOUT_MS, 'tcp KV receiver');
    return new TcpKvReceiver(server, sockets, { backend: 'tcp', host: advertisedHost(host), port });
  }

  /** Grants are not enforced yet: a room's pages stay quarantined until its writer confirms it over. */
  grant(): void {}

  async release(_room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    return how === 'confirmed';
  }

  async cutWriter(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await withTimeout(closed, TIMEOUT_MS, 'tcp KV receiver close');
  }
}
