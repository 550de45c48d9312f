/**
 * The tcp backend's receiver: a net.Server on the decode node; each sender's connection to it is a
 * link's control connection (receive-handshake.ts), from which the receiver dials back the data
 * connection that writes into the pool (receive-stream.ts).
 *
 * Decisions:
 * - The port is chosen by the OS (it is published through the registry, so nobody needs it in
 *   advance); TCP_NODELAY so ACKs leave at once; `close` destroys open connections, control and data
 *   (a sender mid-write sees its write fail) instead of waiting for senders to hang up, and is bounded
 *   by a timeout.
 * - Only senders that prove the cluster secret get a data connection, and a data connection writes
 *   only under a grant (grant-table.ts); a write outside it fails alone (NACK), the link stays.
 *   `release` drops the room's grant and has a data connection reading a write of that room drop the
 *   rest of it and NACK it (receive-stream.ts): a cancelled room never fails the other rooms in
 *   flight on the same link. Reads run on this thread, so release resolves true at once, or, if the
 *   next read of that write was already aimed at the pool, right after that read (bounded by
 *   LAST_READ_MS, then the connection is cut): no byte of the room can land after it. `cutWriter` drops the writer's grants and destroys its connections
 *   (data and handshakes): the peer is lost, its link goes.
 * - Bounds on what strangers can hold: at most `maxUnproven` connections that have not proved the
 *   secret yet and `maxConnections` in all (control and data); beyond either a new connection is
 *   destroyed on accept, the first time logged. Each unproven connection is destroyed after
 *   `handshakeMs` (receive-handshake.ts). Refusals are logged once per peer (refusal-log.ts), refused
 *   writes (NACKs) once per peer in a log of their own, so a routine cancelled room does not hide a
 *   later refused connection of the same peer.
 */
import { listenOnFreePort } from '../listen-port.js';
import { createServer, type Server, type Socket } from 'node:net';
import { withTimeout } from '../../util/timeout.js';
import type { KvReceiver, PoolRegion } from '../kv-transfer.js';
import type { TcpEndpoint } from './endpoint.js';
import { GrantTable } from './grant-table.js';
import { ReceiveHandshake } from './receive-handshake.js';
import type { ReceiveStream } from './receive-stream.js';
import { RefusalLog } from './refusal-log.js';
import { roomNumber } from './wire.js';

/** Bounds binding the port and closing. */
const TIMEOUT_MS = 5000;
/**
 * How long a release waits for the one read of the released write already aimed at the pool
 * (receive-stream.ts). The sender is mid-write, so it normally comes at once; a sender silent this
 * long is stalled, nothing behind that write on its link moves either, so its connection is cut.
 */
const LAST_READ_MS = 1000;

export interface TcpReceiverLimits {
  /** A connection must prove the secret within this (a stranger cannot hold sockets for longer). */
  handshakeMs: number;
  /** Connections not yet proved: a legitimate sender needs one per link for a moment. */
  maxUnproven: number;
  /** Every connection (control and data): a link holds one data connection per prefill node. */
  maxConnections: number;
}

/**
 * Generous for a cluster (a few prefill nodes reconnecting at once need a handful of unproven
 * connections and two per link), far below the process's file limit.
 */
export const DEFAULT_TCP_RECEIVER_LIMITS: TcpReceiverLimits = { handshakeMs: 5000, maxUnproven: 64, maxConnections: 1024 };

export class TcpKvReceiver implements KvReceiver {
  private readonly sockets = new Set<Socket>();
  private readonly handshakes = new Set<ReceiveHandshake>();
  private readonly streams = new Set<ReceiveStream>();
  private readonly grants = new GrantTable();
  private readonly refusals: RefusalLog;
  private readonly nacks: RefusalLog;
  private unproven = 0;
  private server!: Server;
  endpoint!: TcpEndpoint;

  private constructor(private readonly pool: PoolRegion, private readonly key: Buffer, private readonly limits: TcpReceiverLimits, onRefuse: (reason: string) => void) {
    this.refusals = new RefusalLog(onRefuse);
    this.nacks = new RefusalLog(onRefuse);
  }

  /** Listens on `host` (an OS-chosen port) and serves writes into `pool` from senders proving `key`. */
  static async listen(pool: PoolRegion, host: string, key: Buffer, limits: TcpReceiverLimits, onRefuse: (reason: string) => void): Promise<TcpKvReceiver> {
    const receiver = new TcpKvReceiver(pool, key, limits, onRefuse);
    receiver.server = createServer({ noDelay: true }, (socket) => receiver.accept(socket));
    const port = await listenOnFreePort(receiver.server, host, TIMEOUT_MS, 'tcp KV receiver');
    receiver.endpoint = { backend: 'tcp', host, port };
    return receiver;
  }

  grant(room: string, writer: string, pageIds: readonly number[]): void {
    this.grants.grant(room, writer, pageIds);
  }

  async release(room: string): Promise<boolean> {
    this.grants.drop(room);
    const n = roomNumber(room);
    const landing: Promise<void>[] = [];
    for (const stream of this.streams) {
      const last = stream.stopRoom(n);
      if (last) landing.push(withTimeout(last, LAST_READ_MS, 'the last read of a released write').catch(() => stream.cut()));
    }
    await Promise.all(landing);
    return true;
  }

  async cutWriter(writer: string): Promise<boolean> {
    const w = writer.toLowerCase();
    this.grants.dropWriter(w);
    for (const stream of this.streams) if (stream.writer === w) stream.cut();
    for (const handshake of this.handshakes) if (handshake.writer === w) handshake.cut();
    return true;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await withTimeout(closed, TIMEOUT_MS, 'tcp KV receiver close');
  }

  private accept(socket: Socket): void {
    const peer = socket.remoteAddress ?? 'unknown';
    if (this.unproven >= this.limits.maxUnproven || this.sockets.size >= this.limits.maxConnections) {
      socket.destroy();
      this.refusals.refused('connection cap', `refused a KV connection from ${peer}: ${this.unproven} connections have not proved the cluster secret yet (cap ${this.limits.maxUnproven}), ${this.sockets.size} open (cap ${this.limits.maxConnections})`);
      return;
    }
    this.track(socket);
    this.unproven++;
    let proven = false;
    const handshake = new ReceiveHandshake(socket, {
      pool: this.pool,
      key: this.key,
      grants: this.grants,
      handshakeMs: this.limits.handshakeMs,
      onRefuse: (reason) => this.refusals.refused(peer, `refused KV sender ${peer}:${socket.remotePort}: ${reason}`),
      onNack: (reason) => this.nacks.refused(peer, `refused a write of KV sender ${peer}: ${reason}`),
      onProven: () => {
        proven = true;
        this.unproven--;
      },
      onStream: (stream) => {
        this.track(stream.socket);
        this.streams.add(stream);
        stream.socket.once('close', () => this.streams.delete(stream));
      },
    });
    this.handshakes.add(handshake);
    socket.once('close', () => {
      this.handshakes.delete(handshake);
      if (!proven) this.unproven--;
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}
