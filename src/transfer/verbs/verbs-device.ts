/**
 * One chosen RDMA device as the verbs backend uses it: an open context, one protection domain, the
 * KV pool registered on it (local write + remote write) and the port facts a queue pair needs.
 *
 * Decisions:
 * - The pool is registered once per device and stays registered until `close`: registration pins
 *   the pages, which is slow for a large pool, and both the receiver (peers write into it) and the
 *   senders (the local NIC reads from it) use the same region.
 * - The GID is the one device selection preferred (RoCE v2 IPv4-mapped where there is one).
 * - One completion queue per device, on a completion channel, owned by the device's poller worker
 *   (src/transfer/verbs/poller/): every queue pair of the device completes there, and completions reach
 *   their lane by the lane id in `wr_id`. The CQ is made as large as the device allows up to
 *   CQ_ENTRIES; each link reserves its queues' size, and links are refused once the reservations
 *   would pass half of it: the other half absorbs completions that destroyed queue pairs left
 *   behind (flushed requests), so the CQ can never overrun.
 * - Every queue pair is made on this context, so `close` (which destroys whatever is still alive on
 *   the context, after stopping the poller) frees them too.
 */
import { randomInt } from 'node:crypto';
import { DevicePoller } from './poller/device-poller.js';
import { DeviceList, type CompletionQueue, type Context, type MemoryRegion, type ProtectionDomain, type QueuePair } from '../../../native/verbs/index.js';
import type { PoolRegion } from '../kv-transfer.js';
import type { VerbsDeviceEndpoint } from './endpoint.js';
import type { PortChoice } from './select-devices.js';

/** Most CQ entries per device (fewer if the device allows fewer). */
const CQ_ENTRIES = 65_536;

/** One side of a link on one device: an RC queue pair (completing on the device's CQ). */
export interface LinkQp {
  qp: QueuePair;
  /** Our first PSN (random, so a stale packet of an earlier link is not taken for this one's). */
  psn: number;
  /** CQ entries reserved for it. */
  reserved: number;
}

/** The peer's queue pair as the exchange told it. */
export interface PeerQp {
  qpNum: number;
  psn: number;
  gid: Uint8Array;
  lid: number;
}

export class VerbsDevice {
  private reserved = 0;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly context: Context,
    readonly pd: ProtectionDomain,
    readonly region: MemoryRegion,
    readonly gid: Uint8Array,
    readonly gidIndex: number,
    readonly lid: number,
    /** The port's active MTU (an MTU enum value). */
    readonly activeMtu: number,
    private readonly cq: CompletionQueue,
    /** Where the lanes of this device's links get their completions. */
    readonly poller: DevicePoller,
  ) {}

  /** Opens the chosen port's device, registers `pool` on it and starts its completion poller. */
  static async open(choice: PortChoice, pool: PoolRegion): Promise<VerbsDevice> {
    const { device: name, port } = choice.port;
    if (!choice.gid) throw new Error(`${name} port ${port} has no GID`);
    const list = DeviceList.open();
    let context: Context;
    try {
      const device = list.devices.find((d) => d.name === name);
      if (!device) throw new Error(`RDMA device ${name} disappeared after discovery`);
      context = device.open();
    } finally {
      list.free();
    }
    try {
      const attr = context.queryPort(port);
      const gid = context.queryGid(port, choice.gid.index);
      if (!gid) throw new Error(`${name} port ${port}: GID index ${choice.gid.index} is empty`);
      const pd = context.allocProtectionDomain();
      const region = pd.registerMemory(pool.buffer);
      const channel = context.createCompletionChannel();
      const cq = context.createCompletionQueue({ entries: Math.min(CQ_ENTRIES, context.queryDevice().maxCqe), channel });
      const poller = await DevicePoller.start(cq);
      return new VerbsDevice(name, port, context, pd, region, gid.gid, choice.gid.index, attr.lid, attr.activeMtu, cq, poller);
    } catch (err) {
      context.close();
      throw err;
    }
  }

  /** What a receiver publishes for this device. */
  endpoint(): VerbsDeviceEndpoint {
    return { name: this.name, gid: Buffer.from(this.gid).toString('hex'), gidIndex: this.gidIndex, lid: this.lid, addr: this.region.addr.toString(), rkey: this.region.rkey };
  }

  /** A reset RC queue pair on the device's CQ, sized for `maxSendWr` outstanding writes. */
  createLinkQp(maxSendWr: number): LinkQp {
    // One receive slot: the backend never posts receives, but a QP needs a receive queue.
    const want = maxSendWr + 1;
    if (this.reserved + want > this.cq.entries / 2) {
      throw new Error(`${this.name}: too many KV links on this device (its completion queue of ${this.cq.entries} entries has room for ${Math.floor(this.cq.entries / 2 / want)} of ${maxSendWr} outstanding writes each)`);
    }
    const qp = this.pd.createQueuePair({ sendCq: this.cq, recvCq: this.cq, maxSendWr, maxRecvWr: 1 });
    const reserved = qp.capabilities.maxSendWr + qp.capabilities.maxRecvWr;
    this.reserved += reserved;
    return { qp, psn: randomInt(1 << 24), reserved };
  }

  /** INIT -> RTR -> RTS towards `peer` over this device's chosen port and GID. */
  connect(link: LinkQp, mtu: number, peer: PeerQp): void {
    link.qp.connect({ port: this.port, sgidIndex: this.gidIndex, mtu, psn: link.psn }, peer);
  }

  /** Destroys a link's QP and returns its CQ reservation. */
  destroyLinkQp(link: LinkQp): void {
    link.qp.destroy();
    this.reserved -= link.reserved;
  }

  /** Stops the poller, frees every verbs object made on the device, then closes it. */
  async close(): Promise<void> {
    await this.poller.stop();
    this.context.close();
  }
}
