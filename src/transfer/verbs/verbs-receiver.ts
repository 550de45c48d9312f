/**
 * The verbs backend's receiver (decode side): the pool is registered on every chosen device, and a
 * small TCP server answers each sender's queue-pair exchange (qp-exchange.ts). Data never passes
 * through this process's code: senders RDMA-WRITE straight into the registered pool.
 *
 * Decisions:
 * - Per sender connection and lane, one RC queue pair on the device's CQ (where nothing of it ever
 *   completes: the receiver posts nothing, and plain RDMA WRITEs complete nothing on the target). The queue pairs
 *   live as long as that TCP connection: when it closes they are destroyed, so a sender's later
 *   writes fail at the sender instead of landing in pages that may have been reused.
 * - A hello with another page size, or naming a device index we do not have, is refused with the
 *   reason, and the connection closed.
 * - `close` destroys the open connections (and so their queue pairs); the devices belong to the
 *   manager.
 */
import { listenOnFreePort } from '../listen-port.js';
import { createServer, type Server, type Socket } from 'node:net';
import { withTimeout } from '../../node/timeout.js';
import type { KvEndpoint, KvReceiver, PoolRegion } from '../kv-transfer.js';
import { advertisedHost } from '../tcp/advertised-host.js';
import { nextExchange, sendExchange, type LaneAnswer, type LaneOffer } from './qp-exchange.js';
import { VerbsDevice, type LinkQp } from './verbs-device.js';

/** Bounds binding the port, closing, and a sender's hello. */
const TIMEOUT_MS = 5000;
/** The receiver's QPs send nothing; the provider still wants a send queue. */
const RECEIVER_SEND_WR = 1;

export class VerbsKvReceiver implements KvReceiver {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly devices: readonly VerbsDevice[],
    private readonly pool: PoolRegion,
    private readonly onRefuse: (reason: string) => void,
    readonly endpoint: KvEndpoint,
  ) {}

  /** Serves the exchange on `host` (an OS-chosen port) for `devices`, which hold `pool` registered. */
  static async listen(devices: readonly VerbsDevice[], pool: PoolRegion, host: string, onRefuse: (reason: string) => void): Promise<VerbsKvReceiver> {
    const server = createServer({ noDelay: true });
    const port = await listenOnFreePort(server, host, TIMEOUT_MS, 'verbs KV receiver');
    const endpoint: KvEndpoint = { backend: 'verbs', host: advertisedHost(host), port, bytes: pool.buffer.byteLength, devices: devices.map((d) => d.endpoint()) };
    const receiver = new VerbsKvReceiver(server, devices, pool, onRefuse, endpoint);
    server.on('connection', (socket) => receiver.serve(socket));
    return receiver;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const links: { device: VerbsDevice; link: LinkQp }[] = [];
    socket.on('error', () => {}); // 'close' follows and cleans up
    socket.once('close', () => {
      this.sockets.delete(socket);
      for (const { device, link } of links) device.destroyLinkQp(link);
    });
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    withTimeout(nextExchange(socket), TIMEOUT_MS, 'verbs QP exchange hello').then(
      (hello) => {
        if (socket.destroyed) return;
        try {
          if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
          if (hello.pageBytes !== this.pool.pageBytes) throw new Error(`page size mismatch: the sender's pages are ${hello.pageBytes} B, this pool's are ${this.pool.pageBytes} B`);
          const answers = hello.lanes.map((offer) => this.accept(offer, links));
          sendExchange(socket, { type: 'welcome', numPages: this.pool.numPages, lanes: answers });
        } catch (err) {
          this.refuse(socket, peer, (err as Error).message);
        }
      },
      (err: Error) => this.refuse(socket, peer, err.message),
    );
  }

  /** Our queue pair for one lane of a sender, connected to its. */
  private accept(offer: LaneOffer, links: { device: VerbsDevice; link: LinkQp }[]): LaneAnswer {
    const device = this.devices[offer.device];
    if (!device) throw new Error(`lane names device ${offer.device}; this receiver has ${this.devices.length}`);
    const link = device.createLinkQp(RECEIVER_SEND_WR);
    links.push({ device, link });
    const mtu = Math.min(offer.mtu, device.activeMtu);
    device.connect(link, mtu, { qpNum: offer.qpNum, psn: offer.psn, gid: Buffer.from(offer.gid, 'hex'), lid: offer.lid });
    return { qpNum: link.qp.qpNum, psn: link.psn, mtu };
  }

  /** Grants are not enforced yet: a room's pages stay quarantined until its writer confirms it over. */
  grant(): void {}

  async release(_room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    return how === 'confirmed';
  }

  /** The writer's queue pairs are not yet moved to the error state, so its bytes may still land. */
  async cutWriter(): Promise<boolean> {
    return false;
  }

  private refuse(socket: Socket, peer: string, reason: string): void {
    this.onRefuse(`refused verbs KV sender ${peer}: ${reason}`);
    if (!socket.destroyed) {
      sendExchange(socket, { type: 'refused', reason });
      socket.end();
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await withTimeout(closed, TIMEOUT_MS, 'verbs KV receiver close');
  }
}
