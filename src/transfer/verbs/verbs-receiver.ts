/**
 * The verbs backend's receiver (decode side): the pool is registered on every chosen device, and a
 * small TCP server answers each sender's queue-pair exchange (qp-exchange.ts). Data never passes
 * through this process's code: senders RDMA-WRITE straight into the registered pool.
 *
 * Decisions:
 * - Per sender connection and lane, one RC queue pair on the device's CQ (where nothing of it ever
 *   completes: the receiver posts nothing, and plain RDMA WRITEs complete nothing on the target). The
 *   queue pairs live as long as that TCP connection: when it closes they are destroyed, so a sender's
 *   later writes fail at the sender instead of landing in pages that may have been reused.
 * - Queue pairs only for writers we know: a hello must present a writer token this receiver was
 *   granted a room for (the token reached the prefill node in a kv_request over the authenticated
 *   control plane), and not one that was cut. Anyone else, like a hello with another page size or
 *   naming a device index we do not have, is refused with the reason and the connection closed.
 * - What RDMA allows: the pool is one memory region, so a writer's queue pairs can write anywhere in
 *   it, and the receiver cannot check a write (its CPU never sees one). So `release` is true only
 *   when the writer confirmed the room over; otherwise the caller quarantines the pages until
 *   `cutWriter`. That moves each of the writer's queue pairs to the error state (the responder
 *   executes no more incoming WRITEs: a late one is dropped and the sender sees a failed completion)
 *   and destroys them, closes its exchange connections, and tombstones the token: a later hello with
 *   it is refused, so the decode node gives the peer a new token. Per-room memory windows would
 *   confine a writer to its room's pages; not done.
 * - `close` destroys the open connections (and so their queue pairs); the devices belong to the
 *   manager.
 */
import { listenOnFreePort } from '../listen-port.js';
import { createServer, type Server, type Socket } from 'node:net';
import { withTimeout } from '../../util/timeout.js';
import type { KvReceiver, PoolRegion } from '../kv-transfer.js';
import type { VerbsEndpoint } from './endpoint.js';
import { nextExchange, sendExchange, type LaneAnswer, type LaneOffer } from './qp-exchange.js';
import { VerbsDevice, type LinkQp } from './verbs-device.js';

/** Bounds binding the port, closing, and a sender's hello. */
const TIMEOUT_MS = 5000;
/** The receiver's QPs send nothing; the provider still wants a send queue. */
const RECEIVER_SEND_WR = 1;

/** One sender's exchange connection and the queue pairs made for it. */
interface Connection {
  socket: Socket;
  /** Set once its hello was accepted. */
  writer: string | null;
  links: { device: VerbsDevice; link: LinkQp }[];
}

export class VerbsKvReceiver implements KvReceiver {
  private readonly connections = new Set<Connection>();
  /** Writers granted a room and not cut: only they may connect. */
  private readonly writers = new Set<string>();
  /** Cut writers: refused for good. */
  private readonly cut = new Set<string>();

  private constructor(
    private readonly server: Server,
    private readonly devices: readonly VerbsDevice[],
    private readonly pool: PoolRegion,
    private readonly onRefuse: (reason: string) => void,
    readonly endpoint: VerbsEndpoint,
  ) {}

  /** Serves the exchange on `host` (an OS-chosen port) for `devices`, which hold `pool` registered. */
  static async listen(devices: readonly VerbsDevice[], pool: PoolRegion, host: string, onRefuse: (reason: string) => void): Promise<VerbsKvReceiver> {
    const server = createServer({ noDelay: true });
    const port = await listenOnFreePort(server, host, TIMEOUT_MS, 'verbs KV receiver');
    const endpoint: VerbsEndpoint = { backend: 'verbs', host, port, bytes: pool.buffer.byteLength, devices: devices.map((d) => d.endpoint()) };
    const receiver = new VerbsKvReceiver(server, devices, pool, onRefuse, endpoint);
    server.on('connection', (socket) => receiver.serve(socket));
    return receiver;
  }

  grant(_room: string, writer: string): void {
    if (!this.cut.has(writer)) this.writers.add(writer);
  }

  async release(_room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    return how === 'confirmed';
  }

  async cutWriter(writer: string): Promise<boolean> {
    this.cut.add(writer);
    this.writers.delete(writer);
    let stopped = true;
    for (const c of this.connections) {
      if (c.writer !== writer) continue;
      for (const link of c.links) {
        if (!this.stop(link, `cutting writer ${writer}`)) stopped = false;
      }
      c.links = [];
      c.socket.destroy();
    }
    return stopped;
  }

  private serve(socket: Socket): void {
    const c: Connection = { socket, writer: null, links: [] };
    this.connections.add(c);
    socket.on('error', () => {}); // 'close' follows and cleans up
    socket.once('close', () => {
      this.connections.delete(c);
      for (const { device, link } of c.links) device.destroyLinkQp(link);
      c.links = [];
    });
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    withTimeout(nextExchange(socket), TIMEOUT_MS, 'verbs QP exchange hello').then(
      (hello) => {
        if (socket.destroyed) return;
        try {
          if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
          if (this.cut.has(hello.writer)) throw new Error(`writer ${hello.writer} was cut (declared lost): its rooms are over`);
          if (!this.writers.has(hello.writer)) throw new Error(`writer ${hello.writer} holds no grant here`);
          if (hello.pageBytes !== this.pool.pageBytes) throw new Error(`page size mismatch: the sender's pages are ${hello.pageBytes} B, this pool's are ${this.pool.pageBytes} B`);
          c.writer = hello.writer;
          const answers = hello.lanes.map((offer) => this.accept(offer, c));
          sendExchange(socket, { type: 'welcome', numPages: this.pool.numPages, lanes: answers });
        } catch (err) {
          this.refuse(socket, peer, (err as Error).message);
        }
      },
      (err: Error) => this.refuse(socket, peer, err.message),
    );
  }

  /** Our queue pair for one lane of a sender, connected to its. */
  private accept(offer: LaneOffer, c: Connection): LaneAnswer {
    const device = this.devices[offer.device];
    if (!device) throw new Error(`lane names device ${offer.device}; this receiver has ${this.devices.length}`);
    const link = device.createLinkQp(RECEIVER_SEND_WR);
    c.links.push({ device, link });
    const mtu = Math.min(offer.mtu, device.activeMtu);
    device.connect(link, mtu, { qpNum: offer.qpNum, psn: offer.psn, gid: Buffer.from(offer.gid, 'hex'), lid: offer.lid });
    return { qpNum: link.qp.qpNum, psn: link.psn, mtu };
  }

  /** ERR, then destroyed: true if either took (the QP executes no more incoming requests). */
  private stop({ device, link }: { device: VerbsDevice; link: LinkQp }, why: string): boolean {
    let stopped = false;
    for (const step of [() => link.qp.toError(), () => device.destroyLinkQp(link)]) {
      try {
        step();
        stopped = true;
      } catch (err) {
        this.onRefuse(`${why}: ${(err as Error).message}`);
      }
    }
    return stopped;
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
    for (const c of this.connections) c.socket.destroy();
    await withTimeout(closed, TIMEOUT_MS, 'verbs KV receiver close');
  }
}
